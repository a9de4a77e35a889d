// The alerter's resources: GET /api/v1/alerts (active alerts, filtered), GET
// /api/v1/alerts/history, GET and POST /api/v1/alerts/silences, DELETE
// /api/v1/alerts/silences/{id}.

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api.h"
#include "api_response.h"
#include "etcdmon/config/types.h"
#include "query.h"
#include "render.h"

namespace etcdmon::gateway::detail {
namespace {

namespace v1 = etcdmonitor::v1;
using nlohmann::json;

json AlertsJson(const google::protobuf::RepeatedPtrField<v1::AlertRecord>& alerts) {
  json list = json::array();
  for (const v1::AlertRecord& a : alerts) {
    list.push_back({{"fingerprint", a.fingerprint()},
                    {"rule", a.rule()},
                    {"severity", a.severity()},
                    {"state", a.state()},
                    {"cluster", a.cluster()},
                    {"member", a.member()},
                    {"summary", a.summary()},
                    {"started_at", TimeOrNull(a.started_unix_ms())},
                    {"resolved_at", TimeOrNull(a.resolved_unix_ms())}});
  }
  return list;
}

constexpr size_t kMaxSilenceIdBytes = 128;

// The alerter's cluster filter: the name a request gave, else empty (every cluster, which while
// one is monitored is that one; and the alerts recorded before clusters had names).
std::string AlerterFilter(const SelectedCluster& cluster) {
  return cluster.named ? cluster.name : std::string();
}

// `state` is "active" or "expired" as of `now_unix_ms` (the gateway's clock).
json SilenceJson(const v1::Silence& s, int64_t now_unix_ms) {
  return {{"id", s.id()},
          {"rule", s.rule()},
          {"cluster", s.cluster()},
          {"member", s.member()},
          {"comment", s.comment()},
          {"created_at", TimeOrNull(s.created_unix_ms())},
          {"expires_at", TimeOrNull(s.expires_unix_ms())},
          {"state", s.expires_unix_ms() > now_unix_ms ? "active" : "expired"}};
}

// The alerter's ids are 16 hex digits; anything of this charset and length is passed on.
bool IsSilenceId(std::string_view id) {
  if (id.empty() || id.size() > kMaxSilenceIdBytes) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

}  // namespace

ApiResponse Api::Alerts(const ApiRequest& request) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return ErrorResponse(params.status());
  }
  if (Status s = params->OnlyKnown({"rule", "severity", "member", "state", "cluster"}); !s.ok()) {
    return ErrorResponse(s);
  }
  Result<SelectedCluster> cluster = SelectCluster(*params);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  if (backends_.alerts == nullptr) {
    return ErrorResponse(Status::Unavailable("no alerter configured"));
  }
  Result<v1::ListAlertsResponse> alerts =
      backends_.alerts->ListActiveAlerts(AlerterFilter(*cluster));
  if (!alerts.ok()) {
    return ErrorResponse(alerts.status());
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
  return JsonResponse(200, json{{"alerts", AlertsJson(kept)}});
}

ApiResponse Api::AlertsHistory(const ApiRequest& request) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return ErrorResponse(params.status());
  }
  if (Status s = params->OnlyKnown(
          {"rule", "severity", "member", "from", "to", "page_size", "page_token", "cluster"});
      !s.ok()) {
    return ErrorResponse(s);
  }
  Result<SelectedCluster> cluster = SelectCluster(*params);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  if (backends_.alerts == nullptr) {
    return ErrorResponse(Status::Unavailable("no alerter configured"));
  }
  const int64_t now = UnixMs(clock_.Now());
  v1::AlertHistoryRequest query;
  query.set_rule(params->Get("rule").value_or(""));
  query.set_severity(params->Get("severity").value_or(""));
  query.set_member(params->Get("member").value_or(""));
  query.set_page_token(params->Get("page_token").value_or(""));
  query.set_cluster(AlerterFilter(*cluster));
  if (auto text = params->Get("from")) {
    Result<int64_t> t = ParseTime("from", *text, now);
    if (!t.ok()) {
      return ErrorResponse(t.status());
    }
    query.set_from_unix_ms(*t);
  }
  if (auto text = params->Get("to")) {
    Result<int64_t> t = ParseTime("to", *text, now);
    if (!t.ok()) {
      return ErrorResponse(t.status());
    }
    query.set_to_unix_ms(*t);
  }
  if (query.to_unix_ms() != 0 && query.from_unix_ms() > query.to_unix_ms()) {
    return ErrorResponse(Status::InvalidArgument("from is after to"));
  }
  if (auto text = params->Get("page_size")) {
    Result<uint64_t> size = ParseBoundedUint("page_size", *text, 1, 1000);
    if (!size.ok()) {
      return ErrorResponse(size.status());
    }
    query.set_page_size(static_cast<uint32_t>(*size));
  }
  Result<v1::AlertHistoryResponse> history = backends_.alerts->QueryHistory(query);
  if (!history.ok()) {
    return ErrorResponse(history.status());
  }
  return JsonResponse(200, json{{"alerts", AlertsJson(history->alerts())},
                                {"next_page_token", history->next_page_token()}});
}

ApiResponse Api::Silences(const ApiRequest& request) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return ErrorResponse(params.status());
  }
  if (Status s = params->OnlyKnown({"state", "cluster"}); !s.ok()) {
    return ErrorResponse(s);
  }
  Result<SelectedCluster> cluster = SelectCluster(*params);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  const std::string state = params->Get("state").value_or("active");
  if (state != "active" && state != "all") {
    return ErrorResponse(Status::InvalidArgument("state \"" + state.substr(0, 64) +
                                                 "\": want active (the default) or all"));
  }
  if (backends_.alerts == nullptr) {
    return ErrorResponse(Status::Unavailable("no alerter configured"));
  }
  Result<v1::ListSilencesResponse> silences =
      backends_.alerts->ListSilences(/*include_expired=*/state == "all", AlerterFilter(*cluster));
  if (!silences.ok()) {
    return ErrorResponse(silences.status());
  }
  const int64_t now = UnixMs(clock_.Now());
  json list = json::array();
  for (const v1::Silence& s : silences->silences()) {
    list.push_back(SilenceJson(s, now));
  }
  return JsonResponse(200, json{{"silences", list}});
}

ApiResponse Api::SilenceCreate(const ApiRequest& request) {
  if (Status s = CheckToken(request.authorization); !s.ok()) {
    return ErrorResponse(s);
  }
  Result<json> parsed = ParseJsonBody(
      request, R"({"member": "etcd-2", "duration": "2h", "comment": "kernel upgrade"})");
  if (!parsed.ok()) {
    return ErrorResponse(parsed.status());
  }
  const json& body = *parsed;
  v1::Silence silence;
  std::string duration;
  std::optional<std::string> body_cluster;
  for (auto it = body.begin(); it != body.end(); ++it) {
    const std::string& key = it.key();
    if (!it->is_string()) {
      return ErrorResponse(Status::InvalidArgument(key.substr(0, 64) + ": want a string"));
    }
    if (key == "rule") {
      silence.set_rule(it->get<std::string>());
    } else if (key == "member") {
      silence.set_member(it->get<std::string>());
    } else if (key == "comment") {
      silence.set_comment(it->get<std::string>());
    } else if (key == "duration") {
      duration = it->get<std::string>();
    } else if (key == "cluster") {
      body_cluster = it->get<std::string>();
    } else {
      return ErrorResponse(
          Status::InvalidArgument("unknown field \"" + key.substr(0, 64) +
                                  "\" (known: rule, member, comment, duration, cluster)"));
    }
  }
  // The cluster as ?cluster= or in the body; both may be given when they agree.
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return ErrorResponse(params.status());
  }
  if (Status s = params->OnlyKnown({"cluster"}); !s.ok()) {
    return ErrorResponse(s);
  }
  std::optional<std::string> requested = params->Get("cluster");
  if (requested.has_value() && body_cluster.has_value() && *requested != *body_cluster) {
    return ErrorResponse(Status::InvalidArgument(
        "the body's cluster \"" + body_cluster->substr(0, 64) + "\" is not ?cluster=\"" +
        requested->substr(0, 64) + "\": give one, or the same in both"));
  }
  Result<SelectedCluster> cluster = SelectCluster(requested ? requested : body_cluster);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  // The silence is for the cluster selected (the only one when none was named), so that a
  // cluster added later is not silenced too; empty (every cluster) only while none is known.
  silence.set_cluster(cluster->name);
  Result<std::chrono::milliseconds> length = config::ParseDuration(duration);
  if (duration.empty() || !length.ok() || length->count() <= 0) {
    return ErrorResponse(Status::InvalidArgument(
        "duration: want how long the silence lasts, e.g. \"30m\" or \"2h\"" +
        (length.ok() ? std::string() : " (" + std::string(length.status().message()) + ")")));
  }
  if (backends_.alerts == nullptr) {
    return ErrorResponse(Status::Unavailable("no alerter configured"));
  }
  // The injected clock, as everywhere else in the API, so the expiry follows a test's clock.
  silence.set_expires_unix_ms(UnixMs(clock_.Now()) + length->count());
  // The caller proved it holds the API token; the gateway passes its own to the alerter.
  Result<v1::Silence> created = backends_.alerts->CreateSilence(silence, config_.api_token);
  if (!created.ok()) {
    return ErrorResponse(created.status());
  }
  return JsonResponse(201, SilenceJson(*created, UnixMs(clock_.Now())));
}

ApiResponse Api::SilenceExpire(const ApiRequest& request, std::string_view id) {
  if (Status s = CheckToken(request.authorization); !s.ok()) {
    return ErrorResponse(s);
  }
  if (!IsSilenceId(id)) {
    return ErrorResponse(Status::InvalidArgument(
        "silence id \"" + std::string(id.substr(0, 64)) +
        "\": want the id the silence was created with (1 to 128 of a-z, A-Z, 0-9, '-', '_')"));
  }
  if (backends_.alerts == nullptr) {
    return ErrorResponse(Status::Unavailable("no alerter configured"));
  }
  // As for POST: the caller proved it holds the API token; the gateway passes its own.
  Result<v1::Silence> expired = backends_.alerts->ExpireSilence(std::string(id), config_.api_token);
  if (!expired.ok()) {
    return ErrorResponse(expired.status());
  }
  // Expired by the alerter's clock, whatever the gateway's says.
  json body = SilenceJson(*expired, UnixMs(clock_.Now()));
  body["state"] = "expired";
  return JsonResponse(200, body);
}

}  // namespace etcdmon::gateway::detail
