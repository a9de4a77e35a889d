#include "etcdmon/gateway/background_benchmarks.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "api_response.h"
#include "render.h"

namespace etcdmon::gateway {
namespace {

// Finished runs kept for GET /api/v1/performance/benchmark/{id}.
constexpr std::size_t kMaxKeptRuns = 20;

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

double Ms(std::chrono::nanoseconds d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// kReportedPercentiles: 10, 25, 50, 75, 90, 95, 99, 99.9.
constexpr size_t kP50 = 2;
constexpr size_t kP95 = 5;
constexpr size_t kP99 = 6;

}  // namespace

BackgroundBenchmarks::Figures BackgroundBenchmarks::FiguresOf(
    const benchmark::BenchmarkReport& report) {
  Figures f;
  f.ops = report.ops;
  f.failed = report.failed;
  f.ops_per_second = report.ops_per_second;
  f.p50_ms = Ms(report.percentiles[kP50]);
  f.p95_ms = Ms(report.percentiles[kP95]);
  f.p99_ms = Ms(report.percentiles[kP99]);
  f.max_ms = Ms(report.max);
  return f;
}

benchmark::BenchmarkSpec BackgroundBenchmarks::PeriodicSpec(const config::BenchmarkConfig& config) {
  benchmark::BenchmarkSpec spec;
  spec.type = config.type;
  // Small and paced: at most 1,000 operations at 100/s from 4 clients, about 10 s of light load.
  spec.ops = std::min<uint64_t>(config.ops, 1000);
  spec.rate = 100;
  spec.clients = 4;
  spec.conns = 1;
  spec.key_space = std::min<uint64_t>(spec.ops, 1000);
  return spec;
}

BackgroundBenchmarks::BackgroundBenchmarks(config::EtcdConnectionConfig connection,
                                           std::shared_ptr<spdlog::logger> logger,
                                           BenchmarkObserver observer, Clock& clock)
    : connection_(std::move(connection)),
      logger_(std::move(logger)),
      observer_(std::move(observer)),
      clock_(clock) {}

BackgroundBenchmarks::~BackgroundBenchmarks() { Stop(); }

Result<std::string> BackgroundBenchmarks::Start(const BenchmarkSpec& request) {
  benchmark::BenchmarkSpec spec;
  spec.type = request.type;
  spec.ops = request.ops;
  spec.clients = std::max<uint32_t>(1, request.clients);
  spec.conns = std::min<uint32_t>(spec.clients, 4);
  spec.key_size = std::max<uint32_t>(request.key_size, 32);
  spec.value_size = request.value_size;
  spec.key_space = std::min<uint64_t>(std::max<uint64_t>(request.ops, 1), 10'000);
  if (request.duration.count() > 0) {
    spec.duration = request.duration;
    spec.rate = request.rate;
  }
  return Launch(std::move(spec), "api");
}

Result<std::string> BackgroundBenchmarks::Launch(benchmark::BenchmarkSpec spec,
                                                 const std::string& trigger) {
  Result<std::unique_ptr<benchmark::BenchmarkRunner>> runner =
      benchmark::BenchmarkRunner::Create(connection_, std::move(spec));
  if (!runner.ok()) {
    return runner.status();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) {
    return Status::Unavailable("shutting down");
  }
  if (active_ != nullptr) {
    for (const auto& [id, run] : runs_) {
      if (run.state == "running") {
        return Status::FailedPrecondition("benchmark " + id + " is still running");
      }
    }
    return Status::FailedPrecondition("a benchmark is still running");
  }
  // The previous run's thread has finished its work (active_ is null); joining is immediate.
  if (run_thread_.joinable()) {
    run_thread_.join();
  }
  Run run;
  run.sequence = next_id_++;
  run.id = "bench-" + std::to_string(run.sequence);
  run.trigger = trigger;
  run.type = std::string(config::BenchmarkTypeName((*runner)->spec().type));
  run.started_unix_ms = UnixMs(clock_.Now());
  run.progress.ops_total = (*runner)->spec().duration ? 0 : (*runner)->spec().ops;
  const std::string id = run.id;
  runs_[id] = std::move(run);
  while (runs_.size() > kMaxKeptRuns) {
    // Ids grow; the oldest has the smallest number (compare numerically, not as text).
    auto oldest = std::min_element(runs_.begin(), runs_.end(), [](const auto& a, const auto& b) {
      return a.second.sequence < b.second.sequence;
    });
    runs_.erase(oldest);
  }
  active_ = runner->get();
  run_thread_ = std::thread([this, id, trigger, r = std::move(runner).value()]() mutable {
    Execute(id, trigger, std::move(r));
  });
  return id;
}

void BackgroundBenchmarks::Execute(std::string id, std::string trigger,
                                   std::unique_ptr<benchmark::BenchmarkRunner> runner) {
  logger_->info("benchmark_started id={} trigger={} type={} ops={} clients={}", id, trigger,
                config::BenchmarkTypeName(runner->spec().type), runner->spec().ops,
                runner->spec().clients);
  Result<benchmark::BenchmarkReport> report = runner->Run([&](const benchmark::Progress& p) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(id);
    if (it != runs_.end()) {
      it->second.progress = p;
    }
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_ = nullptr;
    auto it = runs_.find(id);
    if (it != runs_.end()) {
      Run& run = it->second;
      run.finished_unix_ms = UnixMs(clock_.Now());
      if (!report.ok()) {
        run.state = "failed";
        run.error = std::string(report.status().message());
      } else {
        run.state = report->cancelled ? "cancelled" : "done";
        run.result_json = benchmark::ToJson(*report);
        run.figures = FiguresOf(*report);
      }
    }
  }
  if (!report.ok()) {
    logger_->warn("benchmark_failed id={} error=\"{}\"", id, report.status().message());
    return;
  }
  const double p50_ms = Ms(report->percentiles[kP50]);
  const double p99_ms = Ms(report->percentiles[kP99]);
  logger_->info(
      "benchmark_finished id={} trigger={} ops={} failed={} ops_per_second={:.0f} "
      "p50_ms={:.2f} p99_ms={:.2f}",
      id, trigger, report->ops, report->failed, report->ops_per_second, p50_ms, p99_ms);
  if (report->cancelled) {
    return;
  }
  etcdmonitor::v1::BenchmarkSummary summary;
  summary.set_finished_unix_ms(UnixMs(clock_.Now()));
  summary.set_type(std::string(config::BenchmarkTypeName(report->type)));
  summary.set_trigger(trigger);
  summary.set_ops(report->ops);
  summary.set_failed(report->failed);
  summary.set_ops_per_second(report->ops_per_second);
  summary.set_p50_ms(p50_ms);
  summary.set_p99_ms(p99_ms);
  summary.set_max_ms(Ms(report->max));
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_finished_ = summary;
  }
  if (observer_) {
    observer_(summary);
  }
}

std::optional<etcdmonitor::v1::BenchmarkSummary> BackgroundBenchmarks::LastFinished() {
  std::lock_guard<std::mutex> lock(mu_);
  return last_finished_;
}

Result<std::string> BackgroundBenchmarks::Get(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = runs_.find(id);
  if (it == runs_.end()) {
    return Status::NotFound("no benchmark \"" + id.substr(0, 64) + "\"");
  }
  const Run& run = it->second;
  nlohmann::json out = {
      {"id", run.id},
      {"state", run.state},
      {"trigger", run.trigger},
      {"started_unix_ms", run.started_unix_ms},
      {"progress",
       {{"phase", benchmark::PhaseName(run.progress.phase)},
        {"ops_done", run.progress.ops_done},
        {"ops_total", run.progress.ops_total},
        {"failed", run.progress.failed},
        {"current_ops_per_second", run.progress.current_ops_per_second},
        {"p99_seconds_so_far", std::chrono::duration<double>(run.progress.p99_so_far).count()}}},
  };
  if (run.finished_unix_ms != 0) {
    out["finished_unix_ms"] = run.finished_unix_ms;
  }
  if (!run.result_json.empty()) {
    out["result"] = nlohmann::json::parse(run.result_json, nullptr, false);
  }
  if (!run.error.empty()) {
    out["error"] = run.error;
  }
  return out.dump();
}

Result<std::string> BackgroundBenchmarks::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const Run*> newest_first;
  for (const auto& [id, run] : runs_) {
    newest_first.push_back(&run);
  }
  std::sort(newest_first.begin(), newest_first.end(),
            [](const Run* a, const Run* b) { return a->sequence > b->sequence; });
  nlohmann::json runs = nlohmann::json::array();
  for (const Run* run : newest_first) {
    nlohmann::json j = {
        {"id", run->id},
        {"state", run->state},
        {"trigger", run->trigger},
        {"type", run->type},
        {"started_at", detail::TimeOrNull(run->started_unix_ms)},
        {"finished_at", detail::TimeOrNull(run->finished_unix_ms)},
        {"started_unix_ms", run->started_unix_ms},
        {"finished_unix_ms", run->finished_unix_ms},
        {"status_url", std::string(detail::kBenchmarkPrefix) + run->id},
        {"ops_done", run->progress.ops_done},
        {"ops_total", run->progress.ops_total},
    };
    if (run->figures) {
      j["ops"] = run->figures->ops;
      j["failed"] = run->figures->failed;
      j["ops_per_second"] = run->figures->ops_per_second;
      j["p50_ms"] = run->figures->p50_ms;
      j["p95_ms"] = run->figures->p95_ms;
      j["p99_ms"] = run->figures->p99_ms;
      j["max_ms"] = run->figures->max_ms;
    }
    if (!run->error.empty()) {
      j["error"] = run->error;
    }
    runs.push_back(std::move(j));
  }
  return nlohmann::json{{"runs", std::move(runs)}}.dump();
}

void BackgroundBenchmarks::StartPeriodic(benchmark::BenchmarkSpec spec,
                                         std::chrono::milliseconds interval) {
  periodic_thread_ = std::thread([this, spec, interval] { PeriodicLoop(spec, interval); });
}

void BackgroundBenchmarks::PeriodicLoop(benchmark::BenchmarkSpec spec,
                                        std::chrono::milliseconds interval) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const auto deadline = clock_.SteadyNow() + interval;
    if (clock_.WaitUntil(lock, cv_, deadline, [this] { return stopping_; })) {
      return;
    }
    lock.unlock();
    Result<std::string> id = Launch(spec, "periodic");
    if (!id.ok()) {
      // Typically a requested run is in progress: skip this round rather than queue behind it.
      logger_->info("periodic_benchmark_skipped reason=\"{}\"", id.status().message());
    }
    lock.lock();
  }
}

void BackgroundBenchmarks::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !run_thread_.joinable() && !periodic_thread_.joinable()) {
      return;
    }
    stopping_ = true;
    if (active_ != nullptr) {
      active_->Cancel();
    }
  }
  cv_.notify_all();
  if (periodic_thread_.joinable()) {
    periodic_thread_.join();
  }
  if (run_thread_.joinable()) {
    run_thread_.join();
  }
}

}  // namespace etcdmon::gateway
