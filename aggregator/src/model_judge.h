#pragma once

// The cluster model's judge: on each tick, who leads and whether that is a split-brain, each
// member's health and the reason for it, quorum, the leader-change count, and the cluster's
// verdict (healthy, state, health_reason, alarms). Private to the aggregator; the rules are
// documented on the snapshot's fields (proto/etcdmonitor/v1/snapshot.proto).
//
// Single-threaded: owned by ClusterModel and used under its mutex.

#include <cstdint>
#include <vector>

#include "etcdmonitor/v1/snapshot.pb.h"
#include "model_leader.h"
#include "model_member.h"
#include "model_registry.h"

namespace etcdmon::aggregator::detail {

class ClusterJudge final {
 public:
  // `registry` must outlive the judge. A member may follow an older term's leader for
  // `grace_ms` (at least 1) after a newer term was first seen before that is split-brain.
  ClusterJudge(MemberRegistry& registry, int64_t grace_ms);

  ClusterJudge(const ClusterJudge&) = delete;
  ClusterJudge& operator=(const ClusterJudge&) = delete;

  // The steps of a tick, in this order, after MemberRegistry::Classify().

  // The leader, split-brain, cluster id and leader agreement into `out`; returns the leader.
  LeaderChoice JudgeLeadership(etcdmonitor::v1::ClusterSnapshot& out);
  // The union of the alarm lists the fresh members returned: alarms().
  void CollectAlarms();
  // Health of every member, the counts and quorum into `out`; returns the voting members known
  // down.
  uint32_t JudgeMembers(int64_t now, etcdmonitor::v1::ClusterSnapshot& out);
  // Leader changes since the model started, from the counters and as observed.
  void CountLeaderChanges(const LeaderChoice& leader, etcdmonitor::v1::ClusterSnapshot& out);
  // healthy, state, degraded, health_reason and the alarms, once `out` has the members.
  void Verdict(uint32_t known_down, etcdmonitor::v1::ClusterSnapshot& out);

  // The alarms of the current tick (CollectAlarms).
  const std::vector<AlarmEntry>& alarms() const { return alarms_; }

 private:
  void JudgeMember(MemberRecord& r, bool any_list, int64_t now) const;

  MemberRegistry& registry_;
  const int64_t grace_ms_;

  // Leader changes (ClusterSnapshot.leader_changes_* documents the rule).
  double counter_changes_ = 0;  // high-water mark of the counter estimate
  uint64_t observed_changes_ = 0;
  uint64_t last_leader_id_ = 0;
  uint64_t last_leader_term_ = 0;
  uint64_t last_leader_cluster_ = 0;

  std::vector<AlarmEntry> alarms_;  // of the current tick

  // Tick scratch, kept for its capacity.
  std::vector<LeaderClaim> claims_;
  std::vector<double> change_counts_;
};

}  // namespace etcdmon::aggregator::detail
