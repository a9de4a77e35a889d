#pragma once

// Benchmarks run in the background: the ones POST /api/v1/performance/benchmark asks for (in
// the all-in-one monitor and in the standalone gateway given --endpoints), and the all-in-one's
// periodic one (BENCHMARK_ENABLED). One at a time, each on its own thread, cancellable at
// shutdown. Safe for concurrent use.

#include <spdlog/fwd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "etcdmon/benchmark/report.h"
#include "etcdmon/benchmark/runner.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/config/types.h"
#include "etcdmon/gateway/backends.h"
#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::gateway {

/// Called with the summary of every run that finished (periodic and requested, not cancelled),
/// on the run's thread.
using BenchmarkObserver = std::function<void(const etcdmonitor::v1::BenchmarkSummary&)>;

class BackgroundBenchmarks final : public BenchmarkBackend {
 public:
  /// The periodic benchmark: a small, rate-capped write run, so that it measures the cluster
  /// without loading it.
  static benchmark::BenchmarkSpec PeriodicSpec(const config::BenchmarkConfig& config);

  BackgroundBenchmarks(config::EtcdConnectionConfig connection,
                       std::shared_ptr<spdlog::logger> logger, BenchmarkObserver observer,
                       Clock& clock = SystemClock::Instance());
  ~BackgroundBenchmarks() override;  // calls Stop()

  /// Starts the periodic runs: the first after one `interval`, then every `interval`.
  void StartPeriodic(benchmark::BenchmarkSpec spec, std::chrono::milliseconds interval);

  Result<std::string> Start(const BenchmarkSpec& spec) override;
  Result<std::string> Get(const std::string& id) override;
  /// {"runs": [...]}, newest first: per run id, state, trigger, type, started_at, finished_at
  /// (RFC 3339 UTC; null while running), started_unix_ms, finished_unix_ms (0 while running),
  /// status_url, ops_done, ops_total; with a report (done, cancelled) also ops, failed,
  /// ops_per_second, p50_ms, p95_ms, p99_ms, max_ms; failed: error.
  Result<std::string> List() override;
  std::optional<etcdmonitor::v1::BenchmarkSummary> LastFinished() override;

  /// Cancels the run in progress (its keys are still cleaned up) and joins every thread.
  void Stop();

 private:
  // The figures of a run's report, for List().
  struct Figures {
    uint64_t ops = 0;
    uint64_t failed = 0;
    double ops_per_second = 0;
    double p50_ms = 0;
    double p95_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
  };
  struct Run {
    std::string id;
    uint64_t sequence = 0;          // the run's number: later runs have larger ones
    std::string state = "running";  // running, done, failed, cancelled
    std::string trigger;            // "api" or "periodic"
    std::string type;               // "write", "read", "mixed"
    benchmark::Progress progress;
    std::string result_json;         // the report (done) or empty
    std::optional<Figures> figures;  // from the report (done, cancelled)
    std::string error;               // failed only
    int64_t started_unix_ms = 0;
    int64_t finished_unix_ms = 0;
  };

  static Figures FiguresOf(const benchmark::BenchmarkReport& report);
  // Starts `spec` on the run thread; FailedPrecondition while one is in progress.
  Result<std::string> Launch(benchmark::BenchmarkSpec spec, const std::string& trigger);
  void Execute(std::string id, std::string trigger,
               std::unique_ptr<benchmark::BenchmarkRunner> runner);
  void PeriodicLoop(benchmark::BenchmarkSpec spec, std::chrono::milliseconds interval);

  const config::EtcdConnectionConfig connection_;
  std::shared_ptr<spdlog::logger> logger_;
  BenchmarkObserver observer_;
  Clock& clock_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;            // guarded by mu_
  uint64_t next_id_ = 1;             // guarded by mu_
  std::map<std::string, Run> runs_;  // guarded by mu_; the newest kMaxKeptRuns
  std::optional<etcdmonitor::v1::BenchmarkSummary> last_finished_;  // guarded by mu_
  benchmark::BenchmarkRunner* active_ = nullptr;  // guarded by mu_; the run in progress
  std::thread run_thread_;
  std::thread periodic_thread_;
};

}  // namespace etcdmon::gateway
