#pragma once

// The one catalogue of the product's metrics: every name the aggregator's history keeps, which is
// also the name the gateway serves on /metrics and lists on /api/v1/metrics/history. Names the
// quickstart lists are kept exactly; the product's own use prefixes etcd itself does not export
// (etcd_cluster_*, etcd_member_*, etcd_probe_*, etcd_host_*, etcd_db_*, etcd_grpc_*,
// etcd_proposals_*), so that scraping etcd and the gateway into one Prometheus never mixes two
// meanings under one name. Header-only, constexpr.

#include <string_view>

namespace etcdmon::metrics {

/// Which series of a metric exist: cluster-wide (member ""), per member, or both.
enum class MetricScope { kCluster, kMember, kBoth };

/// How Prometheus should read a metric: a counter only ever grows (etcd's own `_total` counters,
/// passed on as the member exposes them); everything else is a gauge.
enum class MetricKind { kGauge, kCounter };

/// One metric.
struct MetricInfo {
  std::string_view name;
  MetricScope scope;
  MetricKind kind;
  // "ms", "s", "bytes", "bytes/s", "1/s", "%" or "ratio"; "" for counts and 0/1 flags.
  std::string_view unit;
  std::string_view help;  // one line, for listings and Prometheus HELP
};

// ---- The quickstart's names ----
inline constexpr std::string_view kClusterHealthy = "etcd_cluster_healthy";
inline constexpr std::string_view kClusterHasLeader = "etcd_cluster_has_leader";
inline constexpr std::string_view kClusterMemberCount = "etcd_cluster_member_count";
inline constexpr std::string_view kClusterQuorumSize = "etcd_cluster_quorum_size";
inline constexpr std::string_view kLeaderChangesTotal = "etcd_cluster_leader_changes_total";
inline constexpr std::string_view kReadLatencyP50 = "etcd_request_read_latency_p50_milliseconds";
inline constexpr std::string_view kReadLatencyP95 = "etcd_request_read_latency_p95_milliseconds";
inline constexpr std::string_view kReadLatencyP99 = "etcd_request_read_latency_p99_milliseconds";
inline constexpr std::string_view kWriteLatencyP50 = "etcd_request_write_latency_p50_milliseconds";
inline constexpr std::string_view kWriteLatencyP95 = "etcd_request_write_latency_p95_milliseconds";
inline constexpr std::string_view kWriteLatencyP99 = "etcd_request_write_latency_p99_milliseconds";
inline constexpr std::string_view kRequestRate = "etcd_request_rate_per_second";
inline constexpr std::string_view kDbSize = "etcd_mvcc_db_total_size_bytes";
inline constexpr std::string_view kDbSizeInUse = "etcd_mvcc_db_total_size_in_use_bytes";
inline constexpr std::string_view kProposalsCommitted = "etcd_server_proposals_committed_total";
inline constexpr std::string_view kProposalsApplied = "etcd_server_proposals_applied_total";
inline constexpr std::string_view kProposalsPending = "etcd_server_proposals_pending";
inline constexpr std::string_view kProposalsFailed = "etcd_server_proposals_failed_total";
inline constexpr std::string_view kWalFsyncP95 = "etcd_disk_wal_fsync_duration_p95_milliseconds";
inline constexpr std::string_view kBackendCommitP95 =
    "etcd_disk_backend_commit_duration_p95_milliseconds";

// ---- Cluster state ----
inline constexpr std::string_view kClusterHealthyMembers = "etcd_cluster_healthy_members";
inline constexpr std::string_view kClusterQuorumOk = "etcd_cluster_quorum_ok";
inline constexpr std::string_view kClusterLeaderAgreement = "etcd_cluster_leader_agreement";
inline constexpr std::string_view kClusterSplitBrain = "etcd_cluster_split_brain";
inline constexpr std::string_view kClusterRaftTerm = "etcd_cluster_raft_term";
inline constexpr std::string_view kClusterUnreachableMembers = "etcd_cluster_unreachable_members";
inline constexpr std::string_view kClusterStaleMembers = "etcd_cluster_stale_members";
inline constexpr std::string_view kClusterAlarmsActive = "etcd_cluster_alarms_active";
inline constexpr std::string_view kRevisionSpread = "etcd_cluster_revision_spread";
inline constexpr std::string_view kRaftIndexSpread = "etcd_cluster_raft_index_spread";
inline constexpr std::string_view kAppliedIndexSpread = "etcd_cluster_applied_index_spread";
inline constexpr std::string_view kDivergenceGrowing = "etcd_cluster_divergence_growing";

// ---- Benchmarks the monitor runs (all-in-one: BENCHMARK_ENABLED, or over REST) ----
inline constexpr std::string_view kBenchmarkOpsPerSecond = "etcd_benchmark_ops_per_second";
inline constexpr std::string_view kBenchmarkLatencyP50 = "etcd_benchmark_latency_p50_milliseconds";
inline constexpr std::string_view kBenchmarkLatencyP99 = "etcd_benchmark_latency_p99_milliseconds";
inline constexpr std::string_view kBenchmarkFailedOps = "etcd_benchmark_failed_operations";

// ---- Member state (from each sample) ----
inline constexpr std::string_view kMemberUp = "etcd_member_up";
inline constexpr std::string_view kMemberHealthy = "etcd_member_healthy";
inline constexpr std::string_view kMemberStale = "etcd_member_stale";
inline constexpr std::string_view kMemberIsLeader = "etcd_member_is_leader";
inline constexpr std::string_view kMemberHasLeader = "etcd_member_has_leader";
inline constexpr std::string_view kMemberRaftTerm = "etcd_member_raft_term";
inline constexpr std::string_view kMemberRaftIndex = "etcd_member_raft_index";
inline constexpr std::string_view kMemberRaftAppliedIndex = "etcd_member_raft_applied_index";
inline constexpr std::string_view kMemberApplyLag = "etcd_member_apply_lag";
inline constexpr std::string_view kMemberRevision = "etcd_member_revision";
inline constexpr std::string_view kMemberLeaderChangesSeen =
    "etcd_member_leader_changes_seen_total";
inline constexpr std::string_view kProbeSerializableRead =
    "etcd_probe_serializable_read_milliseconds";
inline constexpr std::string_view kProbeLinearizableRead =
    "etcd_probe_linearizable_read_milliseconds";
inline constexpr std::string_view kProbeWrite = "etcd_probe_write_milliseconds";
inline constexpr std::string_view kDiskUsagePercent = "etcd_host_disk_usage_percent";
inline constexpr std::string_view kMemoryUsagePercent = "etcd_host_memory_usage_percent";
inline constexpr std::string_view kDbQuotaBytes = "etcd_db_quota_bytes";
inline constexpr std::string_view kDbFragmentation = "etcd_db_fragmentation_ratio";

// ---- Rates, ratios and percentiles (members; the cluster copy as Rates documents) ----
inline constexpr std::string_view kGrpcErrorRatio = "etcd_grpc_unary_error_ratio";
inline constexpr std::string_view kProposalsCommittedRate = "etcd_proposals_committed_per_second";
inline constexpr std::string_view kProposalsAppliedRate = "etcd_proposals_applied_per_second";
inline constexpr std::string_view kProposalsFailedRate = "etcd_proposals_failed_per_second";
inline constexpr std::string_view kProposalFailureRatio = "etcd_proposals_failure_ratio";
inline constexpr std::string_view kDbGrowthRate = "etcd_db_growth_bytes_per_second";
inline constexpr std::string_view kDbQuotaUsedPercent = "etcd_db_quota_used_percent";
inline constexpr std::string_view kDbSecondsToQuota = "etcd_db_seconds_to_quota";
inline constexpr std::string_view kWalFsyncP99 = "etcd_disk_wal_fsync_duration_p99_milliseconds";
inline constexpr std::string_view kBackendCommitP99 =
    "etcd_disk_backend_commit_duration_p99_milliseconds";
inline constexpr std::string_view kGrpcReadLatencyP50 = "etcd_grpc_read_latency_p50_milliseconds";
inline constexpr std::string_view kGrpcReadLatencyP95 = "etcd_grpc_read_latency_p95_milliseconds";
inline constexpr std::string_view kGrpcReadLatencyP99 = "etcd_grpc_read_latency_p99_milliseconds";
inline constexpr std::string_view kGrpcWriteLatencyP50 = "etcd_grpc_write_latency_p50_milliseconds";
inline constexpr std::string_view kGrpcWriteLatencyP95 = "etcd_grpc_write_latency_p95_milliseconds";
inline constexpr std::string_view kGrpcWriteLatencyP99 = "etcd_grpc_write_latency_p99_milliseconds";
inline constexpr std::string_view kCertificateExpirySeconds = "etcd_certificate_expiry_seconds";

/// Every metric above, once. The history store and the gateway validate names against it; adding
/// a metric is a line here and a line in snapshot_values.cpp (or the aggregator's sample points).
inline constexpr MetricInfo kAllMetrics[] = {
    {kClusterHealthy, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 when the cluster has a leader, quorum, no split-brain and no alarm"},
    {kClusterHasLeader, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 when the cluster has a leader"},
    {kClusterMemberCount, MetricScope::kCluster, MetricKind::kGauge, "",
     "Members in the member list"},
    {kClusterQuorumSize, MetricScope::kCluster, MetricKind::kGauge, "",
     "Voting members needed for quorum"},
    {kLeaderChangesTotal, MetricScope::kCluster, MetricKind::kCounter, "",
     "Leader changes since the aggregator started"},
    {kReadLatencyP50, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Read probe latency p50 over the window (ms)"},
    {kReadLatencyP95, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Read probe latency p95 over the window (ms)"},
    {kReadLatencyP99, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Read probe latency p99 over the window (ms)"},
    {kWriteLatencyP50, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Write probe latency p50 over the window (ms)"},
    {kWriteLatencyP95, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Write probe latency p95 over the window (ms)"},
    {kWriteLatencyP99, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Write probe latency p99 over the window (ms)"},
    {kRequestRate, MetricScope::kBoth, MetricKind::kGauge, "1/s",
     "Unary gRPC requests handled per second"},
    {kDbSize, MetricScope::kBoth, MetricKind::kGauge, "bytes",
     "Backend database size (bytes; cluster: largest member)"},
    {kDbSizeInUse, MetricScope::kMember, MetricKind::kGauge, "bytes",
     "Backend database size in use (bytes)"},
    {kProposalsCommitted, MetricScope::kMember, MetricKind::kCounter, "",
     "Raft proposals committed (etcd counter)"},
    {kProposalsApplied, MetricScope::kMember, MetricKind::kCounter, "",
     "Raft proposals applied (etcd counter)"},
    {kProposalsPending, MetricScope::kBoth, MetricKind::kGauge, "",
     "Raft proposals pending (cluster: sum)"},
    {kProposalsFailed, MetricScope::kMember, MetricKind::kCounter, "",
     "Raft proposals failed (etcd counter)"},
    {kWalFsyncP95, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "WAL fsync p95 between samples (ms; cluster: worst)"},
    {kBackendCommitP95, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Backend commit p95 between samples (ms; cluster: worst)"},
    {kClusterHealthyMembers, MetricScope::kCluster, MetricKind::kGauge, "",
     "Members in state healthy"},
    {kClusterQuorumOk, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 when quorum is not known to be lost"},
    {kClusterLeaderAgreement, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 when every fresh reachable member follows the same leader"},
    {kClusterSplitBrain, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 when a split-brain is detected"},
    {kClusterRaftTerm, MetricScope::kCluster, MetricKind::kGauge, "",
     "Raft term of the current leader"},
    {kClusterUnreachableMembers, MetricScope::kCluster, MetricKind::kGauge, "",
     "Members their collectors cannot reach"},
    {kClusterStaleMembers, MetricScope::kCluster, MetricKind::kGauge, "",
     "Members without a recent sample"},
    {kClusterAlarmsActive, MetricScope::kCluster, MetricKind::kGauge, "", "Active etcd alarms"},
    {kRevisionSpread, MetricScope::kCluster, MetricKind::kGauge, "",
     "Max - min revision across members"},
    {kRaftIndexSpread, MetricScope::kCluster, MetricKind::kGauge, "",
     "Max - min raft index across members"},
    {kAppliedIndexSpread, MetricScope::kCluster, MetricKind::kGauge, "",
     "Max - min applied index across members"},
    {kDivergenceGrowing, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 when a spread keeps growing"},
    {kBenchmarkOpsPerSecond, MetricScope::kCluster, MetricKind::kGauge, "1/s",
     "Throughput of the latest benchmark run"},
    {kBenchmarkLatencyP50, MetricScope::kCluster, MetricKind::kGauge, "ms",
     "p50 latency of the latest benchmark (ms)"},
    {kBenchmarkLatencyP99, MetricScope::kCluster, MetricKind::kGauge, "ms",
     "p99 latency of the latest benchmark (ms)"},
    {kBenchmarkFailedOps, MetricScope::kCluster, MetricKind::kGauge, "",
     "Failed operations of the latest benchmark"},
    {kMemberUp, MetricScope::kMember, MetricKind::kGauge, "",
     "1 when the collector reaches the member"},
    {kMemberHealthy, MetricScope::kMember, MetricKind::kGauge, "", "1 when the member is healthy"},
    {kMemberStale, MetricScope::kMember, MetricKind::kGauge, "",
     "1 when the member has no recent sample"},
    {kMemberIsLeader, MetricScope::kMember, MetricKind::kGauge, "",
     "1 when the member is the leader"},
    {kMemberHasLeader, MetricScope::kMember, MetricKind::kGauge, "",
     "1 when the member follows a leader"},
    {kMemberRaftTerm, MetricScope::kMember, MetricKind::kGauge, "", "Raft term"},
    {kMemberRaftIndex, MetricScope::kMember, MetricKind::kGauge, "", "Raft index"},
    {kMemberRaftAppliedIndex, MetricScope::kMember, MetricKind::kGauge, "", "Raft applied index"},
    {kMemberApplyLag, MetricScope::kMember, MetricKind::kGauge, "", "Raft index - applied index"},
    {kMemberRevision, MetricScope::kMember, MetricKind::kGauge, "", "MVCC revision"},
    {kMemberLeaderChangesSeen, MetricScope::kMember, MetricKind::kCounter, "",
     "Leader changes the member saw"},
    {kProbeSerializableRead, MetricScope::kMember, MetricKind::kGauge, "ms",
     "Serializable read probe latency (ms)"},
    {kProbeLinearizableRead, MetricScope::kMember, MetricKind::kGauge, "ms",
     "Linearizable read probe latency (ms)"},
    {kProbeWrite, MetricScope::kMember, MetricKind::kGauge, "ms", "Write probe latency (ms)"},
    {kDiskUsagePercent, MetricScope::kMember, MetricKind::kGauge, "%",
     "Disk usage of the data dir's file system (%)"},
    {kMemoryUsagePercent, MetricScope::kMember, MetricKind::kGauge, "%",
     "Memory usage of the host (%)"},
    {kDbQuotaBytes, MetricScope::kMember, MetricKind::kGauge, "bytes", "Backend quota (bytes)"},
    {kDbFragmentation, MetricScope::kMember, MetricKind::kGauge, "ratio",
     "1 - in use / size of the backend database"},
    {kGrpcErrorRatio, MetricScope::kBoth, MetricKind::kGauge, "ratio",
     "Failed unary gRPC requests / all unary requests"},
    {kProposalsCommittedRate, MetricScope::kBoth, MetricKind::kGauge, "1/s",
     "Proposals committed per second"},
    {kProposalsAppliedRate, MetricScope::kBoth, MetricKind::kGauge, "1/s",
     "Proposals applied per second"},
    {kProposalsFailedRate, MetricScope::kBoth, MetricKind::kGauge, "1/s",
     "Proposals failed per second"},
    {kProposalFailureRatio, MetricScope::kBoth, MetricKind::kGauge, "ratio",
     "Failed / (committed + failed) proposals"},
    {kDbGrowthRate, MetricScope::kBoth, MetricKind::kGauge, "bytes/s",
     "Backend database growth (bytes per second)"},
    {kDbQuotaUsedPercent, MetricScope::kBoth, MetricKind::kGauge, "%",
     "Database size / quota (%; cluster: highest)"},
    {kDbSecondsToQuota, MetricScope::kBoth, MetricKind::kGauge, "",
     "Seconds until the quota at the current growth (cluster: soonest)"},
    {kWalFsyncP99, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "WAL fsync p99 between samples (ms; cluster: worst)"},
    {kBackendCommitP99, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Backend commit p99 between samples (ms; cluster: worst)"},
    {kGrpcReadLatencyP99, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Range p99 from grpc_server_handling_seconds (ms)"},
    {kGrpcWriteLatencyP99, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Put/Txn/DeleteRange p99 from grpc_server_handling_seconds (ms)"},
    {kGrpcReadLatencyP50, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Range p50 from grpc_server_handling_seconds (ms)"},
    {kGrpcReadLatencyP95, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Range p95 from grpc_server_handling_seconds (ms)"},
    {kGrpcWriteLatencyP50, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Put/Txn/DeleteRange p50 from grpc_server_handling_seconds (ms)"},
    {kGrpcWriteLatencyP95, MetricScope::kBoth, MetricKind::kGauge, "ms",
     "Put/Txn/DeleteRange p95 from grpc_server_handling_seconds (ms)"},
    {kCertificateExpirySeconds, MetricScope::kBoth, MetricKind::kGauge, "s",
     "Seconds until the served certificate expires (cluster: soonest)"},
};

// ---- The services' own state: served on /metrics next to the snapshot's, never in history ----
inline constexpr std::string_view kSnapshotAge = "etcd_monitor_snapshot_age_seconds";
inline constexpr std::string_view kSnapshotStale = "etcd_monitor_snapshot_stale";
inline constexpr std::string_view kAggregatorUp = "etcd_monitor_aggregator_up";
inline constexpr std::string_view kAlerterUp = "etcd_monitor_alerter_up";
inline constexpr std::string_view kAlertsFiring = "etcd_monitor_alerts_firing";
inline constexpr std::string_view kCollectorUp = "etcd_monitor_collector_up";
inline constexpr std::string_view kCollectorSamples =
    "etcd_monitor_collector_samples_received_total";
inline constexpr std::string_view kCollectorQueue = "etcd_monitor_collector_queue_depth";
inline constexpr std::string_view kCollectorDropped =
    "etcd_monitor_collector_dropped_batches_total";
inline constexpr std::string_view kCollectorResent = "etcd_monitor_collector_resent_batches_total";
inline constexpr std::string_view kCollectorErrors = "etcd_monitor_collector_errors_total";
inline constexpr std::string_view kMemberAlarm = "etcd_member_alarm";
inline constexpr std::string_view kIngestRejected = "etcd_monitor_ingest_rejected_total";
inline constexpr std::string_view kStorageFailures = "etcd_monitor_storage_failures_total";
inline constexpr std::string_view kStorageFailing = "etcd_monitor_storage_failing";

/// The services' own metrics, once (labelled by collector, severity or alarm type besides the
/// cluster). Not history metrics: FindMetric does not know them.
inline constexpr MetricInfo kServiceMetrics[] = {
    {kSnapshotAge, MetricScope::kCluster, MetricKind::kGauge, "s",
     "Seconds since the tick of the newest cluster snapshot"},
    {kSnapshotStale, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 while the newest snapshot is older than 3 ticks: the snapshot's values are not exported"},
    {kAggregatorUp, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 when the aggregator answers and reports itself healthy"},
    {kAlerterUp, MetricScope::kCluster, MetricKind::kGauge, "", "1 when the alerter answers"},
    {kAlertsFiring, MetricScope::kCluster, MetricKind::kGauge, "", "Alerts firing, by severity"},
    {kCollectorUp, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 when the collector sent a sample within 3 intervals"},
    {kCollectorSamples, MetricScope::kCluster, MetricKind::kCounter, "",
     "Samples the aggregator took from the collector"},
    {kCollectorQueue, MetricScope::kCluster, MetricKind::kGauge, "",
     "Batches the collector holds unacknowledged"},
    {kCollectorDropped, MetricScope::kCluster, MetricKind::kCounter, "",
     "Batches the collector dropped (queue full)"},
    {kCollectorResent, MetricScope::kCluster, MetricKind::kCounter, "",
     "Batches the collector resent"},
    {kCollectorErrors, MetricScope::kCluster, MetricKind::kCounter, "",
     "Errors of the collector's sources"},
    {kMemberAlarm, MetricScope::kMember, MetricKind::kGauge, "",
     "1 while the member has this etcd alarm raised"},
    {kIngestRejected, MetricScope::kCluster, MetricKind::kCounter, "",
     "Frames, batches and connections the aggregator's ingest refused, by reason"},
    {kStorageFailures, MetricScope::kCluster, MetricKind::kCounter, "",
     "History writes of the aggregator that failed (a full or failing data disk)"},
    {kStorageFailing, MetricScope::kCluster, MetricKind::kGauge, "",
     "1 while the aggregator's history writes fail (samples monitored but not stored)"},
};

/// The entry of `name` among the services' own metrics (static storage); nullptr when it is not
/// one.
constexpr const MetricInfo* FindServiceMetric(std::string_view name) {
  for (const MetricInfo& m : kServiceMetrics) {
    if (m.name == name) {
      return &m;
    }
  }
  return nullptr;
}

/// The catalogue entry of `name` (static storage); nullptr when it is not in the catalogue.
constexpr const MetricInfo* FindMetric(std::string_view name) {
  for (const MetricInfo& m : kAllMetrics) {
    if (m.name == name) {
      return &m;
    }
  }
  return nullptr;
}

/// Whether `name` is one of the services' own metrics. (Compile-time checks use this rather than
/// comparing FindServiceMetric with nullptr: under gcc's UBSan a pointer comparison is no longer
/// a constant expression.)
constexpr bool IsServiceMetric(std::string_view name) {
  for (const MetricInfo& m : kServiceMetrics) {
    if (m.name == name) {
      return true;
    }
  }
  return false;
}

/// Whether `name` is in the catalogue.
constexpr bool IsKnownMetric(std::string_view name) {
  for (const MetricInfo& m : kAllMetrics) {
    if (m.name == name) {
      return true;
    }
  }
  return false;
}

}  // namespace etcdmon::metrics
