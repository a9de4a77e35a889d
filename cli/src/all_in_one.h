#pragma once

// `etcd-monitor` without a subcommand: the whole product in one process. One collector per
// endpoint, the aggregator, the alerter and the gateway, connected in-process (ZeroMQ inproc://
// over one shared context, gRPC in-process channels), with their state under --data-dir.

#include <ostream>

#include "etcdmon/aggregator/remote_write_sender.h"
#include "etcdmon/alerter/channels.h"
#include "etcdmon/alerter/service.h"
#include "monitor_flags.h"

namespace etcdmon::cli {

struct AllInOneConfig {
  MonitorConfig monitor;            // the quickstart's flags and variables
  alerter::ChannelConfig channels;  // notification channels
  /// Rules, --repeat-interval and the API token (alerter::AlertRuleFlags); the rest of the
  /// alerter's settings are derived from `monitor`.
  alerter::AlerterConfig alerter;
  std::string tls_cert_file;  // HTTPS for the REST API (both or neither)
  std::string tls_key_file;
  /// The embedded aggregator's remote_write (aggregator::RemoteWriteFlags); off without a URL.
  aggregator::RemoteWriteConfig remote_write;
};

/// Runs until SIGTERM or SIGINT, then stops every part (collectors first, so nothing is sampled
/// that cannot be stored) and returns the exit code: 0 after a clean stop, 1 when a part could
/// not start (the reason on `err`). Prints the URLs it serves on `out`.
int RunAllInOne(const AllInOneConfig& config, std::ostream& out, std::ostream& err);

}  // namespace etcdmon::cli
