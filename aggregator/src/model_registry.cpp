#include "model_registry.h"

#include <algorithm>
#include <utility>

#include "etcdmon/metrics/member.h"
#include "model_stats.h"

namespace etcdmon::aggregator::detail {
namespace {

namespace v1 = etcdmonitor::v1;
using histogram::Bucket;

// The db growth rate is measured over this much history (since the last shrink).
constexpr int64_t kDbGrowthWindowMs = 10 * 60 * 1000;
// A collector not heard from for this long is dropped from the snapshot.
constexpr int64_t kCollectorForgetMs = 60 * 60 * 1000;
// Bounds of the per-member rings, whatever the configured intervals.
constexpr int64_t kMinRing = 8;
constexpr int64_t kMaxProbeRing = 4096;
constexpr int64_t kMaxGrpcRing = 128;
constexpr int64_t kMaxSizeRing = 1024;

std::size_t RingSize(int64_t span_ms, int64_t interval_ms, int64_t per_interval, int64_t cap) {
  const int64_t n = (span_ms / interval_ms + 2) * per_interval;
  return static_cast<std::size_t>(std::clamp(n, kMinRing, cap));
}

bool HasError(const v1::MemberSample& sample, std::string_view source) {
  for (const v1::SampleError& e : sample.errors()) {
    if (e.source() == source) {
      return true;
    }
  }
  return false;
}

}  // namespace

MemberRegistry::MemberRegistry(int64_t interval_ms, int64_t window_ms, RegistryLimits limits)
    : interval_ms_(interval_ms),
      // Up to three probes per sample (two reads, one write).
      probe_ring_(RingSize(window_ms, interval_ms, 2, kMaxProbeRing)),
      grpc_ring_(RingSize(window_ms, interval_ms, 1, kMaxGrpcRing)),
      size_ring_(RingSize(kDbGrowthWindowMs, interval_ms, 1, kMaxSizeRing)),
      limits_(limits) {}

// ---------------------------------------------------------------------------------------------
// Ingest

MemberRecord* MemberRegistry::FindById(uint64_t id) {
  for (auto& r : members_) {
    if (r->id == id) {
      return r.get();
    }
  }
  return nullptr;
}

const MemberRecord* MemberRegistry::FindById(uint64_t id) const {
  for (const auto& r : members_) {
    if (r->id == id) {
      return r.get();
    }
  }
  return nullptr;
}

// A record without an id that is the member at `endpoint` (or named `name`, or reachable at
// one of `urls`).
MemberRecord* MemberRegistry::FindUnidentified(
    std::string_view endpoint, std::string_view name,
    const google::protobuf::RepeatedPtrField<std::string>* urls) {
  for (auto& r : members_) {
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
        if (!r->endpoint.empty() && UrlAuthority(url) == r->endpoint) {
          return r.get();
        }
      }
    }
  }
  return nullptr;
}

MemberRecord* MemberRegistry::NewRecord(uint64_t id) {
  if (members_.size() >= limits_.max_members) {
    return nullptr;
  }
  auto r = std::make_unique<MemberRecord>();
  r->id = id;
  r->read_probes.Reset(probe_ring_);
  r->write_probes.Reset(probe_ring_ / 2);
  r->grpc.Reset(grpc_ring_);
  r->db_sizes.Reset(size_ring_);
  members_.push_back(std::move(r));
  return members_.back().get();
}

MemberRecord* MemberRegistry::FindOrCreate(const v1::MemberSample& sample) {
  const uint64_t id = sample.member_id();
  if (id != 0) {
    if (MemberRecord* r = FindById(id)) {
      // A record made while the id was unknown is this member too: drop it.
      members_.erase(std::remove_if(members_.begin(), members_.end(),
                                    [&](const std::unique_ptr<MemberRecord>& m) {
                                      return m->id == 0 && !m->endpoint.empty() &&
                                             m->endpoint == sample.endpoint();
                                    }),
                     members_.end());
      return r;
    }
    if (MemberRecord* r = FindUnidentified(sample.endpoint(), sample.member_name(), nullptr)) {
      r->id = id;
      return r;
    }
    return NewRecord(id);
  }
  // No id yet (the member has been down since its collector started): by endpoint or name.
  for (auto& r : members_) {
    if (!sample.endpoint().empty() && r->endpoint == sample.endpoint()) {
      return r.get();
    }
  }
  for (auto& r : members_) {
    for (const std::string& url : r->client_urls) {
      if (!sample.endpoint().empty() && UrlAuthority(url) == sample.endpoint()) {
        return r.get();
      }
    }
    if (!sample.member_name().empty() && r->name == sample.member_name()) {
      return r.get();
    }
  }
  MemberRecord* r = NewRecord(0);
  if (r != nullptr) {
    r->endpoint = sample.endpoint();
  }
  return r;
}

CollectorRecord& MemberRegistry::Collector(std::string_view id) {
  for (CollectorRecord& c : collectors_) {
    if (c.id == id) {
      return c;
    }
  }
  collectors_.emplace_back();
  collectors_.back().id.assign(id.data(), id.size());
  return collectors_.back();
}

void MemberRegistry::ApplyMemberList(const v1::MemberSample& sample, MemberRecord& self) {
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
      } else if ((r = NewRecord(info.id())) == nullptr) {
        continue;  // max_members tracked already
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
      r->endpoint = std::string(UrlAuthority(r->client_urls.front()));
    }
  }
}

void MemberRegistry::DeriveFromPair(MemberRecord& r, const Reading& prev, const Reading& cur) {
  const double dt = static_cast<double>(cur.at_ms - prev.at_ms) / 1000.0;
  MemberRates& m = r.rates;
  m = MemberRates();
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
    d_committed = CounterDelta(prev.proposals_committed, cur.proposals_committed);
    m.committed = d_committed / dt;
  }
  if (Present(prev.proposals_applied) && Present(cur.proposals_applied)) {
    m.applied = CounterDelta(prev.proposals_applied, cur.proposals_applied) / dt;
  }
  if (Present(prev.proposals_failed) && Present(cur.proposals_failed)) {
    d_failed = CounterDelta(prev.proposals_failed, cur.proposals_failed);
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
    if (a.empty() || b.empty() || !histogram::BucketDeltas(a, b, ingest_delta_).ok()) {
      return;
    }
    HistogramPercentiles(ingest_delta_, out);
  };
  window(prev.wal_fsync, cur.wal_fsync, r.wal_fsync);
  window(prev.backend_commit, cur.backend_commit, r.backend_commit);
}

void MemberRegistry::ObserveDbSize(MemberRecord& r, int64_t at_ms, double bytes) {
  if (!r.db_sizes.empty() && bytes < r.db_sizes.back().bytes) {
    r.db_sizes.Clear();  // defragmented: growth is measured from here
  }
  r.db_sizes.Push(SizeObservation{at_ms, bytes});
  r.has_db_growth = false;
  r.db_growth = 0;
  for (std::size_t i = 0; i + 1 < r.db_sizes.size(); ++i) {
    const SizeObservation& first = r.db_sizes[i];
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

void MemberRegistry::ObserveLags(MemberRecord& r, int64_t at_ms) {
  for (int d = 0; d < 3; ++d) {
    const int64_t own = Progress(r.status, d);
    r.lags[d].Record(at_ms, own);
    double reference = static_cast<double>(own);
    for (const auto& other : members_) {
      double v = 0;
      if (other.get() != &r && other->lags[d].ValueAt(at_ms, v)) {
        reference = std::max(reference, v);
      }
    }
    r.lags[d].ObserveLag(reference);
  }
}

bool MemberRegistry::Ingest(std::string_view collector_id, const v1::MemberSample& sample,
                            int64_t now) {
  const int64_t at = sample.collected_at_unix_ms();
  if (at > now && at - now > limits_.max_lead_ms) {
    return false;  // from the future: it would outrank every genuine sample of the member
  }
  MemberRecord* found = FindOrCreate(sample);
  if (found == nullptr) {
    return false;  // max_members tracked already
  }
  MemberRecord& r = *found;
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
      AppendSentence(r.problems, text);
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
    const ProbeObservation obs{at, static_cast<double>(p.latency_us()) / 1000.0};
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

  Reading& cur = spare_reading_;
  ExtractReading(sample, cur, ingest_buckets_);
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

void MemberRegistry::IngestStats(std::string_view collector_id, const v1::CollectorStats& stats,
                                 int64_t now) {
  CollectorRecord& c = Collector(collector_id);
  c.has_stats = true;
  c.queue_depth = stats.queue_depth();
  c.dropped = stats.dropped_batches_total();
  c.resent = stats.resent_batches_total();
  c.errors = stats.errors_total();
  if (c.last_received_ms == 0) {
    c.last_received_ms = now;
  }
}

// ---------------------------------------------------------------------------------------------
// Tick

bool MemberRegistry::IsListed(uint64_t id, bool fresh_lists_only) const {
  if (id == 0) {
    return false;
  }
  for (const auto& r : members_) {
    if (!r->has_member_list || (fresh_lists_only && !r->fresh)) {
      continue;
    }
    if (std::find(r->member_list.begin(), r->member_list.end(), id) != r->member_list.end()) {
      return true;
    }
  }
  return false;
}

void MemberRegistry::Classify(int64_t now, bool count_unidentified) {
  const int64_t stale_after = kStaleIntervals * interval_ms_;
  bool any_list = false;
  bool any_fresh_list = false;
  for (auto& r : members_) {
    r->fresh = r->sampled && now - r->seen_ms < stale_after;
    any_list = any_list || r->has_member_list;
    any_fresh_list = any_fresh_list || (r->has_member_list && r->fresh);
  }
  // Membership is what the current member lists say: those of the fresh members, or, when we
  // are blind, every list we have.
  for (auto& r : members_) {
    r->listed = IsListed(r->id, any_fresh_list);
  }
  if (any_list) {
    // Gone from every current list and no collector reports it any more: removed.
    members_.erase(std::remove_if(members_.begin(), members_.end(),
                                  [](const std::unique_ptr<MemberRecord>& r) {
                                    return !r->listed && !r->fresh;
                                  }),
                   members_.end());
  }
  // Neither sampled nor named by a member list for forget_after: forgotten, so members that
  // come and go (or names a forger invented) do not add up.
  members_.erase(std::remove_if(members_.begin(), members_.end(),
                                [&](const std::unique_ptr<MemberRecord>& r) {
                                  const int64_t heard = std::max(r->received_ms, r->listed_info_ms);
                                  return !r->fresh && now - heard > limits_.forget_after_ms;
                                }),
                 members_.end());
  for (auto& r : members_) {
    r->label = metrics::MemberLabel(r->name, r->id, r->endpoint);
    r->learner = r->has_status ? r->status.is_learner() : r->listed_learner;
    // A sampled member missing from the lists counts while it answers (a member list may not
    // have been fetched yet); one that does not answer is likely removed and does not count.
    // Without any list, a member whose samples never reached it (a refused connection, no id,
    // no name) may be one the lists will name soon: it counts only once that is unlikely.
    const bool identified = r->id != 0 || !r->name.empty() || r->reachable;
    r->counted =
        any_list ? r->listed || (r->fresh && r->reachable) : identified || count_unidentified;
  }
  std::sort(members_.begin(), members_.end(),
            [](const std::unique_ptr<MemberRecord>& a, const std::unique_ptr<MemberRecord>& b) {
              return a->label != b->label ? a->label < b->label : a->id < b->id;
            });
  collectors_.erase(std::remove_if(collectors_.begin(), collectors_.end(),
                                   [&](const CollectorRecord& c) {
                                     return now - c.last_received_ms > kCollectorForgetMs;
                                   }),
                    collectors_.end());
}

}  // namespace etcdmon::aggregator::detail
