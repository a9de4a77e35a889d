#pragma once

// The command line of `etcd-monitor-aggregator`.

#include <iostream>

#include "etcdmon/aggregator/service.h"
#include "etcdmon/config/flags.h"

namespace etcdmon::aggregator {

/// The remote_write flags, shared by the aggregator and the all-in-one binary:
/// --remote-write-url (REMOTE_WRITE_URL; empty: off), --remote-write-token-file
/// (REMOTE_WRITE_TOKEN_FILE), --remote-write-ca-file (REMOTE_WRITE_CA_FILE; https is always
/// verified, against the system store without it), --external-label NAME=VALUE (repeatable),
/// --remote-write-interval (5s), --remote-write-max-samples (2000).
class RemoteWriteFlags {
 public:
  /// Registers the flags on `app`, which must outlive this object.
  explicit RemoteWriteFlags(CLI::App& app);
  /// Every problem goes to `errors`, one line each (never the token).
  RemoteWriteConfig Build(config::FlagErrors& errors) const;

 private:
  config::FlagValue url_;
  config::FlagValue token_file_;
  config::FlagValue ca_file_;
  config::FlagValue external_labels_;
  config::FlagValue interval_;
  config::FlagValue max_samples_;
};

struct AggregatorCommandLine {
  AggregatorConfig aggregator;
  config::LogConfig log;
};

/// Parses --listen, --publish (both default to every interface with CURVE, else to loopback),
/// the gRPC server flags of rpc::GrpcServerFlags (--grpc-listen,
/// default 127.0.0.1:5557, and its TLS, client CA and token files), --db, --tick, --cluster,
/// --metrics-interval (METRICS_INTERVAL: the collectors' interval, for staleness),
/// --latency-window, --raw-retention, --minute-retention, --hour-retention, --max-points,
/// --max-clock-skew (samples dated further ahead are refused), --max-series,
/// --curve-secret-key-file, --collector-keys (needs the former), --max-peers, the remote_write
/// flags (RemoteWriteFlags) and the log flags. Prints help or every error, as
/// config::ParseCommandLine does.
config::ParseResult<AggregatorCommandLine> ParseAggregatorCommandLine(
    int argc, const char* const* argv, std::ostream& out = std::cout,
    std::ostream& err = std::cerr);

}  // namespace etcdmon::aggregator
