// The answers rendered once per snapshot (status, members, leader, current metrics, latency),
// served as the shared document, and one member of the newest snapshot.

#include <nlohmann/json.hpp>
#include <string>

#include "api.h"
#include "api_response.h"
#include "query.h"
#include "render.h"

namespace etcdmon::gateway::detail {

namespace v1 = etcdmonitor::v1;
using nlohmann::json;

namespace {

Status NoSnapshotYet() {
  return Status::Unavailable("no cluster snapshot yet: the aggregator has not delivered one");
}

}  // namespace

ApiResponse Api::Cached(const ApiRequest& request,
                        std::shared_ptr<const std::string> RenderedState::*document) {
  Result<SelectedCluster> cluster = SelectCluster(request);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  if (cluster->state == nullptr) {
    return ErrorResponse(NoSnapshotYet());
  }
  ApiResponse r;
  r.shared_body = (*cluster->state).*document;
  return r;
}

ApiResponse Api::Member(const ApiRequest& request, std::string_view name) {
  Result<QueryParams> params = QueryParams::Parse(request.query);
  if (!params.ok()) {
    return ErrorResponse(params.status());
  }
  Result<SelectedCluster> cluster = SelectCluster(*params);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  if (cluster->state == nullptr) {
    return ErrorResponse(NoSnapshotYet());
  }
  const std::shared_ptr<const RenderedState>& state = cluster->state;
  for (const v1::MemberState& m : state->snapshot->members()) {
    if (MemberLabel(m) == name || (m.id() != 0 && HexId(m.id()) == name)) {
      json member = MemberJson(m);
      member["last_update"] = FormatRfc3339(state->snapshot->tick_unix_ms());
      return JsonResponse(200, member);
    }
  }
  return ErrorResponse(
      Status::NotFound("unknown member \"" + std::string(name.substr(0, 200)) + "\""));
}

}  // namespace etcdmon::gateway::detail
