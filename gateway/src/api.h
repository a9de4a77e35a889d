#pragma once

// The REST API, /health, /metrics and the web console as plain request → response logic, with no
// HTTP server in it: the Pistache adapter (http_server.cpp) and the unit tests both call
// Api::Handle. Private to the gateway.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/gateway/gateway.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "rate_limiter.h"

namespace etcdmon::gateway::detail {

class ConsistencyCache;
class QueryParams;

struct ApiRequest {
  std::string_view method;         // "GET", "POST", "DELETE", ...
  std::string_view path;           // "/api/v1/cluster/status"
  std::string_view query;          // without '?', not yet decoded
  std::string_view authorization;  // the Authorization header; empty when absent
  std::string_view body;
  std::string_view client;  // the peer's address, for the POST/DELETE rate limit; empty: unknown
};

struct ApiResponse {
  int status = 200;
  std::string_view content_type = "application/json";  // static storage
  std::shared_ptr<const std::string> shared_body;      // a cached document, shared, not copied
  std::string body;                                    // used when shared_body is null
  std::string allow;                                   // the Allow header (405)
  std::string location;                                // the Location header (202)
  bool authenticate = false;                           // send WWW-Authenticate: Bearer (401)
  int64_t retry_after_seconds = 0;                     // send Retry-After (429) when > 0
  std::string_view cache_control;                      // the Cache-Control header; static storage

  const std::string& Body() const { return shared_body ? *shared_body : body; }
};

/// Everything derived from one cluster's newest snapshot, rendered once by the refresher and
/// shared read-only by every request until the next one.
struct RenderedState {
  std::shared_ptr<const etcdmonitor::v1::ClusterSnapshot> snapshot;  // never null
  std::vector<std::string> member_labels;                            // of snapshot
  std::shared_ptr<const std::string> status;                         // all set
  std::shared_ptr<const std::string> members;
  std::shared_ptr<const std::string> leader;
  std::shared_ptr<const std::string> current;
  std::shared_ptr<const std::string> latency;
};

/// What the refresher publishes: every cluster's documents, and the fleet-wide ones.
struct FleetState {
  // By cluster name; empty: no snapshot yet. Entries are never null.
  std::map<std::string, std::shared_ptr<const RenderedState>> clusters;
  std::shared_ptr<const std::string> metrics_text;   // always set
  std::shared_ptr<const std::string> clusters_json;  // GET /api/v1/clusters; always set
};

/// The cluster a request is about (Api::SelectCluster).
struct SelectedCluster {
  std::string name;    // "" only when no cluster is known yet and the request named none
  bool named = false;  // given as ?cluster= (or in a POST body)
  std::shared_ptr<const RenderedState> state;  // null: no snapshot of it yet
};

/// The refresher's view of the services, for /health (guarded by Api's mutex).
struct DependencyState {
  bool aggregator_checked = false;
  bool aggregator_ok = false;
  std::string aggregator_detail;
  int64_t aggregator_last_update_unix_ms = 0;
  bool alerter_checked = false;
  bool alerter_ok = false;
  std::string alerter_detail;
  std::string last_snapshot_error;  // why the newest attempt to get a snapshot failed
};

/// The routes, for the request counters.
enum class Route : uint8_t {
  kConsole,       // the web console's page, "/"
  kConsoleAsset,  // its scripts and styles, "/assets/..."
  kHealth,
  kMetrics,
  kClusterStatus,
  kClusterMembers,
  kClusterMember,
  kClusterLeader,
  kClusterConsistency,
  kClusters,
  kMetricsCurrent,
  kMetricsHistory,
  kMetricsLatency,
  kAlerts,
  kAlertsHistory,
  kAlertsSilences,
  kSilenceCreate,
  kSilenceExpire,
  kBenchmarkStart,
  kBenchmarkGet,
  kBenchmarkList,
  kUnknown,
};
inline constexpr size_t kRouteCount = static_cast<size_t>(Route::kUnknown) + 1;

/// Thread-safe: Handle runs on every HTTP thread; Publish and SetDependencies on the refresher.
class Api {
 public:
  /// `config`, the backends, `registry` and `clock` must outlive the Api.
  Api(const GatewayConfig& config, GatewayBackends backends, prometheus::Registry& registry,
      Clock& clock);
  ~Api();  // calls Stop()
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  ApiResponse Handle(const ApiRequest& request);

  /// Stops the background work requests started (a consistency check in progress is waited
  /// for). Call after the server stopped taking requests; idempotent.
  void Stop();

  void Publish(std::shared_ptr<const FleetState> state);
  void SetDependencies(DependencyState state);
  std::shared_ptr<const FleetState> Current() const;

  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  ApiResponse Dispatch(const ApiRequest& request, Route& route);
  ApiResponse Health();
  ApiResponse Cached(const ApiRequest& request,
                     std::shared_ptr<const std::string> RenderedState::*document);
  /// The cluster of `requested` (a ?cluster= value, nullopt when absent): InvalidArgument for a
  /// bad name, or for none while several clusters are monitored (naming them); NotFound for a
  /// name not monitored. While no cluster is known yet any valid name is taken as it is.
  Result<SelectedCluster> SelectCluster(const std::optional<std::string>& requested) const;
  /// SelectCluster of the request's ?cluster=.
  Result<SelectedCluster> SelectCluster(const QueryParams& params) const;
  /// SelectCluster of a request whose only query parameter is ?cluster= (a bad query or another
  /// parameter is InvalidArgument).
  Result<SelectedCluster> SelectCluster(const ApiRequest& request) const;
  /// The etcd backends of `cluster`; null when it has none. A cluster the request did not name
  /// falls back to the only entry, so that one gateway with one --endpoints keeps working
  /// whatever the aggregator calls its one cluster.
  const ClusterEtcdBackends* EtcdBackendsOf(const SelectedCluster& cluster) const;
  ApiResponse Member(const ApiRequest& request, std::string_view name);
  ApiResponse History(const ApiRequest& request);
  ApiResponse Alerts(const ApiRequest& request);
  ApiResponse AlertsHistory(const ApiRequest& request);
  ApiResponse Silences(const ApiRequest& request);
  ApiResponse SilenceCreate(const ApiRequest& request);
  ApiResponse SilenceExpire(const ApiRequest& request, std::string_view id);
  // A POST body: within the size and nesting limits, and a JSON object (else a 400 naming
  // `example`).
  Result<nlohmann::json> ParseJsonBody(const ApiRequest& request, std::string_view example) const;
  ApiResponse BenchmarkStart(const ApiRequest& request);
  // POST benchmark's safety checks: the run's bytes within the budget, and the target's
  // database not near its quota (from the newest snapshot).
  Status CheckBenchmarkBudget(const BenchmarkSpec& spec) const;
  Status CheckBenchmarkQuota(const BenchmarkSpec& spec, const SelectedCluster& cluster) const;
  ApiResponse BenchmarkGet(const ApiRequest& request, std::string_view id);
  ApiResponse BenchmarkList(const ApiRequest& request);
  // Under --api-auth=all, reading benchmarks takes the API token or the benchmark token.
  Status CheckBenchmarkReadToken(std::string_view authorization) const;
  ApiResponse ClusterConsistency(const ApiRequest& request);
  Status CheckToken(std::string_view authorization) const;
  // POST benchmark's own token (config_.benchmark_token); the API token alone is refused (403).
  Status CheckBenchmarkToken(std::string_view authorization) const;
  // A 429 when `request` is a POST or DELETE (the mutating methods served) over its client's
  // rate limit.
  std::optional<ApiResponse> RateLimit(const ApiRequest& request);
  void Count(Route route, int status);

  const GatewayConfig& config_;
  const GatewayBackends backends_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::shared_ptr<const FleetState> state_;  // guarded by mu_; never null
  DependencyState dependencies_;             // guarded by mu_
  // GET /api/v1/cluster/consistency's checks, by cluster name: one per cluster with an etcd
  // client (the others answer 501). Set in the constructor.
  std::map<std::string, std::unique_ptr<ConsistencyCache>> consistency_;

  std::atomic<uint64_t> requests_{0};
  // Counters per route and status, created on first use (so /metrics lists only pairs that
  // happened) and then found with one atomic load, so a request never allocates for them.
  static constexpr std::array<int, 14> kCountedStatuses = {200, 202, 400, 401, 403, 404, 405,
                                                           409, 413, 429, 500, 501, 503, 504};
  prometheus::Family<prometheus::Counter>& request_family_;
  ClientRateLimiter post_limiter_;
  prometheus::Counter& rate_limited_counter_;  // POSTs and DELETEs refused with 429
  std::mutex counters_mu_;                     // serializes creating a counter
  std::array<std::array<std::atomic<prometheus::Counter*>, kCountedStatuses.size() + 1>,
             kRouteCount>
      request_counters_{};
};

}  // namespace etcdmon::gateway::detail
