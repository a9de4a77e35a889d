#pragma once

// The command line of `etcd-monitor-aggregator`.

#include <iostream>

#include "etcdmon/aggregator/service.h"
#include "etcdmon/config/flags.h"

namespace etcdmon::aggregator {

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
/// --curve-secret-key-file, --collector-keys (needs the former), --max-peers and the log
/// flags. Prints help or every error, as config::ParseCommandLine does.
config::ParseResult<AggregatorCommandLine> ParseAggregatorCommandLine(
    int argc, const char* const* argv, std::ostream& out = std::cout,
    std::ostream& err = std::cerr);

}  // namespace etcdmon::aggregator
