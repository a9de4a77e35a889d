#include "monitor_flags.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <map>
#include <system_error>
#include <utility>

#include "etcdmon/config/cluster_name.h"

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
      cluster_(FlagValue::AddRepeatedOption(
          app, "cluster",
          "another cluster to watch, NAME=ENDPOINT[,ENDPOINT...] (repeatable); the TLS and auth "
          "flags apply to it. Without --endpoints or ENDPOINTS, localhost:2379 is then not "
          "watched",
          "NAME=LIST")),
      clusters_file_(FlagValue::AddOption(
          app, "clusters-file", "", "",
          "YAML file of clusters to watch (name, endpoints, and optionally tls, auth, "
          "thresholds each; see README). Without --endpoints or ENDPOINTS, localhost:2379 is "
          "then not watched",
          "FILE")),
      cluster_name_(FlagValue::AddOption(
          app, "cluster-name", "CLUSTER_NAME", std::string(config::kDefaultClusterName),
          "name of the --endpoints cluster, and the cluster of samples that name none", "NAME")),
      api_security_(app) {}

std::vector<ClusterSpec> MonitorFlags::BuildClusters(const MonitorConfig& config,
                                                     FlagErrors& errors) const {
  std::vector<ClusterSpec> clusters;
  std::map<std::string, std::string> sources;  // name -> where it was defined
  auto add = [&](ClusterSpec&& spec, auto&& report) {
    const auto [it, inserted] = sources.emplace(spec.name, spec.source);
    if (!inserted) {
      report("cluster \"" + spec.name + "\" is also given by " + it->second);
      return;
    }
    clusters.push_back(std::move(spec));
  };
  const bool others = !cluster_.values().empty() || clusters_file_.given();
  if (!others || connection_.endpoints_given()) {
    ClusterSpec primary;
    primary.name = config.cluster_name;
    primary.etcd = config.etcd;
    primary.thresholds = config.thresholds;
    primary.source = "--endpoints (named by --cluster-name)";
    add(std::move(primary), [](const std::string&) {});
  }
  ClusterDefaults defaults;
  defaults.etcd = config.etcd;
  defaults.etcd.endpoints.clear();
  defaults.thresholds = config.thresholds;
  for (const std::string& value : cluster_.values()) {
    Result<ClusterSpec> spec = ParseClusterFlag(value, defaults);
    if (!spec.ok()) {
      errors.Add(cluster_.ValueError(value, spec.status().message()));
      continue;
    }
    add(*std::move(spec),
        [&](const std::string& reason) { errors.Add(cluster_.ValueError(value, reason)); });
  }
  const std::string file = clusters_file_.AsReadableFile(errors);
  if (!file.empty()) {
    Result<std::vector<ClusterSpec>> loaded = LoadClustersFile(file, defaults);
    errors.Add(loaded.status());
    if (loaded.ok()) {
      for (ClusterSpec& spec : *loaded) {
        const std::string where = spec.source;
        add(std::move(spec), [&](const std::string& reason) { errors.Add(where + ": " + reason); });
      }
    }
  }
  if (clusters.size() > kMaxClusters) {
    errors.Add("--cluster, --clusters-file: " + std::to_string(clusters.size()) +
               " clusters, more than " + std::to_string(kMaxClusters));
  }
  return clusters;
}

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

  config.cluster_name = cluster_name_.AsString();
  if (Status valid = config::ValidateClusterName(config.cluster_name); !valid.ok()) {
    errors.Add(cluster_name_.Source() + ": " + valid.message());
  }
  // Built even when the connection flags are bad, so that every problem shows at once.
  config.clusters = BuildClusters(config, errors);
  if (etcd.ok()) {
    // The primary cluster: the gateway's benchmarks and consistency check, --run-benchmark.
    const ClusterSpec* primary = config.clusters.empty() ? nullptr : &config.clusters.front();
    for (const ClusterSpec& spec : config.clusters) {
      if (spec.name == config.cluster_name) {
        primary = &spec;
      }
    }
    if (primary != nullptr) {
      config.etcd = primary->etcd;
      config.primary_cluster = primary->name;
    }
    std::vector<config::Endpoint> endpoints;
    for (const ClusterSpec& spec : config.clusters) {
      endpoints.insert(endpoints.end(), spec.etcd.endpoints.begin(), spec.etcd.endpoints.end());
    }
    config.member_data_dirs = BuildMemberDataDirs(member_data_dir_, endpoints, errors);
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
