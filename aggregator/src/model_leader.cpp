#include "model_leader.h"

#include <string>

#include "etcdmon/metrics/member.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "model_reading.h"

namespace etcdmon::aggregator::detail {
namespace {

namespace v1 = etcdmonitor::v1;

// Adds evidence unless this member already has evidence of this kind.
void AddEvidence(v1::SplitBrain& out, v1::SplitBrainKind kind, const LeaderClaim& c,
                 std::string statement) {
  for (const v1::Evidence& e : out.evidence()) {
    if (e.kind() == kind && e.member_id() == c.member_id && e.member_name() == c.member_label) {
      return;
    }
  }
  v1::Evidence* e = out.add_evidence();
  e->set_member_id(c.member_id);
  e->mutable_member_name()->assign(c.member_label.data(), c.member_label.size());
  e->set_statement(std::move(statement));
  e->set_kind(kind);
  e->set_raft_term(c.term);
  e->set_leader_id(c.leader_id);
  e->set_cluster_id(c.cluster_id);
  e->set_sample_unix_ms(c.sample_ms);
}

void AddKind(v1::SplitBrain& out, v1::SplitBrainKind kind, const std::string& sentence) {
  out.add_kinds(kind);
  if (!out.reason().empty()) {
    out.mutable_reason()->append("; ");
  }
  out.mutable_reason()->append(sentence);
}

std::string Follows(const LeaderClaim& c) {
  if (c.leader_id == c.member_id) {
    return "leads at raft term " + std::to_string(c.term);
  }
  return "follows leader " + metrics::HexId(c.leader_id) + " at raft term " +
         std::to_string(c.term);
}

std::string Seconds(int64_t ms) { return std::to_string(ms / 1000) + "s"; }

}  // namespace

LeaderChoice ChooseLeader(const std::vector<LeaderClaim>& claims) {
  LeaderChoice best;
  std::size_t best_followers = 0;
  for (const LeaderClaim& c : claims) {
    if (c.leader_id == 0 || c.term < best.term) {
      continue;
    }
    std::size_t followers = 0;
    for (const LeaderClaim& other : claims) {
      if (other.term == c.term && other.leader_id == c.leader_id) {
        ++followers;
      }
    }
    const bool better = best.leader_id == 0 || c.term > best.term || followers > best_followers ||
                        (followers == best_followers && c.leader_id < best.leader_id);
    if (better) {
      best = LeaderChoice{c.leader_id, c.term};
      best_followers = followers;
    }
  }
  return best;
}

uint64_t MajorityClusterId(const std::vector<LeaderClaim>& claims) {
  uint64_t best = 0;
  std::size_t best_count = 0;
  for (const LeaderClaim& c : claims) {
    if (c.cluster_id == 0) {
      continue;
    }
    std::size_t count = 0;
    for (const LeaderClaim& other : claims) {
      count += other.cluster_id == c.cluster_id ? 1 : 0;
    }
    if (count > best_count || (count == best_count && c.cluster_id < best)) {
      best = c.cluster_id;
      best_count = count;
    }
  }
  return best;
}

void DetectSplitBrain(const std::vector<LeaderClaim>& claims, int64_t grace_ms,
                      v1::SplitBrain& out) {
  out.Clear();
  const std::size_t n = claims.size();

  // Different leaders for one term.
  bool found = false;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const LeaderClaim& a = claims[i];
      const LeaderClaim& b = claims[j];
      if (a.term != b.term || a.leader_id == 0 || b.leader_id == 0 || a.leader_id == b.leader_id ||
          !a.confirmed || !b.confirmed) {
        continue;
      }
      if (!found) {
        AddKind(out, v1::SAME_TERM_DIFFERENT_LEADERS,
                "members name different leaders for raft term " + std::to_string(a.term));
        found = true;
      }
      AddEvidence(out, v1::SAME_TERM_DIFFERENT_LEADERS, a, Follows(a));
      AddEvidence(out, v1::SAME_TERM_DIFFERENT_LEADERS, b, Follows(b));
    }
  }

  // Several members that say they lead, at one term.
  found = false;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const LeaderClaim& a = claims[i];
      const LeaderClaim& b = claims[j];
      if (a.term != b.term || a.is_leader_metric != 1 || b.is_leader_metric != 1 || !a.confirmed ||
          !b.confirmed) {
        continue;
      }
      if (!found) {
        AddKind(out, v1::MULTIPLE_LEADERS,
                "several members report etcd_server_is_leader 1 at raft term " +
                    std::to_string(a.term));
        found = true;
      }
      for (const LeaderClaim* c : {&a, &b}) {
        AddEvidence(out, v1::MULTIPLE_LEADERS, *c,
                    "reports etcd_server_is_leader 1 at raft term " + std::to_string(c->term));
      }
    }
  }

  // Different clusters.
  found = false;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const LeaderClaim& a = claims[i];
      const LeaderClaim& b = claims[j];
      if (a.cluster_id == 0 || b.cluster_id == 0 || a.cluster_id == b.cluster_id) {
        continue;
      }
      if (!found) {
        AddKind(out, v1::CLUSTER_ID_MISMATCH, "members report different cluster ids");
        found = true;
      }
      for (const LeaderClaim* c : {&a, &b}) {
        AddEvidence(out, v1::CLUSTER_ID_MISMATCH, *c,
                    "reports cluster id " + metrics::HexId(c->cluster_id));
      }
    }
  }

  // An older term's leader still followed well after a newer term with another leader began.
  found = false;
  for (const LeaderClaim& old_side : claims) {
    for (const LeaderClaim& new_side : claims) {
      if (old_side.term >= new_side.term || old_side.leader_id == 0 || new_side.leader_id == 0 ||
          old_side.leader_id == new_side.leader_id) {
        continue;
      }
      const int64_t after = old_side.sample_ms - new_side.term_since_ms;
      if (after < grace_ms) {
        continue;
      }
      if (!found) {
        AddKind(out, v1::DIVERGENT_TERMS,
                "members at raft term " + std::to_string(old_side.term) + " follow leader " +
                    metrics::HexId(old_side.leader_id) + " while members at term " +
                    std::to_string(new_side.term) + " follow leader " +
                    metrics::HexId(new_side.leader_id));
        found = true;
      }
      AddEvidence(out, v1::DIVERGENT_TERMS, old_side,
                  Follows(old_side) + ", " + Seconds(after) + " after " +
                      std::string(new_side.member_label) + " was seen at raft term " +
                      std::to_string(new_side.term));
      AddEvidence(out, v1::DIVERGENT_TERMS, new_side, Follows(new_side));
    }
  }

  out.set_detected(out.kinds_size() > 0);
}

}  // namespace etcdmon::aggregator::detail
