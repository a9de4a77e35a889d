#pragma once

// Leadership across members: which leader the cluster has, and whether the members' claims
// amount to a split-brain. Private to the aggregator. Pure functions over small vectors (one
// entry per fresh, reachable member with a Status).

#include <cstdint>
#include <string_view>
#include <vector>

namespace etcdmonitor::v1 {
class SplitBrain;
}  // namespace etcdmonitor::v1

namespace etcdmon::aggregator::detail {

/// What one member says about leadership, from its latest sample.
struct LeaderClaim {
  uint64_t member_id = 0;
  std::string_view member_label;  // name, hex id or endpoint (outlives the call)
  uint64_t cluster_id = 0;
  uint64_t term = 0;
  uint64_t leader_id = 0;     // the leader it follows (itself when it leads); 0: none
  int is_leader_metric = -1;  // etcd_server_is_leader: 1, 0, or -1 when unknown
  int64_t sample_ms = 0;      // collection time of the sample
  int64_t term_since_ms = 0;  // collection time of its first sample at `term`
  bool confirmed = true;      // its previous sample named the same leader at the same term
};

/// The cluster's leader: the one named at the highest term by any claim (terms only grow, so
/// the newest election wins over members that have not heard of it yet). Several leaders at
/// that term (a split-brain) -> the one more members follow, then the lowest id.
/// leader_id 0 when no claim names a leader.
struct LeaderChoice {
  uint64_t leader_id = 0;
  uint64_t term = 0;
};
LeaderChoice ChooseLeader(const std::vector<LeaderClaim>& claims);

/// The non-zero cluster id most claims report (ties: the lowest); 0 when none does.
uint64_t MajorityClusterId(const std::vector<LeaderClaim>& claims);

/// Fills `out` (cleared first) with the split-brain verdict and its evidence:
///  - SAME_TERM_DIFFERENT_LEADERS: two members follow different leaders at one term (raft
///    elects at most one leader per term, so this never happens in a healthy cluster);
///  - MULTIPLE_LEADERS: two members both report etcd_server_is_leader 1 at one term;
///  - CLUSTER_ID_MISMATCH: members report different (non-zero) cluster ids;
///  - DIVERGENT_TERMS: a member at a lower term still follows a leader (other than the newer
///    term's) at least `grace_ms` after a member was first seen at the higher term with its
///    own leader. An election between two members' samples is not one; a minority partition
///    that lost its leader follows nobody and is not one either.
void DetectSplitBrain(const std::vector<LeaderClaim>& claims, int64_t grace_ms,
                      etcdmonitor::v1::SplitBrain& out);

}  // namespace etcdmon::aggregator::detail
