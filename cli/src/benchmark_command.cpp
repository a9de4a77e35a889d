#include "etcdmon/cli/benchmark_command.h"

#include <absl/synchronization/mutex.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include "etcdmon/benchmark/report.h"
#include "etcdmon/benchmark/runner.h"
#include "etcdmon/benchmark/spec.h"
#include "etcdmon/cli/ctl.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/logging/logging.h"

namespace etcdmon::cli {
namespace {

enum class ReportFormat { kText, kJson };

// Set by SIGINT while a benchmark runs; the progress callback turns it into Cancel(), so that
// Ctrl-C still deletes the run's keys.
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnInterrupt(int) { g_interrupted = 1; }

// SIGINT handling for the duration of one run; the previous handler comes back afterwards.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted = 0;
    previous_ = std::signal(SIGINT, OnInterrupt);
  }
  ~InterruptScope() { std::signal(SIGINT, previous_); }
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;

 private:
  void (*previous_)(int) = SIG_DFL;
};

// One progress line: rewritten in place on a terminal, one line per second otherwise.
void PrintProgress(const benchmark::Progress& p, bool tty, std::ostream& err) {
  char line[200];
  if (p.phase == benchmark::Progress::Phase::kCleaningUp) {
    std::snprintf(line, sizeof(line), "cleaning up");
  } else {
    const double seconds = std::chrono::duration<double>(p.elapsed).count();
    const double p99_ms = std::chrono::duration<double, std::milli>(p.p99_so_far).count();
    const std::string phase(benchmark::PhaseName(p.phase));
    if (p.ops_total > 0) {
      std::snprintf(line, sizeof(line),
                    "%s %6.1fs  %llu/%llu ops  %.0f ops/s  p99 %.2f ms  %llu failed", phase.c_str(),
                    seconds, static_cast<unsigned long long>(p.ops_done),
                    static_cast<unsigned long long>(p.ops_total), p.current_ops_per_second, p99_ms,
                    static_cast<unsigned long long>(p.failed));
    } else {
      std::snprintf(line, sizeof(line), "%s %6.1fs  %llu ops  %.0f ops/s  p99 %.2f ms  %llu failed",
                    phase.c_str(), seconds, static_cast<unsigned long long>(p.ops_done),
                    p.current_ops_per_second, p99_ms, static_cast<unsigned long long>(p.failed));
    }
  }
  if (tty) {
    err << "\r\033[K" << line << std::flush;
  } else {
    err << line << "\n" << std::flush;
  }
}

// Runs `spec` against `connection` and prints the report; returns the exit code.
int RunBenchmark(const config::EtcdConnectionConfig& connection,
                 const benchmark::BenchmarkSpec& spec, ReportFormat format, bool show_progress,
                 std::ostream& out, std::ostream& err) {
  Result<std::unique_ptr<benchmark::BenchmarkRunner>> runner =
      benchmark::BenchmarkRunner::Create(connection, spec);
  if (!runner.ok()) {
    config::detail::PrintErrors(runner.status(), err);
    return config::kExitUsage;
  }
  // Live progress only where a person watches: the process's own stderr on a terminal.
  const bool tty = &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
  bool progress_printed = false;
  InterruptScope interrupt;
  Result<benchmark::BenchmarkReport> report = (*runner)->Run([&](const benchmark::Progress& p) {
    if (g_interrupted != 0) {
      (*runner)->Cancel();
    }
    if (show_progress) {
      PrintProgress(p, tty, err);
      progress_printed = true;
    }
  });
  if (tty && progress_printed) {
    err << "\r\033[K" << std::flush;
  }
  if (!report.ok()) {
    err << "error: " << report.status().message() << "\n";
    return kExitFailed;
  }
  if (format == ReportFormat::kJson) {
    out << benchmark::ToJson(*report) << "\n";
  } else {
    out << benchmark::ToText(*report);
  }
  if (!report->cleanup_error.empty()) {
    err << "error: " << report->cleanup_error << "\n";
    return kExitFailed;
  }
  if (report->verdict.has_value()) {
    return report->verdict->pass ? kExitOk : kExitFailed;
  }
  if (report->cancelled || report->succeeded == 0) {
    return kExitFailed;
  }
  return kExitOk;
}

// Process-wide tuning for a process that only runs a benchmark (never the monitor's services):
// Debian's abseil checks every mutex acquisition for lock-order cycles (a debugging aid that keeps
// a graph of all mutexes gRPC takes), ~6% of the runner's CPU.
void TuneProcessForBenchmark() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void SetUpLogging(const config::LogConfig& log) {
  // gRPC's own diagnostics go to stderr through the default logger, never into the report.
  Result<std::shared_ptr<spdlog::logger>> logger = logging::MakeLogger("benchmark", log);
  if (logger.ok()) {
    spdlog::set_default_logger(*logger);
  }
}

}  // namespace

struct BenchmarkCommand::Impl {
  CLI::App* app = nullptr;
  std::optional<config::ConnectionFlags> connection;
  std::optional<config::LogFlags> log;
  std::optional<config::FlagValue> type, ops, duration, clients, conns, key_size, value_size,
      key_space, rate, consistency, target, keep, prefix, check_perf, progress;
  std::string output = "text";  // -o: CLI11 writes it while parsing

  // Set by Build().
  config::EtcdConnectionConfig connection_config;
  config::LogConfig log_config;
  benchmark::BenchmarkSpec spec;
  ReportFormat format = ReportFormat::kText;
  bool show_progress = true;
};

BenchmarkCommand::BenchmarkCommand(CLI::App& parent) : impl_(std::make_unique<Impl>()) {
  using config::FlagValue;
  CLI::App& app = *parent.add_subcommand(
      "benchmark", "Measure an etcd cluster's throughput and latency (write, read, mixed)");
  impl_->app = &app;
  Impl& i = *impl_;
  i.connection.emplace(app);
  i.log.emplace(app);
  i.type = FlagValue::AddOption(app, "type", "", "write",
                                "workload: write, read or mixed (70% "
                                "reads, 30% writes)",
                                "TYPE");
  i.ops = FlagValue::AddOption(app, "ops", "", "10000", "operations to run (1..100000000)", "INT");
  i.duration = FlagValue::AddOption(app, "duration", "", "",
                                    "run for this long instead of --ops (1s..24h)", "DURATION");
  i.clients =
      FlagValue::AddOption(app, "clients", "", "16", "concurrent in-flight requests", "INT");
  i.conns = FlagValue::AddOption(app, "conns", "", "4", "gRPC connections (<= clients)", "INT");
  i.key_size =
      FlagValue::AddOption(app, "key-size", "", "64", "bytes per key, prefix included", "BYTES");
  i.value_size = FlagValue::AddOption(app, "value-size", "", "256", "bytes per value", "BYTES");
  i.key_space =
      FlagValue::AddOption(app, "key-space", "", "10000", "distinct keys written or read", "INT");
  i.rate =
      FlagValue::AddOption(app, "rate", "", "0", "operations per second, 0 = unlimited", "INT");
  i.consistency = FlagValue::AddOption(
      app, "consistency", "", "l", "read consistency: l (linearizable) or s (serializable)", "l|s");
  i.target =
      FlagValue::AddOption(app, "target", "", "all",
                           "where requests go: all, leader, or one endpoint host:port", "TARGET");
  i.keep = FlagValue::AddSwitch(app, "keep", "", false, "keep the benchmark keys afterwards");
  i.prefix = FlagValue::AddOption(app, "prefix", "", std::string(benchmark::kDefaultPrefix),
                                  "key prefix; each run writes under <prefix><run id>/", "PREFIX");
  i.check_perf = FlagValue::AddOption(app, "check-perf", "", "",
                                      "etcdctl check perf: 60s of writes at load s, m, l or xl; "
                                      "PASS or FAIL",
                                      "LOAD");
  app.add_option("-o,--output", i.output, "Report format: text or json")->capture_default_str();
  i.progress = FlagValue::AddSwitch(app, "progress", "", true,
                                    "live progress on stderr (--progress=false: none)");
}

BenchmarkCommand::~BenchmarkCommand() = default;

bool BenchmarkCommand::parsed() const { return impl_->app->parsed(); }

Status BenchmarkCommand::Build() {
  Impl& i = *impl_;
  config::FlagErrors errors;
  Result<config::EtcdConnectionConfig> connection = i.connection->Build();
  errors.Add(connection.status());
  Result<config::LogConfig> log = i.log->Build();
  errors.Add(log.status());

  benchmark::BenchmarkSpec spec;
  const std::string type = i.type->AsChoice(errors, {"write", "read", "mixed"});
  spec.type = type == "read"    ? benchmark::WorkloadType::kRead
              : type == "mixed" ? benchmark::WorkloadType::kMixed
                                : benchmark::WorkloadType::kWrite;
  spec.ops = static_cast<uint64_t>(i.ops->AsInt(errors, 1, benchmark::kMaxOps));
  if (i.duration->given()) {
    spec.duration = i.duration->AsPositiveDuration(errors);
  }
  spec.clients = static_cast<uint32_t>(i.clients->AsInt(errors, 1, benchmark::kMaxClients));
  spec.conns = static_cast<uint32_t>(i.conns->AsInt(errors, 1, benchmark::kMaxConns));
  spec.key_size = static_cast<uint32_t>(i.key_size->AsInt(errors, 1, benchmark::kMaxKeySize));
  spec.value_size = static_cast<uint32_t>(i.value_size->AsInt(errors, 0, benchmark::kMaxValueSize));
  spec.key_space = static_cast<uint64_t>(i.key_space->AsInt(errors, 1, benchmark::kMaxKeySpace));
  spec.rate = static_cast<uint64_t>(i.rate->AsInt(errors, 0, benchmark::kMaxRate));
  spec.consistency = i.consistency->AsChoice(errors, {"l", "s"}) == "s"
                         ? benchmark::Consistency::kSerializable
                         : benchmark::Consistency::kLinearizable;
  const std::string target = i.target->AsNonEmpty(errors);
  if (target == "all") {
    spec.target = benchmark::TargetKind::kAll;
  } else if (target == "leader") {
    spec.target = benchmark::TargetKind::kLeader;
  } else {
    Result<config::Endpoint> endpoint = config::ParseEndpoint(target);
    if (!endpoint.ok()) {
      errors.Add(i.target->Error("want all, leader or an endpoint host:port"));
    } else {
      spec.target = benchmark::TargetKind::kEndpoint;
      spec.target_endpoint = endpoint->Authority();
    }
  }
  spec.keep = i.keep->AsBool(errors);
  spec.prefix = i.prefix->AsNonEmpty(errors);
  if (i.output == "json") {
    i.format = ReportFormat::kJson;
  } else if (i.output == "text") {
    i.format = ReportFormat::kText;
  } else {
    errors.Add("--output \"" + i.output + "\": want text or json");
  }
  i.show_progress = i.progress->AsBool(errors);
  if (i.check_perf->given()) {
    Result<benchmark::PerfProfile> profile = benchmark::ParsePerfProfile(i.check_perf->raw());
    if (!profile.ok()) {
      errors.Add(i.check_perf->Error("want s, m, l or xl"));
    } else {
      if (i.type->given() && spec.type != benchmark::WorkloadType::kWrite) {
        errors.Add("--check-perf runs writes only; drop --type");
      }
      std::optional<std::chrono::milliseconds> duration = spec.duration;
      spec = benchmark::CheckPerfSpec(*profile, spec);
      if (duration.has_value()) {
        spec.duration = duration;  // a shorter check, e.g. in tests
      }
    }
  }
  if (errors.empty()) {
    errors.Add(benchmark::ValidateSpec(spec));
  }
  if (!errors.empty()) {
    return errors.ToStatus();
  }
  i.connection_config = std::move(connection).value();
  i.log_config = *log;
  i.spec = std::move(spec);
  return Status::Ok();
}

int BenchmarkCommand::Run(std::ostream& out, std::ostream& err) {
  SetUpLogging(impl_->log_config);
  TuneProcessForBenchmark();
  return RunBenchmark(impl_->connection_config, impl_->spec, impl_->format, impl_->show_progress,
                      out, err);
}

int RunQuickstartBenchmark(const config::EtcdConnectionConfig& etcd, const config::LogConfig& log,
                           const config::BenchmarkConfig& run, std::ostream& out,
                           std::ostream& err) {
  SetUpLogging(log);
  TuneProcessForBenchmark();
  benchmark::BenchmarkSpec spec;
  spec.type = run.type;
  spec.ops = run.ops;
  return RunBenchmark(etcd, spec, ReportFormat::kText, /*show_progress=*/true, out, err);
}

}  // namespace etcdmon::cli
