#include "etcdmon/cli/app.h"

#include <CLI/CLI.hpp>
#include <ostream>
#include <spdlog/spdlog.h>

#include "etcdmon/cli/ctl.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/logging/logging.h"

namespace etcdmon::cli {
namespace {

enum class Command { kMonitor, kEndpointStatus, kMemberList };

// What the command line asked for, validated.
struct Invocation {
  Command command = Command::kMonitor;
  config::MonitorConfig monitor;      // kMonitor
  config::EtcdConnectionConfig etcd;  // ctl commands
  config::LogConfig log;              // ctl commands
  OutputFormat format = OutputFormat::kTable;
};

int RunCtl(const Invocation& inv, std::ostream& out, std::ostream& err) {
  // Diagnostics (gRPC's own included, at debug) go to stderr, never into the command's output.
  Result<std::shared_ptr<spdlog::logger>> logger = logging::MakeLogger("ctl", inv.log);
  if (!logger.ok()) {
    err << "error: " << logger.status().message() << "\n";
    return config::kExitUsage;
  }
  spdlog::set_default_logger(*logger);
  Result<std::unique_ptr<etcd::EtcdClient>> client = etcd::NewEtcdClient(inv.etcd);
  if (!client.ok()) {
    err << "error: " << client.status().message() << "\n";
    return config::kExitUsage;
  }
  if (inv.command == Command::kEndpointStatus) {
    return RunEndpointStatus(**client, inv.format, out, err);
  }
  return RunMemberList(**client, inv.format, out, err);
}

}  // namespace

int RunEtcdMonitor(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"etcd-monitor: monitoring, alerting, benchmarking and administration for etcd.\n"
               "Without a subcommand it runs the whole monitor in one process."};
  app.require_subcommand(0, 1);
  config::MonitorFlags monitor_flags(app);

  CLI::App* ctl = app.add_subcommand("ctl", "Administer an etcd cluster (like etcdctl)");
  ctl->require_subcommand(1);
  config::ConnectionFlags ctl_flags(*ctl);
  config::LogFlags ctl_log_flags(*ctl);
  std::string write_out = "table";
  ctl->add_option("-w,--write-out", write_out, "Output format: table or json")
      ->capture_default_str();
  // Subcommands pass options they do not know to their parent, so flags may follow the command
  // words, as with etcdctl: `ctl endpoint status --endpoints=... -w json`.
  CLI::App* endpoint = ctl->add_subcommand("endpoint", "Per-endpoint commands")->fallthrough();
  endpoint->require_subcommand(1);
  CLI::App* endpoint_status =
      endpoint->add_subcommand("status", "Status of every endpoint: leader, raft, db size")
          ->fallthrough();
  CLI::App* member = ctl->add_subcommand("member", "Membership commands")->fallthrough();
  member->require_subcommand(1);
  CLI::App* member_list = member->add_subcommand("list", "List the cluster's members")->fallthrough();

  auto build = [&]() -> Result<Invocation> {
    Invocation inv;
    if (!ctl->parsed()) {
      Result<config::MonitorConfig> monitor = monitor_flags.Build();
      if (!monitor.ok()) {
        return monitor.status();
      }
      inv.monitor = std::move(monitor).value();
      return inv;
    }
    config::FlagErrors errors;
    Result<config::EtcdConnectionConfig> etcd = ctl_flags.Build();
    errors.Add(etcd.status());
    Result<config::LogConfig> log = ctl_log_flags.Build();
    errors.Add(log.status());
    Result<OutputFormat> format = ParseOutputFormat(write_out);
    errors.Add(format.status());
    if (!errors.empty()) {
      return errors.ToStatus();
    }
    inv.etcd = std::move(etcd).value();
    inv.log = *log;
    inv.format = *format;
    inv.command = endpoint_status->parsed() ? Command::kEndpointStatus : Command::kMemberList;
    (void)member_list;
    return inv;
  };

  auto parsed = config::ParseCommandLine(app, argc, argv, build, out, err);
  if (!parsed.ok()) {
    return parsed.exit_code();
  }
  const Invocation& inv = parsed.value();
  if (inv.command != Command::kMonitor) {
    return RunCtl(inv, out, err);
  }
  err << "error: the all-in-one monitor is not available in this build yet; "
         "use `etcd-monitor ctl endpoint status` or `etcd-monitor ctl member list`\n";
  return kExitFailed;
}

}  // namespace etcdmon::cli
