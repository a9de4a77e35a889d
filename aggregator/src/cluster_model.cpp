#include "etcdmon/aggregator/cluster_model.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <utility>

#include "etcdmon/metrics/member.h"
#include "etcdmon/proto/schema.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "model_leader.h"
#include "model_member.h"
#include "model_points.h"
#include "model_reading.h"
#include "model_stats.h"

namespace etcdmon::aggregator {
namespace {

namespace v1 = etcdmonitor::v1;
using detail::AlarmEntry;
using detail::GrpcSnapshot;
using detail::LeaderClaim;
using detail::MemberRecord;
using detail::Percentiles;
using detail::Present;
using detail::Reading;
using histogram::Bucket;

// A member (or collector) with nothing received for this many intervals is stale.
constexpr int64_t kStaleIntervals = 3;
// The db growth rate is measured over this much history (since the last shrink).
constexpr int64_t kDbGrowthWindowMs = 10 * 60 * 1000;
// A collector not heard from for this long is dropped from the snapshot.
constexpr int64_t kCollectorForgetMs = 60 * 60 * 1000;
// Bounds of the per-member rings, whatever the configured intervals.
constexpr int64_t kMinRing = 8;
constexpr int64_t kMaxProbeRing = 4096;
constexpr int64_t kMaxGrpcRing = 128;
constexpr int64_t kMaxSizeRing = 1024;

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::size_t RingSize(int64_t span_ms, int64_t interval_ms, int64_t per_interval, int64_t cap) {
  const int64_t n = (span_ms / interval_ms + 2) * per_interval;
  return static_cast<std::size_t>(std::clamp(n, kMinRing, cap));
}

void Append(std::string& out, std::string_view sentence) {
  if (!out.empty()) {
    out += "; ";
  }
  out.append(sentence.data(), sentence.size());
}

void SetPercentiles(const Percentiles& p, v1::LatencyPercentiles& out) {
  out.set_p50_ms(p.p50);
  out.set_p95_ms(p.p95);
  out.set_p99_ms(p.p99);
  out.set_count(p.count);
}

bool HasError(const v1::MemberSample& sample, std::string_view source) {
  for (const v1::SampleError& e : sample.errors()) {
    if (e.source() == source) {
      return true;
    }
  }
  return false;
}

// The three progress counters the divergence follows, in MemberRecord::lags order.
int64_t Progress(const v1::MemberStatus& s, int dimension) {
  switch (dimension) {
    case 0:
      return s.revision();
    case 1:
      return static_cast<int64_t>(s.raft_index());
    default:
      return static_cast<int64_t>(s.raft_applied_index());
  }
}

struct CollectorRecord {
  std::string id;
  int64_t last_sample_ms = 0;
  int64_t last_received_ms = 0;
  uint64_t samples = 0;
  bool has_stats = false;
  uint64_t queue_depth = 0;
  uint64_t dropped = 0;
  uint64_t resent = 0;
  uint64_t errors = 0;
};

}  // namespace

struct ClusterModel::Impl {
  Impl(ModelConfig c, Clock& clk);

  MemberRecord* FindById(uint64_t id);
  MemberRecord* FindUnidentified(std::string_view endpoint, std::string_view name,
                                 const google::protobuf::RepeatedPtrField<std::string>* urls);
  MemberRecord& NewRecord(uint64_t id);
  MemberRecord& FindOrCreate(const v1::MemberSample& sample);
  CollectorRecord& Collector(std::string_view id);
  void ApplyMemberList(const v1::MemberSample& sample, MemberRecord& self);
  void DeriveFromPair(MemberRecord& r, const Reading& prev, const Reading& cur);
  void ObserveDbSize(MemberRecord& r, int64_t at_ms, double bytes);
  bool Ingest(std::string_view collector_id, const v1::MemberSample& sample);

  bool IsListed(uint64_t id, bool fresh_lists_only) const;
  void ClassifyMembers(int64_t now);
  void GrpcWindow(MemberRecord& r, int64_t window_start);
  void ObserveLags(MemberRecord& r, int64_t at_ms);
  detail::LeaderChoice JudgeLeadership(v1::ClusterSnapshot& out);
  void CollectAlarms();
  void JudgeMember(MemberRecord& r, bool any_list, int64_t now);
  uint32_t JudgeMembers(int64_t now, v1::ClusterSnapshot& out);
  void CountLeaderChanges(const detail::LeaderChoice& leader, v1::ClusterSnapshot& out);
  void LatencyWindows(int64_t now, v1::ClusterSnapshot& out);
  void FillMember(const MemberRecord& r, int64_t now, v1::MemberState& m) const;
  void FillMembers(int64_t now, v1::ClusterSnapshot& out);
  void FillDivergence(v1::Divergence& out) const;
  void Verdict(uint32_t known_down, v1::ClusterSnapshot& out);
  void FillCollectors(int64_t now, v1::ClusterSnapshot& out) const;
  void Tick(v1::ClusterSnapshot& out, std::vector<DerivedPoint>& points);

  // Set once in the constructor.
  const ModelConfig config;
  Clock& clock;
  const int64_t interval_ms;
  const int64_t window_ms;
  const int64_t grace_ms;
  const std::size_t probe_ring;
  const std::size_t grpc_ring;
  const std::size_t size_ring;

  std::mutex mu;
  // Everything below is guarded by mu.
  std::vector<std::unique_ptr<MemberRecord>> members;  // unique_ptr: stable while it grows
  std::vector<CollectorRecord> collectors;
  Reading spare_reading;               // the next sample's reading, swapped with `latest`
  std::vector<Bucket> ingest_buckets;  // scratch of Ingest
  std::vector<Bucket> ingest_delta;    // scratch of Ingest

  // Leader changes (ClusterSnapshot.leader_changes_* documents the rule).
  double counter_changes = 0;  // high-water mark of the counter estimate
  uint64_t observed_changes = 0;
  uint64_t last_leader_id = 0;
  uint64_t last_leader_term = 0;
  uint64_t last_leader_cluster = 0;

  // Tick scratch, kept for its capacity.
  std::vector<LeaderClaim> claims;
  std::vector<AlarmEntry> alarms;
  std::vector<double> values;
  std::vector<double> cluster_read;
  std::vector<double> cluster_write;
  std::vector<double> change_counts;
  std::vector<Bucket> delta;
  std::vector<Bucket> cluster_grpc_read;
  std::vector<Bucket> cluster_grpc_write;
};

ClusterModel::Impl::Impl(ModelConfig c, Clock& clk)
    : config(std::move(c)),
      clock(clk),
      interval_ms(std::max<int64_t>(1, config.expected_interval.count())),
      window_ms(std::max<int64_t>(1, config.latency_window.count())),
      grace_ms(std::max<int64_t>(1, config.term_conflict_grace.count())),
      // Up to three probes per sample (two reads, one write).
      probe_ring(RingSize(window_ms, interval_ms, 2, kMaxProbeRing)),
      grpc_ring(RingSize(window_ms, interval_ms, 1, kMaxGrpcRing)),
      size_ring(RingSize(kDbGrowthWindowMs, interval_ms, 1, kMaxSizeRing)) {}

// ---------------------------------------------------------------------------------------------
// Ingest

MemberRecord* ClusterModel::Impl::FindById(uint64_t id) {
  for (auto& r : members) {
    if (r->id == id) {
      return r.get();
    }
  }
  return nullptr;
}

// A record without an id that is the member at `endpoint` (or named `name`, or reachable at
// one of `urls`).
MemberRecord* ClusterModel::Impl::FindUnidentified(
    std::string_view endpoint, std::string_view name,
    const google::protobuf::RepeatedPtrField<std::string>* urls) {
  for (auto& r : members) {
    if (r->id != 0) {
      continue;
    }
    if (!endpoint.empty() && r->endpoint == endpoint) {
      return r.get();
    }
    if (!name.empty() && r->name == name) {
      return r.get();
    }
    if (urls != nullptr) {
      for (const std::string& url : *urls) {
        if (!r->endpoint.empty() && detail::UrlAuthority(url) == r->endpoint) {
          return r.get();
        }
      }
    }
  }
  return nullptr;
}

MemberRecord& ClusterModel::Impl::NewRecord(uint64_t id) {
  auto r = std::make_unique<MemberRecord>();
  r->id = id;
  r->read_probes.Reset(probe_ring);
  r->write_probes.Reset(probe_ring / 2);
  r->grpc.Reset(grpc_ring);
  r->db_sizes.Reset(size_ring);
  members.push_back(std::move(r));
  return *members.back();
}

MemberRecord& ClusterModel::Impl::FindOrCreate(const v1::MemberSample& sample) {
  const uint64_t id = sample.member_id();
  if (id != 0) {
    if (MemberRecord* r = FindById(id)) {
      // A record made while the id was unknown is this member too: drop it.
      members.erase(std::remove_if(members.begin(), members.end(),
                                   [&](const std::unique_ptr<MemberRecord>& m) {
                                     return m->id == 0 && !m->endpoint.empty() &&
                                            m->endpoint == sample.endpoint();
                                   }),
                    members.end());
      return *r;
    }
    if (MemberRecord* r = FindUnidentified(sample.endpoint(), sample.member_name(), nullptr)) {
      r->id = id;
      return *r;
    }
    return NewRecord(id);
  }
  // No id yet (the member has been down since its collector started): by endpoint or name.
  for (auto& r : members) {
    if (!sample.endpoint().empty() && r->endpoint == sample.endpoint()) {
      return *r;
    }
  }
  for (auto& r : members) {
    for (const std::string& url : r->client_urls) {
      if (!sample.endpoint().empty() && detail::UrlAuthority(url) == sample.endpoint()) {
        return *r;
      }
    }
    if (!sample.member_name().empty() && r->name == sample.member_name()) {
      return *r;
    }
  }
  MemberRecord& r = NewRecord(0);
  r.endpoint = sample.endpoint();
  return r;
}

CollectorRecord& ClusterModel::Impl::Collector(std::string_view id) {
  for (CollectorRecord& c : collectors) {
    if (c.id == id) {
      return c;
    }
  }
  collectors.emplace_back();
  collectors.back().id.assign(id.data(), id.size());
  return collectors.back();
}

void ClusterModel::Impl::ApplyMemberList(const v1::MemberSample& sample, MemberRecord& self) {
  const int64_t at = sample.collected_at_unix_ms();
  self.has_member_list = true;
  self.member_list.clear();
  for (const v1::MemberInfo& info : sample.members()) {
    if (info.id() == 0) {
      continue;
    }
    self.member_list.push_back(info.id());
    MemberRecord* r = FindById(info.id());
    if (r == nullptr) {
      r = FindUnidentified({}, info.name(), &info.client_urls());
      if (r != nullptr) {
        r->id = info.id();
      } else {
        r = &NewRecord(info.id());
      }
    }
    if (at < r->listed_info_ms) {
      continue;  // a newer list already described it
    }
    r->listed_info_ms = at;
    if (!info.name().empty()) {
      r->name = info.name();  // etcd's --name: authoritative
    }
    r->peer_urls.assign(info.peer_urls().begin(), info.peer_urls().end());
    r->client_urls.assign(info.client_urls().begin(), info.client_urls().end());
    r->listed_learner = info.is_learner();
    if (r->endpoint.empty() && !r->client_urls.empty()) {
      r->endpoint = std::string(detail::UrlAuthority(r->client_urls.front()));
    }
  }
}

void ClusterModel::Impl::DeriveFromPair(MemberRecord& r, const Reading& prev, const Reading& cur) {
  const double dt = static_cast<double>(cur.at_ms - prev.at_ms) / 1000.0;
  detail::MemberRates& m = r.rates;
  m = detail::MemberRates();
  m.valid = true;
  m.interval_s = dt;

  // gRPC: one reset verdict for both sums, so that the ratio compares the same window.
  const bool reset = cur.grpc_unary_handled < prev.grpc_unary_handled ||
                     cur.grpc_unary_failed < prev.grpc_unary_failed;
  const double handled =
      reset ? cur.grpc_unary_handled : cur.grpc_unary_handled - prev.grpc_unary_handled;
  const double failed =
      reset ? cur.grpc_unary_failed : cur.grpc_unary_failed - prev.grpc_unary_failed;
  m.requests = handled / dt;
  m.grpc_errors = failed / dt;
  m.grpc_error_ratio = handled > 0 ? failed / handled : 0;

  double d_committed = 0;
  double d_failed = 0;
  if (Present(prev.proposals_committed) && Present(cur.proposals_committed)) {
    d_committed = detail::CounterDelta(prev.proposals_committed, cur.proposals_committed);
    m.committed = d_committed / dt;
  }
  if (Present(prev.proposals_applied) && Present(cur.proposals_applied)) {
    m.applied = detail::CounterDelta(prev.proposals_applied, cur.proposals_applied) / dt;
  }
  if (Present(prev.proposals_failed) && Present(cur.proposals_failed)) {
    d_failed = detail::CounterDelta(prev.proposals_failed, cur.proposals_failed);
    m.failed = d_failed / dt;
  }
  m.failure_ratio = d_committed + d_failed > 0 ? d_failed / (d_committed + d_failed) : 0;

  // A restarted member's counter starts at 1 for the leader it finds on start: that is not a
  // change of the cluster's leader, so a reset counts one less.
  if (Present(prev.leader_changes) && Present(cur.leader_changes)) {
    r.leader_changes_counted += cur.leader_changes >= prev.leader_changes
                                    ? cur.leader_changes - prev.leader_changes
                                    : std::max(0.0, cur.leader_changes - 1);
  }

  auto window = [&](const std::vector<Bucket>& a, const std::vector<Bucket>& b, Percentiles& out) {
    out = Percentiles();
    if (a.empty() || b.empty() || !histogram::BucketDeltas(a, b, ingest_delta).ok()) {
      return;
    }
    detail::HistogramPercentiles(ingest_delta, out);
  };
  window(prev.wal_fsync, cur.wal_fsync, r.wal_fsync);
  window(prev.backend_commit, cur.backend_commit, r.backend_commit);
}

void ClusterModel::Impl::ObserveDbSize(MemberRecord& r, int64_t at_ms, double bytes) {
  if (!r.db_sizes.empty() && bytes < r.db_sizes.back().bytes) {
    r.db_sizes.Clear();  // defragmented: growth is measured from here
  }
  r.db_sizes.Push(detail::SizeObservation{at_ms, bytes});
  r.has_db_growth = false;
  r.db_growth = 0;
  for (std::size_t i = 0; i + 1 < r.db_sizes.size(); ++i) {
    const detail::SizeObservation& first = r.db_sizes[i];
    if (first.at_ms < at_ms - kDbGrowthWindowMs) {
      continue;
    }
    if (at_ms > first.at_ms) {
      r.has_db_growth = true;
      r.db_growth = (bytes - first.bytes) * 1000.0 / static_cast<double>(at_ms - first.at_ms);
    }
    break;
  }
}

bool ClusterModel::Impl::Ingest(std::string_view collector_id, const v1::MemberSample& sample) {
  std::lock_guard<std::mutex> lock(mu);
  const int64_t now = UnixMs(clock.Now());
  const int64_t at = sample.collected_at_unix_ms();
  MemberRecord& r = FindOrCreate(sample);
  if (r.sampled && at <= r.sample_ms) {
    return false;  // older than what we have, or a resent duplicate
  }
  const bool leadership_changed =
      !r.sampled || r.reachable != sample.reachable() ||
      (sample.has_status() &&
       (sample.status().leader_id() != r.claim_leader || sample.status().raft_term() != r.term));
  CollectorRecord& c = Collector(collector_id);
  ++c.samples;
  c.last_sample_ms = std::max(c.last_sample_ms, at);
  c.last_received_ms = now;

  r.sampled = true;
  r.collector_id.assign(collector_id.data(), collector_id.size());
  r.sample_ms = at;
  r.received_ms = now;
  r.seen_ms = std::min(at, now);
  r.dirty = true;
  if (!sample.member_name().empty()) {
    r.name = sample.member_name();
  }
  if (!sample.endpoint().empty()) {
    r.endpoint = sample.endpoint();
  }
  r.reachable = sample.reachable();
  if (r.reachable) {
    r.answered_ms = at;
  }
  r.error = sample.error();

  r.errors.resize(static_cast<std::size_t>(sample.errors_size()));
  r.problems.clear();
  for (int i = 0; i < sample.errors_size(); ++i) {
    const v1::SampleError& e = sample.errors(i);
    std::string& text = r.errors[static_cast<std::size_t>(i)];
    text.assign(e.source()).append(": ").append(e.message());
    if (e.source() == "status" || e.source().compare(0, 6, "probe_") == 0) {
      Append(r.problems, text);
    }
  }

  r.has_status = sample.has_status();
  if (r.has_status) {
    r.status.CopyFrom(sample.status());
    r.claim_confirmed = r.term_since_ms != 0 && r.status.raft_term() == r.term &&
                        r.status.leader_id() == r.claim_leader;
    r.claim_leader = r.status.leader_id();
    const bool leading = r.status.member_id() != 0 && r.status.leader_id() == r.status.member_id();
    if (!leading) {
      r.leading_since_ms = 0;
    } else if (r.leading_since_ms == 0 || r.status.raft_term() != r.term) {
      r.leading_since_ms = at;
    }
    if (r.term_since_ms == 0 || r.status.raft_term() != r.term) {
      r.term = r.status.raft_term();
      r.term_since_ms = at;
    }
  }
  if (r.has_status && r.reachable) {
    ObserveLags(r, at);
  }
  r.has_host = sample.has_host();
  if (r.has_host) {
    r.host.CopyFrom(sample.host());
  }

  r.probe_failures = 0;
  for (const v1::Probe& p : sample.probes()) {
    if (!p.ok()) {
      ++r.probe_failures;  // its latency is a timeout or an error, not a latency
      continue;
    }
    const detail::ProbeObservation obs{at, static_cast<double>(p.latency_us()) / 1000.0};
    if (p.kind() == v1::Probe::WRITE) {
      r.write_probes.Push(obs);
    } else if (p.kind() == v1::Probe::SERIALIZABLE_READ ||
               p.kind() == v1::Probe::LINEARIZABLE_READ) {
      r.read_probes.Push(obs);
    }
  }

  if (sample.full()) {
    if (HasError(sample, "health")) {
      r.health_check = -1;
      r.health_reason.clear();
    } else {
      r.health_check = sample.health_ok() ? 1 : 0;
      r.health_reason = sample.health_reason();
    }
    if (sample.has_certificate()) {
      r.has_certificate = true;
      r.certificate_subject = sample.certificate().subject();
      r.certificate_not_after_s = sample.certificate().not_after_unix_seconds();
    }
  }

  // The alarm list is fetched on full samples and whenever Status lists errors (alarms appear
  // there); a Status without errors means no alarm.
  if (sample.reachable()) {
    // The collector skips the Alarm call while the member has no leader (it could not commit).
    const bool no_leader = sample.has_status() && sample.status().leader_id() == 0;
    const bool fetched =
        (sample.full() || !sample.has_status() || sample.status().errors_size() > 0) &&
        !no_leader && !HasError(sample, "alarms");
    if (fetched) {
      r.alarms.resize(static_cast<std::size_t>(sample.alarms_size()));
      for (int i = 0; i < sample.alarms_size(); ++i) {
        r.alarms[static_cast<std::size_t>(i)].member_id = sample.alarms(i).member_id();
        r.alarms[static_cast<std::size_t>(i)].type = sample.alarms(i).type();
      }
      r.alarms_known = true;
    } else if (sample.has_status() && sample.status().errors_size() == 0) {
      r.alarms.clear();
      r.alarms_known = true;
    }
  }

  if (sample.members_size() > 0) {
    ApplyMemberList(sample, r);
  }

  Reading& cur = spare_reading;
  detail::ExtractReading(sample, cur, ingest_buckets);
  if (cur.has_metrics) {
    if (r.latest.has_metrics && r.latest.at_ms < cur.at_ms) {
      DeriveFromPair(r, r.latest, cur);
    }
    // As with the Status claim: /metrics is read after Status, so in one sample the two can
    // straddle an election; an is_leader value counts once two readings in a row agree.
    r.is_leader_confirmed = r.latest.has_metrics && Present(cur.is_leader) &&
                            Present(r.latest.is_leader) && cur.is_leader == r.latest.is_leader;
    GrpcSnapshot& g = r.grpc.PushSlot();
    g.at_ms = at;
    g.read.assign(cur.grpc_read.begin(), cur.grpc_read.end());
    g.write.assign(cur.grpc_write.begin(), cur.grpc_write.end());
    std::swap(r.latest, cur);
  }

  if (r.has_status && r.status.db_size() > 0) {
    ObserveDbSize(r, at, static_cast<double>(r.status.db_size()));
  } else if (r.latest.at_ms == at && Present(r.latest.db_size)) {
    ObserveDbSize(r, at, r.latest.db_size);
  }
  return leadership_changed;
}

// ---------------------------------------------------------------------------------------------
// Tick

bool ClusterModel::Impl::IsListed(uint64_t id, bool fresh_lists_only) const {
  if (id == 0) {
    return false;
  }
  for (const auto& r : members) {
    if (!r->has_member_list || (fresh_lists_only && !r->fresh)) {
      continue;
    }
    if (std::find(r->member_list.begin(), r->member_list.end(), id) != r->member_list.end()) {
      return true;
    }
  }
  return false;
}

// Freshness, membership, labels; drops members that left.
void ClusterModel::Impl::ClassifyMembers(int64_t now) {
  const int64_t stale_after = kStaleIntervals * interval_ms;
  bool any_list = false;
  bool any_fresh_list = false;
  for (auto& r : members) {
    r->fresh = r->sampled && now - r->seen_ms < stale_after;
    any_list = any_list || r->has_member_list;
    any_fresh_list = any_fresh_list || (r->has_member_list && r->fresh);
  }
  // Membership is what the current member lists say: those of the fresh members, or, when we
  // are blind, every list we have.
  for (auto& r : members) {
    r->listed = IsListed(r->id, any_fresh_list);
  }
  if (any_list) {
    // Gone from every current list and no collector reports it any more: removed.
    members.erase(std::remove_if(members.begin(), members.end(),
                                 [](const std::unique_ptr<MemberRecord>& r) {
                                   return !r->listed && !r->fresh;
                                 }),
                  members.end());
  }
  for (auto& r : members) {
    r->label = metrics::MemberLabel(r->name, r->id, r->endpoint);
    r->learner = r->has_status ? r->status.is_learner() : r->listed_learner;
    // A sampled member missing from the lists counts while it answers (a member list may not
    // have been fetched yet); one that does not answer is likely removed and does not count.
    r->counted = !any_list || r->listed || (r->fresh && r->reachable);
  }
  std::sort(members.begin(), members.end(),
            [](const std::unique_ptr<MemberRecord>& a, const std::unique_ptr<MemberRecord>& b) {
              return a->label != b->label ? a->label < b->label : a->id < b->id;
            });
  collectors.erase(std::remove_if(collectors.begin(), collectors.end(),
                                  [&](const CollectorRecord& c) {
                                    return now - c.last_received_ms > kCollectorForgetMs;
                                  }),
                   collectors.end());
}

void ClusterModel::Impl::GrpcWindow(MemberRecord& r, int64_t window_start) {
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
      delta.assign(b.begin(), b.end());  // collectors drop empty series: it was zero
    } else if (!histogram::BucketDeltas(a, b, delta).ok()) {
      return;
    }
    detail::HistogramPercentiles(delta, out);
    if (out.count > 0) {
      detail::AddHistogram(cluster, delta);
    }
  };
  one(from.read, to.read, r.grpc_read, cluster_grpc_read);
  one(from.write, to.write, r.grpc_write, cluster_grpc_write);
}

void ClusterModel::Impl::ObserveLags(MemberRecord& r, int64_t at_ms) {
  for (int d = 0; d < 3; ++d) {
    const int64_t own = Progress(r.status, d);
    r.lags[d].Record(at_ms, own);
    double reference = static_cast<double>(own);
    for (const auto& other : members) {
      double v = 0;
      if (other.get() != &r && other->lags[d].ValueAt(at_ms, v)) {
        reference = std::max(reference, v);
      }
    }
    r.lags[d].ObserveLag(reference);
  }
}

void ClusterModel::Impl::FillDivergence(v1::Divergence& out) const {
  bool growing = false;
  for (int d = 0; d < 3; ++d) {
    const MemberRecord* min_at = nullptr;
    const MemberRecord* max_at = nullptr;
    const MemberRecord* lagging = nullptr;
    for (const auto& r : members) {
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
      const detail::LagTracker& lag = r->lags[d];
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
      const detail::LagTracker& lag = lagging->lags[d];
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

void ClusterModel::Impl::FillMember(const MemberRecord& r, int64_t now, v1::MemberState& m) const {
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

  for (const AlarmEntry& a : alarms) {
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

detail::LeaderChoice ClusterModel::Impl::JudgeLeadership(v1::ClusterSnapshot& out) {
  claims.clear();
  for (const auto& r : members) {
    if (!r->fresh || !r->reachable || !r->has_status) {
      continue;
    }
    LeaderClaim c;
    c.member_id = r->id != 0 ? r->id : r->status.member_id();
    c.member_label = r->label;
    c.cluster_id = r->status.cluster_id();
    c.term = r->status.raft_term();
    c.leader_id = r->status.leader_id();
    if (r->latest.at_ms == r->sample_ms && Present(r->latest.is_leader) && r->is_leader_confirmed) {
      c.is_leader_metric = r->latest.is_leader == 1 ? 1 : 0;
    }
    c.sample_ms = r->sample_ms;
    c.term_since_ms = r->term_since_ms;
    c.confirmed = r->claim_confirmed;
    claims.push_back(c);
  }
  const detail::LeaderChoice leader = detail::ChooseLeader(claims);
  detail::DetectSplitBrain(claims, grace_ms, *out.mutable_split_brain());
  uint32_t followers = 0;
  for (const LeaderClaim& c : claims) {
    followers += leader.leader_id != 0 && c.leader_id == leader.leader_id ? 1 : 0;
  }
  out.set_cluster_id(detail::MajorityClusterId(claims));
  out.set_has_leader(leader.leader_id != 0);
  out.set_leader_id(leader.leader_id);
  out.set_raft_term(leader.term);
  if (const MemberRecord* r = leader.leader_id != 0 ? FindById(leader.leader_id) : nullptr) {
    out.set_leader_name(r->name);
    out.set_leader_endpoint(r->endpoint);
  }
  out.set_leader_followers(followers);
  out.set_leader_agreement(leader.leader_id != 0 && followers == claims.size());
  return leader;
}

// The union of the alarm lists the fresh members returned.
void ClusterModel::Impl::CollectAlarms() {
  alarms.clear();
  for (const auto& r : members) {
    if (!r->fresh || !r->reachable || !r->alarms_known) {
      continue;
    }
    for (const AlarmEntry& a : r->alarms) {
      const bool seen = std::any_of(alarms.begin(), alarms.end(), [&](const AlarmEntry& b) {
        return b.member_id == a.member_id && b.type == a.type;
      });
      if (!seen) {
        alarms.push_back(a);
      }
    }
  }
}

void ClusterModel::Impl::JudgeMember(MemberRecord& r, bool any_list, int64_t now) {
  r.reason.clear();
  r.leaderless = false;
  if (!r.sampled) {
    r.health = v1::STALE;
    r.reason = "never sampled: no collector reports this member";
    return;
  }
  if (!r.fresh) {
    r.health = v1::STALE;
    r.reason = "no sample for " + std::to_string((now - r.seen_ms) / 1000) + "s (collector " +
               r.collector_id + ")";
    return;
  }
  if (!r.reachable) {
    r.health = v1::UNREACHABLE;
    r.reason = r.error.empty() ? "unreachable" : r.error;
    return;
  }
  if (!r.problems.empty()) {
    Append(r.reason, r.problems);
  }
  if (r.has_status && r.status.errors_size() > 0) {
    std::string etcd_errors = "etcd reports: ";
    for (int i = 0; i < r.status.errors_size(); ++i) {
      etcd_errors += (i > 0 ? ", " : "") + r.status.errors(i);
    }
    Append(r.reason, etcd_errors);
  }
  const bool metric_leaderless =
      r.latest.at_ms == r.sample_ms && Present(r.latest.has_leader) && r.latest.has_leader == 0;
  r.leaderless = (r.has_status && r.status.leader_id() == 0) || metric_leaderless;
  if (r.leaderless && r.reason.find("no leader") == std::string::npos) {
    Append(r.reason, "no leader");
  }
  for (const AlarmEntry& a : alarms) {
    if (a.member_id == r.id && r.id != 0) {
      Append(r.reason, "alarm " + a.type);
    }
  }
  if (r.health_check == 0) {
    Append(r.reason,
           r.health_reason.empty() ? "/health: false" : "/health: false (" + r.health_reason + ")");
  }
  if (any_list && !r.listed) {
    Append(r.reason, "not in the member list");
  }
  r.health = r.reason.empty() ? v1::HEALTHY : v1::UNHEALTHY;
}

// Health of every member, the counts and quorum; returns the voting members known down.
uint32_t ClusterModel::Impl::JudgeMembers(int64_t now, v1::ClusterSnapshot& out) {
  bool any_list = false;
  for (const auto& r : members) {
    any_list = any_list || r->has_member_list;
  }
  uint32_t member_count = 0, voting = 0, learners = 0, healthy = 0, healthy_voting = 0;
  uint32_t unreachable = 0, stale = 0, fresh = 0, known_down = 0;
  // Since when the current leader says it leads: a follower's "no leader" collected before
  // that describes the election that made it, not the present.
  const MemberRecord* leader = out.has_leader() ? FindById(out.leader_id()) : nullptr;
  const int64_t leading_since = leader != nullptr ? leader->leading_since_ms : 0;
  for (auto& r : members) {
    JudgeMember(*r, any_list, now);
    if (!r->counted) {
      continue;
    }
    ++member_count;
    (r->learner ? learners : voting) += 1;
    if (r->health == v1::HEALTHY) {
      ++healthy;
      healthy_voting += r->learner ? 0 : 1;
    }
    unreachable += r->health == v1::UNREACHABLE ? 1 : 0;
    stale += r->health == v1::STALE ? 1 : 0;
    fresh += r->fresh ? 1 : 0;
    // Down for raft: unreachable, or answering without a leader in two samples in a row (while
    // leadership moves, a follower answers without one for a moment; with no leader at all,
    // quorum_ok is false anyway), unless its answer predates the current leader's first claim
    // (an election longer than two of its samples). Stale is unknown, not down.
    const bool predates_leader = leading_since > 0 && r->sample_ms < leading_since;
    const bool leaderless =
        r->leaderless && !predates_leader && (r->claim_confirmed || !r->has_status);
    if (!r->learner && (r->health == v1::UNREACHABLE || leaderless)) {
      ++known_down;
    }
  }
  const uint32_t quorum = voting > 0 ? voting / 2 + 1 : 0;
  out.set_member_count(member_count);
  out.set_voting_members(voting);
  out.set_learners(learners);
  out.set_quorum_size(quorum);
  out.set_healthy_members(healthy);
  out.set_healthy_voting_members(healthy_voting);
  out.set_unreachable_members(unreachable);
  out.set_stale_members(stale);
  out.set_fresh_members(fresh);
  out.set_quorum_ok(out.has_leader() && voting > 0 && known_down <= voting - quorum);
  return known_down;
}

void ClusterModel::Impl::CountLeaderChanges(const detail::LeaderChoice& leader,
                                            v1::ClusterSnapshot& out) {
  change_counts.clear();
  for (const auto& r : members) {
    if (r->counted && !r->learner && r->latest.has_metrics) {
      change_counts.push_back(r->leader_changes_counted);
    }
  }
  if (!change_counts.empty()) {
    // Every election is seen by a quorum: the quorum-th largest count is what a quorum saw.
    std::sort(change_counts.begin(), change_counts.end(), std::greater<double>());
    const std::size_t k =
        std::min<std::size_t>(std::max<uint32_t>(out.quorum_size(), 1), change_counts.size());
    counter_changes = std::max(counter_changes, change_counts[k - 1]);
  }
  if (leader.leader_id != 0) {
    const uint64_t cluster_id = out.cluster_id();
    if (cluster_id != 0 && last_leader_cluster != 0 && cluster_id != last_leader_cluster) {
      last_leader_id = 0;  // another cluster: its terms start over
      last_leader_term = 0;
    }
    if (cluster_id != 0) {
      last_leader_cluster = cluster_id;
    }
    if (last_leader_id != 0 && leader.term > last_leader_term) {
      ++observed_changes;
    }
    if (leader.term >= last_leader_term) {
      last_leader_id = leader.leader_id;
      last_leader_term = leader.term;
    }
  }
  const auto from_counters = static_cast<uint64_t>(std::llround(counter_changes));
  out.set_leader_changes_from_counters(from_counters);
  out.set_leader_changes_observed(observed_changes);
  out.set_leader_changes_total(std::max(from_counters, observed_changes));
}

void ClusterModel::Impl::LatencyWindows(int64_t now, v1::ClusterSnapshot& out) {
  const int64_t window_start = now - window_ms;
  cluster_read.clear();
  cluster_write.clear();
  cluster_grpc_read.clear();
  cluster_grpc_write.clear();
  auto window = [&](const detail::Ring<detail::ProbeObservation>& ring, Percentiles& member,
                    std::vector<double>& cluster) {
    values.clear();
    for (std::size_t i = 0; i < ring.size(); ++i) {
      if (ring[i].at_ms > window_start) {
        values.push_back(ring[i].ms);
        cluster.push_back(ring[i].ms);
      }
    }
    detail::ExactPercentiles(values, member);
  };
  for (auto& r : members) {
    window(r->read_probes, r->read_latency, cluster_read);
    window(r->write_probes, r->write_latency, cluster_write);
    GrpcWindow(*r, window_start);
  }
  Percentiles p;
  auto set = [&](v1::LatencyPercentiles* (v1::ClusterSnapshot::*field)()) {
    if (p.count > 0) {
      SetPercentiles(p, *(out.*field)());
    }
  };
  detail::ExactPercentiles(cluster_read, p);
  set(&v1::ClusterSnapshot::mutable_read_latency);
  detail::ExactPercentiles(cluster_write, p);
  set(&v1::ClusterSnapshot::mutable_write_latency);
  detail::HistogramPercentiles(cluster_grpc_read, p);
  set(&v1::ClusterSnapshot::mutable_grpc_read_latency);
  detail::HistogramPercentiles(cluster_grpc_write, p);
  set(&v1::ClusterSnapshot::mutable_grpc_write_latency);
}

// Every member into the snapshot, and the cluster-wide rates, database, disk and certificate
// figures over the fresh, reachable, counted members.
void ClusterModel::Impl::FillMembers(int64_t now, v1::ClusterSnapshot& out) {
  bool any_rates = false;
  bool leader_rates = false;
  bool any_growth = false;
  double requests = 0, grpc_errors = 0, failed = 0, committed = 0, applied = 0, growth = 0;
  int64_t pending = 0;
  int64_t db_size = 0;
  Percentiles worst_fsync, worst_commit;
  for (const auto& r : members) {
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

void ClusterModel::Impl::Verdict(uint32_t known_down, v1::ClusterSnapshot& out) {
  const bool split_brain = out.split_brain().detected();
  out.set_healthy(out.fresh_members() > 0 && out.has_leader() && out.quorum_ok() && !split_brain &&
                  alarms.empty());
  // Members whose fresh newest sample reached them, and the first error of those it did not.
  uint32_t answering = 0;
  std::string first_error;
  for (const auto& r : members) {
    if (!r->counted || !r->fresh) {
      continue;
    }
    if (r->reachable) {
      ++answering;
    } else if (first_error.empty()) {
      first_error = r->label + ": " + (r->error.empty() ? std::string("no answer") : r->error);
    }
  }
  std::string& reason = *out.mutable_health_reason();
  if (out.fresh_members() == 0) {
    Append(reason, "no recent sample of any member");
  } else if (answering == 0) {
    // Nothing etcd said is current: no leader and no quorum follow from that, say the cause.
    Append(reason, "no etcd member answers: 0 of " + std::to_string(out.member_count()) +
                       " reachable (" + first_error + ")");
    if (out.stale_members() > 0) {
      Append(reason, std::to_string(out.stale_members()) + " without a recent sample");
    }
  } else {
    if (!out.has_leader()) {
      Append(reason, "no leader");
    }
    if (!out.quorum_ok() && out.voting_members() > 0) {
      Append(reason, "quorum lost: " + std::to_string(known_down) + " of " +
                         std::to_string(out.voting_members()) + " voting members down, quorum is " +
                         std::to_string(out.quorum_size()));
    }
    if (split_brain) {
      Append(reason, "split-brain: " + out.split_brain().reason());
    }
    for (const AlarmEntry& a : alarms) {
      const MemberRecord* r = FindById(a.member_id);
      Append(reason,
             "alarm " + a.type + " on " + (r != nullptr ? r->label : metrics::HexId(a.member_id)));
    }
  }
  // One word for the cluster, worst first (v1::ClusterState).
  v1::ClusterState state = v1::CLUSTER_HEALTHY;
  if (out.member_count() == 0) {
    state = v1::CLUSTER_STATE_UNKNOWN;
  } else if (out.fresh_members() == 0) {
    state = v1::CLUSTER_STALE;
  } else if (split_brain) {
    state = v1::CLUSTER_SPLIT_BRAIN;
  } else if (!out.has_leader()) {
    state = v1::CLUSTER_NO_LEADER;
  } else if (!out.quorum_ok()) {
    state = v1::CLUSTER_NO_QUORUM;
  } else if (!out.healthy() || out.healthy_members() < out.member_count()) {
    state = v1::CLUSTER_DEGRADED;  // serving, but a member is down, stale or unhealthy
  }
  out.set_state(state);
  out.set_degraded(state == v1::CLUSTER_DEGRADED);
  if (out.degraded() && reason.empty()) {
    reason = std::to_string(out.healthy_members()) + " of " + std::to_string(out.member_count()) +
             " members healthy";
    std::string others;
    for (const auto& r : members) {
      if (r->counted && r->health != v1::HEALTHY) {
        others += (others.empty() ? "" : ", ") + r->label + " " + metrics::HealthName(r->health);
      }
    }
    if (!others.empty()) {
      reason += " (" + others + ")";
    }
  }

  for (const AlarmEntry& a : alarms) {
    v1::AlarmState& s = *out.add_alarm_details();
    s.set_member_id(a.member_id);
    if (const MemberRecord* r = FindById(a.member_id)) {
      s.set_member_name(r->label);
    }
    s.set_type(a.type);
    if (std::find(out.alarms().begin(), out.alarms().end(), a.type) == out.alarms().end()) {
      out.add_alarms(a.type);
    }
  }
}

void ClusterModel::Impl::FillCollectors(int64_t now, v1::ClusterSnapshot& out) const {
  for (const CollectorRecord& c : collectors) {
    v1::CollectorState& s = *out.add_collectors();
    s.set_id(c.id);
    s.set_last_sample_unix_ms(c.last_sample_ms);
    s.set_last_received_unix_ms(c.last_received_ms);
    s.set_samples_received(c.samples);
    s.set_stale(now - c.last_received_ms >= kStaleIntervals * interval_ms);
    for (const auto& r : members) {
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

void ClusterModel::Impl::Tick(v1::ClusterSnapshot& out, std::vector<DerivedPoint>& points) {
  std::lock_guard<std::mutex> lock(mu);
  const int64_t now = UnixMs(clock.Now());
  out.Clear();
  out.set_schema_version(proto::kSchemaVersion);
  out.set_cluster(config.cluster);
  out.set_tick_unix_ms(now);

  ClassifyMembers(now);
  const detail::LeaderChoice leader = JudgeLeadership(out);
  CollectAlarms();
  const uint32_t known_down = JudgeMembers(now, out);
  CountLeaderChanges(leader, out);
  LatencyWindows(now, out);
  FillMembers(now, out);
  FillDivergence(*out.mutable_divergence());
  Verdict(known_down, out);
  FillCollectors(now, out);

  detail::AppendClusterPoints(out, points);
  for (int i = 0; i < out.members_size(); ++i) {
    MemberRecord& r = *members[static_cast<std::size_t>(i)];
    if (!r.dirty && r.health == r.emitted_health) {
      continue;
    }
    // Rates and histogram windows belong to the sample they were computed at.
    const bool new_rates = r.dirty && r.rates.valid && r.latest.at_ms == r.sample_ms;
    detail::AppendMemberPoints(out.members(i), r.label, r.dirty, new_rates, now, points);
    r.emitted_health = r.health;
    r.dirty = false;
  }
}

// ---------------------------------------------------------------------------------------------

ClusterModel::ClusterModel(ModelConfig config, Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(config), clock)) {}

ClusterModel::~ClusterModel() = default;

bool ClusterModel::Ingest(std::string_view collector_id, const v1::MemberSample& sample) {
  return impl_->Ingest(collector_id, sample);
}

void ClusterModel::IngestStats(std::string_view collector_id, const v1::CollectorStats& stats) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  CollectorRecord& c = impl_->Collector(collector_id);
  c.has_stats = true;
  c.queue_depth = stats.queue_depth();
  c.dropped = stats.dropped_batches_total();
  c.resent = stats.resent_batches_total();
  c.errors = stats.errors_total();
  if (c.last_received_ms == 0) {
    c.last_received_ms = UnixMs(impl_->clock.Now());
  }
}

void ClusterModel::Tick(v1::ClusterSnapshot& out, std::vector<DerivedPoint>& points) {
  impl_->Tick(out, points);
}

void ClusterModel::SamplePoints(const v1::MemberSample& sample, std::vector<DerivedPoint>& out) {
  detail::AppendSamplePoints(sample, out);
}

}  // namespace etcdmon::aggregator
