// Rules about the cluster as a whole and about member availability: leader, quorum,
// split-brain, elections, unavailable members, alarms, divergence, blind collectors.

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "rule.h"

namespace etcdmon::alerter::detail {
namespace {

namespace v1 = etcdmonitor::v1;

// Down for raft: unreachable, or answering without a leader. Stale is unknown, not down.
bool IsDown(const v1::MemberState& member) {
  if (member.health() == v1::UNREACHABLE) {
    return true;
  }
  return member.health() != v1::STALE && member.reachable() && member.leader_id() == 0;
}

// Voting members whose state is unknown: their collector is silent (STALE). Cluster-wide
// verdicts that they could tip are held, not cleared: a stopped member whose collector is
// slow to say so must not resolve, and then fire again, an alert about a lost quorum.
uint32_t UnknownVoting(const v1::ClusterSnapshot& snapshot) {
  uint32_t unknown = 0;
  for (const auto& member : snapshot.members()) {
    unknown += !member.is_learner() && member.health() == v1::STALE ? 1 : 0;
  }
  return unknown;
}

// What the snapshot observed of its members: answering (a fresh sample that reached the
// member), unreachable (a fresh sample that did not) and stale (no recent sample: unknown).
struct Observed {
  uint32_t members = 0;
  uint32_t answering = 0;
  uint32_t unreachable = 0;
  uint32_t stale = 0;
};

Observed ObserveMembers(const v1::ClusterSnapshot& snapshot) {
  Observed o;
  for (const auto& member : snapshot.members()) {
    ++o.members;
    if (member.health() == v1::STALE) {
      ++o.stale;
    } else if (member.health() == v1::UNREACHABLE || !member.reachable()) {
      ++o.unreachable;
    } else {
      ++o.answering;
    }
  }
  return o;
}

// "2 unreachable, 1 without a recent sample": the members that did not answer, by why; empty
// when every member answered.
std::string NotAnswering(const Observed& o) {
  std::string out;
  if (o.unreachable > 0) {
    out = std::to_string(o.unreachable) + " unreachable";
  }
  if (o.stale > 0) {
    out += (out.empty() ? "" : ", ") + std::to_string(o.stale) + " without a recent sample";
  }
  return out;
}

// A held verdict for a cluster-wide alert: it keeps its state (an inactive one does not start).
void Hold(std::vector<Observation>& out, Severity severity) {
  Observation& o = out.emplace_back();
  o.verdict = Verdict::kHolding;
  o.severity = severity;
}

class NoLeaderRule final : public Rule {
 public:
  explicit NoLeaderRule(const RuleSpec& spec) : severity_(spec.severity) {}
  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    if (snapshot.has_leader()) {
      return;
    }
    Observation& o = out.emplace_back();
    o.verdict = Verdict::kFiring;
    o.severity = severity_;
    // Counted from what each member's newest sample says: a fresh sample of a member that did
    // not answer (stopped, hung, refused) is not an answer.
    const Observed seen = ObserveMembers(snapshot);
    const std::string missing = NotAnswering(seen);
    o.summary = "no member reports a leader (" + std::to_string(seen.answering) + " of " +
                std::to_string(seen.members) + " members answer" +
                (missing.empty() ? std::string() : "; " + missing) + ")";
    o.values = {{"answering_members", static_cast<double>(seen.answering)},
                {"unreachable_members", static_cast<double>(seen.unreachable)},
                {"stale_members", static_cast<double>(seen.stale)}};
  }

 private:
  Severity severity_;
};

// More voting members down than the cluster can lose. Losing only the leader is NoLeader.
class QuorumLostRule final : public Rule {
 public:
  explicit QuorumLostRule(const RuleSpec& spec) : severity_(spec.severity) {}
  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    const uint32_t voting = snapshot.voting_members();
    if (voting == 0) {
      return;
    }
    uint32_t down = 0, unreachable = 0;
    for (const auto& member : snapshot.members()) {
      if (member.is_learner() || !IsDown(member)) {
        continue;
      }
      ++down;
      unreachable += member.health() == v1::UNREACHABLE ? 1 : 0;
    }
    const uint32_t available = voting > down ? voting - down : 0;
    if (available >= snapshot.quorum_size()) {
      const uint32_t unknown = UnknownVoting(snapshot);
      if (available - std::min(unknown, available) < snapshot.quorum_size()) {
        Hold(out, severity_);
      }
      return;
    }
    Observation& o = out.emplace_back();
    o.verdict = Verdict::kFiring;
    o.severity = severity_;
    // Down is what was observed: unreachable, or answering without a leader.
    std::string why;
    if (unreachable > 0) {
      why = std::to_string(unreachable) + " unreachable";
    }
    if (down > unreachable) {
      why += (why.empty() ? "" : ", ") + std::to_string(down - unreachable) +
             " answering without a leader";
    }
    o.summary = "quorum lost: " + std::to_string(down) + " of " + std::to_string(voting) +
                " voting members down (" + why + "), " + std::to_string(snapshot.quorum_size()) +
                " needed";
    o.values = {{"voting_members_down", static_cast<double>(down)},
                {"voting_members", static_cast<double>(voting)},
                {"quorum_size", static_cast<double>(snapshot.quorum_size())}};
  }

 private:
  Severity severity_;
};

class SplitBrainRule final : public Rule {
 public:
  explicit SplitBrainRule(const RuleSpec& spec) : severity_(spec.severity) {}
  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    if (!snapshot.split_brain().detected()) {
      return;
    }
    Observation& o = out.emplace_back();
    o.verdict = Verdict::kFiring;
    o.severity = severity_;
    o.summary = "split-brain: " + snapshot.split_brain().reason();
    o.values = {{"evidence", static_cast<double>(snapshot.split_brain().evidence_size())}};
  }

 private:
  Severity severity_;
};

// Counts elections over the trailing hour. A rolling restart causes at most one election per
// voting member, so the threshold is never below the number of voting members.
class FrequentLeaderElectionsRule final : public Rule {
 public:
  explicit FrequentLeaderElectionsRule(const RuleSpec& spec)
      : severity_(spec.severity),
        max_changes_(spec.Parameter("max_changes")),
        resolve_fraction_(spec.Parameter("resolve_percent") / 100) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t now,
                std::vector<Observation>& out) override {
    changes_.Observe(now, snapshot.leader_changes_total());
    const double changes = changes_.Increase(now, MinuteWindow::kMinutes);
    const double threshold = std::max(max_changes_, static_cast<double>(snapshot.voting_members()));
    const Verdict verdict = AboveWithHysteresis(changes, threshold, threshold * resolve_fraction_);
    if (verdict == Verdict::kClear) {
      return;
    }
    Observation& o = out.emplace_back();
    o.verdict = verdict;
    o.severity = severity_;
    std::string leader = "no current leader";
    if (snapshot.has_leader()) {
      char hex[24];
      std::snprintf(hex, sizeof(hex), "%llx",
                    static_cast<unsigned long long>(snapshot.leader_id()));
      leader = "current leader " +
               (snapshot.leader_name().empty() ? std::string(hex) : snapshot.leader_name()) +
               ", term " + std::to_string(snapshot.raft_term());
    }
    o.summary = FormatValue(changes) + " leader changes in the last hour > " +
                FormatValue(threshold) + " (" + leader + ")";
    o.values = {{"leader_changes_1h", changes}, {"threshold", threshold}};
  }

  std::string SaveState() const override {
    StateWriter w;
    w.Int(kStateFormat);
    changes_.Save(w);
    return w.Take();
  }
  bool LoadState(std::string_view state) override {
    StateReader r(state);
    int64_t format = 0;
    return r.Int(format) && format == kStateFormat && changes_.Load(r) && r.Done();
  }

 private:
  static constexpr int64_t kStateFormat = 1;
  Severity severity_;
  double max_changes_;
  double resolve_fraction_;
  CounterWindow changes_;
};

// One warning per member unavailable; one critical cluster-wide alert when fewer than
// min_available_nodes voting members are up (0, the default: the quorum size of the current
// voting members, so a single-member cluster needs its one member and a five-member cluster
// three). Stale members are not down (CollectorStale).
class MemberUnavailableRule final : public Rule {
 public:
  explicit MemberUnavailableRule(const RuleSpec& spec)
      : severity_(spec.severity), min_available_(spec.Parameter("min_available_nodes")) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    uint32_t down_voting = 0;
    seen_.clear();
    for (const auto& member : snapshot.members()) {
      seen_.push_back(MemberLabel(member));
      if (!IsUnavailable(member, snapshot)) {
        continue;
      }
      down_voting += member.is_learner() ? 0 : 1;
      Observation& o = out.emplace_back();
      o.member = MemberLabel(member);
      o.verdict = Verdict::kFiring;
      o.severity = severity_;
      if (member.health() == v1::UNREACHABLE) {
        o.summary = o.member + " unreachable: " +
                    (member.error().empty() ? std::string("no answer") : member.error());
      } else {
        o.summary = o.member + " answers but has no leader";
      }
      o.values = {{"reachable", member.reachable() ? 1.0 : 0.0}};
    }
    // Forget members that left the snapshot (bounded by the membership).
    for (auto it = leaderless_.begin(); it != leaderless_.end();) {
      it = std::find(seen_.begin(), seen_.end(), it->first) == seen_.end() ? leaderless_.erase(it)
                                                                           : std::next(it);
    }
    const uint32_t voting = snapshot.voting_members();
    if (voting == 0) {
      return;  // membership not known yet
    }
    const bool follows_quorum = min_available_ <= 0;
    const double required = follows_quorum ? static_cast<double>(voting / 2 + 1) : min_available_;
    const double available = voting > down_voting ? voting - down_voting : 0;
    if (available >= required) {
      if (available - std::min<double>(UnknownVoting(snapshot), available) < required) {
        Hold(out, Severity::kCritical);
      }
      return;
    }
    Observation& o = out.emplace_back();
    o.verdict = Verdict::kFiring;
    o.severity = Severity::kCritical;
    // Stale members count as available (unknown, not down): say so when some are.
    const uint32_t unknown = UnknownVoting(snapshot);
    o.summary =
        "only " + FormatValue(available) + " of " + std::to_string(voting) +
        " voting members available < " + FormatValue(required) + " required" +
        (follows_quorum ? " (quorum)" : "") +
        (unknown > 0 ? "; " + std::to_string(unknown) + " of them without a recent sample, unknown"
                     : "");
    o.values = {{"available_members", available}, {"min_available_nodes", required}};
  }

  // A member answering without a leader is unavailable from its second such sample: that count
  // survives a restart, or the alert would resolve at the first sample after it.
  std::string SaveState() const override {
    StateWriter w;
    w.Int(kStateFormat);
    w.Int(static_cast<int64_t>(leaderless_.size()));
    for (const auto& [label, l] : leaderless_) {
      w.String(label);
      w.Int(l.last_sample_unix_ms);
      w.Int(l.samples);
    }
    return w.Take();
  }
  bool LoadState(std::string_view state) override {
    StateReader r(state);
    int64_t format = 0, count = 0;
    if (!r.Int(format) || format != kStateFormat || !r.Int(count) || count < 0 ||
        count > kMaxSavedMembers) {
      return false;
    }
    for (int64_t i = 0; i < count; ++i) {
      std::string label;
      int64_t last = 0, samples = 0;
      if (!r.String(label) || !r.Int(last) || !r.Int(samples) || samples < 0 || samples > 1000000) {
        return false;
      }
      leaderless_[label] = Leaderless{last, static_cast<int>(samples)};
    }
    return r.Done();
  }

 private:
  static constexpr int64_t kStateFormat = 1;
  static constexpr int64_t kMaxSavedMembers = 1024;
  // Unavailable to clients: unreachable, or cut off from a leader the others have, in two of
  // its samples in a row. While leadership moves (a leader's restart hands it over) a follower
  // answers without a leader for a moment while the new leader already leads; and while no
  // member has a leader (an election) that is NoLeader's and QuorumLost's to report, each with
  // its own `for`, not a reason to call every member unavailable.
  bool IsUnavailable(const v1::MemberState& member, const v1::ClusterSnapshot& snapshot) {
    if (member.health() == v1::UNREACHABLE) {
      return true;
    }
    const std::string label = MemberLabel(member);
    if (!snapshot.has_leader() || !IsDown(member)) {
      leaderless_.erase(label);
      return false;
    }
    Leaderless& l = leaderless_[label];
    if (member.last_sample_unix_ms() != l.last_sample_unix_ms) {
      l.last_sample_unix_ms = member.last_sample_unix_ms();
      ++l.samples;
    }
    return l.samples >= 2;
  }

  struct Leaderless {
    int64_t last_sample_unix_ms = 0;
    int samples = 0;  // consecutive samples without a leader while the cluster has one
  };

  Severity severity_;
  double min_available_;
  std::map<std::string, Leaderless> leaderless_;  // by member label
  std::vector<std::string> seen_;                 // the members of the latest snapshot
};

// One alert per member with an alarm (NOSPACE, CORRUPT), naming the types.
class EtcdAlarmActiveRule final : public Rule {
 public:
  explicit EtcdAlarmActiveRule(const RuleSpec& spec) : severity_(spec.severity) {}
  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    const std::size_t first = out.size();
    for (const auto& alarm : snapshot.alarm_details()) {
      std::string member = alarm.member_name();
      if (member.empty()) {
        char hex[24];
        std::snprintf(hex, sizeof(hex), "%llx", static_cast<unsigned long long>(alarm.member_id()));
        member = hex;
      }
      auto same = std::find_if(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                               [&](const Observation& o) { return o.member == member; });
      if (same != out.end()) {
        same->summary += ", " + alarm.type();
        same->values[0].value += 1;
        continue;
      }
      Observation& o = out.emplace_back();
      o.member = member;
      o.verdict = Verdict::kFiring;
      o.severity = severity_;
      o.summary = member + ": etcd alarm " + alarm.type();
      o.values = {{"alarms", 1}};
    }
    for (auto it = out.begin() + static_cast<std::ptrdiff_t>(first); it != out.end(); ++it) {
      if (it->summary.find("NOSPACE") != std::string::npos) {
        it->summary +=
            " (writes refused: compact, `etcd-monitor ctl defrag`, then `etcd-monitor ctl alarm "
            "disarm`)";
      }
    }
  }

 private:
  Severity severity_;
};

// A member whose revision or applied index keeps falling further behind the others.
class RevisionDivergenceRule final : public Rule {
 public:
  explicit RevisionDivergenceRule(const RuleSpec& spec)
      : severity_(spec.severity), growing_for_ms_(spec.Parameter("growing_for")) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t now,
                std::vector<Observation>& out) override {
    const auto& divergence = snapshot.divergence();
    Consider(divergence.revision(), "revision", now, out);
    Consider(divergence.applied_index(), "applied index", now, out);
  }

 private:
  void Consider(const etcdmonitor::v1::Spread& spread, std::string_view what, int64_t now,
                std::vector<Observation>& out) {
    if (!spread.growing() || spread.lagging_member_name().empty() ||
        now - spread.growing_since_unix_ms() < growing_for_ms_) {
      return;
    }
    for (const Observation& o : out) {
      if (o.member == spread.lagging_member_name()) {
        return;  // already reported for the other counter
      }
    }
    Observation& o = out.emplace_back();
    o.member = spread.lagging_member_name();
    o.verdict = Verdict::kFiring;
    o.severity = severity_;
    o.summary = o.member + ": " + std::string(what) + " " + FormatValue(spread.lag()) +
                " behind and falling further behind for " +
                FormatSeconds((now - spread.growing_since_unix_ms()) / 1000.0);
    o.values = {{"lag", spread.lag()}, {"spread", static_cast<double>(spread.spread())}};
  }

  Severity severity_;
  double growing_for_ms_;
};

// A member without a recent sample: the monitoring is blind to it, the member may be fine.
class CollectorStaleRule final : public Rule {
 public:
  explicit CollectorStaleRule(const RuleSpec& spec) : severity_(spec.severity) {}
  bool EvaluatesWhenBlind() const override { return true; }
  bool HoldsWhileUnreachable() const override { return false; }  // a fresh verdict: not blind
  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    for (const auto& member : snapshot.members()) {
      if (member.health() != v1::STALE) {
        continue;
      }
      Observation& o = out.emplace_back();
      o.member = MemberLabel(member);
      o.verdict = Verdict::kFiring;
      o.severity = severity_;
      if (member.last_received_unix_ms() == 0) {
        o.summary = o.member + ": never sampled (no collector reports it); the member may be fine";
        o.values = {{"seconds_since_sample", -1}};
        continue;
      }
      const double age = (snapshot.tick_unix_ms() - member.last_received_unix_ms()) / 1000.0;
      o.summary = o.member + ": no sample for " + FormatSeconds(age) +
                  (member.collector_id().empty() ? std::string()
                                                 : " from collector " + member.collector_id()) +
                  "; monitoring is blind, the member may be fine";
      o.values = {{"seconds_since_sample", age}};
    }
  }

 private:
  Severity severity_;
};

// The aggregator's history writes fail (a full data disk): the live monitoring goes on, but the
// history is not stored and the collectors' unacknowledged batches pile up until they spill.
class MonitorStorageFailingRule final : public Rule {
 public:
  explicit MonitorStorageFailingRule(const RuleSpec& spec) : severity_(spec.severity) {}
  bool EvaluatesWhenBlind() const override { return true; }  // a full disk can come with that
  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    const v1::StorageState& storage = snapshot.storage();
    Observation& o = out.emplace_back();
    o.verdict = storage.failing() ? Verdict::kFiring : Verdict::kClear;
    o.severity = severity_;
    o.summary = "the monitor's history writes fail (" + std::to_string(storage.failures_total()) +
                " failures: " + storage.last_error() +
                "); samples are monitored but not stored, collectors keep and resend them";
    o.values = {{"storage_failures_total", static_cast<double>(storage.failures_total())}};
  }

 private:
  Severity severity_;
};

// Samples refused because their identity contradicts the cluster's (a collector pointed at
// another etcd cluster under this name, or a member already seen under another name): fires
// while the aggregator refused one within the last 3 of its tick intervals.
class ClusterIdentityConflictRule final : public Rule {
 public:
  explicit ClusterIdentityConflictRule(const RuleSpec& spec) : severity_(spec.severity) {}
  // The refusals are the aggregator's own figures: a cluster whose every sample is refused is
  // blind, and that is when this matters most.
  bool EvaluatesWhenBlind() const override { return true; }
  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    const int64_t interval_ms =
        snapshot.tick_interval_ms() > 0 ? snapshot.tick_interval_ms() : kDefaultTickIntervalMs;
    const int64_t recent_from = snapshot.tick_unix_ms() - kRecentTicks * interval_ms;
    const v1::IdentityConflict* newest = nullptr;
    int recent = 0;
    double refused = 0;
    for (const auto& conflict : snapshot.identity_conflicts()) {
      if (conflict.last_unix_ms() < recent_from) {
        continue;
      }
      ++recent;
      refused += static_cast<double>(conflict.count());
      if (newest == nullptr || conflict.last_unix_ms() > newest->last_unix_ms()) {
        newest = &conflict;
      }
    }
    if (newest == nullptr) {
      return;  // none recent: cleared
    }
    Observation& o = out.emplace_back();
    o.verdict = Verdict::kFiring;
    o.severity = severity_;
    o.summary =
        "samples refused from collector " +
        (newest->collector_id().empty() ? std::string("(unnamed)") : newest->collector_id()) +
        " for " + (newest->endpoint().empty() ? std::string("(no endpoint)") : newest->endpoint()) +
        ": " + newest->reason() +
        (recent > 1 ? " (and " + std::to_string(recent - 1) + " more)" : std::string());
    o.values = {{"refused_samples", refused}, {"conflicts", static_cast<double>(recent)}};
  }

 private:
  static constexpr int64_t kDefaultTickIntervalMs = 1000;  // a snapshot that does not say
  static constexpr int64_t kRecentTicks = 3;
  Severity severity_;
};

}  // namespace

std::unique_ptr<Rule> MakeClusterRule(const RuleSpec& spec) {
  const std::string_view id = spec.id;
  if (id == kNoLeader) return std::make_unique<NoLeaderRule>(spec);
  if (id == kQuorumLost) return std::make_unique<QuorumLostRule>(spec);
  if (id == kSplitBrain) return std::make_unique<SplitBrainRule>(spec);
  if (id == kFrequentLeaderElections) return std::make_unique<FrequentLeaderElectionsRule>(spec);
  if (id == kMemberUnavailable) return std::make_unique<MemberUnavailableRule>(spec);
  if (id == kEtcdAlarmActive) return std::make_unique<EtcdAlarmActiveRule>(spec);
  if (id == kRevisionDivergence) return std::make_unique<RevisionDivergenceRule>(spec);
  if (id == kCollectorStale) return std::make_unique<CollectorStaleRule>(spec);
  if (id == kMonitorStorageFailing) return std::make_unique<MonitorStorageFailingRule>(spec);
  if (id == kClusterIdentityConflict) return std::make_unique<ClusterIdentityConflictRule>(spec);
  return nullptr;
}

}  // namespace etcdmon::alerter::detail
