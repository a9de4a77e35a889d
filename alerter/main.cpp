// etcd-monitor-alerter: alert rules over the aggregator's snapshots, notifications, history.
#include <spdlog/spdlog.h>

#include "etcdmon/alerter/channel_flags.h"
#include "etcdmon/alerter/flags.h"
#include "etcdmon/alerter/service.h"
#include "etcdmon/config/exit_codes.h"
#include "etcdmon/logging/logging.h"
#include "etcdmon/runtime/signals.h"

int main(int argc, char** argv) {
  etcdmon::runtime::BlockTerminationSignals();
  auto cli = etcdmon::alerter::ParseAlerterCommandLine(argc, argv);
  if (!cli.ok()) {
    return cli.exit_code();
  }
  auto logger = etcdmon::logging::MakeLogger("alerter", cli.value().log);
  auto alerts_logger = etcdmon::logging::MakeLogger("alerts", cli.value().log);
  if (!logger.ok() || !alerts_logger.ok()) {
    std::cerr << "error: " << (logger.ok() ? alerts_logger.status() : logger.status()).message()
              << "\n";
    return etcdmon::config::kExitUsage;
  }
  spdlog::set_default_logger(*logger);
  auto channels = etcdmon::alerter::MakeNotifiers(cli.value().channels, *alerts_logger,
                                                  etcdmon::SystemClock::Instance());
  if (!channels.ok()) {
    (*logger)->error("startup_failed error=\"{}\"", channels.status().message());
    return etcdmon::config::kExitFailed;
  }
  auto service = etcdmon::alerter::AlerterService::Create(std::move(cli.value().alerter),
                                                          std::move(channels).value(), *logger);
  if (!service.ok()) {
    (*logger)->error("startup_failed error=\"{}\"", service.status().message());
    return etcdmon::config::kExitFailed;
  }
  if (etcdmon::Status s = (*service)->Start(); !s.ok()) {
    (*logger)->error("startup_failed error=\"{}\"", s.message());
    return etcdmon::config::kExitFailed;
  }
  const int signal = etcdmon::runtime::WaitForTerminationSignal();
  (*logger)->info("signal_received signal={}", signal);
  (*service)->Stop();
  (*logger)->flush();
  (*alerts_logger)->flush();
  return etcdmon::config::kExitOk;
}
