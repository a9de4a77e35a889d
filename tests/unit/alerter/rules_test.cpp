// Each rule fires on a crafted snapshot, keeps its state between its resolve and firing
// thresholds, and resolves below them.

#include "etcdmon/alerter/rules.h"

#include <gtest/gtest.h>

#include <functional>

#include "etcdmon/alerter/engine.h"
#include "rules_test_snapshots.h"

namespace etcdmon::alerter {
namespace {

using namespace testing;  // NOLINT: the snapshot helpers

using Edit = std::function<void(v1::ClusterSnapshot&, double seconds)>;

struct RuleCase {
  std::string_view rule;
  std::string member;  // "" for a cluster-wide alert
  Severity severity;
  Edit fire;
  Edit hold;  // between the thresholds; null for a boolean rule
  Edit clear;
  std::string summary_contains;
};

Edit Noop() {
  return [](v1::ClusterSnapshot&, double) {};
}

std::vector<RuleCase> Cases() {
  std::vector<RuleCase> cases;
  auto on = [](const char* name, std::function<void(v1::MemberState&)> edit) -> Edit {
    return [name, edit](v1::ClusterSnapshot& s, double) { edit(Member(s, name)); };
  };
  cases.push_back({kNoLeader, "", Severity::kCritical,
                   [](v1::ClusterSnapshot& s, double) {
                     s.set_has_leader(false);
                     s.set_leader_id(0);
                   },
                   nullptr, Noop(), "no member reports a leader"});
  cases.push_back({kQuorumLost, "", Severity::kCritical,
                   [](v1::ClusterSnapshot& s, double) {
                     MakeUnreachable(s, "etcd-2");
                     MakeUnreachable(s, "etcd-3");
                   },
                   nullptr, Noop(), "quorum lost: 2 of 3 voting members down"});
  cases.push_back({kSplitBrain, "", Severity::kCritical,
                   [](v1::ClusterSnapshot& s, double) {
                     s.mutable_split_brain()->set_detected(true);
                     s.mutable_split_brain()->set_reason("two leaders in term 2");
                   },
                   nullptr, Noop(), "split-brain: two leaders in term 2"});
  cases.push_back({kWalFsyncSlow, "etcd-2", Severity::kCritical,
                   on("etcd-2", [](auto& m) { SetLatency(m.mutable_wal_fsync(), 142.5); }),
                   on("etcd-2", [](auto& m) { SetLatency(m.mutable_wal_fsync(), 95); }),
                   on("etcd-2", [](auto& m) { SetLatency(m.mutable_wal_fsync(), 80); }),
                   "etcd-2: WAL fsync p99 142.5 ms > 100 ms"});
  cases.push_back(
      {kDatabaseNearQuota, "etcd-1", Severity::kCritical,
       on("etcd-1", [](auto& m) { m.set_db_size_bytes(static_cast<int64_t>(1740 * kMiB)); }),
       on("etcd-1", [](auto& m) { m.set_db_size_bytes(static_cast<int64_t>(1536 * kMiB)); }),
       on("etcd-1", [](auto& m) { m.set_db_size_bytes(static_cast<int64_t>(1024 * kMiB)); }),
       "etcd-1: db size 1.7 GiB is 85% of the 2 GiB quota, threshold 80%"});
  cases.push_back({kMemberUnavailable, "etcd-3", Severity::kWarning,
                   [](v1::ClusterSnapshot& s, double) { MakeUnreachable(s, "etcd-3"); }, nullptr,
                   Noop(), "etcd-3 unreachable: connection refused"});
  cases.push_back({kDiskUsageHigh, "etcd-2", Severity::kWarning,
                   on("etcd-2", [](auto& m) { m.set_disk_used_percent(85); }),
                   on("etcd-2", [](auto& m) { m.set_disk_used_percent(75); }),
                   on("etcd-2", [](auto& m) { m.set_disk_used_percent(70); }),
                   "etcd-2: data disk 85% used"});
  cases.push_back({kMemoryUsageHigh, "etcd-3", Severity::kWarning,
                   on("etcd-3", [](auto& m) { m.set_memory_used_percent(91.5); }),
                   on("etcd-3", [](auto& m) { m.set_memory_used_percent(73); }),
                   on("etcd-3", [](auto& m) { m.set_memory_used_percent(50); }),
                   "etcd-3: host memory 91.5% used > 80%"});
  cases.push_back({kRequestLatencyDegraded, "etcd-1", Severity::kWarning,
                   on("etcd-1", [](auto& m) { SetLatency(m.mutable_write_latency(), 150); }),
                   on("etcd-1", [](auto& m) { SetLatency(m.mutable_write_latency(), 95); }),
                   on("etcd-1", [](auto& m) { SetLatency(m.mutable_write_latency(), 50); }),
                   "etcd-1: write p99 150 ms > 100 ms"});
  cases.push_back({kPendingProposalsHigh, "etcd-1", Severity::kWarning,
                   on("etcd-1", [](auto& m) { m.set_proposals_pending(60); }),
                   on("etcd-1", [](auto& m) { m.set_proposals_pending(48); }),
                   on("etcd-1", [](auto& m) { m.set_proposals_pending(10); }),
                   "etcd-1: 60 proposals pending > 50"});
  cases.push_back({kEtcdAlarmActive, "etcd-2", Severity::kCritical,
                   [](v1::ClusterSnapshot& s, double) {
                     auto* alarm = s.add_alarm_details();
                     alarm->set_member_id(2);
                     alarm->set_member_name("etcd-2");
                     alarm->set_type("NOSPACE");
                     s.add_alarms("NOSPACE");
                   },
                   nullptr, Noop(), "etcd-2: etcd alarm NOSPACE"});
  cases.push_back(
      {kCertificateExpiringSoon, "etcd-1", Severity::kWarning,
       on("etcd-1", [](auto& m) { m.set_certificate_expires_in_seconds(10LL * 86400); }),
       on("etcd-1", [](auto& m) { m.set_certificate_expires_in_seconds(15LL * 86400); }),
       on("etcd-1", [](auto& m) { m.set_certificate_expires_in_seconds(30LL * 86400); }),
       "etcd-1: TLS certificate expires in 10d 0h"});
  cases.push_back({kDatabaseQuotaExhaustionSoon, "etcd-2", Severity::kWarning,
                   on("etcd-2", [](auto& m) { m.set_db_seconds_to_quota(3 * 3600); }),
                   on("etcd-2", [](auto& m) { m.set_db_seconds_to_quota(4.2 * 3600); }),
                   on("etcd-2", [](auto& m) { m.clear_db_seconds_to_quota(); }),
                   "etcd-2: db quota reached in 3h 0m"});
  cases.push_back(
      {kDatabaseFragmented, "etcd-3", Severity::kWarning,
       on("etcd-3",
          [](auto& m) {
            m.set_db_size_bytes(static_cast<int64_t>(200 * kMiB));
            m.set_db_size_in_use_bytes(static_cast<int64_t>(60 * kMiB));
          }),
       on("etcd-3",
          [](auto& m) {
            m.set_db_size_bytes(static_cast<int64_t>(200 * kMiB));
            m.set_db_size_in_use_bytes(static_cast<int64_t>(104 * kMiB));
          }),
       on("etcd-3",
          [](auto& m) {
            m.set_db_size_bytes(static_cast<int64_t>(200 * kMiB));
            m.set_db_size_in_use_bytes(static_cast<int64_t>(150 * kMiB));
          }),
       "etcd-3: only 30% of the 200 MiB db in use (140 MiB reclaimable); run `etcd-monitor ctl "
       "defrag`"});
  cases.push_back({kRevisionDivergence, "etcd-3", Severity::kWarning,
                   [](v1::ClusterSnapshot& s, double seconds) {
                     auto* spread = s.mutable_divergence()->mutable_revision();
                     spread->set_growing(true);
                     spread->set_lagging_member_name("etcd-3");
                     spread->set_lag(1200);
                     spread->set_growing_since_unix_ms(UnixMs(seconds - 360));
                     s.mutable_divergence()->set_growing(true);
                   },
                   nullptr, Noop(), "etcd-3: revision 1200 behind and falling further behind"});
  cases.push_back({kGrpcErrorRateHigh, "etcd-2", Severity::kWarning,
                   on("etcd-2",
                      [](auto& m) {
                        m.mutable_rates()->set_grpc_error_ratio(0.10);
                        m.mutable_rates()->set_grpc_errors_per_second(10);
                      }),
                   on("etcd-2", [](auto& m) { m.mutable_rates()->set_grpc_error_ratio(0.048); }),
                   on("etcd-2", [](auto& m) { m.mutable_rates()->set_grpc_error_ratio(0.01); }),
                   "etcd-2: 10% of unary gRPC requests failed (10/s of 100/s)"});
  cases.push_back({kCollectorStale, "etcd-3", Severity::kWarning,
                   [](v1::ClusterSnapshot& s, double) { MakeStale(s, "etcd-3"); }, nullptr, Noop(),
                   "etcd-3: no sample for 1m 0s from collector c3"});
  cases.push_back({kMonitorStorageFailing, "", Severity::kWarning,
                   [](v1::ClusterSnapshot& s, double) {
                     s.mutable_storage()->set_failing(true);
                     s.mutable_storage()->set_failures_total(12);
                     s.mutable_storage()->set_last_error("database or disk is full");
                   },
                   nullptr, Noop(), "history writes fail (12 failures: database or disk is full)"});
  cases.push_back({kClusterIdentityConflict, "", Severity::kCritical,
                   [](v1::ClusterSnapshot& s, double) {
                     v1::IdentityConflict* c = s.add_identity_conflicts();
                     c->set_collector_id("c9");
                     c->set_endpoint("https://10.0.0.9:2379");
                     c->set_reason("etcd cluster id 0x1 is not this cluster's 0xc1");
                     c->set_last_unix_ms(s.tick_unix_ms());
                     c->set_count(4);
                   },
                   nullptr, Noop(),
                   "collector c9 for https://10.0.0.9:2379: etcd cluster id 0x1 is not this "
                   "cluster's 0xc1"});
  return cases;
}

// Every rule fires on its snapshot with its severity and summary, holds between the thresholds,
// resolves below them, and raises nothing on a healthy cluster or from the band alone.
TEST(RulesTest, EveryRuleFiresHoldsAndResolves) {
  for (const RuleCase& c : Cases()) {
    SCOPED_TRACE(std::string(c.rule));
    AlertEngine engine(RulesWithoutFor(), EngineOptions{});
    double t = 0;
    // Only this rule's notifications: some edits also trip other rules (QuorumLost's members
    // are also unavailable).
    auto evaluate = [&](const Edit& edit) {
      t += 10;
      v1::ClusterSnapshot s = HealthyCluster(t);
      edit(s, t);
      Evaluation e = engine.Evaluate(s, At(t), {});
      std::vector<Notification> own;
      for (Notification& n : e.notifications) {
        if (n.alert.key.rule == c.rule) {
          own.push_back(std::move(n));
        }
      }
      e.notifications = std::move(own);
      return e;
    };
    EXPECT_TRUE(evaluate(Noop()).changed.empty());
    if (c.hold) {
      evaluate(c.hold);
      EXPECT_EQ(FindActive(engine.Active(), c.rule, c.member), nullptr)
          << "the band alone must not start an alert";
    }
    Evaluation fired = evaluate(c.fire);
    const std::optional<Alert> alert = ActiveAlert(engine, c.rule, c.member);
    ASSERT_TRUE(alert.has_value());
    EXPECT_EQ(alert->state, AlertState::kFiring);
    EXPECT_EQ(alert->severity, c.severity);
    EXPECT_EQ(alert->key.cluster, "test");
    EXPECT_NE(alert->summary.find(c.summary_contains), std::string::npos) << alert->summary;
    EXPECT_FALSE(alert->values.empty());
    ASSERT_EQ(fired.notifications.size(), 1u);
    EXPECT_EQ(fired.notifications[0].kind, NotificationKind::kFiring);
    if (c.hold) {
      Evaluation held = evaluate(c.hold);
      EXPECT_TRUE(HasActive(engine, c.rule, c.member, AlertState::kFiring));
      EXPECT_TRUE(held.notifications.empty());
    }
    Evaluation cleared = evaluate(c.clear);
    EXPECT_EQ(FindActive(engine.Active(), c.rule, c.member), nullptr);
    ASSERT_EQ(cleared.notifications.size(), 1u);
    EXPECT_EQ(cleared.notifications[0].kind, NotificationKind::kResolved);
    EXPECT_EQ(cleared.notifications[0].alert.key.rule, c.rule);
    EXPECT_EQ(cleared.notifications[0].alert.state, AlertState::kResolved);
  }
}

// A value hovering around each threshold rule's threshold fires once and never flaps.
TEST(RulesTest, HoveringAroundThresholdDoesNotFlap) {
  for (const RuleCase& c : Cases()) {
    if (!c.hold) {
      continue;
    }
    SCOPED_TRACE(std::string(c.rule));
    AlertEngine engine(RulesWithoutFor(), EngineOptions{});
    int firing = 0, resolved = 0;
    for (int i = 0; i < 20; ++i) {
      v1::ClusterSnapshot s = HealthyCluster(i * 10);
      (i % 2 == 0 ? c.fire : c.hold)(s, i * 10);
      for (const Notification& n : engine.Evaluate(s, At(i * 10), {}).notifications) {
        if (n.alert.key.rule != c.rule) {
          continue;  // a large db is also fragmented here
        }
        firing += n.kind == NotificationKind::kFiring ? 1 : 0;
        resolved += n.kind == NotificationKind::kResolved ? 1 : 0;
      }
    }
    EXPECT_EQ(firing, 1);
    EXPECT_EQ(resolved, 0);
  }
}

// MemberUnavailable: a warning per unreachable member while enough members are up; a critical
// cluster-wide alert when fewer than --min-available-nodes are.
TEST(RulesTest, MemberUnavailableWarningPerMemberCriticalForCluster) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  v1::ClusterSnapshot one_down = HealthyCluster(10);
  MakeUnreachable(one_down, "etcd-2");
  engine.Evaluate(one_down, At(10), {});
  EXPECT_TRUE(HasActive(engine, kMemberUnavailable, "etcd-2", AlertState::kFiring));
  EXPECT_EQ(FindActive(engine.Active(), kMemberUnavailable, ""), nullptr);

  v1::ClusterSnapshot two_down = HealthyCluster(20);
  MakeUnreachable(two_down, "etcd-2");
  MakeUnreachable(two_down, "etcd-3");
  engine.Evaluate(two_down, At(20), {});
  const auto active = engine.Active();
  const Alert* cluster = FindActive(active, kMemberUnavailable, "");
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->severity, Severity::kCritical);
  EXPECT_EQ(cluster->summary, "only 1 of 3 voting members available < 2 required (quorum)");
  EXPECT_EQ(FindActive(active, kMemberUnavailable, "etcd-3")->severity, Severity::kWarning);
}

// At the default (--min-available-nodes not given) the cluster-wide alert follows the quorum
// of the current voting members: a healthy single-member cluster raises nothing, and it fires
// only when fewer members than a quorum are available.
TEST(RulesTest, MemberUnavailableDefaultFollowsTheQuorum) {
  struct Case {
    const char* name;
    int size;
    int down;
    const char* critical;  // the cluster-wide summary; nullptr: none
  };
  const Case cases[] = {
      {"1 member up", 1, 0, nullptr},
      {"1 member down", 1, 1, "only 0 of 1 voting members available < 1 required (quorum)"},
      {"3 members, 1 down", 3, 1, nullptr},
      {"3 members, 2 down", 3, 2, "only 1 of 3 voting members available < 2 required (quorum)"},
      {"5 members, 2 down", 5, 2, nullptr},
      {"5 members, 3 down", 5, 3, "only 2 of 5 voting members available < 3 required (quorum)"},
  };
  for (const Case& c : cases) {
    AlertEngine engine(RulesWithoutFor(), EngineOptions{});
    v1::ClusterSnapshot s = HealthyCluster(10, c.size);
    for (int i = 0; i < c.down; ++i) {
      MakeUnreachable(s, "etcd-" + std::to_string(c.size - i));
    }
    engine.Evaluate(s, At(10), {});
    const auto active = engine.Active();
    const Alert* cluster = FindActive(active, kMemberUnavailable, "");
    if (c.critical == nullptr) {
      EXPECT_EQ(cluster, nullptr) << c.name << ": " << cluster->summary;
    } else {
      ASSERT_NE(cluster, nullptr) << c.name;
      EXPECT_EQ(cluster->summary, c.critical) << c.name;
      EXPECT_EQ(cluster->severity, Severity::kCritical) << c.name;
    }
    if (c.down == 0) {
      EXPECT_TRUE(active.empty()) << c.name << ": " << active[0].summary;
    }
  }
}

// An explicit --min-available-nodes is honoured as given, whatever the cluster's size.
TEST(RulesTest, MemberUnavailableExplicitMinimumIsHonoured) {
  config::AlertThresholds thresholds;
  thresholds.min_available_nodes = 2;
  {
    AlertEngine engine(RulesWithoutFor(thresholds), EngineOptions{});
    engine.Evaluate(HealthyCluster(10, 1), At(10), {});
    const auto active = engine.Active();
    const Alert* cluster = FindActive(active, kMemberUnavailable, "");
    ASSERT_NE(cluster, nullptr);
    EXPECT_EQ(cluster->summary, "only 1 of 1 voting members available < 2 required");
  }
  thresholds.min_available_nodes = 4;
  {
    AlertEngine engine(RulesWithoutFor(thresholds), EngineOptions{});
    v1::ClusterSnapshot s = HealthyCluster(10, 5);
    MakeUnreachable(s, "etcd-4");
    MakeUnreachable(s, "etcd-5");
    engine.Evaluate(s, At(10), {});
    const auto active = engine.Active();
    const Alert* cluster = FindActive(active, kMemberUnavailable, "");
    ASSERT_NE(cluster, nullptr);
    EXPECT_EQ(cluster->summary, "only 3 of 5 voting members available < 4 required");
  }
}

// Two of three members hung (SIGSTOP): their collectors' samples are fresh but did not reach
// them. NoLeader counts the one member that answered, and says what the others are;
// QuorumLost says why each is down.
TEST(RulesTest, SummariesCountWhatAnswered) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  v1::ClusterSnapshot s = HealthyCluster(10);
  s.set_has_leader(false);
  s.set_leader_id(0);
  s.set_leader_name("");
  s.set_quorum_ok(false);
  s.set_healthy(false);
  MakeUnreachable(s, "etcd-2");
  MakeUnreachable(s, "etcd-3");
  Member(s, "etcd-2").set_error("context deadline exceeded");
  Member(s, "etcd-3").set_error("context deadline exceeded");
  Member(s, "etcd-1").set_leader_id(0);
  Member(s, "etcd-1").set_health(v1::UNHEALTHY);
  engine.Evaluate(s, At(10), {});
  const auto active = engine.Active();
  const Alert* no_leader = FindActive(active, kNoLeader, "");
  ASSERT_NE(no_leader, nullptr);
  EXPECT_EQ(no_leader->summary,
            "no member reports a leader (1 of 3 members answer; 2 unreachable)");
  const Alert* quorum = FindActive(active, kQuorumLost, "");
  ASSERT_NE(quorum, nullptr);
  EXPECT_EQ(quorum->summary,
            "quorum lost: 3 of 3 voting members down (2 unreachable, 1 answering without a "
            "leader), 2 needed");
  ASSERT_NE(FindActive(active, kMemberUnavailable, "etcd-2"), nullptr);
  EXPECT_EQ(FindActive(active, kMemberUnavailable, "etcd-2")->summary,
            "etcd-2 unreachable: context deadline exceeded");

  // A stale member is neither an answer nor unreachable.
  v1::ClusterSnapshot stale = s;
  stale.set_tick_unix_ms(UnixMs(11));
  MakeStale(stale, "etcd-1");
  engine.Evaluate(stale, At(11), {});
  const auto later = engine.Active();
  ASSERT_NE(FindActive(later, kNoLeader, ""), nullptr);
  EXPECT_EQ(FindActive(later, kNoLeader, "")->summary,
            "no member reports a leader (0 of 3 members answer; 2 unreachable, 1 without a "
            "recent sample)");
}

// --endpoints=localhost:1: one member, known only by its endpoint, never answered. Alerts name
// it by its endpoint, never by an empty name or a zero id.
TEST(RulesTest, MemberKnownOnlyByEndpointIsLabelledByIt) {
  v1::ClusterSnapshot s;
  s.set_schema_version(1);
  s.set_cluster("test");
  s.set_tick_unix_ms(UnixMs(10));
  s.set_member_count(1);
  s.set_voting_members(1);
  s.set_quorum_size(1);
  s.set_fresh_members(1);
  s.set_unreachable_members(1);
  v1::MemberState* m = s.add_members();
  m->set_endpoint("localhost:1");
  m->set_health(v1::UNREACHABLE);
  m->set_sampled(true);
  m->set_error("connection refused");
  m->set_last_sample_unix_ms(UnixMs(10));
  m->set_last_received_unix_ms(UnixMs(10));

  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  engine.Evaluate(s, At(10), {});
  const auto active = engine.Active();
  const Alert* member = FindActive(active, kMemberUnavailable, "localhost:1");
  ASSERT_NE(member, nullptr);
  EXPECT_EQ(member->summary, "localhost:1 unreachable: connection refused");
  const Alert* no_leader = FindActive(active, kNoLeader, "");
  ASSERT_NE(no_leader, nullptr);
  EXPECT_EQ(no_leader->summary,
            "no member reports a leader (0 of 1 members answer; 1 unreachable)");
  const Alert* cluster = FindActive(active, kMemberUnavailable, "");
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->summary, "only 0 of 1 voting members available < 1 required (quorum)");
  for (const Alert& a : active) {
    EXPECT_EQ(a.summary.find(" 0 unreachable"), std::string::npos) << a.summary;
  }
}

// The figures a member that does not answer still shows are from older samples: rules do not
// judge them as current (no alert starts, an active one holds), except the host's own figures.
TEST(RulesTest, FiguresOfAMemberThatDoesNotAnswerAreNotJudged) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  v1::ClusterSnapshot slow = HealthyCluster(10);
  SetLatency(Member(slow, "etcd-2").mutable_wal_fsync(), 250);
  engine.Evaluate(slow, At(10), {});
  ASSERT_TRUE(HasActive(engine, kWalFsyncSlow, "etcd-2", AlertState::kFiring));

  // etcd-2 stops answering; its last fsync window is still in the snapshot, as is etcd-3's
  // (slow too), and etcd-3's host disk is full.
  v1::ClusterSnapshot down = HealthyCluster(20);
  MakeUnreachable(down, "etcd-2");
  MakeUnreachable(down, "etcd-3");
  SetLatency(Member(down, "etcd-2").mutable_wal_fsync(), 250);
  SetLatency(Member(down, "etcd-3").mutable_wal_fsync(), 300);
  Member(down, "etcd-3").mutable_rates()->set_requests_per_second(100);
  Member(down, "etcd-3").mutable_rates()->set_grpc_error_ratio(0.5);
  Member(down, "etcd-3").set_disk_used_percent(95);
  engine.Evaluate(down, At(20), {});
  const auto active = engine.Active();
  const Alert* held = FindActive(active, kWalFsyncSlow, "etcd-2");
  ASSERT_NE(held, nullptr) << "its alert holds while it is unreachable";
  EXPECT_EQ(held->summary, "etcd-2: WAL fsync p99 250 ms > 100 ms") << "the last judged value";
  EXPECT_EQ(FindActive(active, kWalFsyncSlow, "etcd-3"), nullptr);
  EXPECT_EQ(FindActive(active, kGrpcErrorRateHigh, "etcd-3"), nullptr);
  EXPECT_NE(FindActive(active, kDiskUsageHigh, "etcd-3"), nullptr);
}

// FrequentLeaderElections does not invent a term for a cluster without a leader.
TEST(RulesTest, FrequentLeaderElectionsWithoutALeader) {
  config::AlertThresholds thresholds;
  thresholds.max_leader_changes = 1;
  AlertEngine engine(RulesWithoutFor(thresholds), EngineOptions{});
  v1::ClusterSnapshot s = HealthyCluster(0);
  s.set_leader_changes_total(10);
  engine.Evaluate(s, At(0), {});
  s = HealthyCluster(60);
  s.set_leader_changes_total(20);
  s.set_has_leader(false);
  s.set_leader_id(0);
  s.set_leader_name("");
  s.set_raft_term(0);
  engine.Evaluate(s, At(60), {});
  const auto active = engine.Active();
  const Alert* alert = FindActive(active, kFrequentLeaderElections, "");
  ASSERT_NE(alert, nullptr);
  EXPECT_EQ(alert->summary, "10 leader changes in the last hour > 3 (no current leader)");
}

// A reachable member without a leader, in two of its samples in a row while the others have
// one, is unavailable; one such sample is not (leadership moving); a stale member is not
// (that is CollectorStale).
TEST(RulesTest, MemberUnavailableCountsLeaderlessNotStale) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  auto leaderless_etcd2 = [](double seconds) {
    v1::ClusterSnapshot s = HealthyCluster(seconds);
    Member(s, "etcd-2").set_leader_id(0);
    Member(s, "etcd-2").set_health(v1::UNHEALTHY);
    MakeStale(s, "etcd-3");
    return s;
  };
  engine.Evaluate(leaderless_etcd2(10), At(10), {});
  EXPECT_EQ(FindActive(engine.Active(), kMemberUnavailable, "etcd-2"), nullptr)
      << "one sample without a leader is a leadership hand-over";
  engine.Evaluate(leaderless_etcd2(10), At(11), {});  // the same sample again (next tick)
  EXPECT_EQ(FindActive(engine.Active(), kMemberUnavailable, "etcd-2"), nullptr);
  engine.Evaluate(leaderless_etcd2(20), At(20), {});
  const auto active = engine.Active();
  ASSERT_NE(FindActive(active, kMemberUnavailable, "etcd-2"), nullptr);
  EXPECT_EQ(FindActive(active, kMemberUnavailable, "etcd-2")->summary,
            "etcd-2 answers but has no leader");
  EXPECT_EQ(FindActive(active, kMemberUnavailable, "etcd-3"), nullptr);
  EXPECT_NE(FindActive(active, kCollectorStale, "etcd-3"), nullptr);
  EXPECT_EQ(FindActive(active, kMemberUnavailable, ""), nullptr);
}

// During an election nobody has a leader: that is NoLeader (and, if it lasts, QuorumLost), not
// every member being unavailable, so a leader's restart does not page as MemberUnavailable.
TEST(RulesTest, MemberUnavailableIgnoresLeaderlessMembersDuringAnElection) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  v1::ClusterSnapshot s = HealthyCluster(10);
  s.set_has_leader(false);
  s.set_leader_id(0);
  for (const char* name : {"etcd-1", "etcd-2", "etcd-3"}) {
    Member(s, name).set_leader_id(0);
    Member(s, name).set_health(v1::UNHEALTHY);
  }
  engine.Evaluate(s, At(10), {});
  const auto active = engine.Active();
  EXPECT_NE(FindActive(active, kNoLeader, ""), nullptr);
  for (const char* name : {"etcd-1", "etcd-2", "etcd-3", ""}) {
    EXPECT_EQ(FindActive(active, kMemberUnavailable, name), nullptr) << name;
  }
}

// A down member whose collector falls silent (STALE) neither keeps counting as down nor
// counts as up: QuorumLost and the cluster-wide MemberUnavailable hold their state instead of
// resolving (and firing again a moment later).
TEST(RulesTest, QuorumAlertsHoldWhileADownMemberIsStale) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  v1::ClusterSnapshot two_down = HealthyCluster(10);
  MakeUnreachable(two_down, "etcd-2");
  MakeUnreachable(two_down, "etcd-3");
  engine.Evaluate(two_down, At(10), {});
  ASSERT_TRUE(HasActive(engine, kQuorumLost, "", AlertState::kFiring));
  ASSERT_TRUE(HasActive(engine, kMemberUnavailable, "", AlertState::kFiring));

  v1::ClusterSnapshot one_stale = HealthyCluster(11);
  MakeUnreachable(one_stale, "etcd-2");
  MakeStale(one_stale, "etcd-3");
  Evaluation e = engine.Evaluate(one_stale, At(11), {});
  EXPECT_TRUE(HasActive(engine, kQuorumLost, "", AlertState::kFiring));
  EXPECT_TRUE(HasActive(engine, kMemberUnavailable, "", AlertState::kFiring));
  for (const Notification& n : e.notifications) {
    EXPECT_NE(n.kind, NotificationKind::kResolved) << n.alert.key.rule;
  }

  engine.Evaluate(HealthyCluster(12), At(12), {});
  EXPECT_FALSE(HasActive(engine, kQuorumLost, "", AlertState::kFiring));
  EXPECT_FALSE(HasActive(engine, kMemberUnavailable, "", AlertState::kFiring));

  // A stale member alone does not start them.
  v1::ClusterSnapshot stale_only = HealthyCluster(13);
  MakeUnreachable(stale_only, "etcd-2");
  MakeStale(stale_only, "etcd-3");
  engine.Evaluate(stale_only, At(13), {});
  EXPECT_FALSE(HasActive(engine, kQuorumLost, "", AlertState::kFiring));
  EXPECT_FALSE(HasActive(engine, kQuorumLost, "", AlertState::kPending));
}

// CertificateExpiringSoon is a warning below 14 days and critical below 3 days.
TEST(RulesTest, CertificateSeverityByRemainingDays) {
  struct {
    double days;
    bool fires;
    Severity severity;
  } const cases[] = {{20, false, Severity::kWarning},
                     {13.5, true, Severity::kWarning},
                     {2.5, true, Severity::kCritical},
                     {-1, true, Severity::kCritical}};
  for (const auto& c : cases) {
    AlertEngine engine(RulesWithoutFor(), EngineOptions{});
    v1::ClusterSnapshot s = HealthyCluster(10);
    Member(s, "etcd-1").set_certificate_expires_in_seconds(static_cast<int64_t>(c.days * 86400));
    engine.Evaluate(s, At(10), {});
    const std::optional<Alert> alert = ActiveAlert(engine, kCertificateExpiringSoon, "etcd-1");
    ASSERT_EQ(alert.has_value(), c.fires) << c.days;
    if (alert) {
      EXPECT_EQ(alert->severity, c.severity) << c.days;
    }
  }
}

// DatabaseNearQuota uses the smaller of etcd's quota and --max-db-size-mb.
TEST(RulesTest, DatabaseNearQuotaUsesSmallerLimit) {
  config::AlertThresholds thresholds;
  thresholds.max_db_size_bytes = 1024ULL * 1024 * 1024;  // 1 GiB < the 2 GiB quota
  AlertEngine engine(RulesWithoutFor(thresholds), EngineOptions{});
  v1::ClusterSnapshot s = HealthyCluster(10);
  Member(s, "etcd-1").set_db_size_bytes(static_cast<int64_t>(850 * kMiB));
  engine.Evaluate(s, At(10), {});
  const std::optional<Alert> alert = ActiveAlert(engine, kDatabaseNearQuota, "etcd-1");
  ASSERT_TRUE(alert.has_value());
  EXPECT_NE(alert->summary.find("of the 1 GiB --max-db-size-mb"), std::string::npos)
      << alert->summary;
}

// FrequentLeaderElections counts the trailing hour, with a threshold of at least the number of
// voting members, and resolves once old elections leave the window.
TEST(RulesTest, FrequentLeaderElectionsCountsTrailingHourScaledByClusterSize) {
  config::AlertThresholds thresholds;
  thresholds.max_leader_changes = 1;  // below the 5 voting members: 5 counts
  AlertEngine engine(RulesWithoutFor(thresholds), EngineOptions{});
  auto at = [&](double seconds, uint64_t total) {
    v1::ClusterSnapshot s = HealthyCluster(seconds, 5);
    s.set_leader_changes_total(total);
    return engine.Evaluate(s, At(seconds), {});
  };
  at(0, 100);  // the starting point: changes before the alerter started are not counted
  at(60, 103);
  at(120, 105);
  EXPECT_FALSE(HasActive(engine, kFrequentLeaderElections, "", AlertState::kFiring));
  at(180, 106);
  ASSERT_TRUE(HasActive(engine, kFrequentLeaderElections, "", AlertState::kFiring));
  EXPECT_NE(engine.Active()[0].summary.find("6 leader changes in the last hour > 5"),
            std::string::npos)
      << engine.Active()[0].summary;
  // 62 minutes later only the change of minute 3 is still inside the hour: 1 < 4.5 resolves.
  at(60 * 62, 106);
  EXPECT_FALSE(HasActive(engine, kFrequentLeaderElections, "", AlertState::kFiring));
}

// ProposalFailureRateHigh counts failures over its window per member; a counter reset (a
// restarted member) is not a burst of failures.
TEST(RulesTest, ProposalFailuresCountedOverWindowAcrossResets) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  auto at = [&](double seconds, uint64_t failed_total) {
    v1::ClusterSnapshot s = HealthyCluster(seconds);
    Member(s, "etcd-2").set_proposals_failed_total(failed_total);
    engine.Evaluate(s, At(seconds), {});
    return HasActive(engine, kProposalFailureRateHigh, "etcd-2", AlertState::kFiring);
  };
  EXPECT_FALSE(at(0, 1000));
  EXPECT_FALSE(at(10, 1));  // restarted: its counter began again
  EXPECT_FALSE(at(20, 4));
  EXPECT_TRUE(at(30, 7));       // 1 + 3 + 3 = 7 > 5 in 15 min
  EXPECT_TRUE(at(60 * 10, 7));  // still inside the window
  EXPECT_FALSE(at(60 * 16, 7));
}

// RequestLatencyDegraded also fires at 3x a member's own 1 h baseline once the baseline covers
// 10 minutes, but not below the absolute floor (1 ms → 3 ms is no alert).
TEST(RulesTest, LatencyRelativeToBaselineNeedsHistoryAndFloor) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  auto at = [&](double seconds, double read_p99) {
    v1::ClusterSnapshot s = HealthyCluster(seconds);
    SetLatency(Member(s, "etcd-2").mutable_read_latency(), read_p99);
    engine.Evaluate(s, At(seconds), {});
    return HasActive(engine, kRequestLatencyDegraded, "etcd-2", AlertState::kFiring);
  };
  double t = 0;
  for (; t < 5 * 60; t += 30) {
    ASSERT_FALSE(at(t, 10));
  }
  EXPECT_FALSE(at(t, 45)) << "5 minutes of baseline is not enough";
  for (; t < 15 * 60; t += 30) {
    ASSERT_FALSE(at(t, 10));
  }
  EXPECT_TRUE(at(t, 45)) << "4.5x the 10 ms baseline, above the 25 ms floor";
  const std::optional<Alert> alert = ActiveAlert(engine, kRequestLatencyDegraded, "etcd-2");
  ASSERT_TRUE(alert.has_value());
  EXPECT_EQ(alert->summary, "etcd-2: read p99 45 ms is 4.5x its 1 h baseline 10 ms");
  EXPECT_FALSE(at(t + 30, 10));

  AlertEngine fast(RulesWithoutFor(), EngineOptions{});
  for (double u = 0; u < 20 * 60; u += 30) {
    v1::ClusterSnapshot s = HealthyCluster(u);
    SetLatency(Member(s, "etcd-2").mutable_read_latency(), 1);
    fast.Evaluate(s, At(u), {});
  }
  v1::ClusterSnapshot s = HealthyCluster(20 * 60);
  SetLatency(Member(s, "etcd-2").mutable_read_latency(), 3.5);
  fast.Evaluate(s, At(20 * 60), {});
  EXPECT_EQ(FindActive(fast.Active(), kRequestLatencyDegraded, "etcd-2"), nullptr);
}

// RevisionDivergence needs the lag to grow for `growing_for` (5 minutes), not just once.
TEST(RulesTest, RevisionDivergenceNeedsSustainedGrowth) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  v1::ClusterSnapshot s = HealthyCluster(100);
  auto* spread = s.mutable_divergence()->mutable_applied_index();
  spread->set_growing(true);
  spread->set_lagging_member_name("etcd-2");
  spread->set_lag(50);
  spread->set_growing_since_unix_ms(UnixMs(40));
  engine.Evaluate(s, At(100), {});
  EXPECT_TRUE(engine.Active().empty());
  s.set_tick_unix_ms(UnixMs(400));
  engine.Evaluate(s, At(400), {});
  EXPECT_TRUE(HasActive(engine, kRevisionDivergence, "etcd-2", AlertState::kFiring));
}

// GrpcErrorRateHigh ignores members with too few requests to judge.
TEST(RulesTest, GrpcErrorRateNeedsMinimumRequestRate) {
  AlertEngine engine(RulesWithoutFor(), EngineOptions{});
  v1::ClusterSnapshot s = HealthyCluster(10);
  Member(s, "etcd-2").mutable_rates()->set_requests_per_second(0.5);
  Member(s, "etcd-2").mutable_rates()->set_grpc_error_ratio(1.0);
  engine.Evaluate(s, At(10), {});
  EXPECT_TRUE(engine.Active().empty());
}

// ClusterIdentityConflict fires while a refusal is at most 3 tick intervals old (1 s when the
// snapshot does not give its interval), on blind snapshots too, with the count in its values;
// it resolves when the newest refusal is older than that.
TEST(RulesTest, ClusterIdentityConflictFiresWhileRecentThenResolves) {
  AlertEngine engine(RuleSet::Defaults({}), EngineOptions{});  // for: 0 by default
  auto snapshot = [](double t, double conflict_at, int64_t interval_ms, uint64_t count) {
    v1::ClusterSnapshot s = HealthyCluster(t);
    s.set_tick_interval_ms(interval_ms);
    v1::IdentityConflict* c = s.add_identity_conflicts();
    c->set_collector_id("c9");
    c->set_endpoint("https://10.0.0.9:2379");
    c->set_member_id(0x99);
    c->set_cluster_id(0x1);
    c->set_reason("etcd cluster id 0x1 is not this cluster's 0xc1");
    c->set_last_unix_ms(UnixMs(conflict_at));
    c->set_count(count);
    return s;
  };
  // A refusal 4 s old with a 1 s tick: too old to start anything.
  EXPECT_TRUE(engine.Evaluate(snapshot(10, 6, 1000, 1), At(10), {}).changed.empty());

  Evaluation fired = engine.Evaluate(snapshot(20, 19, 1000, 2), At(20), {});
  ASSERT_EQ(fired.notifications.size(), 1u);
  const Alert& alert = fired.notifications[0].alert;
  EXPECT_EQ(alert.key.rule, kClusterIdentityConflict);
  EXPECT_EQ(alert.key.member, "");
  EXPECT_EQ(alert.severity, Severity::kCritical);
  EXPECT_NE(alert.summary.find("c9"), std::string::npos) << alert.summary;
  EXPECT_NE(alert.summary.find("https://10.0.0.9:2379"), std::string::npos) << alert.summary;
  EXPECT_NE(alert.summary.find("is not this cluster's"), std::string::npos) << alert.summary;
  ASSERT_FALSE(alert.values.empty());
  EXPECT_EQ(alert.values[0].name, "refused_samples");
  EXPECT_EQ(alert.values[0].value, 2);

  // Blind (every sample refused): still judged; 3 s old with no interval given (1 s): recent.
  v1::ClusterSnapshot blind = snapshot(23, 20, 0, 5);
  blind.set_fresh_members(0);
  Evaluation held = engine.Evaluate(blind, At(23), {});
  EXPECT_TRUE(held.notifications.empty());
  ASSERT_TRUE(ActiveAlert(engine, kClusterIdentityConflict, "").has_value());
  EXPECT_EQ(ActiveAlert(engine, kClusterIdentityConflict, "")->values[0].value, 5);

  // 10 s old with a 5 s tick is recent (3 intervals = 15 s); 16 s old is not.
  EXPECT_TRUE(engine.Evaluate(snapshot(30, 20, 5000, 5), At(30), {}).notifications.empty());
  Evaluation resolved = engine.Evaluate(snapshot(36, 20, 5000, 5), At(36), {});
  ASSERT_EQ(resolved.notifications.size(), 1u);
  EXPECT_EQ(resolved.notifications[0].kind, NotificationKind::kResolved);
  EXPECT_FALSE(ActiveAlert(engine, kClusterIdentityConflict, "").has_value());
}

}  // namespace
}  // namespace etcdmon::alerter
