#include "all_in_one.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "etcdmon/aggregator/service.h"
#include "etcdmon/collector/service.h"
#include "etcdmon/config/exit_codes.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/files/directory_lock.h"
#include "etcdmon/files/private_files.h"
#include "etcdmon/gateway/background_benchmarks.h"
#include "etcdmon/gateway/gateway.h"
#include "etcdmon/gateway/grpc_backends.h"
#include "etcdmon/logging/logging.h"
#include "etcdmon/runtime/signals.h"
#include "etcdmon/transport/context.h"

namespace etcdmon::cli {
namespace {

using namespace std::chrono_literals;

// The in-process links. inproc names live inside the shared context, so they cannot collide
// with another process.
constexpr char kIngestEndpoint[] = "inproc://etcd-monitor/ingest";
constexpr char kSnapshotEndpoint[] = "inproc://etcd-monitor/snapshots";
// gRPC calls inside the process answer in microseconds; this only bounds a stuck one.
constexpr auto kBackendTimeout = 2s;
// At shutdown, how long collectors may spend handing their last samples to the aggregator.
constexpr auto kCollectorFlush = 300ms;

// A file name for one endpoint's collector state: "localhost:2379" → "collector-localhost_2379".
std::string CollectorName(const config::Endpoint& endpoint) {
  std::string name = "collector-" + endpoint.Authority();
  for (char& c : name) {
    if (c == ':' || c == '/' || c == '[' || c == ']') c = '_';
  }
  return name;
}

// The clusters to watch: MonitorFlags always fills them; a config made in code without them
// watches its `etcd` as the one cluster.
std::vector<ClusterSpec> WatchedClusters(const MonitorConfig& m) {
  if (!m.clusters.empty()) {
    return m.clusters;
  }
  ClusterSpec only;
  only.name = m.cluster_name;
  only.etcd = m.etcd;
  only.thresholds = m.thresholds;
  return {only};
}

// A collector's id, also its sequence file's name: today's name for the cluster named by
// --cluster-name, so an existing data dir keeps its sequence state; others prefixed with their
// cluster and ':', which neither a cluster name nor CollectorName() contains, so no two
// collectors of the process share an id or a file.
std::string CollectorId(const std::string& cluster, const std::string& primary,
                        const config::Endpoint& endpoint) {
  return cluster == primary ? CollectorName(endpoint) : cluster + ":" + CollectorName(endpoint);
}

// Everything the process runs, in the order it starts; Stop() goes in reverse.
struct Parts {
  // The data directory's lock, taken before anything in it is opened and released last.
  std::unique_ptr<files::DirectoryLock> data_dir_lock;
  std::shared_ptr<transport::SharedContext> context;
  std::unique_ptr<aggregator::AggregatorService> aggregator;
  std::unique_ptr<alerter::AlerterService> alerter;
  std::unique_ptr<gateway::MonitorBackend> monitor_backend;
  std::unique_ptr<gateway::AlertBackend> alert_backend;
  std::unique_ptr<gateway::SnapshotFeed> feed;
  // Per watched cluster: its benchmark runner and the etcd client of its consistency check.
  std::vector<std::unique_ptr<gateway::BackgroundBenchmarks>> benchmarks;
  std::vector<std::unique_ptr<etcd::EtcdClient>> etcd_clients;
  std::unique_ptr<gateway::GatewayService> gateway;
  std::vector<std::unique_ptr<collector::CollectorService>> collectors;

  void Stop() {
    // Collectors first (nothing sampled that cannot be stored), then the benchmark runs (their
    // keys are cleaned up), the gateway, the alerter (deliveries in progress get a moment), and
    // the aggregator last, which commits what it received and closes the history.
    for (auto& c : collectors) {
      c->Stop(kCollectorFlush);
    }
    for (auto& b : benchmarks) {
      b->Stop();
    }
    if (gateway) gateway->Stop();
    if (alerter) alerter->Stop();
    if (aggregator) aggregator->Stop();
  }

  // Releases everything in dependency order (users before what they use), timing each part at
  // debug level so that a slow shutdown can be traced to its part.
  void Release(spdlog::logger& logger) {
    auto timed = [&](const char* name, auto& part) {
      const auto start = std::chrono::steady_clock::now();
      part.reset();
      logger.debug("released part={} took_ms={}", name,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count());
    };
    for (auto& c : collectors) timed("collector", c);
    timed("gateway", gateway);
    for (auto& e : etcd_clients) timed("etcd_client", e);
    for (auto& b : benchmarks) timed("benchmarks", b);
    timed("feed", feed);
    timed("alert_backend", alert_backend);
    timed("monitor_backend", monitor_backend);
    timed("alerter", alerter);
    timed("aggregator", aggregator);
    timed("zmq_context", context);
  }
};

Status Start(const AllInOneConfig& c, Parts& p, std::shared_ptr<spdlog::logger> logger,
             std::shared_ptr<spdlog::logger> alerts_logger) {
  const MonitorConfig& m = c.monitor;
  if (Status made = files::MakePrivateDirectory(m.data_dir); !made.ok()) {
    return Status::Unavailable("cannot create --data-dir: " + made.message());
  }
  // One all-in-one per data directory: a second one would open the same databases and overwrite
  // the collectors' sequence files. (Its aggregator and alerter lock their databases too.)
  Result<std::unique_ptr<files::DirectoryLock>> lock = files::DirectoryLock::Acquire(m.data_dir);
  ETCDMON_RETURN_IF_ERROR(lock.status());
  p.data_dir_lock = std::move(lock).value();
  Result<std::shared_ptr<transport::SharedContext>> context = transport::SharedContext::Create();
  ETCDMON_RETURN_IF_ERROR(context.status());
  p.context = *context;

  aggregator::AggregatorConfig agg;
  agg.ingest_endpoint = kIngestEndpoint;
  agg.publish_endpoint = kSnapshotEndpoint;
  agg.grpc_address = "";  // the gateway reaches it in-process; no port to open
  agg.model.expected_interval = m.metrics_interval;
  // Samples that name no cluster, and the quickstart's single cluster, are --cluster-name's.
  agg.model.cluster = m.cluster_name;
  agg.history.path = m.data_dir + "/history.db";
  agg.zmq_context = p.context;
  agg.remote_write = c.remote_write;
  Result<std::unique_ptr<aggregator::AggregatorService>> aggregator =
      aggregator::AggregatorService::Create(agg, logger);
  ETCDMON_RETURN_IF_ERROR(aggregator.status());
  p.aggregator = std::move(aggregator).value();
  ETCDMON_RETURN_IF_ERROR(p.aggregator->Start());

  // A cluster with thresholds of its own (a clusters file's `thresholds:`) is evaluated with
  // them, the rules file applied over them as over the flags' (its `clusters:` section too).
  alerter::AlerterConfig alert_config = c.alerter;
  for (const ClusterSpec& spec : m.clusters) {
    if (!spec.thresholds_given) {
      continue;
    }
    alerter::RuleSet rules = alerter::RuleSet::Defaults(spec.thresholds);
    if (!alert_config.rules_file.empty()) {
      ETCDMON_RETURN_IF_ERROR(rules.ApplyFile(alert_config.rules_file, spec.name));
    }
    alert_config.cluster_rules.insert_or_assign(spec.name, std::move(rules));
  }
  alert_config.snapshot_endpoint = kSnapshotEndpoint;
  alert_config.zmq_context = p.context;
  alert_config.grpc_address = "";
  alert_config.db_path = m.data_dir + "/alerts.db";
  // Snapshots come every tick (1 s); say the aggregator is silent after a few missed ones.
  alert_config.snapshot_timeout = std::max<std::chrono::milliseconds>(10s, 3 * m.metrics_interval);
  Result<std::vector<std::unique_ptr<alerter::Notifier>>> channels =
      alerter::MakeNotifiers(c.channels, alerts_logger, SystemClock::Instance());
  ETCDMON_RETURN_IF_ERROR(channels.status());
  Result<std::unique_ptr<alerter::AlerterService>> alerter =
      alerter::AlerterService::Create(std::move(alert_config), std::move(channels).value(), logger);
  ETCDMON_RETURN_IF_ERROR(alerter.status());
  p.alerter = std::move(alerter).value();
  ETCDMON_RETURN_IF_ERROR(p.alerter->Start());

  p.monitor_backend =
      gateway::NewGrpcMonitorBackend(p.aggregator->InProcessChannel(), kBackendTimeout);
  p.alert_backend = gateway::NewGrpcAlertBackend(p.alerter->InProcessChannel(), kBackendTimeout);
  Result<std::unique_ptr<gateway::SnapshotFeed>> feed =
      gateway::NewZmqSnapshotFeed(kSnapshotEndpoint, "", p.context);
  ETCDMON_RETURN_IF_ERROR(feed.status());
  p.feed = std::move(feed).value();

  gateway::GatewayConfig gw = m.api_security;
  gw.host = m.api_host;
  gw.port = m.api_port;
  gw.api_token = c.alerter.api_token;
  gw.tls_cert_file = c.tls_cert_file;
  gw.tls_key_file = c.tls_key_file;
  // Benchmarks are refused near the quota the alerter also knows (--max-db-size-mb).
  gw.max_db_size_bytes = m.thresholds.max_db_size_bytes;
  gateway::GatewayBackends backends;
  backends.monitor = p.monitor_backend.get();
  backends.alerts = p.alert_backend.get();
  backends.feed = p.feed.get();
  // Benchmarks and consistency checks per cluster, each with that cluster's connection; a run's
  // figures go into its cluster's snapshot and history. The periodic benchmark
  // (--run-benchmark) runs on the primary cluster (--cluster-name's, else the first).
  aggregator::AggregatorService* aggregator_service = p.aggregator.get();
  for (const ClusterSpec& cluster : WatchedClusters(m)) {
    p.benchmarks.push_back(std::make_unique<gateway::BackgroundBenchmarks>(
        cluster.etcd, logger,
        [aggregator_service, name = cluster.name](const etcdmonitor::v1::BenchmarkSummary& s) {
          aggregator_service->RecordBenchmark(name, s);
        }));
    if (m.benchmark.periodic && cluster.name == m.primary_cluster) {
      p.benchmarks.back()->StartPeriodic(gateway::BackgroundBenchmarks::PeriodicSpec(m.benchmark),
                                         m.benchmark.interval);
    }
    Result<std::unique_ptr<etcd::EtcdClient>> etcd_client = etcd::NewEtcdClient(cluster.etcd);
    ETCDMON_RETURN_IF_ERROR(etcd_client.status().WithContext("cluster " + cluster.name));
    p.etcd_clients.push_back(std::move(etcd_client).value());
    backends.etcd_clusters[cluster.name] = {p.benchmarks.back().get(), p.etcd_clients.back().get()};
  }
  Result<std::unique_ptr<gateway::GatewayService>> gateway =
      gateway::GatewayService::Create(gw, backends, logger);
  ETCDMON_RETURN_IF_ERROR(gateway.status());
  p.gateway = std::move(gateway).value();
  ETCDMON_RETURN_IF_ERROR(p.gateway->Start());

  // One collector per endpoint of every cluster, each naming its cluster and using its TLS and
  // auth.
  for (const ClusterSpec& cluster : WatchedClusters(m)) {
    for (const config::Endpoint& endpoint : cluster.etcd.endpoints) {
      collector::CollectorConfig cc;
      cc.etcd = cluster.etcd;
      cc.etcd.endpoints = {endpoint};
      cc.cluster = cluster.name;
      cc.aggregator = kIngestEndpoint;
      cc.zmq_context = p.context;
      cc.collector_id = CollectorId(cluster.name, m.cluster_name, endpoint);
      cc.metrics_interval = m.metrics_interval;
      cc.health_check_interval = m.health_check_interval;
      cc.sequence_state_file = m.data_dir + "/" + cc.collector_id + ".seq";
      // Disk usage: the data dir given for this member, else the one found from /proc.
      for (const MemberDataDir& dir : m.member_data_dirs) {
        if (dir.endpoint.Authority() == endpoint.Authority()) {
          cc.data_dir = dir.path;
        }
      }
      cc.data_dir_hint = "give --member-data-dir=" + endpoint.Authority() + "=DIR";
      Result<std::unique_ptr<collector::CollectorService>> collector =
          collector::CollectorService::Create(cc, logger);
      ETCDMON_RETURN_IF_ERROR(collector.status().WithContext(
          "collector for " + endpoint.Authority() + " of cluster " + cluster.name));
      p.collectors.push_back(std::move(collector).value());
      ETCDMON_RETURN_IF_ERROR(p.collectors.back()->Start());
    }
  }
  return Status::Ok();
}

}  // namespace

int RunAllInOne(const AllInOneConfig& config, std::ostream& out, std::ostream& err) {
  // Before any thread exists, so that every thread inherits the blocked mask and SIGTERM/SIGINT
  // reach only the sigwait below.
  runtime::BlockTerminationSignals();
  Result<std::shared_ptr<spdlog::logger>> logger =
      logging::MakeLogger("etcd-monitor", config.monitor.log);
  Result<std::shared_ptr<spdlog::logger>> alerts_logger =
      logging::MakeLogger("alerts", config.monitor.log);
  if (!logger.ok() || !alerts_logger.ok()) {
    err << "error: " << (logger.ok() ? alerts_logger.status() : logger.status()).message() << "\n";
    return config::kExitUsage;
  }
  spdlog::set_default_logger(*logger);

  Parts parts;
  if (Status s = Start(config, parts, *logger, *alerts_logger); !s.ok()) {
    err << "error: " << s.message() << "\n";
    parts.Stop();
    return config::kExitFailed;
  }
  const std::string scheme = config.tls_cert_file.empty() ? "http" : "https";
  const std::string host =
      config.monitor.api_host == "0.0.0.0" ? "localhost" : config.monitor.api_host;
  const std::string base = scheme + "://" + host + ":" + std::to_string(parts.gateway->port());
  const std::vector<ClusterSpec> clusters = WatchedClusters(config.monitor);
  size_t endpoints = 0;
  for (const ClusterSpec& cluster : clusters) {
    endpoints += cluster.etcd.endpoints.size();
  }
  out << "etcd-monitor is running: " << endpoints << " endpoint(s)"
      << (clusters.size() > 1 ? " in " + std::to_string(clusters.size()) + " clusters" : "")
      << ", data in " << config.monitor.data_dir << "\n"
      << "  dashboard       " << base << "/\n"
      << "  cluster status  " << base << "/api/v1/cluster/status\n"
      << "  metrics         " << base << "/metrics\n"
      << "  health          " << base << "/health\n"
      << "Stop with Ctrl-C (SIGINT) or SIGTERM.\n";
  out.flush();

  const int signal = runtime::WaitForTerminationSignal();
  const auto stop_started = std::chrono::steady_clock::now();
  (*logger)->info("signal_received signal={}", signal);
  parts.Stop();
  parts.Release(**logger);
  (*logger)->info("stopped took_ms={}", std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - stop_started)
                                            .count());
  (*logger)->flush();
  (*alerts_logger)->flush();
  return config::kExitOk;
}

}  // namespace etcdmon::cli
