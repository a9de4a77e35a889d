// GET /api/v1/metrics/history: without a metric, the metrics the aggregator keeps (with help and
// scope); with one, its points over [from, to] from the aggregator's history.

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api.h"
#include "api_response.h"
#include "etcdmon/metrics/catalogue.h"
#include "query.h"
#include "render.h"

namespace etcdmon::gateway::detail {
namespace {

namespace v1 = etcdmonitor::v1;
using nlohmann::json;

json HistoryJson(const v1::HistoryResponse& h) {
  json points = json::array();
  for (const v1::HistoryPoint& p : h.points()) {
    points.push_back({{"time", FormatRfc3339(p.unix_ms())},
                      {"value", p.value()},
                      {"min", p.min()},
                      {"max", p.max()},
                      {"count", p.count()}});
  }
  return {{"metric", h.metric()},
          {"member", h.member()},
          {"resolution", h.resolution()},
          {"points", points}};
}

}  // namespace

ApiResponse Api::History(const ApiRequest& request) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return ErrorResponse(params.status());
  }
  if (Status s = params->OnlyKnown({"metric", "member", "from", "to", "step", "cluster"});
      !s.ok()) {
    return ErrorResponse(s);
  }
  Result<SelectedCluster> cluster = SelectCluster(*params);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  const std::optional<std::string> metric = params->Get("metric");
  const std::optional<std::string> member = params->Get("member");
  if (!metric.has_value() || metric->empty()) {
    if (member.has_value() || params->Get("from") || params->Get("to") || params->Get("step")) {
      return ErrorResponse(
          Status::InvalidArgument("metric is required with member, from, to or step"));
    }
    Result<std::vector<std::string>> names = backends_.monitor->ListMetrics();
    if (!names.ok()) {
      return ErrorResponse(names.status());
    }
    json list = json::array();
    for (const std::string& name : *names) {
      const metrics::MetricInfo* info = metrics::FindMetric(name);
      const char* scope = "cluster";
      if (info != nullptr && info->scope == metrics::MetricScope::kMember) {
        scope = "member";
      } else if (info != nullptr && info->scope == metrics::MetricScope::kBoth) {
        scope = "cluster_and_member";
      }
      list.push_back({{"name", name},
                      {"help", info != nullptr ? std::string(info->help) : std::string()},
                      {"scope", scope}});
    }
    return JsonResponse(200, json{{"metrics", list}});
  }
  const metrics::MetricInfo* info = metrics::FindMetric(*metric);
  if (info == nullptr) {
    return ErrorResponse(Status::NotFound("unknown metric \"" + *metric +
                                          "\" (GET /api/v1/metrics/history lists them)"));
  }
  const std::string member_label = member.value_or("");
  if (member_label.empty() && info->scope == metrics::MetricScope::kMember) {
    return ErrorResponse(Status::InvalidArgument("metric \"" + *metric +
                                                 "\" exists per member only: add member=<name>"));
  }
  if (!member_label.empty() && info->scope == metrics::MetricScope::kCluster) {
    return ErrorResponse(
        Status::InvalidArgument("metric \"" + *metric + "\" is cluster-wide: leave member out"));
  }
  if (!member_label.empty()) {
    const std::shared_ptr<const RenderedState>& state = cluster->state;
    if (state != nullptr && std::find(state->member_labels.begin(), state->member_labels.end(),
                                      member_label) == state->member_labels.end()) {
      return ErrorResponse(Status::NotFound("unknown member \"" + member_label + "\""));
    }
  }
  const int64_t now = UnixMs(clock_.Now());
  v1::HistoryQuery query;
  query.set_metric(*metric);
  query.set_member(member_label);
  // The cluster selected (empty only while none is known: the aggregator's "the only one").
  query.set_cluster(cluster->name);
  int64_t from = now - 3600 * 1000;
  int64_t to = now;
  if (auto text = params->Get("from")) {
    Result<int64_t> t = ParseTime("from", *text, now);
    if (!t.ok()) {
      return ErrorResponse(t.status());
    }
    from = *t;
  }
  if (auto text = params->Get("to")) {
    Result<int64_t> t = ParseTime("to", *text, now);
    if (!t.ok()) {
      return ErrorResponse(t.status());
    }
    to = *t;
  }
  if (from > to) {
    return ErrorResponse(Status::InvalidArgument("from " + FormatRfc3339(from) + " is after to " +
                                                 FormatRfc3339(to)));
  }
  query.set_from_unix_ms(from);
  query.set_to_unix_ms(to);
  if (auto text = params->Get("step")) {
    Result<int64_t> step = ParseStepMs(*text);
    if (!step.ok()) {
      return ErrorResponse(step.status());
    }
    query.set_step_ms(*step);
  }
  Result<v1::HistoryResponse> history = backends_.monitor->QueryHistory(query);
  if (!history.ok()) {
    return ErrorResponse(history.status());
  }
  json body = HistoryJson(*history);
  body["from"] = FormatRfc3339(from);
  body["to"] = FormatRfc3339(to);
  return JsonResponse(200, body);
}

}  // namespace etcdmon::gateway::detail
