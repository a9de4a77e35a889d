#pragma once

// Fake backends of the gateway (MonitorBackend, AlertBackend, BenchmarkBackend) and the
// snapshots the gateway's tests serve, shared by api_test.cpp and gateway_service_test.cpp.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "etcdmon/gateway/backends.h"

namespace etcdmon::gateway {

namespace v1 = etcdmonitor::v1;

inline constexpr int64_t kTick = 1714557600000;  // 2024-05-01T10:00:00Z
inline const std::string kToken = "s3cret-token";
inline const std::string kBenchmarkToken = "b3nch-token";

inline v1::ClusterSnapshot ThreeMemberSnapshot() {
  v1::ClusterSnapshot s;
  s.set_cluster("prod");
  s.set_cluster_id(0xabc);
  s.set_tick_unix_ms(kTick);
  s.set_healthy(true);
  s.set_state(v1::CLUSTER_HEALTHY);
  s.set_has_leader(true);
  s.set_leader_id(2);
  s.set_leader_name("etcd-2");
  s.set_leader_endpoint("127.0.0.1:22379");
  s.set_member_count(3);
  s.set_quorum_size(2);
  s.set_healthy_members(3);
  s.set_quorum_ok(true);
  s.set_leader_changes_total(4);
  s.set_raft_term(7);
  s.set_request_rate_per_second(12.5);
  s.mutable_read_latency()->set_p50_ms(0.5);
  s.mutable_read_latency()->set_p95_ms(1.5);
  s.mutable_read_latency()->set_p99_ms(2.5);
  s.mutable_read_latency()->set_count(30);
  *s.mutable_write_latency() = s.read_latency();
  s.mutable_wal_fsync()->set_p95_ms(3);
  s.mutable_wal_fsync()->set_p99_ms(4);
  s.mutable_wal_fsync()->set_count(10);
  *s.mutable_backend_commit() = s.wal_fsync();
  s.set_certificate_expires_in_seconds(86400);
  for (int i = 1; i <= 3; ++i) {
    v1::MemberState* m = s.add_members();
    m->set_id(static_cast<uint64_t>(i));
    m->set_name("etcd-" + std::to_string(i));
    m->set_endpoint("127.0.0.1:" + std::to_string(i * 10000 + 2379));
    m->set_health(v1::HEALTHY);
    m->set_is_leader(i == 2);
    m->set_sampled(true);
    m->set_reachable(true);
    m->set_in_member_list(true);
    m->set_raft_term(7);
    m->set_leader_id(2);
    m->set_db_size_bytes(20480);
    m->set_db_size_in_use_bytes(16384);
    m->set_proposals_committed_total(100);
    m->mutable_rates()->set_requests_per_second(4);
    *m->mutable_read_latency() = s.read_latency();
    *m->mutable_write_latency() = s.read_latency();
    *m->mutable_wal_fsync() = s.wal_fsync();
    m->set_disk_used_percent(42);
    m->set_memory_used_percent(55);
  }
  v1::CollectorState* c = s.add_collectors();
  c->set_id("collector-1");
  c->set_samples_received(9);
  return s;
}

// The aggregator: one snapshot per cluster, answered as MonitorService does.
class FakeMonitor final : public MonitorBackend {
 public:
  // The aggregator knows this one cluster only.
  void SetSnapshot(v1::ClusterSnapshot s) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_.clear();
    snapshots_[s.cluster()] = std::move(s);
  }
  // Adds (or replaces) the snapshot of s.cluster().
  void AddSnapshot(v1::ClusterSnapshot s) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_[s.cluster()] = std::move(s);
  }
  void RemoveCluster(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_.erase(name);
  }
  Result<v1::ClusterSnapshot> GetSnapshot(const std::string& cluster) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshots_.empty()) {
      return Status::Unavailable("aggregator GetSnapshot: no snapshot yet");
    }
    if (cluster.empty()) {
      if (snapshots_.size() > 1) {
        return Status::FailedPrecondition("aggregator GetSnapshot: several clusters");
      }
      return snapshots_.begin()->second;
    }
    auto it = snapshots_.find(cluster);
    if (it == snapshots_.end()) {
      return Status::NotFound("aggregator GetSnapshot: unknown cluster " + cluster);
    }
    return it->second;
  }
  // Unavailable before any snapshot, as an aggregator that is not up (so that a test's feed
  // alone decides which clusters exist).
  Result<std::vector<v1::ClusterSnapshot>> ListClusters() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshots_.empty()) {
      return Status::Unavailable("aggregator ListClusters: not up");
    }
    std::vector<v1::ClusterSnapshot> out;
    for (const auto& [name, s] : snapshots_) {
      out.push_back(s);
    }
    return out;
  }
  Result<v1::HistoryResponse> QueryHistory(const v1::HistoryQuery& query) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_query_ = query;
    v1::HistoryResponse r;
    r.set_metric(query.metric());
    r.set_member(query.member());
    r.set_resolution("raw");
    auto* p = r.add_points();
    p->set_unix_ms(kTick);
    p->set_value(3);
    p->set_min(3);
    p->set_max(3);
    p->set_count(1);
    return r;
  }
  Result<std::vector<std::string>> ListMetrics() override {
    return std::vector<std::string>{"etcd_cluster_member_count", "etcd_member_up"};
  }
  Result<v1::ServiceHealth> GetHealth() override {
    v1::ServiceHealth h;
    h.set_ok(true);
    h.set_detail("ticking");
    h.set_last_update_unix_ms(kTick);
    return h;
  }
  v1::HistoryQuery LastQuery() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_query_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, v1::ClusterSnapshot> snapshots_;  // by cluster
  v1::HistoryQuery last_query_;
};

class FakeAlerts final : public AlertBackend {
 public:
  // From now on ListActiveAlerts answers these (filtered by cluster as the alerter does).
  void SetAlerts(std::vector<v1::AlertRecord> alerts) {
    std::lock_guard<std::mutex> lock(mu_);
    alerts_ = std::move(alerts);
  }
  // The cluster filter of the newest ListActiveAlerts, QueryHistory and ListSilences.
  std::string LastAlertsCluster() const {
    std::lock_guard<std::mutex> lock(mu_);
    return alerts_cluster_;
  }
  std::string LastHistoryCluster() const {
    std::lock_guard<std::mutex> lock(mu_);
    return history_cluster_;
  }
  std::string LastSilencesCluster() const {
    std::lock_guard<std::mutex> lock(mu_);
    return silences_cluster_;
  }
  Result<v1::ListAlertsResponse> ListActiveAlerts(const std::string& cluster) override {
    std::lock_guard<std::mutex> lock(mu_);
    alerts_cluster_ = cluster;
    v1::ListAlertsResponse r;
    if (alerts_.has_value()) {
      for (const v1::AlertRecord& a : *alerts_) {
        if (cluster.empty() || a.cluster() == cluster) {
          *r.add_alerts() = a;
        }
      }
      return r;
    }
    auto* a = r.add_alerts();
    a->set_fingerprint("f1");
    a->set_rule("member_down");
    a->set_severity("critical");
    a->set_state("firing");
    a->set_member("etcd-3");
    a->set_started_unix_ms(kTick);
    auto* b = r.add_alerts();
    b->set_fingerprint("f2");
    b->set_rule("high_latency");
    b->set_severity("warning");
    b->set_state("pending");
    return r;
  }
  Result<v1::AlertHistoryResponse> QueryHistory(const v1::AlertHistoryRequest& request) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      history_cluster_ = request.cluster();
    }
    if (request.page_token() == "bad") {
      return Status::InvalidArgument("alerter QueryHistory: bad page token");
    }
    v1::AlertHistoryResponse r;
    auto* a = r.add_alerts();
    a->set_rule(request.rule().empty() ? "member_down" : request.rule());
    a->set_state("resolved");
    a->set_resolved_unix_ms(kTick);
    r.set_next_page_token("next-1");
    return r;
  }
  // One active silence "s1"; with include_expired also "s0", expired at kTick.
  Result<v1::ListSilencesResponse> ListSilences(bool include_expired,
                                                const std::string& cluster) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      silences_cluster_ = cluster;
    }
    v1::ListSilencesResponse r;
    v1::Silence* active = r.add_silences();
    active->set_id("s1");
    active->set_created_unix_ms(kTick);
    active->set_expires_unix_ms(kTick + 3600 * 1000);
    if (include_expired) {
      v1::Silence* expired = r.add_silences();
      expired->set_id("s0");
      expired->set_created_unix_ms(kTick - 3600 * 1000);
      expired->set_expires_unix_ms(kTick);
    }
    return r;
  }
  // Known id: "0123456789abcdef" (expired now, at kTick); any other is NotFound.
  Result<v1::Silence> ExpireSilence(const std::string& id,
                                    const config::Secret& bearer_token) override {
    std::lock_guard<std::mutex> lock(mu_);
    expired_ids_.push_back(id);
    token_ = bearer_token.Reveal();
    if (id != "0123456789abcdef") {
      return Status::NotFound("alerter ExpireSilence: no silence with id \"" + id + "\"");
    }
    v1::Silence out;
    out.set_id(id);
    out.set_member("etcd-2");
    out.set_comment("kernel upgrade");
    out.set_created_unix_ms(kTick - 60 * 1000);
    out.set_expires_unix_ms(kTick);
    return out;
  }
  // The ids ExpireSilence was called with, in order.
  std::vector<std::string> ExpiredIds() const {
    std::lock_guard<std::mutex> lock(mu_);
    return expired_ids_;
  }
  Result<v1::Silence> CreateSilence(const v1::Silence& silence,
                                    const config::Secret& bearer_token) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (silence.rule() == "NoSuchRule") {
      return Status::InvalidArgument("alerter CreateSilence: unknown rule \"NoSuchRule\"");
    }
    created_ = silence;
    token_ = bearer_token.Reveal();
    v1::Silence out = silence;
    out.set_id("0123456789abcdef");
    out.set_created_unix_ms(kTick);
    return out;
  }
  v1::Silence Created() const {
    std::lock_guard<std::mutex> lock(mu_);
    return created_;
  }
  std::string Token() const {
    std::lock_guard<std::mutex> lock(mu_);
    return token_;
  }

 private:
  mutable std::mutex mu_;
  v1::Silence created_;
  std::string token_;
  std::vector<std::string> expired_ids_;
  std::optional<std::vector<v1::AlertRecord>> alerts_;  // nullopt: the two built-in ones
  std::string alerts_cluster_;
  std::string history_cluster_;
  std::string silences_cluster_;
};

// One runner: its one run is `id` ("bench-1" unless told).
class FakeBenchmark final : public BenchmarkBackend {
 public:
  explicit FakeBenchmark(std::string id = "bench-1") : id_(std::move(id)) {}
  Result<std::string> Start(const BenchmarkSpec& spec) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) {
      return Status::FailedPrecondition("a benchmark is already running: " + id_);
    }
    running_ = true;
    last_spec_ = spec;
    return id_;
  }
  Result<std::string> Get(const std::string& id) override {
    if (id != id_) {
      return Status::NotFound("unknown benchmark " + id);
    }
    return std::string(R"({"id":")" + id_ + R"(","state":"running","done_ops":5})");
  }
  bool Started() {
    std::lock_guard<std::mutex> lock(mu_);
    return running_;
  }
  Result<std::string> List() override {
    return std::string(
        R"({"runs":[{"id":"bench-2","state":"running"},{"id":"bench-1","state":"done"}]})");
  }
  std::optional<v1::BenchmarkSummary> LastFinished() override { return std::nullopt; }
  BenchmarkSpec LastSpec() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_spec_;
  }

 private:
  const std::string id_;
  std::mutex mu_;
  bool running_ = false;
  BenchmarkSpec last_spec_;
};

// The snapshot of a cluster with one member that stopped answering and one that never did:
// what they said is null (unknown, not zero), their figures are marked stale as of their last
// answer, /metrics exports none of their gauges as current, and the cluster is degraded.
inline v1::ClusterSnapshot OneStoppedOneNeverAnswered() {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  s.set_state(v1::CLUSTER_DEGRADED);
  s.set_degraded(true);
  s.set_healthy_members(1);
  s.set_unreachable_members(2);
  s.set_health_reason("1 of 3 members healthy (etcd-1 unreachable, etcd-3 unreachable)");
  for (int i = 0; i < 3; ++i) {
    s.mutable_members(i)->set_last_answered_unix_ms(kTick);
    s.mutable_members(i)->set_revision(42);
    s.mutable_members(i)->set_version("3.5.9");
  }
  for (int i : {0, 2}) {
    v1::MemberState* m = s.mutable_members(i);
    m->set_health(v1::UNREACHABLE);
    m->set_reachable(false);
    m->set_error("context deadline exceeded");
    m->clear_raft_term();
    m->clear_revision();
    m->clear_version();
    m->clear_leader_id();
    m->clear_db_size_bytes();
    m->clear_db_size_in_use_bytes();
    m->set_figures_stale(true);
  }
  s.mutable_members(0)->set_last_answered_unix_ms(kTick - 30000);  // stopped: answered before
  s.mutable_members(2)->set_last_answered_unix_ms(0);              // never answered
  s.mutable_members(2)->clear_read_latency();
  s.mutable_members(2)->clear_write_latency();
  s.mutable_members(2)->clear_wal_fsync();
  return s;
}

}  // namespace etcdmon::gateway
