#include "model_snapshot.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model_stats.h"

namespace etcdmon::aggregator::detail {
namespace {

namespace v1 = etcdmonitor::v1;
using histogram::Bucket;

void SetPercentiles(const Percentiles& p, v1::LatencyPercentiles& out) {
  out.set_p50_ms(p.p50);
  out.set_p95_ms(p.p95);
  out.set_p99_ms(p.p99);
  out.set_count(p.count);
}

}  // namespace

SnapshotBuilder::SnapshotBuilder(MemberRegistry& registry, const ClusterJudge& judge,
                                 int64_t window_ms)
    : registry_(registry), judge_(judge), window_ms_(window_ms) {}

void SnapshotBuilder::LatencyWindows(int64_t now, v1::ClusterSnapshot& out) {
  const int64_t window_start = now - window_ms_;
  cluster_read_.clear();
  cluster_write_.clear();
  cluster_grpc_read_.clear();
  cluster_grpc_write_.clear();
  auto window = [&](const Ring<ProbeObservation>& ring, Percentiles& member,
                    std::vector<double>& cluster) {
    values_.clear();
    for (std::size_t i = 0; i < ring.size(); ++i) {
      if (ring[i].at_ms > window_start) {
        values_.push_back(ring[i].ms);
        cluster.push_back(ring[i].ms);
      }
    }
    ExactPercentiles(values_, member);
  };
  for (auto& r : registry_.members()) {
    window(r->read_probes, r->read_latency, cluster_read_);
    window(r->write_probes, r->write_latency, cluster_write_);
    GrpcWindow(*r, window_start);
  }
  Percentiles p;
  auto set = [&](v1::LatencyPercentiles* (v1::ClusterSnapshot::*field)()) {
    if (p.count > 0) {
      SetPercentiles(p, *(out.*field)());
    }
  };
  ExactPercentiles(cluster_read_, p);
  set(&v1::ClusterSnapshot::mutable_read_latency);
  ExactPercentiles(cluster_write_, p);
  set(&v1::ClusterSnapshot::mutable_write_latency);
  HistogramPercentiles(cluster_grpc_read_, p);
  set(&v1::ClusterSnapshot::mutable_grpc_read_latency);
  HistogramPercentiles(cluster_grpc_write_, p);
  set(&v1::ClusterSnapshot::mutable_grpc_write_latency);
}

void SnapshotBuilder::GrpcWindow(MemberRecord& r, int64_t window_start) {
  r.grpc_read = Percentiles();
  r.grpc_write = Percentiles();
  if (r.grpc.size() < 2 || r.grpc.back().at_ms <= window_start) {
    return;
  }
  // The window starts at the newest snapshot taken before it (or the oldest one kept).
  std::size_t base = 0;
  for (std::size_t i = 1; i + 1 < r.grpc.size() && r.grpc[i].at_ms <= window_start; ++i) {
    base = i;
  }
  const GrpcSnapshot& from = r.grpc[base];
  const GrpcSnapshot& to = r.grpc.back();
  auto one = [&](const std::vector<Bucket>& a, const std::vector<Bucket>& b, Percentiles& out,
                 std::vector<Bucket>& cluster) {
    if (b.empty()) {
      return;
    }
    if (a.empty()) {
      delta_.assign(b.begin(), b.end());  // collectors drop empty series: it was zero
    } else if (!histogram::BucketDeltas(a, b, delta_).ok()) {
      return;
    }
    HistogramPercentiles(delta_, out);
    if (out.count > 0) {
      AddHistogram(cluster, delta_);
    }
  };
  one(from.read, to.read, r.grpc_read, cluster_grpc_read_);
  one(from.write, to.write, r.grpc_write, cluster_grpc_write_);
}

void SnapshotBuilder::FillMembers(int64_t now, v1::ClusterSnapshot& out) {
  bool any_rates = false;
  bool leader_rates = false;
  bool any_growth = false;
  double requests = 0, grpc_errors = 0, failed = 0, committed = 0, applied = 0, growth = 0;
  int64_t pending = 0;
  int64_t db_size = 0;
  Percentiles worst_fsync, worst_commit;
  for (const auto& r : registry_.members()) {
    v1::MemberState& m = *out.add_members();
    FillMember(*r, now, m);
    const bool is_leader = out.has_leader() && r->id == out.leader_id();
    m.set_is_leader(is_leader);
    if (m.has_certificate_expires_in_seconds() &&
        (!out.has_certificate_expires_in_seconds() ||
         m.certificate_expires_in_seconds() < out.certificate_expires_in_seconds())) {
      out.set_certificate_expires_in_seconds(m.certificate_expires_in_seconds());
    }
    if (!r->fresh || !r->reachable || !r->counted) {
      continue;
    }
    if (r->rates.valid) {
      any_rates = true;
      requests += r->rates.requests;
      grpc_errors += r->rates.grpc_errors;
      failed += r->rates.failed;
      // Every member commits every proposal: the leader's rate is the cluster's.
      if (is_leader) {
        leader_rates = true;
        committed = r->rates.committed;
        applied = r->rates.applied;
      } else if (!leader_rates) {
        committed = std::max(committed, r->rates.committed);
        applied = std::max(applied, r->rates.applied);
      }
    }
    if (r->has_db_growth && (!any_growth || r->db_growth > growth)) {
      any_growth = true;
      growth = r->db_growth;
    }
    if (r->latest.has_metrics && Present(r->latest.proposals_pending)) {
      pending += static_cast<int64_t>(r->latest.proposals_pending);
    }
    db_size = std::max(db_size, m.db_size_bytes());
    if (m.has_db_quota_used_percent() &&
        (!out.has_db_quota_used_percent() ||
         m.db_quota_used_percent() > out.db_quota_used_percent())) {
      out.set_db_quota_used_percent(m.db_quota_used_percent());
    }
    if (m.has_db_seconds_to_quota() &&
        (!out.has_db_seconds_to_quota() || m.db_seconds_to_quota() < out.db_seconds_to_quota())) {
      out.set_db_seconds_to_quota(m.db_seconds_to_quota());
    }
    if (r->wal_fsync.count > 0 && r->wal_fsync.p99 >= worst_fsync.p99) {
      worst_fsync = r->wal_fsync;
    }
    if (r->backend_commit.count > 0 && r->backend_commit.p99 >= worst_commit.p99) {
      worst_commit = r->backend_commit;
    }
  }
  if (any_rates || any_growth) {
    v1::Rates& rates = *out.mutable_rates();
    rates.set_requests_per_second(requests);
    rates.set_grpc_errors_per_second(grpc_errors);
    rates.set_grpc_error_ratio(requests > 0 ? grpc_errors / requests : 0);
    rates.set_proposals_committed_per_second(committed);
    rates.set_proposals_applied_per_second(applied);
    rates.set_proposals_failed_per_second(failed);
    rates.set_proposal_failure_ratio(committed + failed > 0 ? failed / (committed + failed) : 0);
    rates.set_db_growth_bytes_per_second(growth);
  }
  out.set_request_rate_per_second(requests);
  out.set_proposals_pending(pending);
  out.set_db_size_bytes(db_size);
  if (worst_fsync.count > 0) {
    SetPercentiles(worst_fsync, *out.mutable_wal_fsync());
  }
  if (worst_commit.count > 0) {
    SetPercentiles(worst_commit, *out.mutable_backend_commit());
  }
}

void SnapshotBuilder::FillMember(const MemberRecord& r, int64_t now, v1::MemberState& m) const {
  m.set_id(r.id);
  m.set_name(r.name);
  m.set_endpoint(r.endpoint);
  m.set_health(r.health);
  m.set_reason(r.reason);
  m.set_is_learner(r.learner);
  m.set_last_sample_unix_ms(r.sample_ms);
  m.set_collector_id(r.collector_id);
  m.set_sampled(r.sampled);
  m.set_in_member_list(r.listed);
  m.set_reachable(r.sampled && r.reachable);
  m.set_error(r.error);
  for (const std::string& e : r.errors) {
    m.add_errors(e);
  }
  m.set_last_received_unix_ms(r.received_ms);
  m.set_last_answered_unix_ms(r.answered_ms);
  // Answering now: a fresh newest sample that reached it. Otherwise what is still shown from
  // older samples (latency windows, rates, histogram windows) is not current.
  m.set_figures_stale(!(r.sampled && r.fresh && r.reachable));
  for (const std::string& url : r.peer_urls) {
    m.add_peer_urls(url);
  }
  for (const std::string& url : r.client_urls) {
    m.add_client_urls(url);
  }

  // Status figures (term, indices, revision, sizes, version, leader) are those of the newest
  // sample only: r.has_status is false when that sample did not answer, and they stay unknown
  // (absent) rather than showing an older answer or zero.
  double db_size = 0;
  const Reading& metrics = r.latest;
  const bool current_metrics = metrics.has_metrics && metrics.at_ms == r.sample_ms;
  if (r.has_status && r.reachable) {
    const v1::MemberStatus& s = r.status;
    m.set_raft_term(s.raft_term());
    m.set_raft_index(s.raft_index());
    m.set_raft_applied_index(s.raft_applied_index());
    m.set_revision(s.revision());
    m.set_db_size_bytes(s.db_size());
    m.set_db_size_in_use_bytes(s.db_size_in_use());
    m.set_version(s.version());
    m.set_cluster_id(s.cluster_id());
    m.set_leader_id(s.leader_id());
    m.set_apply_lag(
        s.raft_index() > s.raft_applied_index() ? s.raft_index() - s.raft_applied_index() : 0);
    db_size = static_cast<double>(s.db_size());
    if (s.db_size() > 0) {
      m.set_db_fragmentation_ratio(1.0 - static_cast<double>(s.db_size_in_use()) /
                                             static_cast<double>(s.db_size()));
    }
  } else if (current_metrics && Present(metrics.db_size)) {
    db_size = metrics.db_size;
    m.set_db_size_bytes(static_cast<int64_t>(metrics.db_size));
    if (Present(metrics.db_size_in_use)) {
      m.set_db_size_in_use_bytes(static_cast<int64_t>(metrics.db_size_in_use));
      if (metrics.db_size > 0) {
        m.set_db_fragmentation_ratio(1.0 - metrics.db_size_in_use / metrics.db_size);
      }
    }
  }

  if (current_metrics) {
    if (Present(metrics.has_leader)) {
      m.set_has_leader_metric(metrics.has_leader == 1);
    }
    if (Present(metrics.is_leader)) {
      m.set_is_leader_metric(metrics.is_leader == 1);
    }
  }
  if (metrics.has_metrics) {
    auto counter = [](double v) { return Present(v) && v > 0 ? static_cast<uint64_t>(v) : 0; };
    m.set_proposals_committed_total(counter(metrics.proposals_committed));
    m.set_proposals_applied_total(counter(metrics.proposals_applied));
    m.set_proposals_failed_total(counter(metrics.proposals_failed));
    m.set_leader_changes_seen_total(counter(metrics.leader_changes));
    if (Present(metrics.proposals_pending)) {
      m.set_proposals_pending(static_cast<int64_t>(metrics.proposals_pending));
    }
    if (Present(metrics.quota_bytes)) {
      m.set_db_quota_bytes(static_cast<int64_t>(metrics.quota_bytes));
    }
  }
  const double quota = static_cast<double>(m.db_quota_bytes());
  if (quota > 0 && db_size > 0) {
    m.set_db_quota_used_percent(db_size / quota * 100.0);
    if (r.has_db_growth && r.db_growth > 0) {
      m.set_db_seconds_to_quota(std::max(0.0, (quota - db_size) / r.db_growth));
    }
  }

  for (const AlarmEntry& a : judge_.alarms()) {
    if (a.member_id == r.id && r.id != 0) {
      m.add_alarms(a.type);
    }
  }
  if (r.health_check >= 0) {
    m.set_health_check_ok(r.health_check == 1);
    m.set_health_check_reason(r.health_reason);
  }
  m.set_probe_failures(r.probe_failures);

  if (r.rates.valid) {
    v1::Rates& out = *m.mutable_rates();
    out.set_requests_per_second(r.rates.requests);
    out.set_grpc_errors_per_second(r.rates.grpc_errors);
    out.set_grpc_error_ratio(r.rates.grpc_error_ratio);
    out.set_proposals_committed_per_second(r.rates.committed);
    out.set_proposals_applied_per_second(r.rates.applied);
    out.set_proposals_failed_per_second(r.rates.failed);
    out.set_proposal_failure_ratio(r.rates.failure_ratio);
    out.set_db_growth_bytes_per_second(r.has_db_growth ? r.db_growth : 0);
    out.set_interval_seconds(r.rates.interval_s);
  }

  if (r.read_latency.count > 0) {
    SetPercentiles(r.read_latency, *m.mutable_read_latency());
  }
  if (r.write_latency.count > 0) {
    SetPercentiles(r.write_latency, *m.mutable_write_latency());
  }
  if (r.wal_fsync.count > 0) {
    SetPercentiles(r.wal_fsync, *m.mutable_wal_fsync());
  }
  if (r.backend_commit.count > 0) {
    SetPercentiles(r.backend_commit, *m.mutable_backend_commit());
  }
  if (r.grpc_read.count > 0) {
    SetPercentiles(r.grpc_read, *m.mutable_grpc_read_latency());
  }
  if (r.grpc_write.count > 0) {
    SetPercentiles(r.grpc_write, *m.mutable_grpc_write_latency());
  }

  m.set_open_fds(-1);
  if (r.has_host) {
    const v1::HostStats& h = r.host;
    m.set_disk_total_bytes(h.disk_total_bytes());
    m.set_disk_used_bytes(h.disk_used_bytes());
    m.set_memory_total_bytes(h.memory_total_bytes());
    m.set_memory_available_bytes(h.memory_available_bytes());
    m.set_open_fds(h.open_fds());
    if (h.disk_total_bytes() > 0) {
      m.set_disk_used_percent(static_cast<double>(h.disk_used_bytes()) /
                              static_cast<double>(h.disk_total_bytes()) * 100.0);
    } else {
      m.set_disk_unknown_reason(h.disk_unknown_reason().empty()
                                    ? "the collector reported no disk figures"
                                    : h.disk_unknown_reason());
    }
    if (h.memory_total_bytes() > 0) {
      const double used =
          h.memory_available_bytes() < h.memory_total_bytes()
              ? static_cast<double>(h.memory_total_bytes() - h.memory_available_bytes())
              : 0.0;
      m.set_memory_used_percent(used / static_cast<double>(h.memory_total_bytes()) * 100.0);
    }
  } else {
    m.set_disk_unknown_reason(r.sampled ? "no host figures in the member's samples yet"
                                        : "no collector samples this member");
  }
  if (r.has_certificate) {
    m.set_certificate_subject(r.certificate_subject);
    m.set_certificate_not_after_unix_seconds(r.certificate_not_after_s);
    m.set_certificate_expires_in_seconds(r.certificate_not_after_s -
                                         static_cast<int64_t>(std::floor(now / 1000.0)));
  }
}

void SnapshotBuilder::FillDivergence(v1::Divergence& out) const {
  bool growing = false;
  for (int d = 0; d < 3; ++d) {
    const MemberRecord* min_at = nullptr;
    const MemberRecord* max_at = nullptr;
    const MemberRecord* lagging = nullptr;
    for (const auto& r : registry_.members()) {
      if (!r->counted || !r->fresh || !r->reachable || !r->has_status || r->learner) {
        continue;
      }
      const int64_t v = Progress(r->status, d);
      if (min_at == nullptr || v < Progress(min_at->status, d)) {
        min_at = r.get();
      }
      if (max_at == nullptr || v > Progress(max_at->status, d)) {
        max_at = r.get();
      }
      const LagTracker& lag = r->lags[d];
      if (lag.lag() > 0 && (lagging == nullptr || lag.lag() > lagging->lags[d].lag())) {
        lagging = r.get();
      }
    }
    v1::Spread& s = d == 0 ? *out.mutable_revision()
                           : (d == 1 ? *out.mutable_raft_index() : *out.mutable_applied_index());
    if (min_at != nullptr) {
      s.set_spread(Progress(max_at->status, d) - Progress(min_at->status, d));
      s.set_behind_member_id(min_at->id);
      s.set_behind_member_name(min_at->label);
      s.set_ahead_member_id(max_at->id);
      s.set_ahead_member_name(max_at->label);
    }
    if (lagging != nullptr) {
      const LagTracker& lag = lagging->lags[d];
      s.set_lagging_member_id(lagging->id);
      s.set_lagging_member_name(lagging->label);
      s.set_lag(lag.lag());
      s.set_growing(lag.growing());
      s.set_observations(lag.rises());
      s.set_growing_since_unix_ms(lag.growing() ? lag.rising_since_ms() : 0);
      growing = growing || lag.growing();
    }
  }
  out.set_growing(growing);
}

void SnapshotBuilder::FillCollectors(int64_t now, v1::ClusterSnapshot& out) const {
  for (const CollectorRecord& c : registry_.collectors()) {
    v1::CollectorState& s = *out.add_collectors();
    s.set_id(c.id);
    s.set_last_sample_unix_ms(c.last_sample_ms);
    s.set_last_received_unix_ms(c.last_received_ms);
    s.set_samples_received(c.samples);
    s.set_stale(now - c.last_received_ms >= kStaleIntervals * registry_.interval_ms());
    for (const auto& r : registry_.members()) {
      if (r->sampled && r->collector_id == c.id) {
        s.add_members(r->label);
      }
    }
    s.set_has_stats(c.has_stats);
    s.set_queue_depth(c.queue_depth);
    s.set_dropped_batches_total(c.dropped);
    s.set_resent_batches_total(c.resent);
    s.set_errors_total(c.errors);
  }
}

}  // namespace etcdmon::aggregator::detail
