#pragma once

// The command line of `etcd-monitor-alerter`.

#include <iostream>

#include "etcdmon/alerter/channels.h"
#include "etcdmon/alerter/service.h"
#include "etcdmon/config/flags.h"

namespace etcdmon::alerter {

struct AlerterCommandLine {
  AlerterConfig alerter;
  ChannelConfig channels;
  config::LogConfig log;
};

/// Parses --snapshots, --curve-server-key-file, the gRPC server flags of rpc::GrpcServerFlags
/// (--grpc-listen, default 127.0.0.1:5558, and its TLS, client CA and token files), --db,
/// --rules-file, --repeat-interval, --history-retention, --api-token-file (API_TOKEN), the
/// quickstart's threshold flags (--max-latency-ms, --max-db-size-mb, --min-available-nodes,
/// --max-leader-changes), every channel flag (channel_flags.h) and the log flags. The rules file
/// is read here, so a bad one stops the start with its line and reason. Prints help or every
/// error, as config::ParseCommandLine does.
config::ParseResult<AlerterCommandLine> ParseAlerterCommandLine(int argc, const char* const* argv,
                                                                std::ostream& out = std::cout,
                                                                std::ostream& err = std::cerr);

/// The flags the all-in-one binary shares with the alerter: --rules-file, --repeat-interval and
/// --api-token-file (API_TOKEN). Build() fills `config.rules` from `thresholds` and the rules
/// file, `config.cluster_rules` with one RuleSet per name under the file's `clusters:`
/// (Defaults(thresholds) + ApplyFile(path, name)), `config.repeat_interval` and
/// `config.api_token`.
class AlertRuleFlags {
 public:
  explicit AlertRuleFlags(CLI::App& app);
  Status Build(const config::AlertThresholds& thresholds, AlerterConfig& config) const;

 private:
  config::FlagValue rules_file_;
  config::FlagValue repeat_interval_;
  config::FlagValue api_token_file_;
};

}  // namespace etcdmon::alerter
