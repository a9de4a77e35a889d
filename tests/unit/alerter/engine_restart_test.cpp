// AlertEngine across restarts: snapshots of an aggregator still starting up change nothing, and
// the rules' trailing histories carried over by SaveRuleStates/RestoreRuleStates keep an alert
// whose condition still holds firing.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "etcdmon/alerter/engine.h"
#include "etcdmon/alerter/rules.h"
#include "rules_test_snapshots.h"

namespace etcdmon::alerter {
namespace {

using namespace testing;  // NOLINT: the snapshot helpers

constexpr double kMinute = 60;

// What a new engine gets after a restart: the open alerts and the rule histories.
struct Saved {
  std::vector<Alert> active;
  std::vector<RuleState> rule_states;
};

Saved SaveOf(const AlertEngine& engine) { return Saved{engine.Active(), engine.SaveRuleStates()}; }

// The first snapshots after a restart of the aggregator: it has sampled one member so far, and
// that one refused the connection (no id, no name). While it says so, nothing fires, resolves or
// repeats; the complete snapshot after it keeps the alert as it was.
TEST(AlertEngineRestartTest, StartingUpSnapshotChangesNothing) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{std::chrono::minutes(10)});
  v1::ClusterSnapshot down = HealthyCluster(0);
  MakeUnreachable(down, "etcd-3");
  Evaluation fired = engine.Evaluate(down, At(0), {});
  ASSERT_EQ(fired.notifications.size(), 1u);
  ASSERT_TRUE(HasActive(engine, kMemberUnavailable, "etcd-3", AlertState::kFiring));

  v1::ClusterSnapshot partial = HealthyCluster(30, 1);
  partial.set_starting_up(true);
  v1::MemberState& refused = *partial.mutable_members(0);
  refused.set_id(0);
  refused.set_name("");
  refused.set_endpoint("127.0.0.1:32379");
  refused.set_health(v1::UNREACHABLE);
  refused.set_reachable(false);
  partial.set_has_leader(false);
  partial.set_member_count(0);
  partial.set_voting_members(0);
  partial.set_fresh_members(0);
  // Also past the repeat interval: no repeat either.
  for (double t : {30.0, 31.0, 11 * kMinute}) {
    partial.set_tick_unix_ms(UnixMs(t));
    Evaluation e = engine.Evaluate(partial, At(t), {});
    EXPECT_TRUE(e.changed.empty()) << t;
    EXPECT_TRUE(e.dropped.empty()) << t;
    EXPECT_TRUE(e.notifications.empty()) << t;
  }
  v1::ClusterSnapshot complete = HealthyCluster(11 * kMinute + 1);
  MakeUnreachable(complete, "etcd-3");
  Evaluation after = engine.Evaluate(complete, At(11 * kMinute + 1), {});
  for (const Notification& n : after.notifications) {
    EXPECT_NE(n.kind, NotificationKind::kResolved) << n.alert.key.rule;
    EXPECT_NE(n.kind, NotificationKind::kFiring) << n.alert.key.rule;
  }
  const std::optional<Alert> alert = ActiveAlert(engine, kMemberUnavailable, "etcd-3");
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->state, AlertState::kFiring);
  EXPECT_EQ(alert->firing_since_unix_ms, UnixMs(0));
}

// FrequentLeaderElections after a restart of the whole monitor: the aggregator's count starts
// over at 0, the elections of the past hour come back from the saved history, so the alert stays
// firing (without its history it resolves at once: the control below).
TEST(AlertEngineRestartTest, LeaderElectionsPerHourSurviveARestart) {
  config::AlertThresholds thresholds;
  thresholds.max_leader_changes = 3;
  Saved saved;
  {
    AlertEngine before(RulesWithoutFor(thresholds), EngineOptions{});
    for (int minute = 0; minute <= 5; ++minute) {
      v1::ClusterSnapshot s = HealthyCluster(minute * kMinute);
      s.set_leader_changes_total(static_cast<uint64_t>(minute * 2));  // 10 elections in 5 min
      before.Evaluate(s, At(minute * kMinute), {});
    }
    ASSERT_TRUE(HasActive(before, kFrequentLeaderElections, "", AlertState::kFiring));
    saved = SaveOf(before);
  }
  auto restarted_total = [](double seconds) {
    v1::ClusterSnapshot s = HealthyCluster(seconds);
    s.set_leader_changes_total(0);  // the restarted aggregator counts from its start
    return s;
  };
  AlertEngine after(RulesWithoutFor(thresholds), EngineOptions{});
  after.Restore(saved.active);
  EXPECT_TRUE(after.RestoreRuleStates(saved.rule_states).empty());
  for (double t = 7 * kMinute; t <= 30 * kMinute; t += kMinute) {
    Evaluation e = after.Evaluate(restarted_total(t), At(t), {});
    EXPECT_TRUE(e.notifications.empty()) << t;
    ASSERT_TRUE(HasActive(after, kFrequentLeaderElections, "", AlertState::kFiring)) << t;
  }
  // It resolves when the elections leave the hour, as it would have without a restart.
  after.Evaluate(restarted_total(66 * kMinute), At(66 * kMinute), {});
  EXPECT_FALSE(HasActive(after, kFrequentLeaderElections, "", AlertState::kFiring));

  AlertEngine forgetful(RulesWithoutFor(thresholds), EngineOptions{});
  forgetful.Restore(saved.active);
  Evaluation e = forgetful.Evaluate(restarted_total(7 * kMinute), At(7 * kMinute), {});
  ASSERT_EQ(e.notifications.size(), 1u) << "control: without the history it resolves";
  EXPECT_EQ(e.notifications[0].kind, NotificationKind::kResolved);
}

// ProposalFailureRateHigh per member: the failures of its window survive a restart; the
// counter (etcd's own) continues where it was.
TEST(AlertEngineRestartTest, ProposalFailuresOfTheWindowSurviveARestart) {
  auto at = [](AlertEngine& engine, double seconds, uint64_t failed_total) {
    v1::ClusterSnapshot s = HealthyCluster(seconds);
    Member(s, "etcd-2").set_proposals_failed_total(failed_total);
    return engine.Evaluate(s, At(seconds), {});
  };
  Saved saved;
  {
    AlertEngine before(RulesWithoutFor(), EngineOptions{});
    at(before, 0, 100);
    at(before, kMinute, 120);  // 20 failed > 5
    ASSERT_TRUE(HasActive(before, kProposalFailureRateHigh, "etcd-2", AlertState::kFiring));
    saved = SaveOf(before);
  }
  AlertEngine after(RulesWithoutFor(), EngineOptions{});
  after.Restore(saved.active);
  EXPECT_TRUE(after.RestoreRuleStates(saved.rule_states).empty());
  for (double t = 2 * kMinute; t <= 10 * kMinute; t += kMinute) {
    EXPECT_TRUE(at(after, t, 120).notifications.empty()) << t;
    EXPECT_TRUE(HasActive(after, kProposalFailureRateHigh, "etcd-2", AlertState::kFiring)) << t;
  }
}

// Restored long after it was saved (the alerter was stopped for an hour), a counter's last
// value is only a starting point again: the failures of the hour it missed are not a burst now.
TEST(AlertEngineRestartTest, CounterRestoredAfterALongStopStartsOver) {
  auto at = [](AlertEngine& engine, double seconds, uint64_t failed_total) {
    v1::ClusterSnapshot s = HealthyCluster(seconds);
    Member(s, "etcd-2").set_proposals_failed_total(failed_total);
    return engine.Evaluate(s, At(seconds), {});
  };
  std::vector<RuleState> saved;
  {
    AlertEngine before(RulesWithoutFor(), EngineOptions{});
    at(before, 0, 100);
    at(before, kMinute, 101);
    saved = before.SaveRuleStates();
  }
  AlertEngine after(RulesWithoutFor(), EngineOptions{});
  EXPECT_TRUE(after.RestoreRuleStates(saved).empty());
  at(after, 61 * kMinute, 500);
  at(after, 62 * kMinute, 501);
  EXPECT_TRUE(after.Active().empty()) << after.Active()[0].summary;

  AlertEngine soon(RulesWithoutFor(), EngineOptions{});
  EXPECT_TRUE(soon.RestoreRuleStates(saved).empty());
  at(soon, 2 * kMinute, 120);  // a restart within seconds: the increase is recent, it counts
  EXPECT_TRUE(HasActive(soon, kProposalFailureRateHigh, "etcd-2", AlertState::kFiring));
}

// RequestLatencyDegraded: a member's latency baseline survives a restart, so a p99 far above it
// stays an alert instead of becoming the new normal of an empty baseline.
TEST(AlertEngineRestartTest, LatencyBaselineSurvivesARestart) {
  auto at = [](AlertEngine& engine, double seconds, double read_p99_ms) {
    v1::ClusterSnapshot s = HealthyCluster(seconds);
    SetLatency(Member(s, "etcd-2").mutable_read_latency(), read_p99_ms);
    return engine.Evaluate(s, At(seconds), {});
  };
  Saved saved;
  {
    AlertEngine before(RulesWithoutFor(), EngineOptions{});
    for (double t = 0; t < 40 * kMinute; t += kMinute) {
      at(before, t, 4);  // a 4 ms baseline
    }
    at(before, 40 * kMinute, 40);
    ASSERT_TRUE(HasActive(before, kRequestLatencyDegraded, "etcd-2", AlertState::kFiring));
    saved = SaveOf(before);
  }
  AlertEngine after(RulesWithoutFor(), EngineOptions{});
  after.Restore(saved.active);
  EXPECT_TRUE(after.RestoreRuleStates(saved.rule_states).empty());
  for (double t = 41 * kMinute; t <= 45 * kMinute; t += kMinute) {
    EXPECT_TRUE(at(after, t, 40).notifications.empty()) << t;
    EXPECT_TRUE(HasActive(after, kRequestLatencyDegraded, "etcd-2", AlertState::kFiring)) << t;
  }
}

// A saved state that does not parse (damaged, or from another format) is named and that rule
// starts empty; the others load.
TEST(AlertEngineRestartTest, UnreadableRuleStateStartsThatRuleEmpty) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  const std::vector<RuleState> states = {
      {std::string(kFrequentLeaderElections), "1 7 2 28333333 3 1"},  // one bucket of three
      {std::string(kProposalFailureRateHigh), "1 1 6:etcd-2 17 5 17 0"},
      {std::string(kRequestLatencyDegraded), "9 0"},
      {"NoSuchRule", "whatever"}};
  const std::vector<std::string> failed = engine.RestoreRuleStates(states);
  EXPECT_EQ(failed, (std::vector<std::string>{std::string(kFrequentLeaderElections),
                                              std::string(kRequestLatencyDegraded)}));
  v1::ClusterSnapshot s = HealthyCluster(0);
  s.set_leader_changes_total(50);
  EXPECT_TRUE(engine.Evaluate(s, At(0), {}).notifications.empty());
}

// The saved text round-trips what a rule keeps, member names with spaces and colons included.
TEST(AlertEngineRestartTest, SavedStatesRoundTrip) {
  AlertEngine before(RulesWithoutFor(), EngineOptions{});
  for (double t = 0; t <= 3 * kMinute; t += kMinute) {
    v1::ClusterSnapshot s = HealthyCluster(t);
    Member(s, "etcd-2").set_name("etcd 2: the second");
    Member(s, "etcd 2: the second").set_proposals_failed_total(static_cast<uint64_t>(t));
    s.set_leader_changes_total(static_cast<uint64_t>(t / kMinute));
    before.Evaluate(s, At(t), {});
  }
  const std::vector<RuleState> saved = before.SaveRuleStates();
  EXPECT_FALSE(saved.empty());
  AlertEngine after(RulesWithoutFor(), EngineOptions{});
  EXPECT_TRUE(after.RestoreRuleStates(saved).empty());
  const std::vector<RuleState> again = after.SaveRuleStates();
  ASSERT_EQ(again.size(), saved.size());
  for (std::size_t i = 0; i < saved.size(); ++i) {
    EXPECT_EQ(again[i].rule, saved[i].rule);
    EXPECT_EQ(again[i].state, saved[i].state) << saved[i].rule;
  }
}

}  // namespace
}  // namespace etcdmon::alerter
