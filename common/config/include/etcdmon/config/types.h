#pragma once

// Plain configuration structs shared by the libraries. Parsing and validation live in
// etcdmon/config/flags.h; every library takes only the struct it needs.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::config {

/// A string that must never reach a log line: passwords, tokens, webhook URLs.
/// It has no operator<< and no fmt formatter on purpose; call Reveal() at the single place
/// that hands the secret to a library.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

/// One etcd client endpoint as the user wrote it: "localhost:2379", "https://10.0.0.1:2379".
struct Endpoint {
  std::string scheme;  // "http" or "https"; empty when the user gave none
  std::string host;    // name or IP; IPv6 without brackets
  uint16_t port = 0;

  /// "host:port" (IPv6 in brackets): what gRPC dials and what tables print.
  std::string Authority() const;
  /// "scheme://host:port", with `default_scheme` when the user gave none.
  std::string Url(std::string_view default_scheme) const;

  friend bool operator==(const Endpoint& a, const Endpoint& b) {
    return a.scheme == b.scheme && a.host == b.host && a.port == b.port;
  }
};

/// Parses an endpoint; the scheme is optional, the port required.
/// Errors name the input: `invalid endpoint "x": missing port`.
Result<Endpoint> ParseEndpoint(std::string_view text);

/// Parses a Go-style duration: "500ms", "5s", "1m30s", "1h", "0". Negative or unit-less
/// (other than "0") values are errors.
/// Units are ns, us (or µs), ms, s, m and h; fractions are allowed ("1.5s"); the result is
/// truncated to whole milliseconds. Errors name the input:
/// `invalid duration "5x": unknown unit "x" (use ns, us, ms, s, m or h)`.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

/// TLS towards etcd (CA_FILE, CERT_FILE, KEY_FILE, INSECURE_SKIP_TLS).
struct TlsConfig {
  std::string ca_file;    // empty: the system trust store
  std::string cert_file;  // client certificate (both or neither of cert/key)
  std::string key_file;
  bool insecure_skip_verify = false;  // verification is on by default

  /// True when any TLS setting was given; endpoints without a scheme then use TLS.
  bool Configured() const {
    return !ca_file.empty() || !cert_file.empty() || !key_file.empty() || insecure_skip_verify;
  }
};

/// How to reach an etcd cluster: shared by the collector, the benchmark runner and ctl.
struct EtcdConnectionConfig {
  std::vector<Endpoint> endpoints;
  std::chrono::milliseconds dial_timeout{5000};
  std::chrono::milliseconds request_timeout{5000};  // per-call deadline
  TlsConfig tls;
  std::string username;  // empty: no etcd auth
  Secret password;

  /// True when `e` is to be dialled with TLS: scheme https, or no scheme and TLS configured.
  bool UsesTls(const Endpoint& e) const {
    return e.scheme == "https" || (e.scheme.empty() && tls.Configured());
  }
};

/// Logging (--log-level, --log-format).
struct LogConfig {
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  std::string format = "text";  // text | json
};

/// Alert thresholds of the all-in-one product (--max-latency-ms, --max-db-size-mb, ...).
struct AlertThresholds {
  std::chrono::milliseconds max_latency{100};  // read or write probe latency above this alerts
  uint64_t max_db_size_bytes = 8192ULL * 1024 * 1024;  // --max-db-size-mb, converted to bytes
  // Fewer available voting members than this alerts (1..1000); 0, the default: the cluster's
  // quorum size (voting members / 2 + 1), which follows the cluster as it grows or shrinks.
  uint32_t min_available_nodes = 0;
  uint32_t max_leader_changes = 3;  // more leader changes than this within the window alerts
};

/// The benchmark workloads of the QUICKSTART (--benchmark-type).
enum class BenchmarkType { kWrite, kRead, kMixed };

/// "write", "read" or "mixed": the --benchmark-type spelling.
std::string_view BenchmarkTypeName(BenchmarkType type);

/// Benchmarks: a one-shot run (--run-benchmark) and the periodic one (BENCHMARK_ENABLED).
struct BenchmarkConfig {
  bool run_once = false;  // --run-benchmark: run one benchmark, print the report, exit
  BenchmarkType type = BenchmarkType::kWrite;
  uint64_t ops = 10000;   // operations per run; 1..100,000,000
  bool periodic = false;  // BENCHMARK_ENABLED / --benchmark-enabled
  std::chrono::milliseconds interval{std::chrono::hours(1)};  // between periodic runs; > 0
};

}  // namespace etcdmon::config
