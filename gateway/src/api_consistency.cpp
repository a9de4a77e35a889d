// GET /api/v1/cluster/consistency: the cluster's consistency check (etcd::CheckConsistency,
// HashKV of every member at one revision), at most once per --consistency interval, cached
// in between (ConsistencyCache). The report is the CLI's `check consistency -w json` object,
// with when it was checked.

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api.h"
#include "api_response.h"
#include "consistency_cache.h"
#include "etcdmon/etcd/consistency.h"
#include "query.h"
#include "render.h"

namespace etcdmon::gateway::detail {
namespace {

using nlohmann::json;

// What a client is told to wait before asking again while the first check runs.
constexpr int64_t kRetryAfterSeconds = 5;

}  // namespace

ApiResponse Api::ClusterConsistency(const ApiRequest& request) {
  Result<SelectedCluster> cluster = SelectCluster(request);
  if (!cluster.ok()) {
    return ErrorResponse(cluster.status());
  }
  // The cache of the cluster's etcd client (EtcdBackendsOf's choice, found by its name).
  ConsistencyCache* cache = nullptr;
  if (const ClusterEtcdBackends* target = EtcdBackendsOf(*cluster); target != nullptr) {
    for (const auto& [name, backends] : backends_.etcd_clusters) {
      if (&backends == target) {
        auto it = consistency_.find(name);
        cache = it != consistency_.end() ? it->second.get() : nullptr;
      }
    }
  }
  if (cache == nullptr) {
    const std::string which =
        cluster->name.empty() ? std::string() : " for cluster \"" + cluster->name + "\"";
    return ErrorResponse(Status::Unimplemented(
        "the consistency check is not available in this gateway" + which +
        ": start it with --endpoints (or ENDPOINTS) naming the etcd cluster to check (and "
        "--cluster-name naming the cluster they belong to)"));
  }
  const ConsistencyCache::Answer answer = cache->Get();
  if (answer.checked == nullptr) {
    ApiResponse r = ErrorResponse(Status::Unavailable(
        answer.in_progress ? "a consistency check is in progress; retry in a few seconds"
                           : "the gateway is shutting down"));
    r.retry_after_seconds = answer.in_progress ? kRetryAfterSeconds : 0;
    return r;
  }
  const ConsistencyCache::Checked& checked = *answer.checked;
  json document = json::parse(etcd::ConsistencyReportJson(checked.report));
  document["checked_at"] = FormatRfc3339(UnixMs(checked.checked_at));
  document["age_seconds"] = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(
                                                     clock_.SteadyNow() - checked.checked_at_steady)
                                                     .count());
  document["check_in_progress"] = answer.in_progress;
  return JsonResponse(200, document);
}

}  // namespace etcdmon::gateway::detail
