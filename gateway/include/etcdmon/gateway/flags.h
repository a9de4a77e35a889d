#pragma once

// The command line of `etcd-monitor-gateway`.

#include <chrono>
#include <iostream>
#include <string>

#include "etcdmon/config/flags.h"
#include "etcdmon/gateway/gateway.h"
#include "etcdmon/rpc/security.h"

namespace etcdmon::gateway {

struct GatewayCommandLine {
  GatewayConfig gateway;
  config::LogConfig log;
  std::string aggregator_address;     // MonitorService "host:port"
  std::string alerter_address;        // AlertService "host:port"; empty: no alerter
  rpc::ClientSecurity grpc_security;  // TLS, client certificate, token for both services
  std::string snapshots_endpoint;     // ZeroMQ PUB of the aggregator; empty: poll GetSnapshot
  std::string curve_server_key;       // the aggregator's CURVE public key (Z85); empty: plain
  std::chrono::milliseconds backend_timeout{std::chrono::seconds(2)};
  // etcd, for POST /api/v1/performance/benchmark; no endpoints: benchmarks answer 501.
  config::EtcdConnectionConfig etcd;
  // The cluster `etcd` belongs to, as the aggregator names it (--cluster-name, CLUSTER_NAME).
  std::string cluster_name = "default";
};

/// The REST API's request-safety flags, shared by `etcd-monitor-gateway` and the all-in-one
/// `etcd-monitor`: --api-auth (API_AUTH; mutating|all), --benchmark-token-file or
/// BENCHMARK_TOKEN (never printed), --benchmark-max-bytes (67108864), --post-rate-limit (50
/// per minute per client address; 0: off) and --trusted-proxy (IP literals, comma-separated).
class ApiSecurityFlags final {
 public:
  /// Registers the flags on `app`, which must outlive this object.
  explicit ApiSecurityFlags(CLI::App& app);
  /// Sets api_auth, benchmark_token, benchmark_max_bytes, post_rate_limit_per_minute and
  /// trusted_proxies of
  /// `config`; every problem goes to `errors`. (--api-auth=all also needs an API token, which
  /// GatewayService::Create checks.)
  void Build(config::FlagErrors& errors, GatewayConfig& config) const;

 private:
  config::FlagValue api_auth_;
  config::FlagValue benchmark_token_file_;
  config::FlagValue benchmark_max_bytes_;
  config::FlagValue post_rate_limit_;
  config::FlagValue trusted_proxy_;
};

/// Parses --api-host (API_HOST, 0.0.0.0), --api-port (API_PORT, 8080), --aggregator
/// (localhost:5557), --alerter (localhost:5558; "" for none), the ApiSecurityFlags, --snapshots
/// (tcp://localhost:5556; "" to poll instead), --curve-server-key (a Z85 key or a file holding
/// it), --api-token-file or API_TOKEN (the bearer token of POST endpoints; never printed),
/// --tls-cert-file and --tls-key-file (HTTPS), the gRPC client flags of rpc::GrpcClientFlags
/// (--grpc-ca-file, --grpc-cert-file, --grpc-key-file, --grpc-token-file; a token never goes in
/// clear to a non-loopback --aggregator or --alerter), --backend-timeout (2s), --threads (2),
/// --stale-after (30s), --max-benchmark-ops (1000000), --cluster-name (CLUSTER_NAME, "default";
/// the cluster --endpoints belong to, checked by config::ValidateClusterName), the etcd connection
/// flags of config::ConnectionFlags with --endpoints (ENDPOINTS) optional, and the log flags.
/// Prints help or every error, as config::ParseCommandLine does.
config::ParseResult<GatewayCommandLine> ParseGatewayCommandLine(int argc, const char* const* argv,
                                                                std::ostream& out = std::cout,
                                                                std::ostream& err = std::cerr);

}  // namespace etcdmon::gateway
