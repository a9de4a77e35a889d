#include "api.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "dashboard.h"
#include "etcdmon/aggregator/metric_names.h"
#include "http_errors.h"
#include "query.h"
#include "render.h"

namespace etcdmon::gateway::detail {
namespace {

namespace v1 = etcdmonitor::v1;
using nlohmann::json;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kHtml = "text/html; charset=utf-8";

constexpr std::string_view kBenchmarkPrefix = "/api/v1/performance/benchmark/";
constexpr std::string_view kMembersPrefix = "/api/v1/cluster/members/";
// JSON bodies nest at most this deep; deeper ones are refused before parsing, so a hostile body
// cannot exhaust the stack of the recursive parser.
constexpr int kMaxJsonDepth = 16;
constexpr size_t kMaxIdBytes = 128;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

ApiResponse Error(const Status& status) {
  HttpError e = ToHttp(status);
  ApiResponse r;
  r.status = e.http_status;
  r.body = std::move(e.body);
  r.authenticate = status.code() == StatusCode::kUnauthenticated;
  return r;
}

ApiResponse Json(int status, std::string body) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

struct RouteInfo {
  std::string_view path;
  Route route;
  std::string_view method;
};

constexpr RouteInfo kRoutes[] = {
    {"/", Route::kDashboard, "GET"},
    {"/health", Route::kHealth, "GET"},
    {"/metrics", Route::kMetrics, "GET"},
    {"/api/v1/cluster/status", Route::kClusterStatus, "GET"},
    {"/api/v1/cluster/members", Route::kClusterMembers, "GET"},
    {"/api/v1/cluster/leader", Route::kClusterLeader, "GET"},
    {"/api/v1/metrics/current", Route::kMetricsCurrent, "GET"},
    {"/api/v1/metrics/history", Route::kMetricsHistory, "GET"},
    {"/api/v1/metrics/latency", Route::kMetricsLatency, "GET"},
    {"/api/v1/alerts", Route::kAlerts, "GET"},
    {"/api/v1/alerts/history", Route::kAlertsHistory, "GET"},
    {"/api/v1/alerts/silences", Route::kAlertsSilences, "GET"},
    {"/api/v1/alerts/silences", Route::kSilenceCreate, "POST"},
    {"/api/v1/performance/benchmark", Route::kBenchmarkStart, "POST"},
};

const char* RouteName(Route route) {
  switch (route) {
    case Route::kDashboard:
      return "dashboard";
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
    case Route::kBenchmarkStart:
      return "benchmark_start";
    case Route::kBenchmarkGet:
      return "benchmark_get";
    case Route::kUnknown:
      return "unknown";
  }
  return "unknown";
}

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

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) {
    return false;
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// An unsigned integer member of a JSON object within [min, max]; `fallback` when absent.
Result<uint64_t> JsonUint(const json& body, const char* key, uint64_t fallback, uint64_t min,
                          uint64_t max) {
  auto it = body.find(key);
  if (it == body.end()) {
    return fallback;
  }
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return Status::InvalidArgument(std::string(key) + ": want an integer in " +
                                   std::to_string(min) + ".." + std::to_string(max));
  }
  const uint64_t value = it->get<uint64_t>();
  if (value < min || value > max) {
    return Status::InvalidArgument(std::string(key) + " " + std::to_string(value) +
                                   ": out of range " + std::to_string(min) + ".." +
                                   std::to_string(max));
  }
  return value;
}

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

Api::Api(const GatewayConfig& config, GatewayBackends backends, prometheus::Registry& registry,
         Clock& clock)
    : config_(config),
      backends_(backends),
      clock_(clock),
      state_(std::make_shared<RenderedState>()),
      request_family_(prometheus::BuildCounter()
                          .Name("etcd_monitor_gateway_http_requests_total")
                          .Help("HTTP requests the gateway answered, by handler and status code")
                          .Register(registry)) {
  auto empty = std::make_shared<RenderedState>();
  empty->metrics_text = std::make_shared<const std::string>();
  state_ = std::move(empty);
}

void Api::Publish(std::shared_ptr<const RenderedState> state) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(state);
}

void Api::SetDependencies(DependencyState state) {
  std::lock_guard<std::mutex> lock(mu_);
  dependencies_ = std::move(state);
}

std::shared_ptr<const RenderedState> Api::Current() const {
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
  ApiResponse response = Dispatch(request, route);
  Count(route, response.status);
  return response;
}

ApiResponse Api::Dispatch(const ApiRequest& request, Route& route) {
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
    switch (info.route) {
      case Route::kDashboard: {
        ApiResponse r;
        r.content_type = kHtml;
        r.body = std::string(DashboardHtml());
        return r;
      }
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
      default:
        break;
    }
  }
  if (!allowed.empty()) {
    HttpError e = MethodNotAllowed(request.method, allowed);
    ApiResponse r = Json(e.http_status, std::move(e.body));
    r.allow = allowed;
    return r;
  }
  // Paths with a parameter.
  if (path.size() > kBenchmarkPrefix.size() &&
      path.substr(0, kBenchmarkPrefix.size()) == kBenchmarkPrefix) {
    route = Route::kBenchmarkGet;
    if (request.method != "GET") {
      HttpError e = MethodNotAllowed(request.method, "GET");
      ApiResponse r = Json(e.http_status, std::move(e.body));
      r.allow = "GET";
      return r;
    }
    return BenchmarkGet(request, path.substr(kBenchmarkPrefix.size()));
  }
  if (path.size() > kMembersPrefix.size() &&
      path.substr(0, kMembersPrefix.size()) == kMembersPrefix) {
    route = Route::kClusterMember;
    if (request.method != "GET") {
      HttpError e = MethodNotAllowed(request.method, "GET");
      ApiResponse r = Json(e.http_status, std::move(e.body));
      r.allow = "GET";
      return r;
    }
    return Member(request, path.substr(kMembersPrefix.size()));
  }
  route = Route::kUnknown;
  std::string shown(path.substr(0, 200));
  return Error(Status::NotFound("no such path: " + shown));
}

ApiResponse Api::Health() {
  std::shared_ptr<const RenderedState> state;
  DependencyState deps;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state = state_;
    deps = dependencies_;
  }
  const int64_t now = UnixMs(clock_.Now());
  json checks = json::object();
  checks["gateway"] = {{"ok", true}};
  bool ok = true;

  const bool aggregator_ok = deps.aggregator_checked && deps.aggregator_ok;
  checks["aggregator"] = {
      {"ok", aggregator_ok},
      {"detail", deps.aggregator_checked ? deps.aggregator_detail : "not checked yet"}};
  if (deps.aggregator_last_update_unix_ms > 0) {
    checks["aggregator"]["last_update"] = FormatRfc3339(deps.aggregator_last_update_unix_ms);
  }
  ok = ok && aggregator_ok;

  if (backends_.alerts != nullptr) {
    const bool alerter_ok = deps.alerter_checked && deps.alerter_ok;
    checks["alerter"] = {
        {"ok", alerter_ok},
        {"detail", deps.alerter_checked ? deps.alerter_detail : "not checked yet"}};
    ok = ok && alerter_ok;
  } else {
    checks["alerter"] = {{"ok", true}, {"detail", "not configured"}};
  }

  json data = json::object();
  if (state->snapshot == nullptr) {
    data = {{"ok", false},
            {"detail", "no cluster snapshot yet" + (deps.last_snapshot_error.empty()
                                                        ? std::string()
                                                        : ": " + deps.last_snapshot_error)}};
    ok = false;
  } else {
    const int64_t tick = state->snapshot->tick_unix_ms();
    const double age = static_cast<double>(now - tick) / 1000.0;
    const bool fresh = now - tick <= config_.stale_after.count();
    data = {{"ok", fresh},
            {"last_update", FormatRfc3339(tick)},
            {"age_seconds", age},
            {"detail", fresh ? "fresh"
                             : "the newest snapshot is older than " +
                                   std::to_string(config_.stale_after.count() / 1000) + "s"}};
    ok = ok && fresh;
    // A monitor that reaches no etcd member is not ok, whatever else works.
    const EtcdReachability etcd = ReachabilityOf(*state->snapshot);
    checks["etcd"] = {{"ok", etcd.ok}, {"detail", etcd.detail}};
    ok = ok && etcd.ok;
  }
  checks["data"] = data;
  json body = {
      {"status", ok ? "ok" : "unavailable"}, {"time", FormatRfc3339(now)}, {"checks", checks}};
  return Json(ok ? 200 : 503, Dump(body));
}

ApiResponse Api::Cached(const ApiRequest& request,
                        std::shared_ptr<const std::string> RenderedState::*document) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return Error(params.status());
  }
  if (Status s = params->OnlyKnown({}); !s.ok()) {
    return Error(s);
  }
  std::shared_ptr<const RenderedState> state = Current();
  if (state->snapshot == nullptr) {
    return Error(
        Status::Unavailable("no cluster snapshot yet: the aggregator has not delivered one"));
  }
  ApiResponse r;
  r.shared_body = (*state).*document;
  return r;
}

ApiResponse Api::Member(const ApiRequest& request, std::string_view name) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return Error(params.status());
  }
  std::shared_ptr<const RenderedState> state = Current();
  if (state->snapshot == nullptr) {
    return Error(
        Status::Unavailable("no cluster snapshot yet: the aggregator has not delivered one"));
  }
  for (const v1::MemberState& m : state->snapshot->members()) {
    if (MemberLabel(m) == name || (m.id() != 0 && HexId(m.id()) == name)) {
      v1::ClusterSnapshot one;
      one.set_cluster(state->snapshot->cluster());
      one.set_tick_unix_ms(state->snapshot->tick_unix_ms());
      *one.add_members() = m;
      json all = json::parse(RenderMembersJson(one));
      json member = all["members"][0];
      member["last_update"] = all["last_update"];
      return Json(200, Dump(member));
    }
  }
  return Error(Status::NotFound("unknown member \"" + std::string(name.substr(0, 200)) + "\""));
}

ApiResponse Api::History(const ApiRequest& request) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return Error(params.status());
  }
  if (Status s = params->OnlyKnown({"metric", "member", "from", "to", "step"}); !s.ok()) {
    return Error(s);
  }
  const std::optional<std::string> metric = params->Get("metric");
  const std::optional<std::string> member = params->Get("member");
  if (!metric.has_value() || metric->empty()) {
    if (member.has_value() || params->Get("from") || params->Get("to") || params->Get("step")) {
      return Error(Status::InvalidArgument("metric is required with member, from, to or step"));
    }
    Result<std::vector<std::string>> names = backends_.monitor->ListMetrics();
    if (!names.ok()) {
      return Error(names.status());
    }
    json list = json::array();
    for (const std::string& name : *names) {
      const aggregator::MetricInfo* info = aggregator::FindMetric(name);
      const char* scope = "cluster";
      if (info != nullptr && info->scope == aggregator::MetricScope::kMember) {
        scope = "member";
      } else if (info != nullptr && info->scope == aggregator::MetricScope::kBoth) {
        scope = "cluster_and_member";
      }
      list.push_back({{"name", name},
                      {"help", info != nullptr ? std::string(info->help) : std::string()},
                      {"scope", scope}});
    }
    return Json(200, Dump(json{{"metrics", list}}));
  }
  const aggregator::MetricInfo* info = aggregator::FindMetric(*metric);
  if (info == nullptr) {
    return Error(Status::NotFound("unknown metric \"" + *metric +
                                  "\" (GET /api/v1/metrics/history lists them)"));
  }
  const std::string member_label = member.value_or("");
  if (member_label.empty() && info->scope == aggregator::MetricScope::kMember) {
    return Error(Status::InvalidArgument("metric \"" + *metric +
                                         "\" exists per member only: add member=<name>"));
  }
  if (!member_label.empty() && info->scope == aggregator::MetricScope::kCluster) {
    return Error(
        Status::InvalidArgument("metric \"" + *metric + "\" is cluster-wide: leave member out"));
  }
  if (!member_label.empty()) {
    std::shared_ptr<const RenderedState> state = Current();
    if (state->snapshot != nullptr &&
        std::find(state->member_labels.begin(), state->member_labels.end(), member_label) ==
            state->member_labels.end()) {
      return Error(Status::NotFound("unknown member \"" + member_label + "\""));
    }
  }
  const int64_t now = UnixMs(clock_.Now());
  v1::HistoryQuery query;
  query.set_metric(*metric);
  query.set_member(member_label);
  int64_t from = now - 3600 * 1000;
  int64_t to = now;
  if (auto text = params->Get("from")) {
    Result<int64_t> t = ParseTime("from", *text, now);
    if (!t.ok()) {
      return Error(t.status());
    }
    from = *t;
  }
  if (auto text = params->Get("to")) {
    Result<int64_t> t = ParseTime("to", *text, now);
    if (!t.ok()) {
      return Error(t.status());
    }
    to = *t;
  }
  if (from > to) {
    return Error(Status::InvalidArgument("from " + FormatRfc3339(from) + " is after to " +
                                         FormatRfc3339(to)));
  }
  query.set_from_unix_ms(from);
  query.set_to_unix_ms(to);
  if (auto text = params->Get("step")) {
    Result<int64_t> step = ParseStepMs(*text);
    if (!step.ok()) {
      return Error(step.status());
    }
    query.set_step_ms(*step);
  }
  Result<v1::HistoryResponse> history = backends_.monitor->QueryHistory(query);
  if (!history.ok()) {
    return Error(history.status());
  }
  json body = json::parse(RenderHistoryJson(*history));
  body["from"] = FormatRfc3339(from);
  body["to"] = FormatRfc3339(to);
  return Json(200, Dump(body));
}

ApiResponse Api::Alerts(const ApiRequest& request) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return Error(params.status());
  }
  if (Status s = params->OnlyKnown({"rule", "severity", "member", "state"}); !s.ok()) {
    return Error(s);
  }
  if (backends_.alerts == nullptr) {
    return Error(Status::Unavailable("no alerter configured"));
  }
  Result<v1::ListAlertsResponse> alerts = backends_.alerts->ListActiveAlerts();
  if (!alerts.ok()) {
    return Error(alerts.status());
  }
  const std::string rule = params->Get("rule").value_or("");
  const std::string severity = params->Get("severity").value_or("");
  const std::string member = params->Get("member").value_or("");
  const std::string state = params->Get("state").value_or("");
  google::protobuf::RepeatedPtrField<v1::AlertRecord> kept;
  for (const v1::AlertRecord& a : alerts->alerts()) {
    if ((rule.empty() || a.rule() == rule) && (severity.empty() || a.severity() == severity) &&
        (member.empty() || a.member() == member) && (state.empty() || a.state() == state)) {
      *kept.Add() = a;
    }
  }
  return Json(200, RenderAlertsJson(kept, "", false));
}

ApiResponse Api::AlertsHistory(const ApiRequest& request) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return Error(params.status());
  }
  if (Status s = params->OnlyKnown(
          {"rule", "severity", "member", "from", "to", "page_size", "page_token"});
      !s.ok()) {
    return Error(s);
  }
  if (backends_.alerts == nullptr) {
    return Error(Status::Unavailable("no alerter configured"));
  }
  const int64_t now = UnixMs(clock_.Now());
  v1::AlertHistoryRequest query;
  query.set_rule(params->Get("rule").value_or(""));
  query.set_severity(params->Get("severity").value_or(""));
  query.set_member(params->Get("member").value_or(""));
  query.set_page_token(params->Get("page_token").value_or(""));
  if (auto text = params->Get("from")) {
    Result<int64_t> t = ParseTime("from", *text, now);
    if (!t.ok()) {
      return Error(t.status());
    }
    query.set_from_unix_ms(*t);
  }
  if (auto text = params->Get("to")) {
    Result<int64_t> t = ParseTime("to", *text, now);
    if (!t.ok()) {
      return Error(t.status());
    }
    query.set_to_unix_ms(*t);
  }
  if (query.to_unix_ms() != 0 && query.from_unix_ms() > query.to_unix_ms()) {
    return Error(Status::InvalidArgument("from is after to"));
  }
  if (auto text = params->Get("page_size")) {
    Result<uint64_t> size = ParseBoundedUint("page_size", *text, 1, 1000);
    if (!size.ok()) {
      return Error(size.status());
    }
    query.set_page_size(static_cast<uint32_t>(*size));
  }
  Result<v1::AlertHistoryResponse> history = backends_.alerts->QueryHistory(query);
  if (!history.ok()) {
    return Error(history.status());
  }
  return Json(200, RenderAlertsJson(history->alerts(), history->next_page_token(), true));
}

ApiResponse Api::Silences(const ApiRequest& request) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return Error(params.status());
  }
  if (Status s = params->OnlyKnown({}); !s.ok()) {
    return Error(s);
  }
  if (backends_.alerts == nullptr) {
    return Error(Status::Unavailable("no alerter configured"));
  }
  Result<v1::ListSilencesResponse> silences = backends_.alerts->ListSilences();
  if (!silences.ok()) {
    return Error(silences.status());
  }
  return Json(200, RenderSilencesJson(*silences));
}

ApiResponse Api::SilenceCreate(const ApiRequest& request) {
  if (Status s = CheckToken(request.authorization); !s.ok()) {
    return Error(s);
  }
  Result<json> parsed = ParseJsonBody(
      request, R"({"member": "etcd-2", "duration": "2h", "comment": "kernel upgrade"})");
  if (!parsed.ok()) {
    return Error(parsed.status());
  }
  const json& body = *parsed;
  v1::Silence silence;
  std::string duration;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    if (!it->is_string()) {
      return Error(Status::InvalidArgument(key.substr(0, 64) + ": want a string"));
    }
    if (key == "rule") {
      silence.set_rule(it->get<std::string>());
    } else if (key == "member") {
      silence.set_member(it->get<std::string>());
    } else if (key == "comment") {
      silence.set_comment(it->get<std::string>());
    } else if (key == "duration") {
      duration = it->get<std::string>();
    } else {
      return Error(Status::InvalidArgument("unknown field \"" + key.substr(0, 64) +
                                           "\" (known: rule, member, comment, duration)"));
    }
  }
  Result<std::chrono::milliseconds> length = config::ParseDuration(duration);
  if (duration.empty() || !length.ok() || length->count() <= 0) {
    return Error(Status::InvalidArgument(
        "duration: want how long the silence lasts, e.g. \"30m\" or \"2h\"" +
        (length.ok() ? std::string() : " (" + std::string(length.status().message()) + ")")));
  }
  if (backends_.alerts == nullptr) {
    return Error(Status::Unavailable("no alerter configured"));
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  silence.set_expires_unix_ms(now_ms + length->count());
  // The caller proved it holds the API token; the gateway passes its own to the alerter.
  Result<v1::Silence> created = backends_.alerts->CreateSilence(silence, config_.api_token);
  if (!created.ok()) {
    return Error(created.status());
  }
  ApiResponse r = Json(201, RenderSilenceJson(*created));
  return r;
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

ApiResponse Api::BenchmarkStart(const ApiRequest& request) {
  if (Status s = CheckToken(request.authorization); !s.ok()) {
    return Error(s);
  }
  Result<json> parsed = ParseJsonBody(request, R"({"type": "write", "ops": 10000})");
  if (!parsed.ok()) {
    return Error(parsed.status());
  }
  const json& body = *parsed;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    if (key != "type" && key != "ops" && key != "clients" && key != "key_size" &&
        key != "value_size") {
      return Error(Status::InvalidArgument("unknown field \"" + key.substr(0, 64) +
                                           "\" (known: type, ops, clients, key_size, "
                                           "value_size)"));
    }
  }
  BenchmarkSpec spec;
  if (auto it = body.find("type"); it != body.end()) {
    const std::string type = it->is_string() ? it->get<std::string>() : "";
    if (type == "write") {
      spec.type = config::BenchmarkType::kWrite;
    } else if (type == "read") {
      spec.type = config::BenchmarkType::kRead;
    } else if (type == "mixed") {
      spec.type = config::BenchmarkType::kMixed;
    } else {
      return Error(Status::InvalidArgument("type: want \"write\", \"read\" or \"mixed\""));
    }
  }
  Result<uint64_t> ops = JsonUint(body, "ops", spec.ops, 1, config_.max_benchmark_ops);
  Result<uint64_t> clients =
      JsonUint(body, "clients", spec.clients, 1, config_.max_benchmark_clients);
  Result<uint64_t> key_size = JsonUint(body, "key_size", spec.key_size, 1, 4096);
  Result<uint64_t> value_size = JsonUint(body, "value_size", spec.value_size, 1, 1024 * 1024);
  for (const auto* r : {&ops, &clients, &key_size, &value_size}) {
    if (!r->ok()) {
      return Error(r->status());
    }
  }
  spec.ops = *ops;
  spec.clients = static_cast<uint32_t>(std::min<uint64_t>(*clients, *ops));
  spec.key_size = static_cast<uint32_t>(*key_size);
  spec.value_size = static_cast<uint32_t>(*value_size);
  if (backends_.benchmark == nullptr) {
    return Error(Status::Unimplemented(
        "benchmarks are not available in this gateway: start it with --endpoints (or ENDPOINTS) "
        "naming the etcd cluster to run them against"));
  }
  Result<std::string> id = backends_.benchmark->Start(spec);
  if (!id.ok()) {
    return Error(id.status());
  }
  ApiResponse r;
  r.status = 202;
  r.location = std::string(kBenchmarkPrefix) + *id;
  r.body = Dump(json{{"id", *id},
                     {"state", "started"},
                     {"status_url", r.location},
                     {"type", std::string(config::BenchmarkTypeName(spec.type))},
                     {"ops", spec.ops},
                     {"clients", spec.clients},
                     {"key_size", spec.key_size},
                     {"value_size", spec.value_size}});
  return r;
}

ApiResponse Api::BenchmarkGet(const ApiRequest& request, std::string_view id) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return Error(params.status());
  }
  if (!ValidId(id)) {
    return Error(Status::NotFound("unknown benchmark id"));
  }
  if (backends_.benchmark == nullptr) {
    return Error(Status::Unimplemented(
        "benchmarks are not available in this gateway: start it with --endpoints (or ENDPOINTS) "
        "naming the etcd cluster to run them against"));
  }
  Result<std::string> result = backends_.benchmark->Get(std::string(id));
  if (!result.ok()) {
    return Error(result.status());
  }
  return Json(200, std::move(result).value());
}

}  // namespace etcdmon::gateway::detail
