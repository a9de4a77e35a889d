#include "model_judge.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "etcdmon/metrics/member.h"

namespace etcdmon::aggregator::detail {

namespace v1 = etcdmonitor::v1;

ClusterJudge::ClusterJudge(MemberRegistry& registry, int64_t grace_ms)
    : registry_(registry), grace_ms_(grace_ms) {}

LeaderChoice ClusterJudge::JudgeLeadership(v1::ClusterSnapshot& out) {
  claims_.clear();
  for (const auto& r : registry_.members()) {
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
    claims_.push_back(c);
  }
  const LeaderChoice leader = ChooseLeader(claims_);
  DetectSplitBrain(claims_, grace_ms_, *out.mutable_split_brain());
  uint32_t followers = 0;
  for (const LeaderClaim& c : claims_) {
    followers += leader.leader_id != 0 && c.leader_id == leader.leader_id ? 1 : 0;
  }
  out.set_cluster_id(MajorityClusterId(claims_));
  out.set_has_leader(leader.leader_id != 0);
  out.set_leader_id(leader.leader_id);
  out.set_raft_term(leader.term);
  if (const MemberRecord* r =
          leader.leader_id != 0 ? registry_.FindById(leader.leader_id) : nullptr) {
    out.set_leader_name(r->name);
    out.set_leader_endpoint(r->endpoint);
  }
  out.set_leader_followers(followers);
  out.set_leader_agreement(leader.leader_id != 0 && followers == claims_.size());
  return leader;
}

void ClusterJudge::CollectAlarms() {
  alarms_.clear();
  for (const auto& r : registry_.members()) {
    if (!r->fresh || !r->reachable || !r->alarms_known) {
      continue;
    }
    for (const AlarmEntry& a : r->alarms) {
      const bool seen = std::any_of(alarms_.begin(), alarms_.end(), [&](const AlarmEntry& b) {
        return b.member_id == a.member_id && b.type == a.type;
      });
      if (!seen) {
        alarms_.push_back(a);
      }
    }
  }
}

void ClusterJudge::JudgeMember(MemberRecord& r, bool any_list, int64_t now) const {
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
    AppendSentence(r.reason, r.problems);
  }
  if (r.has_status && r.status.errors_size() > 0) {
    std::string etcd_errors = "etcd reports: ";
    for (int i = 0; i < r.status.errors_size(); ++i) {
      etcd_errors += (i > 0 ? ", " : "") + r.status.errors(i);
    }
    AppendSentence(r.reason, etcd_errors);
  }
  const bool metric_leaderless =
      r.latest.at_ms == r.sample_ms && Present(r.latest.has_leader) && r.latest.has_leader == 0;
  r.leaderless = (r.has_status && r.status.leader_id() == 0) || metric_leaderless;
  if (r.leaderless && r.reason.find("no leader") == std::string::npos) {
    AppendSentence(r.reason, "no leader");
  }
  for (const AlarmEntry& a : alarms_) {
    if (a.member_id == r.id && r.id != 0) {
      AppendSentence(r.reason, "alarm " + a.type);
    }
  }
  if (r.health_check == 0) {
    AppendSentence(r.reason, r.health_reason.empty() ? "/health: false"
                                                     : "/health: false (" + r.health_reason + ")");
  }
  if (any_list && !r.listed) {
    AppendSentence(r.reason, "not in the member list");
  }
  r.health = r.reason.empty() ? v1::HEALTHY : v1::UNHEALTHY;
}

uint32_t ClusterJudge::JudgeMembers(int64_t now, v1::ClusterSnapshot& out) {
  bool any_list = false;
  for (const auto& r : registry_.members()) {
    any_list = any_list || r->has_member_list;
  }
  uint32_t member_count = 0, voting = 0, learners = 0, healthy = 0, healthy_voting = 0;
  uint32_t unreachable = 0, stale = 0, fresh = 0, known_down = 0;
  // Since when the current leader says it leads: a follower's "no leader" collected before
  // that describes the election that made it, not the present.
  const MemberRecord* leader = out.has_leader() ? registry_.FindById(out.leader_id()) : nullptr;
  const int64_t leading_since = leader != nullptr ? leader->leading_since_ms : 0;
  for (auto& r : registry_.members()) {
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

void ClusterJudge::CountLeaderChanges(const LeaderChoice& leader, v1::ClusterSnapshot& out) {
  change_counts_.clear();
  for (const auto& r : registry_.members()) {
    if (r->counted && !r->learner && r->latest.has_metrics) {
      change_counts_.push_back(r->leader_changes_counted);
    }
  }
  if (!change_counts_.empty()) {
    // Every election is seen by a quorum: the quorum-th largest count is what a quorum saw.
    std::sort(change_counts_.begin(), change_counts_.end(), std::greater<double>());
    const std::size_t k =
        std::min<std::size_t>(std::max<uint32_t>(out.quorum_size(), 1), change_counts_.size());
    counter_changes_ = std::max(counter_changes_, change_counts_[k - 1]);
  }
  if (leader.leader_id != 0) {
    const uint64_t cluster_id = out.cluster_id();
    if (cluster_id != 0 && last_leader_cluster_ != 0 && cluster_id != last_leader_cluster_) {
      last_leader_id_ = 0;  // another cluster: its terms start over
      last_leader_term_ = 0;
    }
    if (cluster_id != 0) {
      last_leader_cluster_ = cluster_id;
    }
    if (last_leader_id_ != 0 && leader.term > last_leader_term_) {
      ++observed_changes_;
    }
    if (leader.term >= last_leader_term_) {
      last_leader_id_ = leader.leader_id;
      last_leader_term_ = leader.term;
    }
  }
  const auto from_counters = static_cast<uint64_t>(std::llround(counter_changes_));
  out.set_leader_changes_from_counters(from_counters);
  out.set_leader_changes_observed(observed_changes_);
  out.set_leader_changes_total(std::max(from_counters, observed_changes_));
}

void ClusterJudge::Verdict(uint32_t known_down, v1::ClusterSnapshot& out) {
  const bool split_brain = out.split_brain().detected();
  out.set_healthy(out.fresh_members() > 0 && out.has_leader() && out.quorum_ok() && !split_brain &&
                  alarms_.empty());
  // Members whose fresh newest sample reached them, and the first error of those it did not.
  uint32_t answering = 0;
  std::string first_error;
  for (const auto& r : registry_.members()) {
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
    AppendSentence(reason, "no recent sample of any member");
  } else if (answering == 0) {
    // Nothing etcd said is current: no leader and no quorum follow from that, say the cause.
    AppendSentence(reason, "no etcd member answers: 0 of " + std::to_string(out.member_count()) +
                               " reachable (" + first_error + ")");
    if (out.stale_members() > 0) {
      AppendSentence(reason, std::to_string(out.stale_members()) + " without a recent sample");
    }
  } else {
    if (!out.has_leader()) {
      AppendSentence(reason, "no leader");
    }
    if (!out.quorum_ok() && out.voting_members() > 0) {
      AppendSentence(reason, "quorum lost: " + std::to_string(known_down) + " of " +
                                 std::to_string(out.voting_members()) +
                                 " voting members down, quorum is " +
                                 std::to_string(out.quorum_size()));
    }
    if (split_brain) {
      AppendSentence(reason, "split-brain: " + out.split_brain().reason());
    }
    for (const AlarmEntry& a : alarms_) {
      const MemberRecord* r = registry_.FindById(a.member_id);
      AppendSentence(reason, "alarm " + a.type + " on " +
                                 (r != nullptr ? r->label : metrics::HexId(a.member_id)));
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
    for (const auto& r : registry_.members()) {
      if (r->counted && r->health != v1::HEALTHY) {
        others += (others.empty() ? "" : ", ") + r->label + " " + metrics::HealthName(r->health);
      }
    }
    if (!others.empty()) {
      reason += " (" + others + ")";
    }
  }

  for (const AlarmEntry& a : alarms_) {
    v1::AlarmState& s = *out.add_alarm_details();
    s.set_member_id(a.member_id);
    if (const MemberRecord* r = registry_.FindById(a.member_id)) {
      s.set_member_name(r->label);
    }
    s.set_type(a.type);
    if (std::find(out.alarms().begin(), out.alarms().end(), a.type) == out.alarms().end()) {
      out.add_alarms(a.type);
    }
  }
}

}  // namespace etcdmon::aggregator::detail
