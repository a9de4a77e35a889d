#pragma once

// Crafted ClusterSnapshots for the rules and engine tests: a healthy cluster to start from, and
// small edits that make one member unreachable, stale, slow...

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "etcdmon/alerter/alert.h"
#include "etcdmon/alerter/engine.h"
#include "etcdmon/alerter/rules.h"
#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::alerter::testing {

namespace v1 = etcdmonitor::v1;

inline constexpr int64_t kStartUnixMs = 1'700'000'000'000;
inline constexpr double kMiB = 1024.0 * 1024.0;

/// Wall-clock time `seconds` after the tests' epoch.
inline std::chrono::system_clock::time_point At(double seconds) {
  return std::chrono::system_clock::time_point(
      std::chrono::milliseconds(kStartUnixMs + static_cast<int64_t>(seconds * 1000)));
}
inline int64_t UnixMs(double seconds) {
  return kStartUnixMs + static_cast<int64_t>(seconds * 1000);
}

inline void SetLatency(v1::LatencyPercentiles* latency, double p99_ms) {
  latency->set_p50_ms(p99_ms / 3);
  latency->set_p95_ms(p99_ms / 1.5);
  latency->set_p99_ms(p99_ms);
  latency->set_count(20);
}

/// A healthy cluster of `size` members etcd-1..etcd-N, etcd-1 leading at term 2, sampled at
/// `seconds`.
inline v1::ClusterSnapshot HealthyCluster(double seconds = 0, int size = 3) {
  v1::ClusterSnapshot s;
  s.set_schema_version(1);
  s.set_cluster("test");
  s.set_cluster_id(0xc1);
  s.set_tick_unix_ms(UnixMs(seconds));
  s.set_healthy(true);
  s.set_has_leader(true);
  s.set_leader_id(1);
  s.set_leader_name("etcd-1");
  s.set_member_count(size);
  s.set_voting_members(size);
  s.set_quorum_size(size / 2 + 1);
  s.set_healthy_members(size);
  s.set_healthy_voting_members(size);
  s.set_fresh_members(size);
  s.set_quorum_ok(true);
  s.set_raft_term(2);
  s.set_leader_agreement(true);
  s.set_leader_followers(size);
  for (int i = 1; i <= size; ++i) {
    v1::MemberState* m = s.add_members();
    m->set_id(i);
    m->set_name("etcd-" + std::to_string(i));
    m->set_health(v1::HEALTHY);
    m->set_is_leader(i == 1);
    m->set_reachable(true);
    m->set_sampled(true);
    m->set_in_member_list(true);
    m->set_leader_id(1);
    m->set_raft_term(2);
    m->set_collector_id("c" + std::to_string(i));
    m->set_last_sample_unix_ms(UnixMs(seconds));
    m->set_last_received_unix_ms(UnixMs(seconds));
    m->set_db_size_bytes(static_cast<int64_t>(50 * kMiB));
    m->set_db_size_in_use_bytes(static_cast<int64_t>(45 * kMiB));
    m->set_db_quota_bytes(static_cast<int64_t>(2048 * kMiB));
    SetLatency(m->mutable_read_latency(), 2);
    SetLatency(m->mutable_write_latency(), 5);
    SetLatency(m->mutable_wal_fsync(), 3);
    SetLatency(m->mutable_backend_commit(), 4);
    m->set_disk_used_percent(40);
    m->set_disk_total_bytes(100ULL << 30);
    m->set_disk_used_bytes(40ULL << 30);
    m->set_memory_used_percent(30);
    m->mutable_rates()->set_requests_per_second(100);
    m->mutable_rates()->set_proposals_committed_per_second(20);
    m->mutable_rates()->set_interval_seconds(10);
    m->set_proposals_failed_total(7);
    m->set_leader_changes_seen_total(1);
    m->set_certificate_expires_in_seconds(90LL * 86400);
  }
  return s;
}

/// The member named `name` (must exist).
inline v1::MemberState& Member(v1::ClusterSnapshot& s, const std::string& name) {
  for (auto& m : *s.mutable_members()) {
    if (m.name() == name) {
      return m;
    }
  }
  static v1::MemberState none;
  ADD_FAILURE() << "no member " << name;
  return none;
}

/// `name` stopped answering: its collector reports it unreachable, with no etcd data.
inline void MakeUnreachable(v1::ClusterSnapshot& s, const std::string& name) {
  v1::MemberState& m = Member(s, name);
  m.set_health(v1::UNREACHABLE);
  m.set_reachable(false);
  m.set_error("connection refused");
  m.set_is_leader(false);
  m.set_leader_id(0);
  m.clear_read_latency();
  m.clear_write_latency();
  m.clear_wal_fsync();
  m.clear_backend_commit();
  m.clear_rates();
  m.set_proposals_failed_total(0);
  m.set_proposals_pending(0);
  s.set_healthy_members(s.healthy_members() - 1);
  s.set_healthy_voting_members(s.healthy_voting_members() - 1);
  s.set_unreachable_members(s.unreachable_members() + 1);
  s.set_degraded(true);
}

/// No fresh sample of `name`: we are blind to it.
inline void MakeStale(v1::ClusterSnapshot& s, const std::string& name) {
  v1::MemberState& m = Member(s, name);
  m.set_health(v1::STALE);
  m.set_last_received_unix_ms(s.tick_unix_ms() - 60000);
  s.set_fresh_members(s.fresh_members() - 1);
  s.set_stale_members(s.stale_members() + 1);
}

/// Every rule with `for: 0`, so one snapshot is enough to fire.
inline RuleSet RulesWithoutFor(const config::AlertThresholds& thresholds = {}) {
  RuleSet rules = RuleSet::Defaults(thresholds);
  const Status applied = rules.ApplyText("defaults: {for: 0}\n", "test");
  EXPECT_TRUE(applied.ok()) << applied.ToString();
  return rules;
}

inline bool HasActive(const AlertEngine& engine, std::string_view rule, std::string_view member,
                      AlertState state) {
  for (const Alert& a : engine.Active()) {
    if (a.key.rule == rule && a.key.member == member) {
      return a.state == state;
    }
  }
  return false;
}

/// The active alert of `rule` and `member` in `alerts`, or nullptr (the pointer lives as long as
/// `alerts`: keep the vector, not engine.Active()'s temporary).
inline const Alert* FindActive(const std::vector<Alert>& alerts, std::string_view rule,
                               std::string_view member) {
  for (const Alert& a : alerts) {
    if (a.key.rule == rule && a.key.member == member) {
      return &a;
    }
  }
  return nullptr;
}

/// A copy of the engine's active alert of `rule` and `member`, if any.
inline std::optional<Alert> ActiveAlert(const AlertEngine& engine, std::string_view rule,
                                        std::string_view member) {
  const std::vector<Alert> active = engine.Active();
  const Alert* alert = FindActive(active, rule, member);
  return alert != nullptr ? std::optional<Alert>(*alert) : std::nullopt;
}

}  // namespace etcdmon::alerter::testing
