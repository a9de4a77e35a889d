// A healthy rolling restart of a 3-node cluster, as the aggregator would publish it, through the
// engine with every `for` set to 0: only the per-member MemberUnavailable warnings come out.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "etcdmon/alerter/engine.h"
#include "etcdmon/alerter/rules.h"
#include "rules_test_snapshots.h"

namespace etcdmon::alerter {
namespace {

using namespace testing;  // NOLINT: the snapshot helpers

constexpr double kTick = 10;  // seconds between snapshots

// The cluster's evolving state; Snapshot() renders it at one moment.
class RollingCluster {
 public:
  // Members that are down (restarting) at the moment.
  std::set<std::string> down;
  // Members back from a restart until this time: higher latencies while they warm up.
  std::map<std::string, double> warming_until;
  uint64_t leader = 1;
  uint64_t term = 2;
  uint64_t leader_changes = 0;
  std::map<std::string, uint64_t> proposals_failed = {{"etcd-1", 7}, {"etcd-2", 7}, {"etcd-3", 7}};

  // The leader restarts: the others elect `successor` in the next term; in-flight proposals on
  // the followers fail.
  void LeaderRestarts(uint64_t successor) {
    leader = successor;
    ++term;
    ++leader_changes;
    for (auto& [name, failed] : proposals_failed) {
      failed += down.count(name) != 0 ? 0 : 2;
    }
  }

  void Restarted(const std::string& name, double now) {
    down.erase(name);
    proposals_failed[name] = 0;  // a new process: its counters start again
    warming_until[name] = now + 30;
  }

  v1::ClusterSnapshot Snapshot(double t) const {
    v1::ClusterSnapshot s = HealthyCluster(t);
    const std::string leader_name = "etcd-" + std::to_string(leader);
    s.set_leader_id(leader);
    s.set_leader_name(leader_name);
    s.set_raft_term(term);
    s.set_leader_changes_total(leader_changes);
    s.set_leader_changes_observed(leader_changes);
    for (auto& m : *s.mutable_members()) {
      m.set_is_leader(m.id() == leader);
      m.set_leader_id(leader);
      m.set_raft_term(term);
      m.set_proposals_failed_total(proposals_failed.at(m.name()));
      auto warming = warming_until.find(m.name());
      if (warming != warming_until.end() && t < warming->second) {
        SetLatency(m.mutable_read_latency(), 20);
        SetLatency(m.mutable_write_latency(), 40);
        SetLatency(m.mutable_wal_fsync(), 30);
        m.set_proposals_pending(4);
        m.clear_rates();  // the first sample after a restart has no rate yet
        auto* revision = s.mutable_divergence()->mutable_revision();
        revision->set_spread(300);  // catching up: behind, but not falling further behind
        revision->set_behind_member_name(m.name());
        revision->set_growing(false);
      }
    }
    for (const std::string& name : down) {
      MakeUnreachable(s, name);
    }
    return s;
  }
};

struct Outcome {
  std::vector<Notification> notifications;
  std::vector<Alert> changed;
  std::vector<AlertKey> dropped;
};

// Runs `restart_order` one member at a time: ~20 s down, back, 3 minutes until the next one;
// after 15 minutes of history (latency baselines) and followed by 10 quiet minutes.
Outcome RunRollingRestart(AlertEngine& engine, const std::vector<std::string>& restart_order,
                          bool two_at_once = false) {
  RollingCluster cluster;
  Outcome outcome;
  double t = 0;
  auto tick = [&] {
    Evaluation e = engine.Evaluate(cluster.Snapshot(t), At(t), {});
    for (auto& n : e.notifications) outcome.notifications.push_back(std::move(n));
    for (auto& a : e.changed) outcome.changed.push_back(std::move(a));
    for (auto& k : e.dropped) outcome.dropped.push_back(std::move(k));
    t += kTick;
  };
  while (t < 15 * 60) {
    tick();
  }
  for (std::size_t i = 0; i < restart_order.size(); ++i) {
    const std::string& name = restart_order[i];
    cluster.down.insert(name);
    if (two_at_once && i + 1 < restart_order.size()) {
      cluster.down.insert(restart_order[i + 1]);
    }
    if ("etcd-" + std::to_string(cluster.leader) == name) {
      cluster.LeaderRestarts(name == "etcd-2" ? 1 : 2);
    }
    tick();
    tick();  // ~20 s down
    for (const std::string& restarted : std::set<std::string>(cluster.down)) {
      cluster.Restarted(restarted, t);
    }
    for (const double end = t + 3 * 60; t < end;) {
      tick();
    }
    if (two_at_once) {
      ++i;
    }
  }
  for (const double end = t + 10 * 60; t < end;) {
    tick();
  }
  return outcome;
}

RuleSet EveryRuleImmediate() {
  RuleSet rules = RuleSet::Defaults({});  // --min-available-nodes 2, --max-leader-changes 3
  const Status applied = rules.ApplyText("defaults:\n  for: 0s\n", "rolling-restart.yaml");
  EXPECT_TRUE(applied.ok()) << applied.ToString();
  for (const RuleSpec& spec : rules.rules()) {
    EXPECT_EQ(spec.for_duration.count(), 0) << spec.id;
  }
  return rules;
}

// Followers first, then the leader (whose restart moves leadership to etcd-2 in a new term):
// three MemberUnavailable warnings fire and resolve, and nothing else is raised, not even
// pending.
TEST(RollingRestartTest, HealthyRollingRestartRaisesOnlyMemberWarnings) {
  AlertEngine engine(EveryRuleImmediate(), EngineOptions{});
  const Outcome outcome = RunRollingRestart(engine, {"etcd-2", "etcd-3", "etcd-1"});

  std::map<std::string, int> firing, resolved;
  for (const Notification& n : outcome.notifications) {
    EXPECT_EQ(n.alert.key.rule, kMemberUnavailable) << n.alert.summary;
    EXPECT_EQ(n.alert.severity, Severity::kWarning) << n.alert.summary;
    EXPECT_FALSE(n.alert.key.member.empty()) << n.alert.summary;
    (n.kind == NotificationKind::kResolved ? resolved : firing)[n.alert.key.member] += 1;
  }
  const std::map<std::string, int> once_each = {{"etcd-1", 1}, {"etcd-2", 1}, {"etcd-3", 1}};
  EXPECT_EQ(firing, once_each);
  EXPECT_EQ(resolved, once_each);
  for (const Alert& a : outcome.changed) {
    EXPECT_EQ(a.key.rule, kMemberUnavailable) << a.key.rule << ": " << a.summary;
  }
  EXPECT_TRUE(outcome.dropped.empty());
  EXPECT_TRUE(engine.Active().empty());
}

// The same harness does raise alerts when the restart is not healthy: two members down at once
// leave fewer than --min-available-nodes, which is critical (and quorum is lost).
TEST(RollingRestartTest, TwoMembersAtOnceIsCritical) {
  AlertEngine engine(EveryRuleImmediate(), EngineOptions{});
  const Outcome outcome = RunRollingRestart(engine, {"etcd-2", "etcd-3"}, true);
  bool cluster_critical = false, quorum_lost = false;
  for (const Notification& n : outcome.notifications) {
    cluster_critical =
        cluster_critical || (n.alert.key.rule == kMemberUnavailable && n.alert.key.member.empty() &&
                             n.alert.severity == Severity::kCritical);
    quorum_lost = quorum_lost || n.alert.key.rule == kQuorumLost;
  }
  EXPECT_TRUE(cluster_critical);
  EXPECT_TRUE(quorum_lost);
}

// Without the restart grace, the warm-up latencies of a restarted member (8x its baseline) would
// raise RequestLatencyDegraded: the grace is what keeps the restart quiet.
TEST(RollingRestartTest, WithoutRestartGraceWarmUpLatencyAlerts) {
  RuleSet rules = EveryRuleImmediate();
  ASSERT_TRUE(rules.ApplyText("rules: {RequestLatencyDegraded: {restart_grace: 0s}}", "t").ok());
  AlertEngine engine(std::move(rules), EngineOptions{});
  const Outcome outcome = RunRollingRestart(engine, {"etcd-2", "etcd-3", "etcd-1"});
  bool latency = false;
  for (const Notification& n : outcome.notifications) {
    latency = latency || n.alert.key.rule == kRequestLatencyDegraded;
  }
  EXPECT_TRUE(latency);
}

}  // namespace
}  // namespace etcdmon::alerter
