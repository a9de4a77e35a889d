#pragma once

// The etcd load generator: asynchronous gRPC calls over several channels, so that one process
// can saturate a cluster. Used by `etcd-monitor benchmark`, by the quickstart's
// `--run-benchmark`, by the gateway's POST /api/v1/performance/benchmark and by the periodic
// benchmark of the all-in-one mode.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "etcdmon/benchmark/report.h"
#include "etcdmon/benchmark/spec.h"
#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::benchmark {

/// A snapshot of a running benchmark, for live progress.
struct Progress {
  enum class Phase { kPopulating, kRunning, kCleaningUp };
  Phase phase = Phase::kRunning;
  std::chrono::nanoseconds elapsed{0};  // since the phase started
  uint64_t ops_done = 0;                // completed in this phase (succeeded + failed)
  uint64_t ops_total = 0;               // the phase's goal; 0 for a duration run
  uint64_t failed = 0;
  double current_ops_per_second = 0;       // over the last progress interval
  std::chrono::nanoseconds p99_so_far{0};  // of this phase's successful operations
};

/// "populating", "running" or "cleaning_up": the spelling of progress lines and JSON.
std::string_view PhaseName(Progress::Phase phase);

/// Called on Run()'s thread about once a second; it must return quickly.
using ProgressCallback = std::function<void(const Progress&)>;

/// One benchmark run.
///
/// Run() blocks until the run is over: it finds the targets (the leader, for TargetKind::kLeader),
/// authenticates when a user is configured, writes the key space first for read and mixed runs,
/// runs the workload, waits for every in-flight request (each bounded by the request timeout),
/// and deletes the run's keys unless `keep` is set, also after a cancelled or failed run.
/// Operations that fail are counted by gRPC code in the report, not returned as errors; Run()
/// fails only when the run cannot start (no target endpoint connects within the dial timeout,
/// the leader cannot be found, authentication fails, pre-population fails). A failed cleanup
/// is reported in BenchmarkReport::cleanup_error, with the measurements.
/// A client whose request failed waits 10 ms before its next one, so that a dead member does
/// not turn the run into a busy loop of instant failures.
///
/// Cancel() is safe from any thread, at any time, also before Run(): Run() then stops issuing,
/// drains, cleans up and returns the partial report with `cancelled` set. Run() may be called
/// once. The runner owns its threads (one per completion queue) and joins them before Run()
/// returns; destroying a runner while Run() is in progress on another thread is a bug.
class BenchmarkRunner {
 public:
  /// Validates `spec` (ValidateSpec) and `connection` and reads the TLS files; does not connect.
  static Result<std::unique_ptr<BenchmarkRunner>> Create(
      const config::EtcdConnectionConfig& connection, BenchmarkSpec spec);

  ~BenchmarkRunner();
  BenchmarkRunner(const BenchmarkRunner&) = delete;
  BenchmarkRunner& operator=(const BenchmarkRunner&) = delete;

  Result<BenchmarkReport> Run(const ProgressCallback& on_progress = nullptr);
  void Cancel();

  const BenchmarkSpec& spec() const;

 private:
  struct Impl;
  explicit BenchmarkRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::benchmark
