#pragma once

// The command line of `etcd-monitor-gateway`.

#include <chrono>
#include <iostream>
#include <string>

#include "etcdmon/config/flags.h"
#include "etcdmon/gateway/gateway.h"

namespace etcdmon::gateway {

struct GatewayCommandLine {
  GatewayConfig gateway;
  config::LogConfig log;
  std::string aggregator_address;  // MonitorService "host:port"
  std::string alerter_address;     // AlertService "host:port"; empty: no alerter
  std::string snapshots_endpoint;  // ZeroMQ PUB of the aggregator; empty: poll GetSnapshot
  std::string curve_server_key;    // the aggregator's CURVE public key (Z85); empty: plain
  std::chrono::milliseconds backend_timeout{std::chrono::seconds(2)};
  // etcd, for POST /api/v1/performance/benchmark; no endpoints: benchmarks answer 501.
  config::EtcdConnectionConfig etcd;
};

/// Parses --api-host (API_HOST, 0.0.0.0), --api-port (API_PORT, 8080), --aggregator
/// (localhost:5557), --alerter (localhost:5558; "" for none), --snapshots
/// (tcp://localhost:5556; "" to poll instead), --curve-server-key (a Z85 key or a file holding
/// it), --api-token-file or API_TOKEN (the bearer token of POST endpoints; never printed),
/// --tls-cert-file and --tls-key-file (HTTPS), --backend-timeout (2s), --threads (2),
/// --stale-after (30s), --max-benchmark-ops (1000000), the etcd connection flags of
/// config::ConnectionFlags with --endpoints (ENDPOINTS) optional, and the log flags. Prints help or
/// every error, as config::ParseCommandLine does.
config::ParseResult<GatewayCommandLine> ParseGatewayCommandLine(int argc, const char* const* argv,
                                                                std::ostream& out = std::cout,
                                                                std::ostream& err = std::cerr);

}  // namespace etcdmon::gateway
