// Faults of the etcd members under the all-in-one monitor: the leader killed, one and two of
// three members stopped, a follower and then the leader hung (SIGSTOP), a rolling restart. What
// the monitor says is read through its REST API; what it notifies, at a webhook receiver.

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "fault_stack.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using testing::FaultStack;
using testing::HoldsFor;
using testing::Poll;

// How long a scenario watches for a false critical after a fault: NoLeader's and QuorumLost's
// `for` (10 s) plus two intervals.
constexpr auto kCriticalWindow = 12s;

// The index of the member the monitor names as leader; -1 when it names none.
int LeaderIndex(FaultStack& stack) {
  const nlohmann::json status = stack.GetJson("/api/v1/cluster/status");
  if (!status.is_object() || !status["leader"].is_object()) return -1;
  const std::string name = status["leader"].value("name", "");
  for (size_t i = 0; i < stack.cluster().size(); ++i) {
    if (stack.cluster().Name(i) == name) return static_cast<int>(i);
  }
  return -1;
}

// The leader SIGKILLed: the monitor reports the new leader and the election (leader_changes),
// the dead member as unreachable with its MemberUnavailable warning, and nothing critical: one
// election is below FrequentLeaderElections' threshold (there is no alert for a single
// election, by design) and quorum holds.
TEST(FaultsTest, KillLeaderReportsNewLeaderWithoutCritical) {
  FaultStack stack;
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  const int old_leader = LeaderIndex(stack);
  ASSERT_GE(old_leader, 0) << stack.GetJson("/api/v1/cluster/status").dump();
  const std::string old_name = stack.cluster().Name(old_leader);
  const int64_t changes_before =
      stack.GetJson("/api/v1/cluster/status").value("leader_changes", int64_t{0});

  ASSERT_TRUE(stack.cluster().Kill(old_leader).ok());

  nlohmann::json status;
  ASSERT_TRUE(Poll(
      [&] {
        status = stack.GetJson("/api/v1/cluster/status");
        const int leader = LeaderIndex(stack);
        return leader >= 0 && leader != old_leader &&
               status.value("leader_changes", int64_t{0}) > changes_before &&
               status.value("quorum_ok", false);
      },
      30s))
      << status.dump() << "\n"
      << stack.Logs();
  nlohmann::json member;
  EXPECT_TRUE(stack.WaitForMember(
      old_name,
      [](const nlohmann::json& m) {
        return !m.value("reachable", true) && m.value("health", "") == "unreachable";
      },
      15s, &member))
      << member.dump();
  EXPECT_TRUE(stack.WaitForNotification("firing", "MemberUnavailable", old_name, 30s))
      << FaultStack::Describe(stack.Notifications());

  EXPECT_TRUE(HoldsFor([&] { return stack.CriticalFirings().empty(); }, kCriticalWindow))
      << stack.CriticalFirings();
  EXPECT_FALSE(FaultStack::Has(stack.Notifications(), "firing", "FrequentLeaderElections"));
  status = stack.GetJson("/api/v1/cluster/status");
  EXPECT_EQ(status.value("state", ""), "degraded") << status.dump();
}

// One of three members stopped: its MemberUnavailable warning reaches the webhook, the cluster
// keeps its leader and quorum (degraded, not down); restarted, the alert is resolved.
TEST(FaultsTest, StopOneOfThreeFiresMemberUnavailableThenResolves) {
  FaultStack stack;
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  const int leader = LeaderIndex(stack);
  ASSERT_GE(leader, 0);
  const size_t victim = (leader + 1) % 3;
  const std::string name = stack.cluster().Name(victim);

  ASSERT_TRUE(stack.cluster().Stop(victim).ok());
  ASSERT_TRUE(stack.WaitForNotification("firing", "MemberUnavailable", name, 30s))
      << FaultStack::Describe(stack.Notifications()) << stack.Logs();
  for (const testing::Notification& n : stack.Notifications()) {
    if (n.alert == "MemberUnavailable" && n.member == name) {
      EXPECT_EQ(n.severity, "warning") << n.summary;
    }
  }
  const nlohmann::json status = stack.GetJson("/api/v1/cluster/status");
  EXPECT_TRUE(status.value("has_leader", false)) << status.dump();
  EXPECT_TRUE(status.value("quorum_ok", false)) << status.dump();
  EXPECT_EQ(status.value("state", ""), "degraded") << status.dump();
  EXPECT_EQ(status.value("healthy_members", 0), 2) << status.dump();
  EXPECT_EQ(stack.CriticalFirings(), "");

  ASSERT_TRUE(stack.cluster().Restart(victim).ok());
  EXPECT_TRUE(stack.WaitForNotification("resolved", "MemberUnavailable", name, 30s))
      << FaultStack::Describe(stack.Notifications());
  EXPECT_EQ(stack.CriticalFirings(), "");
}

// Two of three members stopped: the survivor has no quorum, which is reported as critical
// (QuorumLost at the webhook) and in the status.
TEST(FaultsTest, StopTwoOfThreeReportsQuorumLostAsCritical) {
  FaultStack stack;
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  ASSERT_TRUE(stack.cluster().Stop(1).ok());
  ASSERT_TRUE(stack.cluster().Stop(2).ok());

  ASSERT_TRUE(stack.WaitForNotification("firing", "QuorumLost", "*", 60s))
      << FaultStack::Describe(stack.Notifications()) << stack.Logs();
  for (const testing::Notification& n : stack.Notifications()) {
    if (n.alert == "QuorumLost") {
      EXPECT_EQ(n.severity, "critical") << n.summary;
    }
  }
  const nlohmann::json status = stack.GetJson("/api/v1/cluster/status");
  EXPECT_FALSE(status.value("quorum_ok", true)) << status.dump();
  EXPECT_FALSE(status.value("healthy", true)) << status.dump();
  const std::string state = status.value("state", "");
  EXPECT_TRUE(state == "no_quorum" || state == "no_leader") << status.dump();
}

// Watches a member hung with SIGSTOP until `duration` after `paused_at`: it must be reported
// reachable=false / unreachable within 10 s (the interval plus the dial timeout, generously) and
// stay so (never stale: its collector is not the problem), and no member is ever reported stale
// (the others' samples keep coming). Returns the failures as text, the first of each kind.
std::string WatchHungMember(FaultStack& stack, size_t hung,
                            std::chrono::steady_clock::time_point paused_at,
                            std::chrono::seconds duration) {
  const std::string name = stack.cluster().Name(hung);
  std::string failures;
  std::set<std::string> seen;  // kinds of failure already reported
  auto fail = [&](const std::string& kind, const std::string& text) {
    if (seen.insert(kind).second) failures += text + "\n";
  };
  bool reported = false;
  while (std::chrono::steady_clock::now() < paused_at + duration) {
    const nlohmann::json members = stack.GetJson("/api/v1/cluster/members");
    const bool detection_due = std::chrono::steady_clock::now() > paused_at + 10s;
    if (members.is_object() && members["members"].is_array()) {
      for (const nlohmann::json& m : members["members"]) {
        const std::string member = m.value("name", "?");
        const std::string health = m.value("health", "");
        if (health == "stale") {
          fail("stale " + member, member + " reported stale: " + m.dump());
        }
        if (member != name) continue;
        const bool down = !m.value("reachable", true) && health == "unreachable";
        reported = reported || down;
        if (!down && (reported || detection_due)) {
          fail("not down", name + " (hung) not reported reachable=false/unreachable" +
                               (reported ? " after it was" : " within 10 s") + ": " + m.dump());
        }
      }
    }
    std::this_thread::sleep_for(500ms);
  }
  if (!reported) failures += name + " (hung) was never reported unreachable\n";
  return failures;
}

// A follower hung (SIGSTOP) for 30 s, then the leader for 30 s: each is reported reachable=false
// and unreachable (not stale) every interval and gets MemberUnavailable (not CollectorStale);
// the others' samples stay fresh, so a hung leader does not blind the monitor. The members are
// always resumed (SIGCONT) by the fixture's teardown.
TEST(FaultsTest, HungFollowerThenHungLeaderAreDownNotStale) {
  FaultStack stack;
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  const int leader = LeaderIndex(stack);
  ASSERT_GE(leader, 0);
  const size_t follower = (leader + 1) % 3;

  ASSERT_TRUE(stack.cluster().Pause(follower).ok());
  EXPECT_EQ(WatchHungMember(stack, follower, std::chrono::steady_clock::now(), 30s), "");
  EXPECT_TRUE(
      stack.WaitForNotification("firing", "MemberUnavailable", stack.cluster().Name(follower), 10s))
      << FaultStack::Describe(stack.Notifications());
  ASSERT_TRUE(stack.cluster().Resume(follower).ok());
  ASSERT_TRUE(stack.WaitForMember(
      stack.cluster().Name(follower),
      [](const nlohmann::json& m) { return m.value("health", "") == "healthy"; }, 30s));

  ASSERT_TRUE(stack.cluster().Pause(leader).ok());
  EXPECT_EQ(WatchHungMember(stack, leader, std::chrono::steady_clock::now(), 30s), "");
  EXPECT_TRUE(
      stack.WaitForNotification("firing", "MemberUnavailable", stack.cluster().Name(leader), 10s))
      << FaultStack::Describe(stack.Notifications());
  const int new_leader = LeaderIndex(stack);
  EXPECT_TRUE(new_leader >= 0 && new_leader != leader)
      << stack.GetJson("/api/v1/cluster/status").dump();
  ASSERT_TRUE(stack.cluster().Resume(leader).ok());

  EXPECT_FALSE(FaultStack::Has(stack.Notifications(), "firing", "CollectorStale"))
      << FaultStack::Describe(stack.Notifications());
  EXPECT_EQ(stack.CriticalFirings(), "");
}

// Every member restarted in turn, the leader last, each back before the next: no critical
// notification (only per-member MemberUnavailable warnings may come out), also during the
// election after the leader's restart.
TEST(FaultsTest, RollingRestartRaisesNoCritical) {
  FaultStack stack;
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  const int leader = LeaderIndex(stack);
  ASSERT_GE(leader, 0);
  std::vector<size_t> order;
  for (size_t i = 0; i < 3; ++i) {
    if (static_cast<int>(i) != leader) order.push_back(i);
  }
  order.push_back(leader);
  for (size_t i : order) {
    SCOPED_TRACE("restarting " + stack.cluster().Name(i));
    ASSERT_TRUE(stack.cluster().Restart(i).ok());
    nlohmann::json status;
    ASSERT_TRUE(Poll(
        [&] {
          status = stack.GetJson("/api/v1/cluster/status");
          return status.value("healthy_members", 0) == 3 && status.value("has_leader", false);
        },
        60s))
        << status.dump();
    EXPECT_EQ(stack.CriticalFirings(), "");
  }
  EXPECT_TRUE(HoldsFor([&] { return stack.CriticalFirings().empty(); }, kCriticalWindow))
      << stack.CriticalFirings();
  // Nothing but the per-member warnings either: a member shutting down or starting answers
  // slowly, which is that member down (MemberUnavailable), never a blind collector
  // (CollectorStale) nor a latency alert.
  for (const testing::Notification& n : stack.Notifications()) {
    EXPECT_EQ(n.alert, "MemberUnavailable") << FaultStack::Describe(stack.Notifications());
  }
}

}  // namespace
}  // namespace etcdmon
