// etcd-monitor-aggregator: the central store and cluster model.
#include <spdlog/spdlog.h>

#include <csignal>

#include "etcdmon/aggregator/flags.h"
#include "etcdmon/aggregator/service.h"
#include "etcdmon/config/exit_codes.h"
#include "etcdmon/logging/logging.h"
#include "etcdmon/runtime/signals.h"

int main(int argc, char** argv) {
  etcdmon::runtime::BlockTerminationSignals();
  auto cli = etcdmon::aggregator::ParseAggregatorCommandLine(argc, argv);
  if (!cli.ok()) {
    return cli.exit_code();
  }
  auto logger = etcdmon::logging::MakeLogger("aggregator", cli.value().log);
  if (!logger.ok()) {
    std::cerr << "error: " << logger.status().message() << "\n";
    return etcdmon::config::kExitUsage;
  }
  spdlog::set_default_logger(*logger);
  auto service = etcdmon::aggregator::AggregatorService::Create(cli.value().aggregator, *logger);
  if (!service.ok()) {
    (*logger)->error("startup_failed error=\"{}\"", service.status().message());
    return etcdmon::config::kExitFailed;
  }
  if (etcdmon::Status s = (*service)->Start(); !s.ok()) {
    (*logger)->error("startup_failed error=\"{}\"", s.message());
    return etcdmon::config::kExitFailed;
  }
  int signal = etcdmon::runtime::WaitForTerminationSignal();
  // SIGHUP re-reads --collector-keys (a bad file keeps the list in force); others stop.
  while (signal == SIGHUP) {
    (*logger)->info("signal_received signal={} action=reload_collector_keys", signal);
    if (etcdmon::Status s = (*service)->ReloadCollectorKeys();
        !s.ok() && s.code() == etcdmon::StatusCode::kFailedPrecondition) {
      (*logger)->warn("reload_skipped reason=\"{}\"", s.message());
    }
    signal = etcdmon::runtime::WaitForTerminationSignal();
  }
  (*logger)->info("signal_received signal={}", signal);
  (*service)->Stop();
  (*logger)->flush();
  return etcdmon::config::kExitOk;
}
