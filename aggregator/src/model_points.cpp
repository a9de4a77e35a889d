#include "model_points.h"

#include <cmath>

#include "etcdmon/metrics/catalogue.h"
#include "etcdmon/metrics/member.h"
#include "etcdmon/metrics/snapshot_values.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "model_reading.h"

namespace etcdmon::aggregator::detail {
namespace {

namespace v1 = etcdmonitor::v1;

double Flag(bool b) { return b ? 1.0 : 0.0; }

// Appends the cluster's snapshot values, at the tick. A benchmark's values are written when the
// run finishes (the service), not again at every tick.
class ClusterPoints final : public metrics::SnapshotVisitor {
 public:
  ClusterPoints(std::vector<DerivedPoint>& out, int64_t at) : out_(out), at_(at) {}

  void Value(const metrics::MetricInfo& metric, double value, metrics::ValueSource source,
             bool /*current*/) override {
    if (source != metrics::ValueSource::kBenchmark) {
      out_.push_back(DerivedPoint{metric.name, kCluster, at_, value});
    }
  }

 private:
  static const std::string kCluster;
  std::vector<DerivedPoint>& out_;
  const int64_t at_;
};

const std::string ClusterPoints::kCluster;

// Appends one member's snapshot values that are news, each at its own time: health at every
// tick; with a new sample, the rates and disk percentiles computed at it (`new_rates`), and, if
// the member answered, its trends (at the sample's time) and latency windows (at the tick). What
// the sample itself says was written when it arrived.
class MemberPoints final : public metrics::SnapshotVisitor {
 public:
  MemberPoints(std::vector<DerivedPoint>& out, const std::string& label, bool new_sample,
               bool new_rates, int64_t tick_ms, int64_t sample_ms)
      : out_(out),
        label_(label),
        new_sample_(new_sample),
        new_rates_(new_rates),
        tick_ms_(tick_ms),
        sample_ms_(sample_ms) {}

  void Value(const metrics::MetricInfo& metric, double value, metrics::ValueSource source,
             bool current) override {
    using metrics::ValueSource;
    switch (source) {
      case ValueSource::kTick:
        Add(metric, tick_ms_, value);
        break;
      case ValueSource::kRates:
        if (new_rates_) {
          Add(metric, sample_ms_, value);
        }
        break;
      case ValueSource::kTrend:
        if (new_sample_ && current) {
          Add(metric, sample_ms_, value);
        }
        break;
      case ValueSource::kWindow:
        if (new_sample_ && current) {
          Add(metric, tick_ms_, value);
        }
        break;
      case ValueSource::kInSample:
      case ValueSource::kBenchmark:
        break;
    }
  }

 private:
  void Add(const metrics::MetricInfo& metric, int64_t at, double value) {
    out_.push_back(DerivedPoint{metric.name, label_, at, value});
  }

  std::vector<DerivedPoint>& out_;
  const std::string& label_;
  const bool new_sample_;
  const bool new_rates_;
  const int64_t tick_ms_;
  const int64_t sample_ms_;
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
  p.Add(metrics::kMemberUp, Flag(sample.reachable()));
  double db_size = 0;
  if (sample.has_status()) {
    const v1::MemberStatus& s = sample.status();
    p.Add(metrics::kMemberRaftTerm, static_cast<double>(s.raft_term()));
    p.Add(metrics::kMemberRaftIndex, static_cast<double>(s.raft_index()));
    p.Add(metrics::kMemberRaftAppliedIndex, static_cast<double>(s.raft_applied_index()));
    p.Add(metrics::kMemberApplyLag,
          s.raft_index() > s.raft_applied_index()
              ? static_cast<double>(s.raft_index() - s.raft_applied_index())
              : 0.0);
    p.Add(metrics::kMemberRevision, static_cast<double>(s.revision()));
    p.Add(metrics::kMemberHasLeader, Flag(s.leader_id() != 0));
    p.Add(metrics::kMemberIsLeader, Flag(s.leader_id() != 0 && s.leader_id() == s.member_id()));
    db_size = static_cast<double>(s.db_size());
    if (s.db_size() > 0) {
      p.Add(metrics::kDbSize, db_size);
      p.Add(metrics::kDbSizeInUse, static_cast<double>(s.db_size_in_use()));
      p.Add(metrics::kDbFragmentation, 1.0 - static_cast<double>(s.db_size_in_use()) / db_size);
    }
  }
  for (const v1::Probe& probe : sample.probes()) {
    if (!probe.ok()) {
      continue;
    }
    const double ms = static_cast<double>(probe.latency_us()) / 1000.0;
    switch (probe.kind()) {
      case v1::Probe::SERIALIZABLE_READ:
        p.Add(metrics::kProbeSerializableRead, ms);
        break;
      case v1::Probe::LINEARIZABLE_READ:
        p.Add(metrics::kProbeLinearizableRead, ms);
        break;
      case v1::Probe::WRITE:
        p.Add(metrics::kProbeWrite, ms);
        break;
      default:
        break;
    }
  }
  for (const v1::ScalarMetric& s : sample.scalars()) {
    // A view: comparing it with a literal checks the length first, without a strlen per literal.
    const std::string_view name = s.name();
    if (name == "etcd_server_proposals_committed_total") {
      p.Add(metrics::kProposalsCommitted, s.value());
    } else if (name == "etcd_server_proposals_applied_total") {
      p.Add(metrics::kProposalsApplied, s.value());
    } else if (name == "etcd_server_proposals_failed_total") {
      p.Add(metrics::kProposalsFailed, s.value());
    } else if (name == "etcd_server_proposals_pending") {
      p.Add(metrics::kProposalsPending, s.value());
    } else if (name == "etcd_server_leader_changes_seen_total") {
      p.Add(metrics::kMemberLeaderChangesSeen, s.value());
    } else if (name == "etcd_server_quota_backend_bytes") {
      p.Add(metrics::kDbQuotaBytes, s.value());
      if (db_size > 0 && s.value() > 0) {
        p.Add(metrics::kDbQuotaUsedPercent, db_size / s.value() * 100.0);
      }
    } else if (name == "etcd_mvcc_db_total_size_in_bytes" && !sample.has_status()) {
      p.Add(metrics::kDbSize, s.value());  // Status failed; the page still tells the size
    }
  }
  if (sample.has_host()) {
    const v1::HostStats& h = sample.host();
    if (h.disk_total_bytes() > 0) {
      p.Add(metrics::kDiskUsagePercent, static_cast<double>(h.disk_used_bytes()) /
                                            static_cast<double>(h.disk_total_bytes()) * 100.0);
    }
    if (h.memory_total_bytes() > 0 && h.memory_available_bytes() <= h.memory_total_bytes()) {
      p.Add(metrics::kMemoryUsagePercent,
            static_cast<double>(h.memory_total_bytes() - h.memory_available_bytes()) /
                static_cast<double>(h.memory_total_bytes()) * 100.0);
    }
  }
  if (sample.full() && sample.has_certificate()) {
    p.Add(metrics::kCertificateExpirySeconds,
          static_cast<double>(sample.certificate().not_after_unix_seconds()) -
              std::floor(static_cast<double>(at) / 1000.0));
  }
}

void AppendClusterPoints(const v1::ClusterSnapshot& s, std::vector<DerivedPoint>& out) {
  ClusterPoints points(out, s.tick_unix_ms());
  metrics::VisitClusterValues(s, points);
}

void AppendMemberPoints(const v1::MemberState& m, const std::string& label, bool new_sample,
                        bool new_rates, int64_t now, std::vector<DerivedPoint>& out) {
  MemberPoints points(out, label, new_sample, new_rates, now, m.last_sample_unix_ms());
  metrics::VisitMemberValues(m, points);
}

}  // namespace etcdmon::aggregator::detail
