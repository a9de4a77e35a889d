#include "etcdmon/metrics/snapshot_values.h"

#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::metrics {
namespace {

namespace v1 = etcdmonitor::v1;

// The catalogue entry of a name, found at compile time: a name missing from the catalogue does
// not build, and no value pays for a lookup.
template <const std::string_view& kName>
const MetricInfo& Metric() {
  static_assert(IsKnownMetric(kName), "not in the catalogue");
  static constexpr const MetricInfo* kInfo = FindMetric(kName);
  return *kInfo;
}

double Flag(bool b) { return b ? 1.0 : 0.0; }

// Hands the values of the cluster or of one member to the visitor, with one source and
// currency unless told otherwise.
class Values {
 public:
  Values(SnapshotVisitor& visitor, bool current) : visitor_(visitor), current_(current) {}

  void Add(const MetricInfo& metric, double value, ValueSource source) {
    visitor_.Value(metric, value, source, current_ || source == ValueSource::kTick);
  }

  // p50 is skipped when null (the disk histograms have p95/p99 names only).
  void Percentiles(bool present, const v1::LatencyPercentiles& p, const MetricInfo* p50,
                   const MetricInfo& p95, const MetricInfo& p99, ValueSource source) {
    if (!present) {
      return;
    }
    if (p50 != nullptr) {
      Add(*p50, p.p50_ms(), source);
    }
    Add(p95, p.p95_ms(), source);
    Add(p99, p.p99_ms(), source);
  }

  void Rates(const v1::Rates& r, ValueSource source) {
    Add(Metric<kRequestRate>(), r.requests_per_second(), source);
    Add(Metric<kGrpcErrorRatio>(), r.grpc_error_ratio(), source);
    Add(Metric<kProposalsCommittedRate>(), r.proposals_committed_per_second(), source);
    Add(Metric<kProposalsAppliedRate>(), r.proposals_applied_per_second(), source);
    Add(Metric<kProposalsFailedRate>(), r.proposals_failed_per_second(), source);
    Add(Metric<kProposalFailureRatio>(), r.proposal_failure_ratio(), source);
  }

 private:
  SnapshotVisitor& visitor_;
  const bool current_;
};

}  // namespace

void VisitClusterValues(const v1::ClusterSnapshot& s, SnapshotVisitor& visitor) {
  constexpr ValueSource kTick = ValueSource::kTick;
  Values v(visitor, true);
  v.Add(Metric<kClusterHealthy>(), Flag(s.healthy()), kTick);
  v.Add(Metric<kClusterHasLeader>(), Flag(s.has_leader()), kTick);
  v.Add(Metric<kClusterMemberCount>(), s.member_count(), kTick);
  v.Add(Metric<kClusterQuorumSize>(), s.quorum_size(), kTick);
  v.Add(Metric<kLeaderChangesTotal>(), static_cast<double>(s.leader_changes_total()), kTick);
  v.Percentiles(s.has_read_latency(), s.read_latency(), &Metric<kReadLatencyP50>(),
                Metric<kReadLatencyP95>(), Metric<kReadLatencyP99>(), kTick);
  v.Percentiles(s.has_write_latency(), s.write_latency(), &Metric<kWriteLatencyP50>(),
                Metric<kWriteLatencyP95>(), Metric<kWriteLatencyP99>(), kTick);
  if (s.db_size_bytes() > 0) {
    v.Add(Metric<kDbSize>(), static_cast<double>(s.db_size_bytes()), kTick);
  }
  v.Percentiles(s.has_wal_fsync(), s.wal_fsync(), nullptr, Metric<kWalFsyncP95>(),
                Metric<kWalFsyncP99>(), kTick);
  v.Percentiles(s.has_backend_commit(), s.backend_commit(), nullptr, Metric<kBackendCommitP95>(),
                Metric<kBackendCommitP99>(), kTick);
  v.Add(Metric<kClusterHealthyMembers>(), s.healthy_members(), kTick);
  v.Add(Metric<kClusterQuorumOk>(), Flag(s.quorum_ok()), kTick);
  v.Add(Metric<kClusterLeaderAgreement>(), Flag(s.leader_agreement()), kTick);
  v.Add(Metric<kClusterSplitBrain>(), Flag(s.split_brain().detected()), kTick);
  if (s.has_leader()) {
    v.Add(Metric<kClusterRaftTerm>(), static_cast<double>(s.raft_term()), kTick);
  }
  v.Add(Metric<kClusterUnreachableMembers>(), s.unreachable_members(), kTick);
  v.Add(Metric<kClusterStaleMembers>(), s.stale_members(), kTick);
  v.Add(Metric<kClusterAlarmsActive>(), s.alarm_details_size(), kTick);
  v.Add(Metric<kRevisionSpread>(), static_cast<double>(s.divergence().revision().spread()), kTick);
  v.Add(Metric<kRaftIndexSpread>(), static_cast<double>(s.divergence().raft_index().spread()),
        kTick);
  v.Add(Metric<kAppliedIndexSpread>(), static_cast<double>(s.divergence().applied_index().spread()),
        kTick);
  v.Add(Metric<kDivergenceGrowing>(), Flag(s.divergence().growing()), kTick);
  if (s.has_last_benchmark()) {
    const v1::BenchmarkSummary& b = s.last_benchmark();
    v.Add(Metric<kBenchmarkOpsPerSecond>(), b.ops_per_second(), ValueSource::kBenchmark);
    v.Add(Metric<kBenchmarkLatencyP50>(), b.p50_ms(), ValueSource::kBenchmark);
    v.Add(Metric<kBenchmarkLatencyP99>(), b.p99_ms(), ValueSource::kBenchmark);
    v.Add(Metric<kBenchmarkFailedOps>(), static_cast<double>(b.failed()), ValueSource::kBenchmark);
  }
  // The request rate and the pending proposals are sums over the members whose rates are known:
  // without rates they are unknown, not 0.
  if (s.has_rates()) {
    v.Rates(s.rates(), kTick);
    v.Add(Metric<kDbGrowthRate>(), s.rates().db_growth_bytes_per_second(), kTick);
    v.Add(Metric<kProposalsPending>(), static_cast<double>(s.proposals_pending()), kTick);
  }
  if (s.has_db_quota_used_percent()) {
    v.Add(Metric<kDbQuotaUsedPercent>(), s.db_quota_used_percent(), kTick);
  }
  if (s.has_db_seconds_to_quota()) {
    v.Add(Metric<kDbSecondsToQuota>(), s.db_seconds_to_quota(), kTick);
  }
  if (s.has_certificate_expires_in_seconds()) {
    v.Add(Metric<kCertificateExpirySeconds>(),
          static_cast<double>(s.certificate_expires_in_seconds()), kTick);
  }
  v.Percentiles(s.has_grpc_read_latency(), s.grpc_read_latency(), &Metric<kGrpcReadLatencyP50>(),
                Metric<kGrpcReadLatencyP95>(), Metric<kGrpcReadLatencyP99>(), kTick);
  v.Percentiles(s.has_grpc_write_latency(), s.grpc_write_latency(), &Metric<kGrpcWriteLatencyP50>(),
                Metric<kGrpcWriteLatencyP95>(), Metric<kGrpcWriteLatencyP99>(), kTick);
}

void VisitMemberValues(const v1::MemberState& m, SnapshotVisitor& visitor) {
  constexpr ValueSource kSample = ValueSource::kInSample;
  constexpr ValueSource kWindow = ValueSource::kWindow;
  // A member that does not answer now: what the snapshot still shows of it is from older
  // samples. etcd's own counters keep their last value (a counter does not go stale; rate() and
  // increase() over them stay right), and so do the host's figures and the certificate's expiry.
  Values v(visitor, !m.figures_stale());
  Values lasting(visitor, true);
  v.Add(Metric<kMemberHealthy>(), Flag(m.health() == v1::HEALTHY), ValueSource::kTick);
  v.Add(Metric<kMemberStale>(), Flag(m.health() == v1::STALE), ValueSource::kTick);
  lasting.Add(Metric<kMemberIsLeader>(), Flag(m.is_leader()), kSample);
  if (!m.sampled()) {
    return;  // known from member lists only: nothing measured
  }
  lasting.Add(Metric<kMemberUp>(), Flag(m.reachable()), kSample);
  if (m.reachable() && m.has_raft_term()) {
    v.Add(Metric<kMemberHasLeader>(), Flag(m.leader_id() != 0), kSample);
    v.Add(Metric<kMemberRaftTerm>(), static_cast<double>(m.raft_term()), kSample);
    v.Add(Metric<kMemberRaftIndex>(), static_cast<double>(m.raft_index()), kSample);
    v.Add(Metric<kMemberRaftAppliedIndex>(), static_cast<double>(m.raft_applied_index()), kSample);
    v.Add(Metric<kMemberApplyLag>(), static_cast<double>(m.apply_lag()), kSample);
    v.Add(Metric<kMemberRevision>(), static_cast<double>(m.revision()), kSample);
  }
  if (m.db_size_bytes() > 0) {
    v.Add(Metric<kDbSize>(), static_cast<double>(m.db_size_bytes()), kSample);
    v.Add(Metric<kDbSizeInUse>(), static_cast<double>(m.db_size_in_use_bytes()), kSample);
  }
  if (m.has_rates()) {
    // etcd's own counters, passed on as the member exposes them.
    lasting.Add(Metric<kProposalsCommitted>(), static_cast<double>(m.proposals_committed_total()),
                kSample);
    lasting.Add(Metric<kProposalsApplied>(), static_cast<double>(m.proposals_applied_total()),
                kSample);
    lasting.Add(Metric<kProposalsFailed>(), static_cast<double>(m.proposals_failed_total()),
                kSample);
    lasting.Add(Metric<kMemberLeaderChangesSeen>(),
                static_cast<double>(m.leader_changes_seen_total()), kSample);
    v.Add(Metric<kProposalsPending>(), static_cast<double>(m.proposals_pending()), kSample);
    v.Rates(m.rates(), ValueSource::kRates);
    v.Add(Metric<kDbGrowthRate>(), m.rates().db_growth_bytes_per_second(), ValueSource::kTrend);
  }
  v.Percentiles(m.has_read_latency(), m.read_latency(), &Metric<kReadLatencyP50>(),
                Metric<kReadLatencyP95>(), Metric<kReadLatencyP99>(), kWindow);
  v.Percentiles(m.has_write_latency(), m.write_latency(), &Metric<kWriteLatencyP50>(),
                Metric<kWriteLatencyP95>(), Metric<kWriteLatencyP99>(), kWindow);
  v.Percentiles(m.has_wal_fsync(), m.wal_fsync(), nullptr, Metric<kWalFsyncP95>(),
                Metric<kWalFsyncP99>(), ValueSource::kRates);
  v.Percentiles(m.has_backend_commit(), m.backend_commit(), nullptr, Metric<kBackendCommitP95>(),
                Metric<kBackendCommitP99>(), ValueSource::kRates);
  v.Percentiles(m.has_grpc_read_latency(), m.grpc_read_latency(), &Metric<kGrpcReadLatencyP50>(),
                Metric<kGrpcReadLatencyP95>(), Metric<kGrpcReadLatencyP99>(), kWindow);
  v.Percentiles(m.has_grpc_write_latency(), m.grpc_write_latency(), &Metric<kGrpcWriteLatencyP50>(),
                Metric<kGrpcWriteLatencyP95>(), Metric<kGrpcWriteLatencyP99>(), kWindow);
  if (m.db_quota_bytes() > 0) {
    v.Add(Metric<kDbQuotaBytes>(), static_cast<double>(m.db_quota_bytes()), kSample);
  }
  if (m.has_db_quota_used_percent()) {
    v.Add(Metric<kDbQuotaUsedPercent>(), m.db_quota_used_percent(), kSample);
  }
  if (m.has_db_seconds_to_quota()) {
    v.Add(Metric<kDbSecondsToQuota>(), m.db_seconds_to_quota(), ValueSource::kTrend);
  }
  if (m.has_db_fragmentation_ratio()) {
    v.Add(Metric<kDbFragmentation>(), m.db_fragmentation_ratio(), kSample);
  }
  if (m.has_disk_used_percent()) {
    lasting.Add(Metric<kDiskUsagePercent>(), m.disk_used_percent(), kSample);
  }
  if (m.has_memory_used_percent()) {
    lasting.Add(Metric<kMemoryUsagePercent>(), m.memory_used_percent(), kSample);
  }
  if (m.has_certificate_expires_in_seconds()) {
    lasting.Add(Metric<kCertificateExpirySeconds>(),
                static_cast<double>(m.certificate_expires_in_seconds()), kSample);
  }
}

void VisitSnapshot(const v1::ClusterSnapshot& snapshot, SnapshotVisitor& visitor) {
  VisitClusterValues(snapshot, visitor);
  for (const v1::MemberState& member : snapshot.members()) {
    visitor.BeginMember(member);
    VisitMemberValues(member, visitor);
  }
}

}  // namespace etcdmon::metrics
