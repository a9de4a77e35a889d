// Faults of the monitor itself: a collector SIGKILLed (its member is stale, not down), the
// aggregator SIGKILLed under a write load (nothing acknowledged lost, nothing stored twice, the
// history file intact), the all-in-one SIGKILLed while alerts fire (no false resolve, no
// duplicate firing at the webhook after the restart).

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "etcdmon/sqlite/connection.h"
#include "etcdmon/testing/process.h"
#include "fault_stack.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using testing::FaultStack;
using testing::FaultStackOptions;
using testing::HoldsFor;
using testing::Poll;

// A collector SIGKILLed: its member is reported stale (the monitor is blind to it) and
// CollectorStale fires, not MemberUnavailable; the collector restarted, the alert resolves.
TEST(FaultsTest, KilledCollectorMakesItsMemberStaleNotDown) {
  FaultStackOptions options;
  options.distributed = true;
  FaultStack stack(options);
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  const std::string name = stack.cluster().Name(1);

  ASSERT_TRUE(stack.KillCollector(1).ok());
  nlohmann::json member;
  ASSERT_TRUE(stack.WaitForMember(
      name, [](const nlohmann::json& m) { return m.value("health", "") == "stale"; }, 30s, &member))
      << member.dump() << "\n"
      << stack.Logs();
  ASSERT_TRUE(stack.WaitForNotification("firing", "CollectorStale", name, 30s))
      << FaultStack::Describe(stack.Notifications());
  member = stack.Member(name);
  EXPECT_EQ(member.value("health", ""), "stale") << member.dump();
  EXPECT_TRUE(member.value("figures_stale", false)) << member.dump();
  const nlohmann::json status = stack.GetJson("/api/v1/cluster/status");
  EXPECT_EQ(status.value("unreachable_members", -1), 0) << status.dump();
  EXPECT_EQ(status.value("stale_members", -1), 1) << status.dump();
  EXPECT_FALSE(FaultStack::Has(stack.Notifications(), "firing", "MemberUnavailable"))
      << FaultStack::Describe(stack.Notifications());
  EXPECT_EQ(stack.CriticalFirings(), "");

  ASSERT_TRUE(stack.StartCollector(1).ok());
  EXPECT_TRUE(stack.WaitForNotification("resolved", "CollectorStale", name, 30s))
      << FaultStack::Describe(stack.Notifications());
}

// What a collector said when it stopped (its last log line).
struct CollectorFinal {
  int64_t samples = -1;
  int64_t queue_depth = -1;
  int64_t acked_seq = -1;
  int64_t dropped = -1;
};

CollectorFinal ReadCollectorFinal(const std::string& log) {
  const std::string text = testing::ReadWholeFile(log);
  std::smatch m;
  const std::regex line(
      "collector_stopped samples=(\\d+) queue_depth=(\\d+) acked_seq=(\\d+) dropped=(\\d+)");
  CollectorFinal out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator();
       ++it) {
    out = {std::stoll((*it)[1]), std::stoll((*it)[2]), std::stoll((*it)[3]), std::stoll((*it)[4])};
  }
  return out;
}

// The aggregator SIGKILLed twice while etcd takes ~500 writes/s: after its restarts every
// sample the collectors had acknowledged is in the history once (a per-sample series has one
// point per sample the collector made and had acknowledged), the committed watermark covers
// every acknowledged sequence, and PRAGMA integrity_check is ok. The cluster stayed healthy, so
// the restarts notify nothing about members or criticals (no false firing, no false resolve).
TEST(FaultsTest, KilledAggregatorUnderLoadLosesNoAcknowledgedSample) {
  FaultStackOptions options;
  options.distributed = true;
  FaultStack stack(options);
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();

  std::string endpoints;
  for (size_t i = 0; i < stack.cluster().size(); ++i) {
    endpoints += (i ? "," : "") + stack.cluster().ClientEndpoint(i);
  }
  testing::ChildProcess load(
      {ETCDMON_BINARY, "benchmark", "--endpoints=" + endpoints, "--type=write", "--rate=500",
       "--duration=30s", "--clients=8", "--conns=2", "--progress=false", "-o", "json"},
      stack.dir() + "/load.log");
  ASSERT_TRUE(load.ok()) << load.status().ToString();

  // Samples flowing under load, then two crashes, each an outage of a few intervals.
  auto all_fresh_after = [&](int64_t since_ms) {
    const nlohmann::json members = stack.GetJson("/api/v1/cluster/members");
    if (!members.is_object() || members["members"].size() != 3) return false;
    for (const nlohmann::json& m : members["members"]) {
      if (m.value("health", "") != "healthy" ||
          testing::ParseRfc3339Ms(m.value("last_sample", "")) <= since_ms) {
        return false;
      }
    }
    return true;
  };
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("crash " + std::to_string(round + 1));
    const int64_t t = now_ms();
    ASSERT_TRUE(Poll([&] { return all_fresh_after(t + 3000); }, 30s)) << stack.Logs();
    ASSERT_TRUE(stack.KillAggregator().ok());
    // The outage: the collectors keep sampling and queue what is not acknowledged.
    std::this_thread::sleep_for(3s);
    ASSERT_TRUE(stack.StartAggregator().ok());
    const int64_t restarted = now_ms();
    ASSERT_TRUE(Poll([&] { return all_fresh_after(restarted); }, 60s))
        << stack.GetJson("/api/v1/cluster/members").dump() << "\n"
        << stack.Logs();
  }
  // (Latency warnings of the load itself on a busy machine are no restart artefact.)
  for (const testing::Notification& n : stack.Notifications()) {
    EXPECT_TRUE(n.severity != "critical" && n.alert != "CollectorStale" &&
                n.alert != "MemberUnavailable")
        << FaultStack::Describe(stack.Notifications());
  }
  // Signal 0: only wait for the run to end by itself (it also deletes its keys).
  Result<int> load_done = load.Stop(0, 60s);
  ASSERT_TRUE(load_done.ok()) << testing::TailOfFile(stack.dir() + "/load.log", 20);
  const std::string load_report = testing::ReadWholeFile(stack.dir() + "/load.log");
  const size_t json_start = load_report.find('{');
  const nlohmann::json report = nlohmann::json::parse(
      json_start == std::string::npos ? "" : load_report.substr(json_start), nullptr, false);
  ASSERT_TRUE(report.is_object()) << load_report;
  RecordProperty("load_ops_per_second", std::to_string(report.value("ops_per_second", 0.0)));
  EXPECT_GT(report.value("succeeded", 0), 1000) << load_report;

  // The collectors stop (flushing what they hold), then the aggregator, cleanly.
  std::vector<CollectorFinal> finals;
  for (size_t i = 0; i < stack.cluster().size(); ++i) {
    ASSERT_TRUE(stack.StopCollector(i).ok());
    finals.push_back(ReadCollectorFinal(stack.CollectorLog(i)));
    ASSERT_GE(finals.back().samples, 0) << testing::TailOfFile(stack.CollectorLog(i), 20);
  }
  ASSERT_TRUE(stack.KillMonitor().ok());

  sqlite::ConnectionOptions db_options;
  db_options.create = false;
  auto db = sqlite::Connection::Open(stack.HistoryDb(), db_options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto integrity = (*db)->QueryText("PRAGMA integrity_check");
  ASSERT_TRUE(integrity.ok()) << integrity.status().ToString();
  EXPECT_EQ(*integrity, "ok");
  for (size_t i = 0; i < stack.cluster().size(); ++i) {
    const std::string name = stack.cluster().Name(i);
    SCOPED_TRACE(name);
    const CollectorFinal& f = finals[i];
    EXPECT_EQ(f.dropped, 0);
    auto committed = (*db)->QueryInt64("SELECT sequence FROM committed WHERE collector_id = '" +
                                       stack.CollectorId(i) + "'");
    ASSERT_TRUE(committed.ok()) << committed.status().ToString();
    EXPECT_GE(*committed, f.acked_seq) << "an acknowledged sequence is not stored";
    // One etcd_member_up point per stored sample, keyed by the sample's time: a sample lost
    // would be missing here, one stored twice under another time would be an extra point.
    auto points = (*db)->QueryInt64(
        "SELECT COUNT(*) FROM points_raw WHERE series = (SELECT s.id FROM series s"
        " JOIN metrics m ON m.id = s.metric_id JOIN members b ON b.id = s.member_id"
        " WHERE m.name = 'etcd_member_up' AND b.name = '" +
        name + "')");
    ASSERT_TRUE(points.ok()) << points.status().ToString();
    EXPECT_EQ(*points, f.samples - f.queue_depth)
        << "samples=" << f.samples << " unacknowledged at stop=" << f.queue_depth;
  }
}

// Notifications (distinct ids) of `kind` for MemberUnavailable on `member`.
size_t MemberUnavailableCount(const FaultStack& stack, const std::string& kind,
                              const std::string& member) {
  std::set<int64_t> ids;
  for (const testing::Notification& n : stack.Notifications()) {
    if (n.alert == "MemberUnavailable" && n.member == member && n.kind == kind) {
      ids.insert(n.notification_id);
    }
  }
  return ids.size();
}

// Stops the third member and returns once MemberUnavailable fired for it at the webhook.
void StopMemberUntilUnavailableFires(FaultStack& stack) {
  const std::string name = stack.cluster().Name(2);
  ASSERT_TRUE(stack.cluster().Stop(2).ok());
  ASSERT_TRUE(stack.WaitForNotification("firing", "MemberUnavailable", name, 30s))
      << FaultStack::Describe(stack.Notifications()) << stack.Logs();
}

// After a restart of the monitor: it samples again and reports the stopped member unreachable.
void WaitUntilReportedUnreachable(FaultStack& stack, const std::string& name) {
  nlohmann::json member;
  ASSERT_TRUE(stack.WaitForMember(
      name, [](const nlohmann::json& m) { return m.value("health", "") == "unreachable"; }, 60s,
      &member))
      << member.dump() << "\n"
      << stack.Logs();
}

// Exactly the one firing from before the restart, and no resolve.
bool FiredOnceNeverResolved(const FaultStack& stack, const std::string& name) {
  return MemberUnavailableCount(stack, "firing", name) == 1 &&
         MemberUnavailableCount(stack, "resolved", name) == 0;
}

// The all-in-one SIGKILLed while MemberUnavailable fires, and started again on its data dir:
// the alert comes back firing, with no resolve and no second firing at the webhook; the member
// restarted, exactly one resolve.
TEST(FaultsTest, KilledAllInOneWithAlertsFiringNeitherResolvesNorRefires) {
  FaultStack stack;
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  const std::string name = stack.cluster().Name(2);
  StopMemberUntilUnavailableFires(stack);
  if (HasFatalFailure()) return;

  ASSERT_TRUE(stack.KillMonitor().ok());
  ASSERT_TRUE(stack.StartMonitor().ok());
  // Back: it samples again and has the alert firing.
  WaitUntilReportedUnreachable(stack, name);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(stack.WaitForAlertState("MemberUnavailable", name, "firing", 30s))
      << stack.GetJson("/api/v1/alerts").dump();
  // Several evaluations after the restart (its rules' `for` included).
  EXPECT_TRUE(HoldsFor([&] { return FiredOnceNeverResolved(stack, name); }, 8s))
      << FaultStack::Describe(stack.Notifications());

  ASSERT_TRUE(stack.cluster().Restart(2).ok());
  ASSERT_TRUE(stack.WaitForNotification("resolved", "MemberUnavailable", name, 30s))
      << FaultStack::Describe(stack.Notifications());
  EXPECT_EQ(MemberUnavailableCount(stack, "resolved", name), 1u)
      << FaultStack::Describe(stack.Notifications());
  EXPECT_EQ(MemberUnavailableCount(stack, "firing", name), 1u)
      << FaultStack::Describe(stack.Notifications());
}

// The aggregator SIGKILLed (distributed shape) while MemberUnavailable fires: the alerter keeps
// the alert through the outage and the restarted aggregator's first snapshots; no resolve and
// no second firing reach the webhook.
TEST(FaultsTest, KilledAggregatorWithAlertsFiringNeitherResolvesNorRefires) {
  FaultStackOptions options;
  options.distributed = true;
  FaultStack stack(options);
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  const std::string name = stack.cluster().Name(2);
  StopMemberUntilUnavailableFires(stack);
  if (HasFatalFailure()) return;

  ASSERT_TRUE(stack.KillAggregator().ok());
  ASSERT_TRUE(stack.StartAggregator().ok());
  WaitUntilReportedUnreachable(stack, name);
  if (HasFatalFailure()) return;
  EXPECT_TRUE(HoldsFor([&] { return FiredOnceNeverResolved(stack, name); }, 8s))
      << FaultStack::Describe(stack.Notifications());
  EXPECT_EQ(stack.CriticalFirings(), "");
}

}  // namespace
}  // namespace etcdmon
