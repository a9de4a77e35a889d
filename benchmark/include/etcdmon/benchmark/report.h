#pragma once

// The result of a benchmark run, and its two renderings: text for people (the layout of etcd's
// own benchmark tool, so numbers can be compared side by side) and JSON for programs.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "etcdmon/benchmark/spec.h"

namespace etcdmon::benchmark {

/// The percentiles etcd's benchmark tool prints, in this order.
inline constexpr double kReportedPercentiles[] = {10, 25, 50, 75, 90, 95, 99, 99.9};
inline constexpr size_t kReportedPercentileCount =
    sizeof(kReportedPercentiles) / sizeof(kReportedPercentiles[0]);

/// Failed operations of one gRPC code.
struct ErrorCount {
  std::string code;  // gRPC's code name in snake case: "unavailable", "deadline_exceeded"
  uint64_t count = 0;
  std::string example;  // the first such error's message (etcd's or gRPC's; never a secret)
};

/// The verdict of --check-perf, with etcdctl check perf's rules.
struct PerfVerdict {
  std::string profile;  // "s", "m", "l", "xl"
  bool pass = false;
  std::vector<std::string> failures;  // why it failed, one line each; empty on PASS
};

/// Everything a run measured. Latencies cover successful operations only (as etcd's tool);
/// failures are counted by code.
struct BenchmarkReport {
  WorkloadType type = WorkloadType::kWrite;
  std::string key_prefix;              // the run's keys: `<prefix><run id>/`
  std::vector<std::string> endpoints;  // where requests went
  uint32_t clients = 0;
  uint32_t conns = 0;
  uint64_t rate_limit = 0;  // 0 = unlimited
  std::string consistency;  // "l" or "s" (reads only)
  uint64_t ops = 0;         // operations completed: succeeded + failed
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  uint64_t reads = 0;                    // successful reads
  uint64_t writes = 0;                   // successful writes
  std::vector<ErrorCount> errors;        // by code, most frequent first
  std::chrono::nanoseconds duration{0};  // from the first request to the last answer
  double ops_per_second = 0;             // ops / duration
  std::chrono::nanoseconds mean{0};
  std::chrono::nanoseconds stddev{0};
  std::chrono::nanoseconds min{0};
  std::chrono::nanoseconds max{0};
  /// The latencies at kReportedPercentiles, same order.
  std::chrono::nanoseconds percentiles[kReportedPercentileCount] = {};
  /// Operations completed in each second of the run, from its start (the last one partial).
  std::vector<uint64_t> per_second;
  uint64_t keys_populated = 0;  // keys written before a read or mixed run
  bool keys_deleted = false;    // cleanup ran and succeeded
  std::string cleanup_error;    // why cleanup failed; empty when it succeeded or `keep` was set
  bool cancelled = false;       // Cancel() stopped the run early
  std::optional<PerfVerdict> verdict;  // --check-perf only
};

/// The PASS/FAIL of `etcdctl check perf` for `report` against `profile`: throughput > 90% of
/// the profile's rate, slowest request <= 0.5 s, standard deviation <= 0.1 s, no errors.
PerfVerdict JudgePerf(PerfProfile profile, const BenchmarkReport& report);

/// The report as one JSON object with stable snake_case keys (README "Benchmark JSON"):
/// type, key_prefix, endpoints, clients, conns, rate_limit, consistency, ops, succeeded,
/// failed, reads, writes, errors [{code, count, example}], duration_seconds, ops_per_second,
/// latency_seconds {mean, stddev, min, max, p10, p25, p50, p75, p90, p95, p99, p99_9},
/// per_second, keys_populated, keys_deleted, cleanup_error (only when cleanup failed), cancelled,
/// and check_perf {profile, pass, failures} when a verdict exists.
std::string ToJson(const BenchmarkReport& report);

/// The report as text: a summary, the latency distribution and the per-second series, in the
/// layout of etcd's benchmark tool; then the verdict, if any.
std::string ToText(const BenchmarkReport& report);

}  // namespace etcdmon::benchmark
