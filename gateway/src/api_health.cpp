// GET /health: the gateway, the aggregator, the alerter, the newest snapshot's age, whether the
// monitor reaches etcd and whether the aggregator stores its history, each with ok and a detail;
// 503 when any is not ok, stale data (a snapshot older than 3 ticks) included ("degraded" when
// only the storage fails).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api.h"
#include "api_response.h"
#include "render.h"

namespace etcdmon::gateway::detail {

using nlohmann::json;

namespace {

// The aggregator's history writes (ClusterSnapshot.storage) as a check; returns whether ok.
bool StorageCheck(const etcdmonitor::v1::StorageState& storage, json& check) {
  if (!storage.failing()) {
    check = {{"ok", true},
             {"detail", "history writes succeed"},
             {"failures_total", storage.failures_total()}};
    return true;
  }
  check = {{"ok", false},
           {"detail",
            "history writes are failing (the live data is current, the history is not "
            "stored): " +
                storage.last_error()},
           {"failures_total", storage.failures_total()},
           {"last_failure", FormatRfc3339(storage.last_failure_unix_ms())}};
  return false;
}

// At most 20 names, comma-separated, then how many more.
std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i == 20) {
      return out + " and " + std::to_string(names.size() - i) + " more";
    }
    out += (i == 0 ? "" : ", ") + names[i];
  }
  return out;
}

}  // namespace

ApiResponse Api::Health() {
  std::shared_ptr<const FleetState> state;
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
  bool stale = false;
  bool storage_ok = true;
  if (state->clusters.empty()) {
    data = {{"ok", false},
            {"detail", "no cluster snapshot yet" + (deps.last_snapshot_error.empty()
                                                        ? std::string()
                                                        : ": " + deps.last_snapshot_error)}};
    ok = false;
  } else if (state->clusters.size() == 1) {
    const etcdmonitor::v1::ClusterSnapshot& snapshot = *state->clusters.begin()->second->snapshot;
    const int64_t tick = snapshot.tick_unix_ms();
    const Freshness freshness = FreshnessOf(snapshot, now, config_.stale_after);
    stale = freshness.stale;
    data = {{"ok", !freshness.stale},
            {"stale", freshness.stale},
            {"last_update", FormatRfc3339(tick)},
            {"age_seconds", freshness.age_seconds},
            {"detail", !freshness.stale
                           ? "fresh"
                           : "stale since " + FormatRfc3339(freshness.stale_since_unix_ms) +
                                 ": no snapshot from the aggregator for 3 ticks"}};
    if (freshness.stale) {
      data["stale_since"] = FormatRfc3339(freshness.stale_since_unix_ms);
    }
    ok = ok && !freshness.stale;
    // A monitor that reaches no etcd member is not ok, whatever else works.
    const EtcdReachability etcd = ReachabilityOf(snapshot);
    checks["etcd"] = {{"ok", etcd.ok}, {"detail", etcd.detail}};
    ok = ok && etcd.ok;
    storage_ok = StorageCheck(snapshot.storage(), checks["storage"]);
  } else {
    // Several clusters: each check holds for every one, and names those it fails for. The
    // storage is the aggregator's, one for all: the newest snapshot tells it.
    std::vector<std::string> stale_names;
    std::vector<std::string> unreachable;
    std::string first_unreachable_detail;
    int64_t newest_tick = 0;
    const etcdmonitor::v1::ClusterSnapshot* newest = nullptr;
    for (const auto& [name, cluster] : state->clusters) {
      const etcdmonitor::v1::ClusterSnapshot& snapshot = *cluster->snapshot;
      if (FreshnessOf(snapshot, now, config_.stale_after).stale) {
        stale_names.push_back(name);
      }
      const EtcdReachability etcd = ReachabilityOf(snapshot);
      if (!etcd.ok) {
        unreachable.push_back(name);
        if (first_unreachable_detail.empty()) {
          first_unreachable_detail = name + ": " + etcd.detail;
        }
      }
      if (newest == nullptr || snapshot.tick_unix_ms() > newest_tick) {
        newest = &snapshot;
        newest_tick = snapshot.tick_unix_ms();
      }
    }
    const std::string total = std::to_string(state->clusters.size());
    stale = !stale_names.empty();
    data = {{"ok", !stale},
            {"stale", stale},
            {"clusters", state->clusters.size()},
            {"last_update", FormatRfc3339(newest_tick)},
            {"detail",
             !stale ? "fresh (" + total + " clusters)"
                    : std::to_string(stale_names.size()) + " of " + total +
                          " clusters stale (no snapshot for 3 ticks): " + JoinNames(stale_names)}};
    ok = ok && !stale;
    checks["etcd"] = {
        {"ok", unreachable.empty()},
        {"detail", unreachable.empty()
                       ? "every cluster's monitor reaches an etcd member (" + total + " clusters)"
                       : std::to_string(unreachable.size()) + " of " + total +
                             " clusters reach no etcd member (" + first_unreachable_detail + ")"}};
    ok = ok && unreachable.empty();
    storage_ok = StorageCheck(newest->storage(), checks["storage"]);
  }
  checks["data"] = data;
  // Stale data answers 503 like any failed check (a load balancer takes the gateway out rather
  // than serve a dead aggregator's last state as current); `stale` says why at a glance.
  // Degraded: everything answers and the data is fresh, but the history is not being stored.
  const char* status = !ok ? "unavailable" : storage_ok ? "ok" : "degraded";
  json body = {
      {"status", status}, {"stale", stale}, {"time", FormatRfc3339(now)}, {"checks", checks}};
  return JsonResponse(ok && storage_ok ? 200 : 503, body);
}

}  // namespace etcdmon::gateway::detail
