// etcd-monitor-collector: the agent beside every etcd member.
#include <spdlog/spdlog.h>

#include "etcdmon/collector/flags.h"
#include "etcdmon/collector/service.h"
#include "etcdmon/config/exit_codes.h"
#include "etcdmon/logging/logging.h"
#include "etcdmon/runtime/signals.h"

namespace {
// SIGTERM must end the process within 2 s; most of it goes to delivering queued batches.
constexpr std::chrono::milliseconds kFlushOnStop{1500};
}  // namespace

int main(int argc, char** argv) {
  etcdmon::runtime::BlockTerminationSignals();
  auto cli = etcdmon::collector::ParseCollectorCommandLine(argc, argv);
  if (!cli.ok()) {
    return cli.exit_code();
  }
  auto logger = etcdmon::logging::MakeLogger("collector", cli.value().log);
  if (!logger.ok()) {
    std::cerr << "error: " << logger.status().message() << "\n";
    return etcdmon::config::kExitUsage;
  }
  spdlog::set_default_logger(*logger);
  auto service = etcdmon::collector::CollectorService::Create(cli.value().collector, *logger);
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
  (*service)->Stop(kFlushOnStop);
  (*logger)->flush();
  return etcdmon::config::kExitOk;
}
