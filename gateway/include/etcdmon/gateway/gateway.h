#pragma once

// The gateway: the REST API (/api/v1/*), /health, Prometheus /metrics and the built-in
// dashboard (/), over HTTP(S) with Pistache. It reads from backend interfaces (backends.h), so
// the same service runs in `etcd-monitor-gateway` (gRPC + ZeroMQ backends) and embedded in the
// all-in-one binary.
//
// Threads: Pistache's I/O threads (`threads`), and one refresher that keeps the newest snapshot
// of every cluster (from the feed, else by polling MonitorBackend::ListClusters; at most
// kMaxClusters, forgotten when the aggregator no longer lists them), polls the alerter's active
// alerts, and renders every snapshot-derived answer (/metrics text, the cluster list, and per
// cluster status, members, leader, current metrics, latency) once per new snapshot and refresh;
// a request for them copies a cached string. A request names its cluster with ?cluster=NAME,
// which may be left out while only one cluster is monitored.

#include <spdlog/fwd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/config/types.h"
#include "etcdmon/gateway/backends.h"
#include "etcdmon/status/status.h"

namespace etcdmon::etcd {
class EtcdClient;
}  // namespace etcdmon::etcd

namespace etcdmon::gateway {

inline constexpr uint16_t kDefaultApiPort = 8080;
/// Clusters the gateway keeps at most (as the aggregator): snapshots of more are dropped.
inline constexpr std::size_t kMaxClusters = 1000;
/// How often the gateway asks the aggregator which clusters exist (to forget removed ones).
inline constexpr std::chrono::seconds kListClustersInterval{30};

/// Which endpoints need the API token.
enum class ApiAuth {
  kMutating,  // only POST and DELETE endpoints (silences; benchmarks need their own token)
  kAll,       // every endpoint but /health and the dashboard's static files; /metrics too
};

struct GatewayConfig {
  std::string host = "0.0.0.0";     // API_HOST
  uint16_t port = kDefaultApiPort;  // API_PORT; 0 picks a free port (see GatewayService::port)
  int threads = 4;                  // Pistache I/O threads
  config::Secret api_token;         // bearer token for POST endpoints; empty: they answer 403
  ApiAuth api_auth = ApiAuth::kMutating;  // kAll needs api_token
  // The bearer token of POST /api/v1/performance/benchmark, apart from api_token (which does not
  // authorize benchmarks); empty: benchmarks answer 403.
  config::Secret benchmark_token;
  std::string tls_cert_file;  // both or neither: HTTPS
  std::string tls_key_file;
  // Larger request bodies: 413 from the Content-Length header (chunked bodies: 411).
  std::size_t max_body_bytes = 64 * 1024;
  // The whole request as Pistache buffers it; beyond this a 413 (the request guard refuses
  // larger bodies before, so only a head and body near their limits come close).
  std::size_t max_request_bytes = 1024 * 1024;
  // How often the refresher polls when no feed delivers, and re-renders without a new
  // snapshot (the gateway's own counters, the alerter's firing alerts).
  std::chrono::milliseconds refresh_interval{std::chrono::seconds(1)};
  // The data is stale when the newest snapshot is older than 3 of its ticks
  // (tick_interval_ms), or than this for a snapshot that does not carry its tick.
  std::chrono::milliseconds stale_after{std::chrono::seconds(30)};
  uint64_t max_benchmark_ops = 1'000'000;  // POST benchmark: ops in 1..this
  uint32_t max_benchmark_clients = 1000;
  // POST benchmark: ops × (key_size + value_size) at most this; larger runs answer 400.
  uint64_t benchmark_max_bytes = 64ull * 1024 * 1024;
  // POST benchmark is refused (409) while a member's db size plus the run's bytes reaches 80% of
  // its quota: the smaller of etcd's own (from the snapshot) and this (0: etcd's only).
  uint64_t max_db_size_bytes = 0;
  // POST and DELETE requests per minute per client address, in bursts of as many (0: no limit);
  // beyond it 429 with Retry-After. At most `rate_limit_clients` addresses are tracked at once.
  uint32_t post_rate_limit_per_minute = 50;
  std::size_t rate_limit_clients = 4096;
  // GET /api/v1/cluster/consistency runs the check (HashKV of every member) at most once per
  // this; a request in between gets the cached result. A request that starts a check waits for
  // it at most `consistency_wait`, then answers with the previous result (or 503).
  std::chrono::milliseconds consistency_min_interval{std::chrono::seconds(60)};
  std::chrono::milliseconds consistency_wait{std::chrono::seconds(5)};
  // Peers (IP literals) that are proxies in front of the gateway: for their requests the client
  // is the last address of X-Forwarded-For (which they append), not the proxy itself.
  std::vector<std::string> trusted_proxies;
};

/// What the gateway reaches of one monitored etcd cluster directly (not through the aggregator).
struct ClusterEtcdBackends {
  BenchmarkBackend* benchmark = nullptr;  // null: its benchmark endpoints answer 501
  // For GET /api/v1/cluster/consistency; null: it answers 501.
  etcd::EtcdClient* etcd = nullptr;
};

/// Backends the gateway reads; all but `monitor` are optional. They must outlive the service.
struct GatewayBackends {
  MonitorBackend* monitor = nullptr;  // required
  SnapshotFeed* feed = nullptr;       // null: poll monitor->ListClusters()
  AlertBackend* alerts = nullptr;     // null: alert endpoints answer 503
  // By cluster name (as the aggregator names it); a cluster without an entry answers 501 on the
  // benchmark and consistency endpoints.
  std::map<std::string, ClusterEtcdBackends> etcd_clusters;
};

/// Counters of a running gateway (also exported on /metrics).
struct GatewayStats {
  uint64_t snapshots_received = 0;  // distinct snapshots taken (feed or poll)
  uint64_t snapshot_errors = 0;     // bad frames on the feed, failed polls
  uint64_t renders = 0;             // times the cached answers were rebuilt
  uint64_t requests = 0;
};

/// One gateway. Create() validates the config and binds the port (a port in use or an
/// unreadable certificate fails there); Start() serves; Stop() stops accepting, then the
/// refresher. Stop() is idempotent, safe without Start(), and called by the destructor.
class GatewayService final {
 public:
  static Result<std::unique_ptr<GatewayService>> Create(GatewayConfig config,
                                                        GatewayBackends backends,
                                                        std::shared_ptr<spdlog::logger> logger,
                                                        Clock& clock = SystemClock::Instance());
  ~GatewayService();
  GatewayService(const GatewayService&) = delete;
  GatewayService& operator=(const GatewayService&) = delete;
  GatewayService(GatewayService&&) = delete;
  GatewayService& operator=(GatewayService&&) = delete;

  Status Start();
  void Stop();

  /// The bound port (useful with port 0).
  uint16_t port() const;
  GatewayStats Stats() const;

 private:
  struct Impl;
  explicit GatewayService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::gateway
