#pragma once

// What a benchmark run does: the workload, its size, its concurrency and where it goes.
// Plain data plus validation; every bound is checked by ValidateSpec() before a run starts.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::benchmark {

/// write: Put only. read: Range only, over a key space written first. mixed: 70% reads, 30%
/// writes (exactly 3 of every 10 operations are writes), over a key space written first.
using WorkloadType = config::BenchmarkType;

/// Read consistency (etcd's --consistency): linearizable (l) goes through the leader's read
/// index; serializable (s) is answered by the member alone.
enum class Consistency { kLinearizable, kSerializable };

/// Where requests go.
enum class TargetKind {
  kAll,       // round-robin over every configured endpoint (channel i → endpoint i mod n)
  kLeader,    // only the current leader, found before the run
  kEndpoint,  // one configured endpoint, named in BenchmarkSpec::target_endpoint
};

/// `etcdctl check perf` workloads: 60 s of writes at a fixed rate, 256-byte keys, 1 KiB values.
enum class PerfProfile { kSmall, kMedium, kLarge, kExtraLarge };

/// The parameters of one --check-perf load ("s", "m", "l", "xl").
struct PerfProfileParams {
  std::string_view name;
  uint32_t rate = 0;     // target writes per second
  uint32_t clients = 0;  // concurrent requests
};
PerfProfileParams ProfileParams(PerfProfile profile);
/// "s", "m", "l" or "xl", in any case.
Result<PerfProfile> ParsePerfProfile(std::string_view text);

/// Bounds, so that no input can make a run unbounded in memory or time.
inline constexpr uint64_t kMaxOps = 100'000'000;
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24);
inline constexpr uint32_t kMaxClients = 10'000;
inline constexpr uint32_t kMaxConns = 1'000;
inline constexpr uint32_t kMaxKeySize = 4096;
inline constexpr uint32_t kMaxValueSize = 1024 * 1024;  // etcd's default request limit is 1.5 MiB
inline constexpr uint64_t kMaxKeySpace = 10'000'000;
inline constexpr uint64_t kMaxRate = 10'000'000;
/// Reads and mixed runs write the whole key space first; its bytes may not exceed this (etcd's
/// default backend quota is 2 GiB).
inline constexpr uint64_t kMaxPopulateBytes = 1ULL << 30;
inline constexpr size_t kMaxPrefixSize = 256;

/// The default prefix; a run's keys live under `<prefix><run id>/`, so that cleanup deletes
/// exactly that run's keys and nothing else under the prefix.
inline constexpr std::string_view kDefaultPrefix = "/etcd-monitor/bench/";

struct BenchmarkSpec {
  WorkloadType type = WorkloadType::kWrite;
  /// Operations to run, 1..kMaxOps. Ignored when `duration` is set.
  uint64_t ops = 10'000;
  /// Run for this long instead of a number of operations (1 s..24 h).
  std::optional<std::chrono::milliseconds> duration;
  uint32_t clients = 16;      // concurrent in-flight requests, 1..kMaxClients
  uint32_t conns = 4;         // gRPC channels (TCP connections), 1..min(clients, kMaxConns)
  uint32_t key_size = 64;     // bytes per key, prefix and run id included
  uint32_t value_size = 256;  // bytes per value, 0..kMaxValueSize
  /// Distinct keys: writes cycle through them in order (operation i writes key i mod key_space),
  /// reads pick one at random. 1..kMaxKeySpace.
  uint64_t key_space = 10'000;
  uint64_t rate = 0;  // operations per second, 0 = unlimited
  Consistency consistency = Consistency::kLinearizable;
  TargetKind target = TargetKind::kAll;
  std::string target_endpoint;  // the authority ("host:port") for TargetKind::kEndpoint
  bool keep = false;            // keep the keys after the run (default: delete them)
  std::string prefix = std::string(kDefaultPrefix);
  /// Set by --check-perf: the verdict is computed against this profile.
  std::optional<PerfProfile> check_perf;
};

/// The spec of `etcdctl check perf --load=<profile>`: writes at the profile's rate and client
/// count for 60 s, 256-byte keys, 1 KiB values. `conns` and the target are kept from `base`.
BenchmarkSpec CheckPerfSpec(PerfProfile profile, const BenchmarkSpec& base);

/// Checks every bound; all problems one line each, as InvalidArgument. Among them: the key must
/// fit the prefix, the run id and the largest key index; conns <= clients; a read or mixed
/// run's key space must fit kMaxPopulateBytes; a duration run needs duration >= 1 s.
Status ValidateSpec(const BenchmarkSpec& spec);

/// Bytes of a run's key prefix: `<prefix><8 hex digits>/`.
inline constexpr size_t kRunIdSize = 9;

std::string_view ConsistencyName(Consistency c);  // "l" or "s"
std::string_view TargetName(TargetKind t);        // "all", "leader" or "endpoint"

}  // namespace etcdmon::benchmark
