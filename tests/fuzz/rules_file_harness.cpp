// RulesFile (fuzz_harness.h): the alerter's rules file parser (RuleSet::ApplyText over the
// defaults, as the alerter loads --rules-file), and an engine on what it accepted.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/alerter/engine.h"
#include "etcdmon/alerter/rules.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "fuzz_harness.h"

namespace etcdmon::fuzz {
namespace {

namespace v1 = etcdmonitor::v1;

constexpr int64_t kStartMs = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr double kMiB = 1024.0 * 1024.0;

void Check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void SetLatency(v1::LatencyPercentiles* latency, double p99_ms) {
  latency->set_p50_ms(p99_ms / 2);
  latency->set_p95_ms(p99_ms * 0.9);
  latency->set_p99_ms(p99_ms);
  latency->set_count(10);
}

// A troubled three-member cluster at `at_ms`: one member unreachable, a slow and nearly full
// one, so that most rules have something to say.
v1::ClusterSnapshot Troubled(int64_t at_ms) {
  v1::ClusterSnapshot s;
  s.set_schema_version(1);
  s.set_cluster("fuzz");
  s.set_cluster_id(0xc1);
  s.set_tick_unix_ms(at_ms);
  s.set_has_leader(true);
  s.set_leader_id(1);
  s.set_leader_name("etcd-1");
  s.set_member_count(3);
  s.set_voting_members(3);
  s.set_quorum_size(2);
  s.set_healthy_members(2);
  s.set_healthy_voting_members(2);
  s.set_fresh_members(3);
  s.set_quorum_ok(true);
  s.set_degraded(true);
  s.set_raft_term(2);
  for (int i = 1; i <= 3; ++i) {
    v1::MemberState* m = s.add_members();
    m->set_id(i);
    m->set_name("etcd-" + std::to_string(i));
    m->set_health(i == 3 ? v1::UNREACHABLE : v1::HEALTHY);
    m->set_is_leader(i == 1);
    m->set_reachable(i != 3);
    m->set_sampled(true);
    m->set_in_member_list(true);
    m->set_leader_id(1);
    m->set_raft_term(2);
    m->set_collector_id("c" + std::to_string(i));
    m->set_last_sample_unix_ms(at_ms);
    m->set_last_received_unix_ms(at_ms);
    m->set_db_size_bytes(static_cast<int64_t>((i == 2 ? 2000 : 50) * kMiB));
    m->set_db_size_in_use_bytes(static_cast<int64_t>(45 * kMiB));
    m->set_db_quota_bytes(static_cast<int64_t>(2048 * kMiB));
    SetLatency(m->mutable_read_latency(), i == 2 ? 900 : 2);
    SetLatency(m->mutable_write_latency(), i == 2 ? 900 : 5);
    SetLatency(m->mutable_wal_fsync(), i == 2 ? 700 : 3);
    SetLatency(m->mutable_backend_commit(), 4);
    m->set_disk_used_percent(i == 2 ? 97 : 40);
    m->set_memory_used_percent(i == 2 ? 96 : 30);
    m->mutable_rates()->set_requests_per_second(100);
    m->mutable_rates()->set_proposals_committed_per_second(20);
    m->mutable_rates()->set_interval_seconds(10);
    m->set_proposals_failed_total(7 + at_ms / 1000);
    m->set_proposals_pending(i == 2 ? 5000 : 0);
    m->set_leader_changes_seen_total(1 + at_ms / 600000);
    m->set_certificate_expires_in_seconds(i == 2 ? 86400 : 90LL * 86400);
  }
  return s;
}

}  // namespace

void RulesFile(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  alerter::RuleSet rules = alerter::RuleSet::Defaults({});
  const std::vector<alerter::RuleSpec> before = rules.rules();
  const Status status = rules.ApplyText(text, "fuzz.yaml");
  if (!status.ok()) {
    Check(!status.message().empty());
    // Nothing is applied on error.
    Check(rules.rules().size() == before.size());
    return;
  }
  // Applying the same text again over the result is accepted too.
  alerter::RuleSet again = rules;
  Check(again.ApplyText(text, "fuzz.yaml").ok());

  alerter::AlertEngine engine(std::move(rules), alerter::EngineOptions{});
  const std::vector<alerter::Silence> silences;
  for (int64_t step = 0; step < 4; ++step) {
    const int64_t at = kStartMs + step * 3600000;
    const alerter::Evaluation evaluation = engine.Evaluate(
        Troubled(at), std::chrono::system_clock::time_point(std::chrono::milliseconds(at)),
        silences);
    for (const alerter::Notification& n : evaluation.notifications) {
      (void)n;
    }
  }
  (void)engine.Active();
}

}  // namespace etcdmon::fuzz
