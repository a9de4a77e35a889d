#pragma once

// Everything the gateway derives from one ClusterSnapshot: the JSON answers of the snapshot
// endpoints and the Prometheus series. Pure functions, private to the gateway; the refresher
// calls them once per new snapshot.

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/metrics/member.h"
#include "etcdmonitor/v1/services.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"

namespace prometheus {
struct MetricFamily;
}  // namespace prometheus

namespace etcdmon::gateway::detail {

/// "2024-05-01T10:00:00.123Z" (UTC, milliseconds). 0 and negative times are rendered too; the
/// callers render "never" as JSON null instead.
std::string FormatRfc3339(int64_t unix_ms);

/// 64-bit etcd ids as lower-case hex, and the label of a member in history and on /metrics (its
/// name, else its hex id, else its endpoint): the services' one spelling (common/metrics).
using metrics::HexId;
using metrics::MemberLabel;

/// Whether the monitor reaches etcd, as the snapshot tells: not ok when it knows members but
/// none answers (no fresh newest sample that reached the member); `detail` says how many
/// answer, or why none does ("no etcd member answers: 0 of 1 reachable (localhost:1: ...)").
/// A snapshot without members (none known yet) is ok.
struct EtcdReachability {
  bool ok = true;
  std::string detail;
};
EtcdReachability ReachabilityOf(const etcdmonitor::v1::ClusterSnapshot& snapshot);

/// One value of a snapshot: cluster-wide when `member` is empty.
struct Series {
  std::string_view name;  // static storage (etcdmon/metrics/catalogue.h)
  std::string_view help;
  bool counter = false;
  std::string member;
  double value = 0;
};

/// Every value of the snapshot worth exporting, cluster-wide first, then member by member.
/// Values a snapshot does not know (an absent optional, a member never sampled) are left out.
void SnapshotSeries(const etcdmonitor::v1::ClusterSnapshot& snapshot, std::vector<Series>& out);

/// Whether a snapshot is still current: a snapshot older than 3 of its ticks means the
/// aggregator stopped publishing (killed, hung), and its last values must not be served as now.
struct Freshness {
  bool stale = false;
  double age_seconds = 0;
  int64_t stale_since_unix_ms = 0;  // when it became (or becomes) stale: tick + allowed age
};

/// The freshness of `snapshot` at `now_unix_ms`: stale when older than 3 × its
/// tick_interval_ms, or than `fallback` for a snapshot that does not carry its tick.
Freshness FreshnessOf(const etcdmonitor::v1::ClusterSnapshot& snapshot, int64_t now_unix_ms,
                      std::chrono::milliseconds fallback);

/// What the gateway knows about itself and the services, for /metrics and /health.
struct ServiceState {
  bool has_snapshot = false;
  double snapshot_age_seconds = 0;
  // The snapshot is stale (Freshness): its values are left out, the age and
  // etcd_monitor_snapshot_stale say why.
  bool snapshot_stale = false;
  bool aggregator_up = false;
  bool alerter_configured = false;
  bool alerter_up = false;
  // Firing alerts by severity (from the alerter's active alerts).
  std::vector<std::pair<std::string, uint64_t>> firing_by_severity;
};

/// The Prometheus text (format 0.0.4) of the snapshot's series, the services' state, the
/// collectors in the snapshot and `own` (the gateway's counters), with a `cluster` label on
/// every series and a `member` label on per-member ones. `snapshot` may be null (no data yet):
/// then only the service series are exported, labelled with `cluster_fallback`; so they are when
/// `state.snapshot_stale` (labelled with the snapshot's cluster). One cluster's exposition, as
/// RenderFleetPrometheus renders it (the gateway itself renders the fleet's).
std::string RenderPrometheus(const etcdmonitor::v1::ClusterSnapshot* snapshot,
                             const ServiceState& state, std::vector<prometheus::MetricFamily> own,
                             const std::string& cluster_fallback);

/// One cluster as the fleet's /metrics shows it.
struct ClusterExport {
  const etcdmonitor::v1::ClusterSnapshot* snapshot = nullptr;  // not null
  // SnapshotSeries(*snapshot), when the caller keeps it (computed once per snapshot); null: the
  // renderer computes it.
  const std::vector<Series>* series = nullptr;
  std::string name;  // the `cluster` label (the snapshot's name)
  // Stale (Freshness): its values are left out, the age and etcd_monitor_snapshot_stale say why.
  bool stale = false;
  double age_seconds = 0;
  // Firing alerts by severity; nullopt: not known (no alerter, or it does not answer).
  std::optional<std::vector<std::pair<std::string, uint64_t>>> firing_by_severity;
};

/// The services' state, the same for every cluster.
struct FleetServices {
  bool aggregator_up = false;
  bool alerter_configured = false;
  bool alerter_up = false;
};

/// The Prometheus text of every cluster: each metric family once, with the samples of every
/// cluster in it (each with its `cluster` label), as the text format requires. The services'
/// series are repeated per cluster; the remote_write sender's (aggregator-wide) come once,
/// without a cluster label, from the newest snapshot that has them. `own` (the gateway's
/// counters) is labelled with the cluster when there is one (`cluster_fallback` when there is
/// none yet), and has no cluster label when there are several. Without clusters, the services'
/// series are labelled `cluster_fallback` and `fallback_firing` are the firing alerts.
std::string RenderFleetPrometheus(
    const std::vector<ClusterExport>& clusters, const FleetServices& services,
    std::vector<prometheus::MetricFamily> own, const std::string& cluster_fallback,
    const std::vector<std::pair<std::string, uint64_t>>& fallback_firing = {});

/// One row of GET /api/v1/clusters.
struct ClusterSummary {
  const etcdmonitor::v1::ClusterSnapshot* snapshot = nullptr;  // not null
  std::string name;
  Freshness freshness;
  // Firing alerts by severity; nullopt: unknown (rendered null, not zero).
  std::optional<std::map<std::string, uint64_t>> firing;
};

/// GET /api/v1/clusters: {"clusters": [...], "count": n}, worst first (no_quorum and
/// split_brain, no_leader, stale, degraded, unknown, healthy; then more critical alerts; then
/// the name).
std::string RenderClustersJson(const std::vector<ClusterSummary>& clusters);

/// The state word of the status endpoint ("healthy", "no_quorum", ..., "stale" when stale).
std::string ClusterStateWord(const etcdmonitor::v1::ClusterSnapshot& snapshot,
                             const Freshness& freshness);

// The JSON documents of the snapshot endpoints (snake_case keys, RFC 3339 UTC times).
// The status says whether the snapshot is stale (`stale`, `stale_since`,
// `snapshot_age_seconds`); a stale one is reported with state "stale", not healthy.
std::string RenderStatusJson(const etcdmonitor::v1::ClusterSnapshot& snapshot,
                             const Freshness& freshness = {});
std::string RenderMembersJson(const etcdmonitor::v1::ClusterSnapshot& snapshot);
std::string RenderLeaderJson(const etcdmonitor::v1::ClusterSnapshot& snapshot);
std::string RenderCurrentJson(const etcdmonitor::v1::ClusterSnapshot& snapshot,
                              const std::vector<Series>& series);
std::string RenderLatencyJson(const etcdmonitor::v1::ClusterSnapshot& snapshot);

/// A time as the JSON documents show it: RFC 3339, or null for "never" (0 or negative).
nlohmann::json TimeOrNull(int64_t unix_ms);

/// One member as /api/v1/cluster/members lists it (and /api/v1/cluster/members/<name> answers).
nlohmann::json MemberJson(const etcdmonitor::v1::MemberState& member);

}  // namespace etcdmon::gateway::detail
