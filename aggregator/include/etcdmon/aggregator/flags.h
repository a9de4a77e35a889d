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

/// Parses --listen, --publish, --grpc-listen, --db, --tick, --cluster, --metrics-interval
/// (METRICS_INTERVAL: the collectors' interval, for staleness), --latency-window,
/// --raw-retention, --minute-retention, --hour-retention, --max-points, --curve-secret-key-file
/// and the log flags. Prints help or every error, as config::ParseCommandLine does.
config::ParseResult<AggregatorCommandLine> ParseAggregatorCommandLine(
    int argc, const char* const* argv, std::ostream& out = std::cout,
    std::ostream& err = std::cerr);

}  // namespace etcdmon::aggregator
