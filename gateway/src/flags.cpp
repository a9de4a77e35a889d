#include "etcdmon/gateway/flags.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <utility>

#include "etcdmon/config/cluster_name.h"
#include "etcdmon/rpc/flags.h"
#include "etcdmon/strings/strings.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::gateway {

ApiSecurityFlags::ApiSecurityFlags(CLI::App& app)
    : api_auth_(config::FlagValue::AddOption(
          app, "api-auth", "API_AUTH", "mutating",
          "which endpoints need the API token: mutating (POST and DELETE only) or all (every "
          "endpoint but /health and the web console's page and files; /metrics included, "
          "so Prometheus sends the token: bearer_token_file)",
          "mutating|all")),
      benchmark_token_file_(config::FlagValue::AddOption(
          app, "benchmark-token-file", "", "",
          "file holding the bearer token that POST /api/v1/performance/benchmark needs; the API "
          "token does not run benchmarks (else env BENCHMARK_TOKEN; neither: benchmarks answer "
          "403)",
          "FILE")),
      benchmark_max_bytes_(config::FlagValue::AddOption(
          app, "benchmark-max-bytes", "", "67108864",
          "largest ops x (key_size + value_size) one POST benchmark may write (larger: 400)",
          "BYTES")),
      post_rate_limit_(config::FlagValue::AddOption(
          app, "post-rate-limit", "", "50",
          "POST and DELETE requests per minute per client address, in bursts of as many (beyond: "
          "429 with "
          "Retry-After); 0 for no limit",
          "N")),
      trusted_proxy_(config::FlagValue::AddOption(
          app, "trusted-proxy", "", "",
          "addresses (comma-separated IP literals) of proxies in front of the gateway: for their "
          "requests the rate limit counts the last address of X-Forwarded-For, not the proxy",
          "ADDRESS,...")) {}

void ApiSecurityFlags::Build(config::FlagErrors& errors, GatewayConfig& g) const {
  g.api_auth =
      api_auth_.AsChoice(errors, {"mutating", "all"}) == "all" ? ApiAuth::kAll : ApiAuth::kMutating;
  g.benchmark_max_bytes =
      static_cast<uint64_t>(benchmark_max_bytes_.AsInt(errors, 1, int64_t{1} << 40));
  g.post_rate_limit_per_minute =
      static_cast<uint32_t>(post_rate_limit_.AsInt(errors, 0, 1'000'000));
  g.trusted_proxies.clear();
  const std::string proxies = trusted_proxy_.AsString();
  std::string_view rest(proxies);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string address(strings::TrimAsciiWhitespace(rest.substr(0, comma)));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (address.empty() ||
        address.find_first_not_of("0123456789abcdefABCDEF.:") != std::string::npos) {
      errors.Add(trusted_proxy_.Error("want IP addresses, comma-separated"));
      g.trusted_proxies.clear();
      break;
    }
    g.trusted_proxies.push_back(address);
  }
  // Neither the token nor the file's content is ever part of an error line.
  const std::string path = benchmark_token_file_.AsReadableFile(errors);
  if (!path.empty()) {
    // A file others can read is used, with a warning (config::ReadSecretFile).
    Result<std::string> token = config::ReadSecretFile(path);
    if (token.ok()) {
      g.benchmark_token = config::Secret(std::move(token).value());
    } else {
      errors.Add("--benchmark-token-file \"" + path + "\": " + token.status().message());
    }
  } else if (const char* env = std::getenv("BENCHMARK_TOKEN"); env != nullptr && *env != '\0') {
    g.benchmark_token = config::Secret(env);
  }
}

config::ParseResult<GatewayCommandLine> ParseGatewayCommandLine(int argc, const char* const* argv,
                                                                std::ostream& out,
                                                                std::ostream& err) {
  using config::FlagValue;
  CLI::App app{
      "etcd-monitor-gateway: the REST API, /health, Prometheus /metrics and the web console, read "
      "from the aggregator and the alerter"};
  config::LogFlags log_flags(app);
  // Optional: with endpoints the gateway runs POST /api/v1/performance/benchmark itself.
  config::ConnectionFlags etcd_flags(
      app, config::ConnectionFlags::Endpoints::kOptional,
      "etcd client endpoints, comma-separated, that POST /api/v1/performance/benchmark runs "
      "against (none: benchmarks answer 501)");
  FlagValue host =
      FlagValue::AddOption(app, "api-host", "API_HOST", "0.0.0.0", "listen address", "HOST");
  FlagValue port = FlagValue::AddOption(app, "api-port", "API_PORT", "8080", "listen port", "PORT");
  FlagValue aggregator = FlagValue::AddOption(app, "aggregator", "", "localhost:5557",
                                              "the aggregator's MonitorService", "HOST:PORT");
  FlagValue alerter =
      FlagValue::AddOption(app, "alerter", "", "localhost:5558",
                           "the alerter's AlertService (\"\" for none)", "HOST:PORT");
  FlagValue snapshots = FlagValue::AddOption(
      app, "snapshots", "", "tcp://localhost:5556",
      "the aggregator's snapshot stream (\"\" to poll the aggregator instead)", "ENDPOINT");
  FlagValue curve_key = FlagValue::AddOption(
      app, "curve-server-key", "", "",
      "the aggregator's CURVE public key (Z85, or a file holding it) when it encrypts the "
      "stream",
      "KEY");
  FlagValue token_file = FlagValue::AddOption(
      app, "api-token-file", "", "",
      "file holding the bearer token that creating and expiring silences needs, and under "
      "--api-auth=all "
      "every read (else env API_TOKEN); benchmarks need --benchmark-token-file",
      "FILE");
  ApiSecurityFlags security_flags(app);
  FlagValue cert = FlagValue::AddOption(
      app, "tls-cert-file", "", "",
      "serve HTTPS with this certificate (PEM). Not recommended: the TLS handshake runs on the "
      "one listener thread, so a client that connects and stays silent stalls every new "
      "connection; serve plain HTTP on 127.0.0.1 and terminate TLS in a proxy in front instead "
      "(the stacks run nginx: deploy/tls-proxy)",
      "FILE");
  FlagValue key =
      FlagValue::AddOption(app, "tls-key-file", "", "", "the certificate's key (PEM)", "FILE");
  rpc::GrpcClientFlags grpc_flags(app, "the aggregator and the alerter");
  FlagValue backend_timeout =
      FlagValue::AddOption(app, "backend-timeout", "", "2s",
                           "deadline of each call to the aggregator or alerter", "DURATION");
  FlagValue threads = FlagValue::AddOption(app, "threads", "", "4", "HTTP I/O threads", "N");
  FlagValue stale_after = FlagValue::AddOption(
      app, "stale-after", "", "30s",
      "data older than this is stale when the snapshot does not carry its tick "
      "(otherwise: 3 ticks)",
      "DURATION");
  FlagValue max_ops = FlagValue::AddOption(app, "max-benchmark-ops", "", "1000000",
                                           "largest ops a POST benchmark may ask for", "N");
  FlagValue cluster_name = FlagValue::AddOption(
      app, "cluster-name", "CLUSTER_NAME", std::string(config::kDefaultClusterName),
      "the cluster (as the aggregator names it) that --endpoints belong to: its benchmarks and "
      "consistency check",
      "NAME");

  auto build = [&]() -> Result<GatewayCommandLine> {
    config::FlagErrors errors;
    GatewayCommandLine line;
    Result<config::LogConfig> log = log_flags.Build();
    errors.Add(log.status());
    Result<config::EtcdConnectionConfig> etcd = etcd_flags.Build();
    errors.Add(etcd.status());
    GatewayConfig& g = line.gateway;
    g.host = host.AsNonEmpty(errors);
    g.port = static_cast<uint16_t>(port.AsInt(errors, 1, 65535));
    g.threads = static_cast<int>(threads.AsInt(errors, 1, 64));
    g.stale_after = stale_after.AsPositiveDuration(errors);
    g.max_benchmark_ops = static_cast<uint64_t>(max_ops.AsInt(errors, 1, 100'000'000));
    line.backend_timeout = backend_timeout.AsPositiveDuration(errors);
    line.cluster_name = cluster_name.AsString();
    if (Status valid = config::ValidateClusterName(line.cluster_name); !valid.ok()) {
      errors.Add(cluster_name.Source() + ": " + valid.message());
    }
    line.aggregator_address = aggregator.AsNonEmpty(errors);
    if (line.aggregator_address.find(':') == std::string::npos) {
      errors.Add(aggregator.Error("want host:port"));
    }
    line.alerter_address = alerter.AsString();
    if (!line.alerter_address.empty() && line.alerter_address.find(':') == std::string::npos) {
      errors.Add(alerter.Error("want host:port, or \"\" for none"));
    }
    line.grpc_security = grpc_flags.Build(errors);
    // Never the token in clear beyond this host: refused here, before anything is dialled.
    // (An address without a port has had its error line already.)
    for (const auto& [flag, address] :
         {std::pair<const char*, const std::string&>{"--aggregator", line.aggregator_address},
          {"--alerter", line.alerter_address}}) {
      if (address.find(':') != std::string::npos) {
        errors.Add(rpc::CheckClientSecurity(flag, address, line.grpc_security));
      }
    }
    line.snapshots_endpoint = snapshots.AsString();
    if (const std::string k = curve_key.AsString(); !k.empty()) {
      if (Result<std::string> resolved = transport::ResolveCurveKeyArgument(k); resolved.ok()) {
        line.curve_server_key = *resolved;
      } else {
        errors.Add("--curve-server-key: " + resolved.status().message());
      }
    }
    g.tls_cert_file = cert.AsReadableFile(errors);
    g.tls_key_file = key.AsPrivateKeyFile(errors);
    if (g.tls_cert_file.empty() != g.tls_key_file.empty()) {
      errors.Add("--tls-cert-file and --tls-key-file go together");
    }
    // The token: the file beats the variable. Neither the token nor the file's content is ever
    // part of an error line.
    const std::string token_path = token_file.AsReadableFile(errors);
    if (!token_path.empty()) {
      Result<std::string> token = config::ReadSecretFile(token_path);
      if (token.ok()) {
        g.api_token = config::Secret(std::move(token).value());
      } else {
        errors.Add("--api-token-file \"" + token_path + "\": " + token.status().message());
      }
    } else if (const char* env = std::getenv("API_TOKEN"); env != nullptr && *env != '\0') {
      g.api_token = config::Secret(env);
    }
    security_flags.Build(errors, g);
    if (g.api_auth == ApiAuth::kAll && g.api_token.empty()) {
      errors.Add("--api-auth=all needs an API token (--api-token-file or API_TOKEN)");
    }
    if (!errors.empty()) {
      return errors.ToStatus();
    }
    line.log = *log;
    line.etcd = *std::move(etcd);
    return line;
  };
  return config::ParseCommandLine(app, argc, argv, build, out, err);
}

}  // namespace etcdmon::gateway
