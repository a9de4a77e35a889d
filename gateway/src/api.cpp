// The Api's routing, request counters, authentication and the helpers its handlers share. The
// handlers live one resource per file: api_health.cpp, api_snapshot.cpp (the documents rendered
// per snapshot, one member), api_history.cpp, api_alerts.cpp (alerts, their history, silences),
// api_benchmark.cpp, api_consistency.cpp.

#include "api.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api_response.h"
#include "consistency_cache.h"
#include "etcdmon/config/cluster_name.h"
#include "http_errors.h"
#include "query.h"
#include "web_assets.h"

namespace etcdmon::gateway::detail {
namespace {

using nlohmann::json;

constexpr std::string_view kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";

constexpr std::string_view kMembersPrefix = "/api/v1/cluster/members/";
constexpr std::string_view kAssetsPrefix = "/assets/";
// JSON bodies nest at most this deep; deeper ones are refused before parsing, so a hostile body
// cannot exhaust the stack of the recursive parser.
constexpr int kMaxJsonDepth = 16;

struct RouteInfo {
  std::string_view path;
  Route route;
  std::string_view method;
};

constexpr RouteInfo kRoutes[] = {
    {"/", Route::kConsole, "GET"},
    {"/health", Route::kHealth, "GET"},
    {"/metrics", Route::kMetrics, "GET"},
    {"/api/v1/cluster/status", Route::kClusterStatus, "GET"},
    {"/api/v1/cluster/members", Route::kClusterMembers, "GET"},
    {"/api/v1/cluster/leader", Route::kClusterLeader, "GET"},
    {"/api/v1/cluster/consistency", Route::kClusterConsistency, "GET"},
    {"/api/v1/clusters", Route::kClusters, "GET"},
    {"/api/v1/metrics/current", Route::kMetricsCurrent, "GET"},
    {"/api/v1/metrics/history", Route::kMetricsHistory, "GET"},
    {"/api/v1/metrics/latency", Route::kMetricsLatency, "GET"},
    {"/api/v1/alerts", Route::kAlerts, "GET"},
    {"/api/v1/alerts/history", Route::kAlertsHistory, "GET"},
    {"/api/v1/alerts/silences", Route::kAlertsSilences, "GET"},
    {"/api/v1/alerts/silences", Route::kSilenceCreate, "POST"},
    {"/api/v1/performance/benchmark", Route::kBenchmarkStart, "POST"},
    // Without an id (the prefix route below needs one): the runs kept.
    {"/api/v1/performance/benchmark", Route::kBenchmarkList, "GET"},
};

const char* RouteName(Route route) {
  switch (route) {
    case Route::kConsole:
      return "console";
    case Route::kConsoleAsset:
      return "console_asset";
    case Route::kHealth:
      return "health";
    case Route::kMetrics:
      return "metrics";
    case Route::kClusterStatus:
      return "cluster_status";
    case Route::kClusterMembers:
      return "cluster_members";
    case Route::kClusterMember:
      return "cluster_member";
    case Route::kClusterLeader:
      return "cluster_leader";
    case Route::kClusterConsistency:
      return "cluster_consistency";
    case Route::kClusters:
      return "clusters";
    case Route::kMetricsCurrent:
      return "metrics_current";
    case Route::kMetricsHistory:
      return "metrics_history";
    case Route::kMetricsLatency:
      return "metrics_latency";
    case Route::kAlerts:
      return "alerts";
    case Route::kAlertsHistory:
      return "alerts_history";
    case Route::kAlertsSilences:
      return "alerts_silences";
    case Route::kSilenceCreate:
      return "silence_create";
    case Route::kSilenceExpire:
      return "silence_expire";
    case Route::kBenchmarkStart:
      return "benchmark_start";
    case Route::kBenchmarkGet:
      return "benchmark_get";
    case Route::kBenchmarkList:
      return "benchmark_list";
    case Route::kUnknown:
      return "unknown";
  }
  return "unknown";
}

// 405, naming the methods the path answers (the Allow header too).
ApiResponse NotAllowed(std::string_view method, std::string allowed) {
  HttpError e = MethodNotAllowed(method, allowed);
  ApiResponse r = JsonResponse(e.http_status, std::move(e.body));
  r.allow = std::move(allowed);
  return r;
}

// A file of the web console. The page is asked again on every load (it names the versioned
// assets of the running gateway); an asset's name changes with its content, so browsers keep it.
ApiResponse ConsoleFile(const WebAsset& asset) {
  ApiResponse r;
  r.content_type = asset.content_type;
  r.shared_body = std::make_shared<const std::string>(asset.body);
  r.cache_control = asset.immutable ? "public, max-age=31536000, immutable" : "no-cache";
  return r;
}

// Under --api-auth=all, whether `route` needs a token: everything but liveness, the console's
// files (they hold no data; the page's requests for data carry the check), the POST and
// DELETE endpoints and the list of benchmark runs (which check their own tokens).
bool IsPublicUnderAuthAll(Route route) {
  switch (route) {
    case Route::kHealth:
    case Route::kConsole:
    case Route::kConsoleAsset:
    case Route::kSilenceCreate:
    case Route::kSilenceExpire:
    case Route::kBenchmarkStart:
    case Route::kBenchmarkList:
    case Route::kUnknown:
      return true;
    default:
      return false;
  }
}

// DELETE /api/v1/alerts/silences/{id}: the one path with a parameter that the collection's path
// shares a prefix with. A DELETE of "/api/v1/alerts/silences/" (no id) is routed here too, so
// that it is a 400 for the missing id rather than a 405 of the collection.
bool IsSilencePath(std::string_view method, std::string_view path) {
  if (path.substr(0, kSilencesPrefix.size()) != kSilencesPrefix) {
    return false;
  }
  return path.size() > kSilencesPrefix.size() || method == "DELETE";
}

// The methods that change state; the per-client rate limit applies to them.
bool IsMutating(std::string_view method) { return method == "POST" || method == "DELETE"; }

// Compares without an early exit, so the time taken does not tell how much of a guess matched.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

// The deepest nesting of arrays/objects in a JSON text, strings skipped.
int JsonDepth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

ApiResponse ErrorResponse(const Status& status) {
  HttpError e = ToHttp(status);
  ApiResponse r;
  r.status = e.http_status;
  r.body = std::move(e.body);
  r.authenticate = status.code() == StatusCode::kUnauthenticated;
  return r;
}

ApiResponse JsonResponse(int status, std::string body) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

ApiResponse JsonResponse(int status, const json& document) {
  return JsonResponse(status, document.dump(-1, ' ', false, json::error_handler_t::replace));
}

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Api::Api(const GatewayConfig& config, GatewayBackends backends, prometheus::Registry& registry,
         Clock& clock)
    : config_(config),
      backends_(backends),
      clock_(clock),
      state_(std::make_shared<FleetState>()),
      request_family_(prometheus::BuildCounter()
                          .Name("etcd_monitor_gateway_http_requests_total")
                          .Help("HTTP requests the gateway answered, by handler and status code")
                          .Register(registry)),
      post_limiter_(config.post_rate_limit_per_minute, config.rate_limit_clients, clock),
      rate_limited_counter_(
          prometheus::BuildCounter()
              .Name("etcd_monitor_gateway_rate_limited_total")
              .Help("POST and DELETE requests refused with 429: over the per-client rate limit")
              .Register(registry)
              .Add({})) {
  auto empty = std::make_shared<FleetState>();
  empty->metrics_text = std::make_shared<const std::string>();
  empty->clusters_json = std::make_shared<const std::string>(R"({"clusters":[],"count":0})");
  state_ = std::move(empty);
  for (const auto& [name, etcd_backends] : backends.etcd_clusters) {
    if (etcd_backends.etcd != nullptr) {
      consistency_[name] = std::make_unique<ConsistencyCache>(
          *etcd_backends.etcd, clock, config.consistency_min_interval, config.consistency_wait);
    }
  }
}

Api::~Api() { Stop(); }

void Api::Stop() {
  for (auto& [name, cache] : consistency_) {
    cache->Stop();
  }
}

void Api::Publish(std::shared_ptr<const FleetState> state) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(state);
}

void Api::SetDependencies(DependencyState state) {
  std::lock_guard<std::mutex> lock(mu_);
  dependencies_ = std::move(state);
}

std::shared_ptr<const FleetState> Api::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

void Api::Count(Route route, int status) {
  size_t index = kCountedStatuses.size();
  for (size_t i = 0; i < kCountedStatuses.size(); ++i) {
    if (kCountedStatuses[i] == status) {
      index = i;
      break;
    }
  }
  std::atomic<prometheus::Counter*>& slot = request_counters_[static_cast<size_t>(route)][index];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    std::lock_guard<std::mutex> lock(counters_mu_);
    counter = slot.load(std::memory_order_acquire);
    if (counter == nullptr) {
      const std::string code =
          index < kCountedStatuses.size() ? std::to_string(kCountedStatuses[index]) : "other";
      counter = &request_family_.Add({{"handler", RouteName(route)}, {"code", code}});
      slot.store(counter, std::memory_order_release);
    }
  }
  counter->Increment();
}

ApiResponse Api::Handle(const ApiRequest& request) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  Route route = Route::kUnknown;
  // Before routing and the token checks, so that guessing tokens is rate-limited too.
  if (std::optional<ApiResponse> refused = RateLimit(request)) {
    for (const RouteInfo& info : kRoutes) {
      if (info.path == request.path && info.method == request.method) {
        route = info.route;
      }
    }
    if (request.method == "DELETE" && IsSilencePath(request.method, request.path)) {
      route = Route::kSilenceExpire;
    }
    Count(route, refused->status);
    return *std::move(refused);
  }
  ApiResponse response = Dispatch(request, route);
  Count(route, response.status);
  return response;
}

std::optional<ApiResponse> Api::RateLimit(const ApiRequest& request) {
  if (!IsMutating(request.method)) {
    return std::nullopt;
  }
  const ClientRateLimiter::Decision decision = post_limiter_.Allow(request.client);
  if (decision.allowed) {
    return std::nullopt;
  }
  rate_limited_counter_.Increment();
  HttpError e = TooManyRequests(decision.retry_after.count(), config_.post_rate_limit_per_minute);
  ApiResponse r = JsonResponse(e.http_status, std::move(e.body));
  r.retry_after_seconds = decision.retry_after.count();
  return r;
}

ApiResponse Api::Dispatch(const ApiRequest& request, Route& route) {
  // Before the trailing '/' is dropped: "/api/v1/alerts/silences/" is the collection for GET
  // and POST, and a DELETE without an id.
  if (IsSilencePath(request.method, request.path)) {
    route = Route::kSilenceExpire;
    if (request.method != "DELETE") {
      return NotAllowed(request.method, "DELETE");
    }
    return SilenceExpire(request, request.path.substr(kSilencesPrefix.size()));
  }
  std::string_view path = request.path;
  if (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
  }
  std::string allowed;  // the methods of a known path, for a 405
  for (const RouteInfo& info : kRoutes) {
    if (info.path != path) {
      continue;
    }
    route = info.route;
    if (request.method != info.method) {
      allowed += (allowed.empty() ? "" : ", ") + std::string(info.method);
      continue;
    }
    if (config_.api_auth == ApiAuth::kAll && !IsPublicUnderAuthAll(info.route)) {
      if (Status s = CheckToken(request.authorization); !s.ok()) {
        return ErrorResponse(s);
      }
    }
    switch (info.route) {
      case Route::kConsole:
        return ConsoleFile(*FindWebAsset("/"));
      case Route::kHealth:
        return Health();
      case Route::kMetrics: {
        ApiResponse r;
        r.content_type = kPrometheusText;
        r.shared_body = Current()->metrics_text;
        return r;
      }
      case Route::kClusterStatus:
        return Cached(request, &RenderedState::status);
      case Route::kClusterMembers:
        return Cached(request, &RenderedState::members);
      case Route::kClusterLeader:
        return Cached(request, &RenderedState::leader);
      case Route::kClusterConsistency:
        return ClusterConsistency(request);
      case Route::kClusters: {
        Result<QueryParams> params = QueryParams::Parse(request.query);
        if (!params.ok()) {
          return ErrorResponse(params.status());
        }
        if (Status s = params->OnlyKnown({}); !s.ok()) {
          return ErrorResponse(s);
        }
        ApiResponse r;
        r.shared_body = Current()->clusters_json;
        return r;
      }
      case Route::kMetricsCurrent:
        return Cached(request, &RenderedState::current);
      case Route::kMetricsLatency:
        return Cached(request, &RenderedState::latency);
      case Route::kMetricsHistory:
        return History(request);
      case Route::kAlerts:
        return Alerts(request);
      case Route::kAlertsHistory:
        return AlertsHistory(request);
      case Route::kAlertsSilences:
        return Silences(request);
      case Route::kSilenceCreate:
        return SilenceCreate(request);
      case Route::kBenchmarkStart:
        return BenchmarkStart(request);
      case Route::kBenchmarkList:
        if (Status s = CheckBenchmarkReadToken(request.authorization); !s.ok()) {
          return ErrorResponse(s);
        }
        return BenchmarkList(request);
      default:
        break;
    }
  }
  if (!allowed.empty()) {
    return NotAllowed(request.method, allowed);
  }
  // Paths with a parameter.
  if (path.size() > kAssetsPrefix.size() && path.substr(0, kAssetsPrefix.size()) == kAssetsPrefix) {
    route = Route::kConsoleAsset;
    const WebAsset* asset = FindWebAsset(path);
    if (asset == nullptr) {
      // An asset of another build (a page cached before an upgrade): not found, said plainly.
      return ErrorResponse(Status::NotFound(
          "no such console file (the console changed with the gateway: reload the page)"));
    }
    if (request.method != "GET") {
      return NotAllowed(request.method, "GET");
    }
    return ConsoleFile(*asset);
  }
  if (path.size() > kBenchmarkPrefix.size() &&
      path.substr(0, kBenchmarkPrefix.size()) == kBenchmarkPrefix) {
    route = Route::kBenchmarkGet;
    if (request.method != "GET") {
      return NotAllowed(request.method, "GET");
    }
    if (Status s = CheckBenchmarkReadToken(request.authorization); !s.ok()) {
      return ErrorResponse(s);
    }
    return BenchmarkGet(request, path.substr(kBenchmarkPrefix.size()));
  }
  if (path.size() > kMembersPrefix.size() &&
      path.substr(0, kMembersPrefix.size()) == kMembersPrefix) {
    route = Route::kClusterMember;
    if (request.method != "GET") {
      return NotAllowed(request.method, "GET");
    }
    if (config_.api_auth == ApiAuth::kAll) {
      if (Status s = CheckToken(request.authorization); !s.ok()) {
        return ErrorResponse(s);
      }
    }
    return Member(request, path.substr(kMembersPrefix.size()));
  }
  route = Route::kUnknown;
  std::string shown(path.substr(0, 200));
  return ErrorResponse(Status::NotFound("no such path: " + shown));
}

Result<SelectedCluster> Api::SelectCluster(const std::optional<std::string>& requested) const {
  std::shared_ptr<const FleetState> fleet = Current();
  SelectedCluster selected;
  if (requested.has_value()) {
    ETCDMON_RETURN_IF_ERROR(config::ValidateClusterName(*requested));
    selected.name = *requested;
    selected.named = true;
    auto it = fleet->clusters.find(selected.name);
    if (it != fleet->clusters.end()) {
      selected.state = it->second;
    } else if (!fleet->clusters.empty()) {
      return Status::NotFound("unknown cluster \"" + selected.name +
                              "\": not monitored (GET /api/v1/clusters lists them)");
    }
    return selected;
  }
  if (fleet->clusters.size() == 1) {
    selected.name = fleet->clusters.begin()->first;
    selected.state = fleet->clusters.begin()->second;
    return selected;
  }
  if (fleet->clusters.empty()) {
    return selected;  // nothing known yet: the backends answer for "the only one"
  }
  constexpr size_t kMaxNamesListed = 20;
  std::string names;
  size_t listed = 0;
  for (const auto& [name, state] : fleet->clusters) {
    if (listed == kMaxNamesListed) {
      names += " and " + std::to_string(fleet->clusters.size() - listed) + " more";
      break;
    }
    names += (listed == 0 ? "" : ", ") + name;
    ++listed;
  }
  return Status::InvalidArgument(std::to_string(fleet->clusters.size()) +
                                 " clusters are monitored (" + names + "): add ?cluster=NAME");
}

Result<SelectedCluster> Api::SelectCluster(const QueryParams& params) const {
  return SelectCluster(params.Get("cluster"));
}

Result<SelectedCluster> Api::SelectCluster(const ApiRequest& request) const {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return params.status();
  }
  ETCDMON_RETURN_IF_ERROR(params->OnlyKnown({"cluster"}));
  return SelectCluster(*params);
}

const ClusterEtcdBackends* Api::EtcdBackendsOf(const SelectedCluster& cluster) const {
  auto it = backends_.etcd_clusters.find(cluster.name);
  if (it != backends_.etcd_clusters.end()) {
    return &it->second;
  }
  if (!cluster.named && backends_.etcd_clusters.size() == 1) {
    return &backends_.etcd_clusters.begin()->second;
  }
  return nullptr;
}

Status Api::CheckToken(std::string_view authorization) const {
  if (config_.api_token.empty()) {
    return Status::PermissionDenied(
        "this endpoint is disabled: the gateway has no API token (--api-token-file or "
        "API_TOKEN)");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      authorization.substr(0, kBearer.size()) != kBearer) {
    return Status::Unauthenticated("a bearer token is required (Authorization: Bearer <token>)");
  }
  if (!ConstantTimeEquals(authorization.substr(kBearer.size()), config_.api_token.Reveal())) {
    return Status::Unauthenticated("the bearer token is not valid");
  }
  return Status::Ok();
}

Status Api::CheckBenchmarkToken(std::string_view authorization) const {
  if (config_.benchmark_token.empty()) {
    return Status::PermissionDenied(
        "benchmarks are disabled: the gateway has no benchmark token (--benchmark-token-file or "
        "BENCHMARK_TOKEN)");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      authorization.substr(0, kBearer.size()) != kBearer) {
    return Status::Unauthenticated(
        "the benchmark token is required (Authorization: Bearer <token>)");
  }
  const std::string_view presented = authorization.substr(kBearer.size());
  if (ConstantTimeEquals(presented, config_.benchmark_token.Reveal())) {
    return Status::Ok();
  }
  if (!config_.api_token.empty() && ConstantTimeEquals(presented, config_.api_token.Reveal())) {
    return Status::PermissionDenied(
        "the API token does not authorize benchmarks: use the benchmark token "
        "(--benchmark-token-file)");
  }
  return Status::Unauthenticated("the bearer token is not valid");
}

Status Api::CheckBenchmarkReadToken(std::string_view authorization) const {
  if (config_.api_auth != ApiAuth::kAll || CheckBenchmarkToken(authorization).ok()) {
    return Status::Ok();
  }
  return CheckToken(authorization);
}

Result<json> Api::ParseJsonBody(const ApiRequest& request, std::string_view example) const {
  if (request.body.size() > config_.max_body_bytes) {
    return Status::ResourceExhausted("request body of " + std::to_string(request.body.size()) +
                                     " bytes is larger than the limit of " +
                                     std::to_string(config_.max_body_bytes));
  }
  if (JsonDepth(request.body) > kMaxJsonDepth) {
    return Status::InvalidArgument("the body nests too deeply");
  }
  json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return Status::InvalidArgument("the body must be a JSON object like " + std::string(example));
  }
  return body;
}

}  // namespace etcdmon::gateway::detail
