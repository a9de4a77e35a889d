#include "monitor_flags.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <system_error>
#include <utility>

namespace etcdmon::cli {

namespace {

using config::AlertThresholds;
using config::BenchmarkType;
using config::EtcdConnectionConfig;
using config::FlagErrors;
using config::FlagValue;
using config::LogConfig;

constexpr int64_t kMaxBenchmarkOps = 100'000'000;

// --member-data-dir values: ENDPOINT=DIR, or DIR alone (a path starting with '/' or '.', or
// without '=') when there is one endpoint.
std::vector<MemberDataDir> BuildMemberDataDirs(const FlagValue& flag,
                                               const std::vector<config::Endpoint>& endpoints,
                                               FlagErrors& errors) {
  std::vector<MemberDataDir> dirs;
  for (const std::string& value : flag.values()) {
    auto error = [&](const std::string& reason) { errors.Add(flag.ValueError(value, reason)); };
    const std::size_t eq = value.find('=');
    const bool path_only =
        eq == std::string::npos || (!value.empty() && (value[0] == '/' || value[0] == '.'));
    const std::string path = path_only ? value : value.substr(eq + 1);
    MemberDataDir dir;
    if (path_only) {
      if (endpoints.size() != 1) {
        error("name the member's endpoint, ENDPOINT=DIR: there are " +
              std::to_string(endpoints.size()) + " endpoints");
        continue;
      }
      dir.endpoint = endpoints.front();
    } else {
      Result<config::Endpoint> endpoint = config::ParseEndpointOfValue(value.substr(0, eq));
      if (!endpoint.ok()) {
        error(std::string(endpoint.status().message()));
        continue;
      }
      std::string listed;
      const config::Endpoint* match = nullptr;
      for (const config::Endpoint& e : endpoints) {
        listed += (listed.empty() ? "" : ", ") + e.Authority();
        if (match == nullptr && e.Authority() == endpoint->Authority()) {
          match = &e;
        }
      }
      if (match == nullptr) {
        error("not one of --endpoints (" + listed + ")");
        continue;
      }
      dir.endpoint = *match;
    }
    std::error_code ec;
    if (path.empty() || !std::filesystem::is_directory(path, ec)) {
      error("no such directory");
      continue;
    }
    bool repeated = false;
    for (const MemberDataDir& d : dirs) {
      repeated = repeated || d.endpoint.Authority() == dir.endpoint.Authority();
    }
    if (repeated) {
      error("a second data dir for " + dir.endpoint.Authority());
      continue;
    }
    dir.path = std::filesystem::absolute(path, ec).lexically_normal().string();
    dirs.push_back(std::move(dir));
  }
  return dirs;
}

}  // namespace

MonitorFlags::MonitorFlags(CLI::App& app)
    : connection_(app),
      log_(app),
      api_host_(FlagValue::AddOption(app, "api-host", "API_HOST", "0.0.0.0",
                                     "address the REST API and /metrics listen on", "HOST")),
      api_port_(FlagValue::AddOption(app, "api-port", "API_PORT", "8080",
                                     "port of the REST API and /metrics (1..65535)", "PORT")),
      health_check_interval_(
          FlagValue::AddOption(app, "health-check-interval", "HEALTH_CHECK_INTERVAL", "30s",
                               "how often cluster health is checked", "DURATION")),
      metrics_interval_(FlagValue::AddOption(app, "metrics-interval", "METRICS_INTERVAL", "10s",
                                             "how often metrics are collected", "DURATION")),
      thresholds_(app),
      run_benchmark_(FlagValue::AddSwitch(app, "run-benchmark", "", false,
                                          "run one benchmark, print the report and exit")),
      benchmark_type_(FlagValue::AddOption(app, "benchmark-type", "", "write",
                                           "benchmark workload: write, read or mixed", "TYPE")),
      benchmark_ops_(FlagValue::AddOption(app, "benchmark-ops", "", "10000",
                                          "operations per benchmark run (1..100000000)", "INT")),
      benchmark_enabled_(FlagValue::AddSwitch(app, "benchmark-enabled", "BENCHMARK_ENABLED", false,
                                              "run the benchmark periodically")),
      benchmark_interval_(FlagValue::AddOption(app, "benchmark-interval", "BENCHMARK_INTERVAL",
                                               "1h", "time between periodic benchmarks",
                                               "DURATION")),
      data_dir_(FlagValue::AddOption(app, "data-dir", "", "./etcd-monitor-data",
                                     "directory of the metrics history database", "DIR")),
      member_data_dir_(FlagValue::AddRepeatedOption(
          app, "member-data-dir",
          "a member's data dir, for its disk usage: ENDPOINT=DIR (repeat per member), or DIR "
          "with a single endpoint (default: found from /proc when the member runs on this host)",
          "ENDPOINT=DIR")),
      api_security_(app) {}

Result<MonitorConfig> MonitorFlags::Build() const {
  FlagErrors errors;
  MonitorConfig config;

  Result<EtcdConnectionConfig> etcd = connection_.Build();
  errors.Add(etcd.status());
  if (etcd.ok()) {
    config.etcd = *std::move(etcd);
  }
  Result<LogConfig> log = log_.Build();
  errors.Add(log.status());
  if (log.ok()) {
    config.log = *std::move(log);
  }

  config.api_host = api_host_.AsNonEmpty(errors);
  config.api_port = static_cast<uint16_t>(api_port_.AsInt(errors, 1, 65535));
  config.health_check_interval = health_check_interval_.AsPositiveDuration(errors);
  config.metrics_interval = metrics_interval_.AsPositiveDuration(errors);

  Result<AlertThresholds> thresholds = thresholds_.Build();
  errors.Add(thresholds.status());
  if (thresholds.ok()) {
    config.thresholds = *thresholds;
  }

  config.benchmark.run_once = run_benchmark_.AsBool(errors);
  const std::string type = benchmark_type_.AsChoice(errors, {"write", "read", "mixed"});
  config.benchmark.type = type == "read"    ? BenchmarkType::kRead
                          : type == "mixed" ? BenchmarkType::kMixed
                                            : BenchmarkType::kWrite;
  config.benchmark.ops = static_cast<uint64_t>(benchmark_ops_.AsInt(errors, 1, kMaxBenchmarkOps));
  config.benchmark.periodic = benchmark_enabled_.AsBool(errors);
  config.benchmark.interval = benchmark_interval_.AsPositiveDuration(errors);

  config.data_dir = data_dir_.AsNonEmpty(errors);
  api_security_.Build(errors, config.api_security);
  if (etcd.ok()) {
    config.member_data_dirs = BuildMemberDataDirs(member_data_dir_, config.etcd.endpoints, errors);
  }

  if (!errors.empty()) {
    return errors.ToStatus();
  }
  return config;
}

config::ParseResult<MonitorConfig> ParseMonitorCommandLine(int argc, const char* const* argv,
                                                           std::ostream& out, std::ostream& err) {
  CLI::App app{"etcd-monitor: monitoring, alerting and benchmarking for an etcd cluster",
               "etcd-monitor"};
  MonitorFlags flags(app);
  return config::ParseCommandLine(
      app, argc, argv, [&flags] { return flags.Build(); }, out, err);
}

}  // namespace etcdmon::cli
