// AlertEngine: the lifecycle (pending → firing after `for` → resolved), notifications, repeat,
// silences, blind snapshots, Restore.

#include "etcdmon/alerter/engine.h"

#include <gtest/gtest.h>

#include "etcdmon/alerter/rules.h"
#include "rules_test_snapshots.h"

namespace etcdmon::alerter {
namespace {

using namespace testing;  // NOLINT: the snapshot helpers

constexpr double kMinute = 60;

v1::ClusterSnapshot SlowFsync(double seconds, double p99_ms = 150, const char* member = "etcd-2") {
  v1::ClusterSnapshot s = HealthyCluster(seconds);
  SetLatency(Member(s, member).mutable_wal_fsync(), p99_ms);
  return s;
}

std::vector<NotificationKind> Kinds(const std::vector<Notification>& notifications) {
  std::vector<NotificationKind> kinds;
  for (const auto& n : notifications) {
    kinds.push_back(n.kind);
  }
  return kinds;
}

const auto kFiring = NotificationKind::kFiring;
const auto kRepeat = NotificationKind::kRepeat;
const auto kResolved = NotificationKind::kResolved;

// An alert is pending until `for` passed, then fires once with one notification.
TEST(AlertEngineTest, PendingUntilForThenFiresOnce) {
  AlertEngine engine(RuleSet::Defaults({}), EngineOptions{});  // WalFsyncSlow for: 5m
  Evaluation first = engine.Evaluate(SlowFsync(0), At(0), {});
  ASSERT_EQ(first.changed.size(), 1u);
  EXPECT_EQ(first.changed[0].state, AlertState::kPending);
  EXPECT_EQ(first.changed[0].key.rule, kWalFsyncSlow);
  EXPECT_EQ(first.changed[0].key.member, "etcd-2");
  EXPECT_EQ(first.changed[0].fingerprint, Fingerprint(first.changed[0].key));
  EXPECT_EQ(first.changed[0].pending_since_unix_ms, UnixMs(0));
  EXPECT_TRUE(first.notifications.empty());

  EXPECT_TRUE(engine.Evaluate(SlowFsync(4 * kMinute), At(4 * kMinute), {}).notifications.empty());
  Evaluation fired = engine.Evaluate(SlowFsync(5 * kMinute), At(5 * kMinute), {});
  ASSERT_EQ(Kinds(fired.notifications), std::vector<NotificationKind>{kFiring});
  const Alert& alert = fired.notifications[0].alert;
  EXPECT_EQ(alert.state, AlertState::kFiring);
  EXPECT_EQ(alert.firing_since_unix_ms, UnixMs(5 * kMinute));
  EXPECT_EQ(alert.last_notified_unix_ms, UnixMs(5 * kMinute));
  EXPECT_EQ(alert.summary, "etcd-2: WAL fsync p99 150 ms > 100 ms");
  EXPECT_EQ(fired.notifications[0].id, 0);
  EXPECT_EQ(fired.notifications[0].created_unix_ms, UnixMs(5 * kMinute));
  EXPECT_TRUE(engine.Evaluate(SlowFsync(6 * kMinute), At(6 * kMinute), {}).notifications.empty());
}

// A pending alert whose condition clears before `for` is dropped, never notified.
TEST(AlertEngineTest, PendingClearedBeforeForIsDropped) {
  AlertEngine engine(RuleSet::Defaults({}), EngineOptions{});
  engine.Evaluate(SlowFsync(0), At(0), {});
  Evaluation cleared = engine.Evaluate(HealthyCluster(60), At(60), {});
  ASSERT_EQ(cleared.dropped.size(), 1u);
  EXPECT_EQ(cleared.dropped[0].rule, kWalFsyncSlow);
  EXPECT_TRUE(cleared.notifications.empty());
  EXPECT_TRUE(cleared.changed.empty());
  EXPECT_TRUE(engine.Active().empty());
}

// A pending alert in the hysteresis band stays pending, and fires only when the condition holds
// again after `for`.
TEST(AlertEngineTest, PendingInBandStaysPending) {
  AlertEngine engine(RuleSet::Defaults({}), EngineOptions{});
  engine.Evaluate(SlowFsync(0), At(0), {});
  Evaluation band = engine.Evaluate(SlowFsync(6 * kMinute, 95), At(6 * kMinute), {});
  EXPECT_TRUE(band.dropped.empty());
  EXPECT_TRUE(HasActive(engine, kWalFsyncSlow, "etcd-2", AlertState::kPending));
  engine.Evaluate(SlowFsync(7 * kMinute, 120), At(7 * kMinute), {});
  EXPECT_TRUE(HasActive(engine, kWalFsyncSlow, "etcd-2", AlertState::kFiring));
}

// Still-firing alerts are notified again every repeat interval after the last notification.
TEST(AlertEngineTest, RepeatsEveryRepeatInterval) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{std::chrono::hours(1)});
  std::vector<NotificationKind> kinds;
  for (double t = 0; t <= 125 * kMinute; t += kMinute) {
    for (const auto& n : engine.Evaluate(SlowFsync(t), At(t), {}).notifications) {
      kinds.push_back(n.kind);
      if (n.kind == kRepeat) {
        EXPECT_TRUE(n.alert.last_notified_unix_ms == UnixMs(60 * kMinute) ||
                    n.alert.last_notified_unix_ms == UnixMs(120 * kMinute));
      }
    }
  }
  EXPECT_EQ(kinds, (std::vector<NotificationKind>{kFiring, kRepeat, kRepeat}));
}

// Alerts are deduplicated by (rule, cluster, member): one per member, however many snapshots.
TEST(AlertEngineTest, DeduplicatesByRuleClusterMember) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  for (int i = 0; i < 5; ++i) {
    v1::ClusterSnapshot s = SlowFsync(i * 10);
    SetLatency(Member(s, "etcd-3").mutable_wal_fsync(), 200);
    engine.Evaluate(s, At(i * 10), {});
  }
  const auto active = engine.Active();
  ASSERT_EQ(active.size(), 2u);
  EXPECT_EQ(active[0].key.member, "etcd-2");
  EXPECT_EQ(active[1].key.member, "etcd-3");
}

// Changed values are reported (for the store) without any notification.
TEST(AlertEngineTest, ValueChangesAreChangedNotNotified) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  engine.Evaluate(SlowFsync(0, 150), At(0), {});
  Evaluation e = engine.Evaluate(SlowFsync(10, 180), At(10), {});
  ASSERT_EQ(e.changed.size(), 1u);
  EXPECT_EQ(e.changed[0].summary, "etcd-2: WAL fsync p99 180 ms > 100 ms");
  EXPECT_TRUE(e.notifications.empty());
  EXPECT_TRUE(engine.Evaluate(SlowFsync(20, 180), At(20), {}).changed.empty());
}

// A silence holds the firing notification back; when it expires and the alert still fires,
// the firing notification goes out.
TEST(AlertEngineTest, SilenceSuppressesUntilExpiry) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  const std::vector<Silence> silences = {
      Silence{"s1", std::string(kWalFsyncSlow), "etcd-2", "disk swap", UnixMs(0), UnixMs(600)}};
  Evaluation first = engine.Evaluate(SlowFsync(10), At(10), silences);
  EXPECT_TRUE(first.notifications.empty());
  ASSERT_EQ(first.silenced.size(), 1u);
  EXPECT_EQ(first.silenced[0].kind, kFiring);
  Evaluation second = engine.Evaluate(SlowFsync(20), At(20), silences);
  EXPECT_TRUE(second.notifications.empty());
  EXPECT_TRUE(second.silenced.empty()) << "reported once per due notification";
  EXPECT_EQ(engine.Active()[0].last_notified_unix_ms, 0);

  Evaluation expired = engine.Evaluate(SlowFsync(600), At(600), silences);
  ASSERT_EQ(Kinds(expired.notifications), std::vector<NotificationKind>{kFiring});
  EXPECT_EQ(expired.notifications[0].alert.last_notified_unix_ms, UnixMs(600));
}

// A silence expired early (its expiry set to the time it was ended, as AlertStore::ExpireSilence
// does) stops holding back at the very next evaluation: the firing notification goes out then.
TEST(AlertEngineTest, SilenceExpiredEarlyStopsSuppressingAtTheNextEvaluation) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  Silence silence{"s1", "", "etcd-2", "disk swap", UnixMs(0), UnixMs(3600)};
  Evaluation silenced = engine.Evaluate(SlowFsync(10), At(10), {silence});
  EXPECT_TRUE(silenced.notifications.empty());
  ASSERT_EQ(silenced.silenced.size(), 1u);

  silence.expires_unix_ms = UnixMs(15);  // expired by the operator at 15 s
  Evaluation next = engine.Evaluate(SlowFsync(20), At(20), {silence});
  ASSERT_EQ(Kinds(next.notifications), std::vector<NotificationKind>{kFiring});
  EXPECT_TRUE(next.silenced.empty());
  EXPECT_EQ(next.notifications[0].alert.last_notified_unix_ms, UnixMs(20));
}

// A silence for another member or rule does not match; an empty rule and member match all.
TEST(AlertEngineTest, SilenceMatching) {
  const AlertKey key{"WalFsyncSlow", "test", "etcd-2"};
  const int64_t now = UnixMs(100);
  struct {
    Silence silence;
    bool matches;
  } const cases[] = {
      {{"a", "WalFsyncSlow", "etcd-2", "", UnixMs(0), UnixMs(200)}, true},
      {{"b", "", "", "", UnixMs(0), UnixMs(200)}, true},
      {{"c", "WalFsyncSlow", "etcd-3", "", UnixMs(0), UnixMs(200)}, false},
      {{"d", "NoLeader", "", "", UnixMs(0), UnixMs(200)}, false},
      {{"e", "", "", "", UnixMs(0), UnixMs(100)}, false},    // expired
      {{"f", "", "", "", UnixMs(150), UnixMs(200)}, false},  // not yet
  };
  for (const auto& c : cases) {
    EXPECT_EQ(c.silence.Matches(key, now), c.matches) << c.silence.id;
  }
}

// An alert that fired and resolved while silenced, never notified, gets no resolve
// notification.
TEST(AlertEngineTest, ResolvedWhileSilencedAndNeverNotifiedIsQuiet) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  const std::vector<Silence> all = {Silence{"s", "", "", "maintenance", UnixMs(0), UnixMs(3600)}};
  engine.Evaluate(SlowFsync(10), At(10), all);
  Evaluation resolved = engine.Evaluate(HealthyCluster(20), At(20), all);
  EXPECT_TRUE(resolved.notifications.empty());
  ASSERT_EQ(resolved.changed.size(), 1u);
  EXPECT_EQ(resolved.changed[0].state, AlertState::kResolved);
  EXPECT_EQ(resolved.changed[0].resolved_unix_ms, UnixMs(20));
}

// An alert notified as firing gets its resolve notification even if silenced meanwhile.
TEST(AlertEngineTest, NotifiedAlertResolvesEvenWhenSilenced) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  engine.Evaluate(SlowFsync(10), At(10), {});
  const std::vector<Silence> all = {Silence{"s", "", "", "", UnixMs(15), UnixMs(3600)}};
  Evaluation resolved = engine.Evaluate(HealthyCluster(20), At(20), all);
  EXPECT_EQ(Kinds(resolved.notifications), std::vector<NotificationKind>{kResolved});
}

// Silenced repeats are reported once per repeat interval, not on every evaluation.
TEST(AlertEngineTest, SilencedRepeatReportedOncePerInterval) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{std::chrono::hours(1)});
  engine.Evaluate(SlowFsync(0), At(0), {});
  const std::vector<Silence> all = {Silence{"s", "", "", "", UnixMs(1), UnixMs(10 * 3600)}};
  int silenced = 0, notified = 0;
  for (double t = kMinute; t <= 150 * kMinute; t += kMinute) {
    Evaluation e = engine.Evaluate(SlowFsync(t), At(t), all);
    silenced += static_cast<int>(e.silenced.size());
    notified += static_cast<int>(e.notifications.size());
  }
  EXPECT_EQ(silenced, 2);  // at 60 and 120 minutes
  EXPECT_EQ(notified, 0);
}

// A blind snapshot (no fresh member) neither fires nor resolves member rules; only
// CollectorStale changes.
TEST(AlertEngineTest, BlindSnapshotChangesOnlyCollectorStale) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  engine.Evaluate(SlowFsync(10), At(10), {});
  v1::ClusterSnapshot blind = HealthyCluster(20);
  for (const char* name : {"etcd-1", "etcd-2", "etcd-3"}) {
    MakeStale(blind, name);
    Member(blind, name).clear_wal_fsync();
  }
  blind.set_has_leader(false);  // nothing fresh tells a leader
  ASSERT_EQ(blind.fresh_members(), 0u);
  Evaluation e = engine.Evaluate(blind, At(20), {});
  for (const Alert& a : e.changed) {
    EXPECT_EQ(a.key.rule, kCollectorStale) << a.key.rule;
  }
  EXPECT_EQ(e.changed.size(), 3u);
  EXPECT_TRUE(HasActive(engine, kWalFsyncSlow, "etcd-2", AlertState::kFiring));
  EXPECT_EQ(FindActive(engine.Active(), kNoLeader, ""), nullptr);

  Evaluation back = engine.Evaluate(SlowFsync(30), At(30), {});
  EXPECT_TRUE(HasActive(engine, kWalFsyncSlow, "etcd-2", AlertState::kFiring));
  for (const Notification& n : back.notifications) {
    EXPECT_EQ(n.alert.key.rule, kCollectorStale);
    EXPECT_EQ(n.kind, kResolved);
  }
}

// An alert about a member that turned stale or unreachable keeps its state; one about a member
// that left the cluster resolves.
TEST(AlertEngineTest, StaleOrUnreachableMemberKeepsAlertsRemovedMemberResolves) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  auto disk_full = [](double t) {
    v1::ClusterSnapshot s = HealthyCluster(t);
    Member(s, "etcd-2").set_disk_used_percent(95);
    return s;
  };
  engine.Evaluate(disk_full(10), At(10), {});
  ASSERT_TRUE(HasActive(engine, kDiskUsageHigh, "etcd-2", AlertState::kFiring));

  v1::ClusterSnapshot stale = HealthyCluster(20);
  MakeStale(stale, "etcd-2");
  Member(stale, "etcd-2").clear_disk_used_percent();
  engine.Evaluate(stale, At(20), {});
  EXPECT_TRUE(HasActive(engine, kDiskUsageHigh, "etcd-2", AlertState::kFiring));

  v1::ClusterSnapshot down = HealthyCluster(30);
  MakeUnreachable(down, "etcd-2");
  Member(down, "etcd-2").clear_disk_used_percent();
  engine.Evaluate(down, At(30), {});
  EXPECT_TRUE(HasActive(engine, kDiskUsageHigh, "etcd-2", AlertState::kFiring));

  v1::ClusterSnapshot removed = HealthyCluster(40);
  removed.mutable_members()->SwapElements(1, 2);
  removed.mutable_members()->RemoveLast();  // etcd-2 left the cluster
  Evaluation e = engine.Evaluate(removed, At(40), {});
  EXPECT_EQ(FindActive(engine.Active(), kDiskUsageHigh, "etcd-2"), nullptr);
  bool disk_resolved = false;
  for (const Notification& n : e.notifications) {
    EXPECT_EQ(n.kind, kResolved);
    disk_resolved = disk_resolved || n.alert.key.rule == kDiskUsageHigh;
  }
  EXPECT_TRUE(disk_resolved);
}

// After a restart, restored alerts are not notified again; the repeat follows the stored
// last notification; a restored pending alert keeps its start; a cleared one resolves.
TEST(AlertEngineTest, RestoreDoesNotRenotify) {
  std::vector<Alert> stored;
  {
    AlertEngine before(RuleSet::Defaults({}), EngineOptions{std::chrono::hours(1)});
    before.Evaluate(SlowFsync(0), At(0), {});
    v1::ClusterSnapshot s = SlowFsync(5 * kMinute);
    Member(s, "etcd-3").set_disk_used_percent(95);  // pending: DiskUsageHigh for: 5m
    ASSERT_EQ(before.Evaluate(s, At(5 * kMinute), {}).notifications.size(), 1u);
    stored = before.Active();
    ASSERT_EQ(stored.size(), 2u);
  }
  AlertEngine after(RuleSet::Defaults({}), EngineOptions{std::chrono::hours(1)});
  after.Restore(stored);
  auto with_disk = [](double t) {
    v1::ClusterSnapshot s = SlowFsync(t);
    Member(s, "etcd-3").set_disk_used_percent(95);
    return s;
  };
  EXPECT_TRUE(after.Evaluate(with_disk(6 * kMinute), At(6 * kMinute), {}).notifications.empty());
  Evaluation pending_fires = after.Evaluate(with_disk(10 * kMinute), At(10 * kMinute), {});
  ASSERT_EQ(pending_fires.notifications.size(), 1u);
  EXPECT_EQ(pending_fires.notifications[0].alert.key.rule, kDiskUsageHigh);
  EXPECT_EQ(pending_fires.notifications[0].alert.pending_since_unix_ms, UnixMs(5 * kMinute));
  Evaluation repeat = after.Evaluate(with_disk(65 * kMinute), At(65 * kMinute), {});
  ASSERT_EQ(Kinds(repeat.notifications), std::vector<NotificationKind>{kRepeat});
  EXPECT_EQ(repeat.notifications[0].alert.key.rule, kWalFsyncSlow);

  AlertEngine cleared(RuleSet::Defaults({}), EngineOptions{});
  cleared.Restore(stored);
  Evaluation e = cleared.Evaluate(HealthyCluster(6 * kMinute), At(6 * kMinute), {});
  EXPECT_EQ(Kinds(e.notifications), std::vector<NotificationKind>{kResolved});
  EXPECT_EQ(e.dropped.size(), 1u);
}

// Alerts of a rule disabled by the rules file (restored from before) resolve, and it raises
// nothing new.
TEST(AlertEngineTest, DisabledRuleRaisesNothingAndEndsRestoredAlerts) {
  RuleSet rules = RulesWithoutFor();
  ASSERT_TRUE(rules.ApplyText("rules: {WalFsyncSlow: {enabled: false}}", "t").ok());
  Alert old;
  old.key = {std::string(kWalFsyncSlow), "test", "etcd-2"};
  old.state = AlertState::kFiring;
  old.last_notified_unix_ms = UnixMs(-60);
  AlertEngine engine(std::move(rules), EngineOptions{});
  engine.Restore({old});
  Evaluation e = engine.Evaluate(SlowFsync(10), At(10), {});
  EXPECT_EQ(Kinds(e.notifications), std::vector<NotificationKind>{kResolved});
  EXPECT_TRUE(engine.Active().empty());
}

// A firing warning that escalates to critical is notified again.
TEST(AlertEngineTest, EscalationNotifiesAgain) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  auto cert = [](double t, double days) {
    v1::ClusterSnapshot s = HealthyCluster(t);
    Member(s, "etcd-1").set_certificate_expires_in_seconds(static_cast<int64_t>(days * 86400));
    return s;
  };
  Evaluation warning = engine.Evaluate(cert(0, 10), At(0), {});
  ASSERT_EQ(warning.notifications.size(), 1u);
  EXPECT_EQ(warning.notifications[0].alert.severity, Severity::kWarning);
  EXPECT_TRUE(engine.Evaluate(cert(10, 9), At(10), {}).notifications.empty());
  Evaluation critical = engine.Evaluate(cert(20, 2), At(20), {});
  ASSERT_EQ(Kinds(critical.notifications), std::vector<NotificationKind>{kFiring});
  EXPECT_EQ(critical.notifications[0].alert.severity, Severity::kCritical);
  EXPECT_TRUE(engine.Evaluate(cert(30, 2), At(30), {}).notifications.empty());
}

// Alerts carry the channels of their rule.
TEST(AlertEngineTest, AlertsCarryRuleChannels) {
  RuleSet rules = RulesWithoutFor();
  ASSERT_TRUE(rules.ApplyText("rules: {WalFsyncSlow: {channels: [pagerduty]}}", "t").ok());
  AlertEngine engine(std::move(rules), EngineOptions{});
  Evaluation e = engine.Evaluate(SlowFsync(0), At(0), {});
  ASSERT_EQ(e.notifications.size(), 1u);
  EXPECT_EQ(e.notifications[0].alert.channels, std::vector<std::string>{"pagerduty"});
}

// A silence with a cluster covers that cluster's alerts only; one without covers every
// cluster's (as silences stored before clusters had names do).
TEST(AlertEngineTest, SilenceMatchesItsClusterOrEvery) {
  const AlertKey in_a{std::string(kWalFsyncSlow), "a", "etcd-2"};
  const AlertKey in_b{std::string(kWalFsyncSlow), "b", "etcd-2"};
  Silence of_a{"s", "", "", "", UnixMs(0), UnixMs(600)};
  of_a.cluster = "a";
  EXPECT_TRUE(of_a.Matches(in_a, UnixMs(10)));
  EXPECT_FALSE(of_a.Matches(in_b, UnixMs(10)));
  const Silence every{"s", "", "etcd-2", "", UnixMs(0), UnixMs(600)};
  EXPECT_TRUE(every.Matches(in_a, UnixMs(10)));
  EXPECT_TRUE(every.Matches(in_b, UnixMs(10)));

  // Two engines, one per cluster, with the same silences: only b's alert is notified.
  AlertEngine engine_a(RulesWithoutFor(), EngineOptions{});
  AlertEngine engine_b(RulesWithoutFor(), EngineOptions{});
  v1::ClusterSnapshot a = SlowFsync(10);
  a.set_cluster("a");
  v1::ClusterSnapshot b = SlowFsync(10);
  b.set_cluster("b");
  const Evaluation muted = engine_a.Evaluate(a, At(10), {of_a});
  const Evaluation sent = engine_b.Evaluate(b, At(10), {of_a});
  EXPECT_TRUE(muted.notifications.empty());
  ASSERT_EQ(muted.silenced.size(), 1u);
  EXPECT_EQ(muted.silenced[0].alert.key.cluster, "a");
  ASSERT_EQ(sent.notifications.size(), 1u);
  EXPECT_EQ(sent.notifications[0].alert.key.cluster, "b");
}

}  // namespace
}  // namespace etcdmon::alerter
