#pragma once

// The all-in-one `etcd-monitor` binary's own command line (QUICKSTART-SPEC.md): only this binary
// has it, so it lives here rather than in common/config, whose shared pieces (ConnectionFlags,
// LogFlags, AlertThresholdFlags, FlagValue, ParseCommandLine) it is built from.
//
// Runs once, on main()'s thread, before other threads start: not safe for concurrent use.

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "cluster_specs.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/config/types.h"
#include "etcdmon/gateway/flags.h"
#include "etcdmon/status/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace etcdmon::cli {

/// A member's data dir as given to the all-in-one binary (--member-data-dir), for its disk
/// usage.
struct MemberDataDir {
  config::Endpoint endpoint;  // one of MonitorConfig::etcd.endpoints
  std::string path;           // absolute
};

/// Everything the all-in-one `etcd-monitor` binary is configured with (QUICKSTART-SPEC.md).
struct MonitorConfig {
  /// The primary cluster's connection: the cluster named cluster_name if there is one, else the
  /// first of `clusters`. With only --endpoints, exactly the quickstart's connection flags.
  config::EtcdConnectionConfig etcd;
  /// The primary cluster's name (whose connection `etcd` is): what the single-cluster gateway
  /// backends (benchmarks, consistency check) and --run-benchmark act on.
  std::string primary_cluster = "default";
  config::LogConfig log;
  std::string api_host = "0.0.0.0";  // REST/metrics listen address
  uint16_t api_port = 8080;          // 1..65535
  std::chrono::milliseconds health_check_interval{std::chrono::seconds(30)};  // > 0
  std::chrono::milliseconds metrics_interval{std::chrono::seconds(10)};       // > 0
  config::AlertThresholds thresholds;
  config::BenchmarkConfig benchmark;
  std::string data_dir = "./etcd-monitor-data";  // SQLite history; created when missing
  /// --member-data-dir: at most one per endpoint. A member without one has its data dir found
  /// from /proc when it runs on this host.
  std::vector<MemberDataDir> member_data_dirs;
  /// --cluster-name (CLUSTER_NAME, default "default"): the name of the --endpoints cluster, and
  /// the aggregator's default cluster (samples that name none are counted in it).
  std::string cluster_name = "default";
  /// Every cluster watched (at least one; distinct names): the --endpoints cluster named
  /// cluster_name (left out when --cluster or --clusters-file is given without --endpoints or
  /// ENDPOINTS), then each --cluster in order, then the clusters file's.
  std::vector<ClusterSpec> clusters;
  /// The REST API's request safety (gateway::ApiSecurityFlags: --api-auth, --benchmark-token-file,
  /// --benchmark-max-bytes, --post-rate-limit); only those fields are set.
  gateway::GatewayConfig api_security;
};

/// The whole command line of the all-in-one `etcd-monitor` binary (QUICKSTART-SPEC.md): the
/// connection and log flags, plus --api-host (API_HOST), --api-port (API_PORT),
/// --health-check-interval (HEALTH_CHECK_INTERVAL), --metrics-interval (METRICS_INTERVAL),
/// --max-latency-ms, --max-db-size-mb, --min-available-nodes, --max-leader-changes,
/// --run-benchmark, --benchmark-type, --benchmark-ops, --benchmark-enabled (BENCHMARK_ENABLED),
/// --benchmark-interval (BENCHMARK_INTERVAL) and --data-dir; and --member-data-dir
/// (repeatable: ENDPOINT=DIR, ENDPOINT one of --endpoints as written; or DIR alone with a single
/// endpoint; DIR an existing directory, made absolute; ENDPOINT of any cluster); --cluster
/// (repeatable: NAME=ENDPOINT[,ENDPOINT...]), --clusters-file (LoadClustersFile), --cluster-name
/// (CLUSTER_NAME); and gateway::ApiSecurityFlags. A cluster name given twice, in one source or
/// two, is an error naming both.
class MonitorFlags final {
 public:
  /// Registers the flags on `app`, which must outlive this object.
  explicit MonitorFlags(CLI::App& app);

  /// Every problem of every flag, one line each, as InvalidArgument.
  Result<MonitorConfig> Build() const;

 private:
  // The clusters of --endpoints, --cluster and --clusters-file, from `config`'s connection,
  // thresholds and cluster name; problems go to `errors`.
  std::vector<ClusterSpec> BuildClusters(const MonitorConfig& config,
                                         config::FlagErrors& errors) const;

  config::ConnectionFlags connection_;
  config::LogFlags log_;
  config::FlagValue api_host_;
  config::FlagValue api_port_;
  config::FlagValue health_check_interval_;
  config::FlagValue metrics_interval_;
  config::AlertThresholdFlags thresholds_;
  config::FlagValue run_benchmark_;
  config::FlagValue benchmark_type_;
  config::FlagValue benchmark_ops_;
  config::FlagValue benchmark_enabled_;
  config::FlagValue benchmark_interval_;
  config::FlagValue data_dir_;
  config::FlagValue member_data_dir_;
  config::FlagValue cluster_;
  config::FlagValue clusters_file_;
  config::FlagValue cluster_name_;
  gateway::ApiSecurityFlags api_security_;
};

/// The `etcd-monitor` binary's whole command line (MonitorFlags), parsed as
/// config::ParseCommandLine() does:
///
///   auto cli = ParseMonitorCommandLine(argc, argv);
///   if (!cli.ok()) return cli.exit_code();
config::ParseResult<MonitorConfig> ParseMonitorCommandLine(int argc, const char* const* argv,
                                                           std::ostream& out = std::cout,
                                                           std::ostream& err = std::cerr);

}  // namespace etcdmon::cli
