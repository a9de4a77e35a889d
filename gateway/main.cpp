// etcd-monitor-gateway: the REST API, /health, Prometheus /metrics and the dashboard.
#include <spdlog/spdlog.h>

#include "etcdmon/config/exit_codes.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/gateway/background_benchmarks.h"
#include "etcdmon/gateway/flags.h"
#include "etcdmon/gateway/gateway.h"
#include "etcdmon/gateway/grpc_backends.h"
#include "etcdmon/logging/logging.h"
#include "etcdmon/runtime/signals.h"

int main(int argc, char** argv) {
  etcdmon::runtime::BlockTerminationSignals();
  auto cli = etcdmon::gateway::ParseGatewayCommandLine(argc, argv);
  if (!cli.ok()) {
    return cli.exit_code();
  }
  const etcdmon::gateway::GatewayCommandLine& c = cli.value();
  auto logger = etcdmon::logging::MakeLogger("gateway", c.log);
  if (!logger.ok()) {
    std::cerr << "error: " << logger.status().message() << "\n";
    return etcdmon::config::kExitUsage;
  }
  spdlog::set_default_logger(*logger);
  auto fail = [&](const etcdmon::Status& s) {
    (*logger)->error("startup_failed error=\"{}\"", s.message());
    return etcdmon::config::kExitFailed;
  };
  auto monitor = etcdmon::gateway::NewGrpcMonitorBackend(c.aggregator_address, c.backend_timeout,
                                                         c.grpc_security);
  if (!monitor.ok()) return fail(monitor.status());
  etcdmon::gateway::GatewayBackends backends;
  backends.monitor = monitor->get();
  std::unique_ptr<etcdmon::gateway::AlertBackend> alerts;
  if (!c.alerter_address.empty()) {
    auto a = etcdmon::gateway::NewGrpcAlertBackend(c.alerter_address, c.backend_timeout,
                                                   c.grpc_security);
    if (!a.ok()) return fail(a.status());
    alerts = std::move(a).value();
    backends.alerts = alerts.get();
  }
  std::unique_ptr<etcdmon::gateway::SnapshotFeed> feed;
  if (!c.snapshots_endpoint.empty()) {
    auto f = etcdmon::gateway::NewZmqSnapshotFeed(c.snapshots_endpoint, c.curve_server_key);
    if (!f.ok()) return fail(f.status());
    feed = std::move(f).value();
    backends.feed = feed.get();
  }
  std::unique_ptr<etcdmon::gateway::BackgroundBenchmarks> benchmarks;
  std::unique_ptr<etcdmon::etcd::EtcdClient> etcd;  // the consistency check's
  if (!c.etcd.endpoints.empty()) {
    benchmarks = std::make_unique<etcdmon::gateway::BackgroundBenchmarks>(c.etcd, *logger, nullptr);
    auto client = etcdmon::etcd::NewEtcdClient(c.etcd);
    if (!client.ok()) return fail(client.status());
    etcd = std::move(client).value();
    backends.etcd_clusters[c.cluster_name] = {benchmarks.get(), etcd.get()};
  }
  auto service = etcdmon::gateway::GatewayService::Create(c.gateway, backends, *logger);
  if (!service.ok()) return fail(service.status());
  if (etcdmon::Status s = (*service)->Start(); !s.ok()) return fail(s);
  const int signal = etcdmon::runtime::WaitForTerminationSignal();
  (*logger)->info("signal_received signal={}", signal);
  (*service)->Stop();
  if (benchmarks) benchmarks->Stop();  // cancels a run in progress; its keys are cleaned up
  (*logger)->flush();
  return etcdmon::config::kExitOk;
}
