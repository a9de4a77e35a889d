#pragma once

// The command line of `etcd-monitor-collector`.

#include <iostream>

#include "etcdmon/collector/service.h"
#include "etcdmon/config/flags.h"

namespace etcdmon::collector {

/// What the collector binary runs with.
struct CollectorCommandLine {
  CollectorConfig collector;
  config::LogConfig log;
};

/// Parses the collector's flags and environment variables: the shared etcd connection flags
/// (exactly one endpoint), the log flags, and --aggregator (AGGREGATOR), --collector-id
/// (COLLECTOR_ID, default the host name), --cluster (CLUSTER, default empty: the aggregator's
/// default cluster; else config::ValidateClusterName), --metrics-interval (METRICS_INTERVAL),
/// --health-check-interval (HEALTH_CHECK_INTERVAL), --write-probe, --metrics-url,
/// --member-name, --data-dir, --state-file, --max-buffer, --curve-server-key (a Z85 key or a
/// file holding one), --curve-key-dir (CURVE_KEY_DIR: this collector's key pair; its secret key
/// must be mode 0600). Prints help or every error, as config::ParseCommandLine does.
config::ParseResult<CollectorCommandLine> ParseCollectorCommandLine(int argc,
                                                                    const char* const* argv,
                                                                    std::ostream& out = std::cout,
                                                                    std::ostream& err = std::cerr);

}  // namespace etcdmon::collector
