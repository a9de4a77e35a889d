#include "model_points.h"

#include <cmath>

#include "etcdmon/aggregator/metric_names.h"
#include "etcdmon/metrics/member.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "model_reading.h"

namespace etcdmon::aggregator::detail {
namespace {

namespace v1 = etcdmonitor::v1;

double Flag(bool b) { return b ? 1.0 : 0.0; }

// Appends points of one member (or of the cluster, member "") at one time.
class Points {
 public:
  Points(std::vector<DerivedPoint>& out, const std::string& member, int64_t at)
      : out_(out), member_(member), at_(at) {}

  void Add(std::string_view metric, double value) {
    out_.push_back(DerivedPoint{metric, member_, at_, value});
  }

  // p50 is skipped when its name is empty (the disk histograms have p95/p99 names only).
  void Percentiles(bool present, const v1::LatencyPercentiles& p, std::string_view p50,
                   std::string_view p95, std::string_view p99) {
    if (!present) {
      return;
    }
    if (!p50.empty()) {
      Add(p50, p.p50_ms());
    }
    Add(p95, p.p95_ms());
    Add(p99, p.p99_ms());
  }

 private:
  std::vector<DerivedPoint>& out_;
  const std::string& member_;
  const int64_t at_;
};

// Hands a sample's values to a visitor.
class VisitorPoints {
 public:
  explicit VisitorPoints(SamplePointVisitor& visitor) : visitor_(visitor) {}
  void Add(std::string_view metric, double value) { visitor_.Point(metric, value); }

 private:
  SamplePointVisitor& visitor_;
};

// Appends a sample's values as DerivedPoints.
class AppendingVisitor final : public SamplePointVisitor {
 public:
  explicit AppendingVisitor(std::vector<DerivedPoint>& out) : out_(out) {}
  void Member(const std::string& label, int64_t unix_ms) override {
    member_ = &label;
    at_ = unix_ms;
  }
  void Point(std::string_view metric, double value) override {
    out_.push_back(DerivedPoint{metric, *member_, at_, value});
  }

 private:
  std::vector<DerivedPoint>& out_;
  const std::string* member_ = nullptr;
  int64_t at_ = 0;
};

}  // namespace

void AppendSamplePoints(const v1::MemberSample& sample, std::vector<DerivedPoint>& out) {
  AppendingVisitor visitor(out);
  VisitSamplePoints(sample, visitor);
}

void VisitSamplePoints(const v1::MemberSample& sample, SamplePointVisitor& visitor) {
  const std::string member =
      metrics::MemberLabel(sample.member_name(), sample.member_id(), sample.endpoint());
  const int64_t at = sample.collected_at_unix_ms();
  visitor.Member(member, at);
  VisitorPoints p(visitor);
  p.Add(kMemberUp, Flag(sample.reachable()));
  double db_size = 0;
  if (sample.has_status()) {
    const v1::MemberStatus& s = sample.status();
    p.Add(kMemberRaftTerm, static_cast<double>(s.raft_term()));
    p.Add(kMemberRaftIndex, static_cast<double>(s.raft_index()));
    p.Add(kMemberRaftAppliedIndex, static_cast<double>(s.raft_applied_index()));
    p.Add(kMemberApplyLag, s.raft_index() > s.raft_applied_index()
                               ? static_cast<double>(s.raft_index() - s.raft_applied_index())
                               : 0.0);
    p.Add(kMemberRevision, static_cast<double>(s.revision()));
    p.Add(kMemberHasLeader, Flag(s.leader_id() != 0));
    p.Add(kMemberIsLeader, Flag(s.leader_id() != 0 && s.leader_id() == s.member_id()));
    db_size = static_cast<double>(s.db_size());
    if (s.db_size() > 0) {
      p.Add(kDbSize, db_size);
      p.Add(kDbSizeInUse, static_cast<double>(s.db_size_in_use()));
      p.Add(kDbFragmentation, 1.0 - static_cast<double>(s.db_size_in_use()) / db_size);
    }
  }
  for (const v1::Probe& probe : sample.probes()) {
    if (!probe.ok()) {
      continue;
    }
    const double ms = static_cast<double>(probe.latency_us()) / 1000.0;
    switch (probe.kind()) {
      case v1::Probe::SERIALIZABLE_READ:
        p.Add(kProbeSerializableRead, ms);
        break;
      case v1::Probe::LINEARIZABLE_READ:
        p.Add(kProbeLinearizableRead, ms);
        break;
      case v1::Probe::WRITE:
        p.Add(kProbeWrite, ms);
        break;
      default:
        break;
    }
  }
  for (const v1::ScalarMetric& s : sample.scalars()) {
    // A view: comparing it with a literal checks the length first, without a strlen per literal.
    const std::string_view name = s.name();
    if (name == "etcd_server_proposals_committed_total") {
      p.Add(kProposalsCommitted, s.value());
    } else if (name == "etcd_server_proposals_applied_total") {
      p.Add(kProposalsApplied, s.value());
    } else if (name == "etcd_server_proposals_failed_total") {
      p.Add(kProposalsFailed, s.value());
    } else if (name == "etcd_server_proposals_pending") {
      p.Add(kProposalsPending, s.value());
    } else if (name == "etcd_server_leader_changes_seen_total") {
      p.Add(kMemberLeaderChangesSeen, s.value());
    } else if (name == "etcd_server_quota_backend_bytes") {
      p.Add(kDbQuotaBytes, s.value());
      if (db_size > 0 && s.value() > 0) {
        p.Add(kDbQuotaUsedPercent, db_size / s.value() * 100.0);
      }
    } else if (name == "etcd_mvcc_db_total_size_in_bytes" && !sample.has_status()) {
      p.Add(kDbSize, s.value());  // Status failed; the page still tells the size
    }
  }
  if (sample.has_host()) {
    const v1::HostStats& h = sample.host();
    if (h.disk_total_bytes() > 0) {
      p.Add(kDiskUsagePercent, static_cast<double>(h.disk_used_bytes()) /
                                   static_cast<double>(h.disk_total_bytes()) * 100.0);
    }
    if (h.memory_total_bytes() > 0 && h.memory_available_bytes() <= h.memory_total_bytes()) {
      p.Add(kMemoryUsagePercent,
            static_cast<double>(h.memory_total_bytes() - h.memory_available_bytes()) /
                static_cast<double>(h.memory_total_bytes()) * 100.0);
    }
  }
  if (sample.full() && sample.has_certificate()) {
    p.Add(kCertificateExpirySeconds,
          static_cast<double>(sample.certificate().not_after_unix_seconds()) -
              std::floor(static_cast<double>(at) / 1000.0));
  }
}

void AppendClusterPoints(const v1::ClusterSnapshot& s, std::vector<DerivedPoint>& out) {
  static const std::string kCluster;
  Points p(out, kCluster, s.tick_unix_ms());
  p.Add(kClusterHealthy, Flag(s.healthy()));
  p.Add(kClusterHasLeader, Flag(s.has_leader()));
  p.Add(kClusterMemberCount, s.member_count());
  p.Add(kClusterQuorumSize, s.quorum_size());
  p.Add(kLeaderChangesTotal, static_cast<double>(s.leader_changes_total()));
  p.Add(kClusterHealthyMembers, s.healthy_members());
  p.Add(kClusterQuorumOk, Flag(s.quorum_ok()));
  p.Add(kClusterLeaderAgreement, Flag(s.leader_agreement()));
  p.Add(kClusterSplitBrain, Flag(s.split_brain().detected()));
  p.Add(kClusterUnreachableMembers, s.unreachable_members());
  p.Add(kClusterStaleMembers, s.stale_members());
  p.Add(kClusterAlarmsActive, s.alarm_details_size());
  if (s.has_leader()) {
    p.Add(kClusterRaftTerm, static_cast<double>(s.raft_term()));
  }
  p.Add(kRevisionSpread, static_cast<double>(s.divergence().revision().spread()));
  p.Add(kRaftIndexSpread, static_cast<double>(s.divergence().raft_index().spread()));
  p.Add(kAppliedIndexSpread, static_cast<double>(s.divergence().applied_index().spread()));
  p.Add(kDivergenceGrowing, Flag(s.divergence().growing()));
  if (s.has_rates()) {
    const v1::Rates& r = s.rates();
    p.Add(kRequestRate, r.requests_per_second());
    p.Add(kGrpcErrorRatio, r.grpc_error_ratio());
    p.Add(kProposalsCommittedRate, r.proposals_committed_per_second());
    p.Add(kProposalsAppliedRate, r.proposals_applied_per_second());
    p.Add(kProposalsFailedRate, r.proposals_failed_per_second());
    p.Add(kProposalFailureRatio, r.proposal_failure_ratio());
    p.Add(kDbGrowthRate, r.db_growth_bytes_per_second());
    p.Add(kProposalsPending, static_cast<double>(s.proposals_pending()));
  }
  p.Percentiles(s.has_read_latency(), s.read_latency(), kReadLatencyP50, kReadLatencyP95,
                kReadLatencyP99);
  p.Percentiles(s.has_write_latency(), s.write_latency(), kWriteLatencyP50, kWriteLatencyP95,
                kWriteLatencyP99);
  p.Percentiles(s.has_grpc_read_latency(), s.grpc_read_latency(), kGrpcReadLatencyP50,
                kGrpcReadLatencyP95, kGrpcReadLatencyP99);
  p.Percentiles(s.has_grpc_write_latency(), s.grpc_write_latency(), kGrpcWriteLatencyP50,
                kGrpcWriteLatencyP95, kGrpcWriteLatencyP99);
  p.Percentiles(s.has_wal_fsync(), s.wal_fsync(), {}, kWalFsyncP95, kWalFsyncP99);
  p.Percentiles(s.has_backend_commit(), s.backend_commit(), {}, kBackendCommitP95,
                kBackendCommitP99);
  if (s.db_size_bytes() > 0) {
    p.Add(kDbSize, static_cast<double>(s.db_size_bytes()));
  }
  if (s.has_db_quota_used_percent()) {
    p.Add(kDbQuotaUsedPercent, s.db_quota_used_percent());
  }
  if (s.has_db_seconds_to_quota()) {
    p.Add(kDbSecondsToQuota, s.db_seconds_to_quota());
  }
  if (s.has_certificate_expires_in_seconds()) {
    p.Add(kCertificateExpirySeconds, static_cast<double>(s.certificate_expires_in_seconds()));
  }
}

void AppendMemberPoints(const v1::MemberState& m, const std::string& label, bool new_sample,
                        bool new_rates, int64_t now, std::vector<DerivedPoint>& out) {
  Points at_tick(out, label, now);
  at_tick.Add(kMemberHealthy, Flag(m.health() == v1::HEALTHY));
  at_tick.Add(kMemberStale, Flag(m.health() == v1::STALE));
  if (!new_sample) {
    return;
  }
  Points at_sample(out, label, m.last_sample_unix_ms());
  if (new_rates && m.has_rates()) {
    const v1::Rates& r = m.rates();
    at_sample.Add(kRequestRate, r.requests_per_second());
    at_sample.Add(kGrpcErrorRatio, r.grpc_error_ratio());
    at_sample.Add(kProposalsCommittedRate, r.proposals_committed_per_second());
    at_sample.Add(kProposalsAppliedRate, r.proposals_applied_per_second());
    at_sample.Add(kProposalsFailedRate, r.proposals_failed_per_second());
    at_sample.Add(kProposalFailureRatio, r.proposal_failure_ratio());
    at_sample.Percentiles(m.has_wal_fsync(), m.wal_fsync(), {}, kWalFsyncP95, kWalFsyncP99);
    at_sample.Percentiles(m.has_backend_commit(), m.backend_commit(), {}, kBackendCommitP95,
                          kBackendCommitP99);
  }
  if (m.figures_stale()) {
    return;  // it did not answer: the windows below are older figures, not news
  }
  if (m.has_rates()) {
    at_sample.Add(kDbGrowthRate, m.rates().db_growth_bytes_per_second());
  }
  if (m.has_db_seconds_to_quota()) {
    at_sample.Add(kDbSecondsToQuota, m.db_seconds_to_quota());
  }
  at_tick.Percentiles(m.has_read_latency(), m.read_latency(), kReadLatencyP50, kReadLatencyP95,
                      kReadLatencyP99);
  at_tick.Percentiles(m.has_write_latency(), m.write_latency(), kWriteLatencyP50, kWriteLatencyP95,
                      kWriteLatencyP99);
  at_tick.Percentiles(m.has_grpc_read_latency(), m.grpc_read_latency(), kGrpcReadLatencyP50,
                      kGrpcReadLatencyP95, kGrpcReadLatencyP99);
  at_tick.Percentiles(m.has_grpc_write_latency(), m.grpc_write_latency(), kGrpcWriteLatencyP50,
                      kGrpcWriteLatencyP95, kGrpcWriteLatencyP99);
}

}  // namespace etcdmon::aggregator::detail
