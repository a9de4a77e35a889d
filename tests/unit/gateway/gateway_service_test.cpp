// The gateway over real HTTP (Pistache on 127.0.0.1, port 0) against fake backends: every
// endpoint's JSON, every error path, the token check, and the /metrics text through promtool.

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "etcdmon/gateway/gateway.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::gateway {
namespace {

namespace v1 = etcdmonitor::v1;
using etcdmon::testing::WaitFor;
using nlohmann::json;

constexpr int64_t kTick = 1714557600000;  // 2024-05-01T10:00:00Z
const std::string kToken = "s3cret-token";

v1::ClusterSnapshot ThreeMemberSnapshot() {
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

class FakeMonitor final : public MonitorBackend {
 public:
  void SetSnapshot(v1::ClusterSnapshot s) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(s);
    has_snapshot_ = true;
  }
  Result<v1::ClusterSnapshot> GetSnapshot() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_snapshot_) {
      return Status::Unavailable("aggregator GetSnapshot: no snapshot yet");
    }
    return snapshot_;
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
  bool has_snapshot_ = false;
  v1::ClusterSnapshot snapshot_;
  v1::HistoryQuery last_query_;
};

class FakeAlerts final : public AlertBackend {
 public:
  Result<v1::ListAlertsResponse> ListActiveAlerts() override {
    v1::ListAlertsResponse r;
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
  Result<v1::ListSilencesResponse> ListSilences() override {
    v1::ListSilencesResponse r;
    r.add_silences()->set_id("s1");
    return r;
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
};

class FakeBenchmark final : public BenchmarkBackend {
 public:
  Result<std::string> Start(const BenchmarkSpec& spec) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_) {
      return Status::FailedPrecondition("a benchmark is already running: bench-1");
    }
    running_ = true;
    last_spec_ = spec;
    return std::string("bench-1");
  }
  Result<std::string> Get(const std::string& id) override {
    if (id != "bench-1") {
      return Status::NotFound("unknown benchmark " + id);
    }
    return std::string(R"({"id":"bench-1","state":"running","done_ops":5})");
  }
  std::optional<v1::BenchmarkSummary> LastFinished() override { return std::nullopt; }
  BenchmarkSpec LastSpec() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_spec_;
  }

 private:
  std::mutex mu_;
  bool running_ = false;
  BenchmarkSpec last_spec_;
};

using etcdmon::testing::Http;
using etcdmon::testing::HttpResult;

// Runs promtool check metrics on `text`: its exit code and output.
std::pair<int, std::string> Promtool(const std::string& text, const std::string& dir) {
  const std::string in = dir + "/metrics.txt";
  const std::string out = dir + "/promtool.out";
  FILE* f = std::fopen(in.c_str(), "w");
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  const std::string cmd = "promtool check metrics < " + in + " > " + out + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::string output;
  if (FILE* o = std::fopen(out.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), o)) > 0) {
      output.append(buf, n);
    }
    std::fclose(o);
  }
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, output};
}

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (access((dir + "/" + program).c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

class GatewayServiceTest : public ::testing::Test {
 protected:
  void Start(bool with_snapshot = true, bool with_benchmark = true) {
    if (with_snapshot) {
      monitor_.SetSnapshot(ThreeMemberSnapshot());
    }
    GatewayConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.api_token = config::Secret(kToken);
    config.max_body_bytes = 1024;
    config.refresh_interval = std::chrono::milliseconds(50);
    config.max_benchmark_ops = 5000;
    GatewayBackends backends;
    backends.monitor = &monitor_;
    backends.alerts = &alerts_;
    backends.benchmark = with_benchmark ? &benchmark_ : nullptr;
    auto logger = spdlog::default_logger()->clone("gateway-test");
    logger->set_level(spdlog::level::warn);
    auto service = GatewayService::Create(config, backends, logger);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    ASSERT_TRUE(service_->Start().ok());
    ASSERT_GT(service_->port(), 0);
    base_ = "http://127.0.0.1:" + std::to_string(service_->port());
    if (with_snapshot) {
      ASSERT_TRUE(
          WaitFor([&] { return Http("GET", base_ + "/api/v1/cluster/status").status == 200; }));
    }
  }

  static void ExpectError(const HttpResult& r, long status) {
    EXPECT_EQ(r.status, status) << r.body;
    json j = r.Json();
    ASSERT_TRUE(j.is_object()) << r.body;
    ASSERT_TRUE(j.contains("error")) << r.body;
    EXPECT_EQ(j["error"]["code"], status);
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }

  FakeMonitor monitor_;
  FakeAlerts alerts_;
  FakeBenchmark benchmark_;
  std::unique_ptr<GatewayService> service_;
  std::string base_;
};

TEST_F(GatewayServiceTest, ClusterStatusCarriesEveryField) {
  Start();
  HttpResult r = Http("GET", base_ + "/api/v1/cluster/status");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("application/json"), std::string::npos);
  json s = r.Json();
  EXPECT_EQ(s["healthy"], true);
  EXPECT_EQ(s["state"], "healthy");
  EXPECT_EQ(s["degraded"], false);
  EXPECT_EQ(s["has_leader"], true);
  EXPECT_EQ(s["leader"]["name"], "etcd-2");
  EXPECT_EQ(s["leader"]["id"], "2");
  EXPECT_EQ(s["member_count"], 3);
  EXPECT_EQ(s["quorum_size"], 2);
  EXPECT_EQ(s["healthy_members"], 3);
  EXPECT_EQ(s["healthy_member_names"].size(), 3u);
  EXPECT_EQ(s["quorum_ok"], true);
  EXPECT_EQ(s["split_brain"]["detected"], false);
  EXPECT_TRUE(s["split_brain"]["evidence"].is_array());
  EXPECT_EQ(s["leader_changes"], 4);
  EXPECT_TRUE(s["alarms"].is_array());
  EXPECT_EQ(s["last_update"], "2024-05-01T10:00:00.000Z");
  EXPECT_EQ(s["cluster_id"], "abc");
}

TEST_F(GatewayServiceTest, SplitBrainEvidenceIsShown) {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  s.set_healthy(false);
  s.mutable_split_brain()->set_detected(true);
  s.mutable_split_brain()->set_reason("two leaders in term 7");
  s.mutable_split_brain()->add_kinds(v1::SAME_TERM_DIFFERENT_LEADERS);
  v1::Evidence* e = s.mutable_split_brain()->add_evidence();
  e->set_member_name("etcd-1");
  e->set_statement("follows leader 1 at term 7");
  e->set_kind(v1::SAME_TERM_DIFFERENT_LEADERS);
  monitor_.SetSnapshot(s);
  Start(/*with_snapshot=*/false);
  json status;
  ASSERT_TRUE(WaitFor([&] {
    HttpResult r = Http("GET", base_ + "/api/v1/cluster/status");
    status = r.Json();
    return r.status == 200;
  }));
  EXPECT_EQ(status["split_brain"]["detected"], true);
  EXPECT_EQ(status["split_brain"]["kinds"][0], "same_term_different_leaders");
  EXPECT_EQ(status["split_brain"]["evidence"][0]["member_name"], "etcd-1");
  EXPECT_EQ(status["split_brain"]["evidence"][0]["statement"], "follows leader 1 at term 7");
}

TEST_F(GatewayServiceTest, MembersLeaderAndOneMember) {
  Start();
  json members = Http("GET", base_ + "/api/v1/cluster/members").Json();
  ASSERT_EQ(members["members"].size(), 3u);
  EXPECT_EQ(members["members"][0]["name"], "etcd-1");
  EXPECT_EQ(members["members"][0]["health"], "healthy");
  EXPECT_EQ(members["members"][1]["is_leader"], true);
  EXPECT_EQ(members["members"][0]["db_size_bytes"], 20480);

  json leader = Http("GET", base_ + "/api/v1/cluster/leader").Json();
  EXPECT_EQ(leader["has_leader"], true);
  EXPECT_EQ(leader["leader"]["name"], "etcd-2");
  EXPECT_EQ(leader["leader"]["endpoint"], "127.0.0.1:22379");

  HttpResult one = Http("GET", base_ + "/api/v1/cluster/members/etcd-3");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.Json()["name"], "etcd-3");
  ExpectError(Http("GET", base_ + "/api/v1/cluster/members/nobody"), 404);
}

// A member whose disk usage is unknown shows null with the reason; the others a number and a
// null reason.
TEST_F(GatewayServiceTest, MemberDiskUnknownShowsTheReason) {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  v1::MemberState* remote = s.mutable_members(2);
  remote->clear_disk_used_percent();
  remote->set_disk_unknown_reason(
      "the member runs on another host (10.0.0.3): run a collector beside it or give "
      "--member-data-dir=10.0.0.3:2379=DIR");
  monitor_.SetSnapshot(s);
  Start(/*with_snapshot=*/false);
  json members;
  ASSERT_TRUE(WaitFor([&] {
    HttpResult r = Http("GET", base_ + "/api/v1/cluster/members");
    members = r.Json();
    return r.status == 200;
  }));
  ASSERT_EQ(members["members"].size(), 3u);
  EXPECT_EQ(members["members"][0]["disk_used_percent"], 42);
  EXPECT_TRUE(members["members"][0]["disk_unknown_reason"].is_null()) << members.dump();
  EXPECT_TRUE(members["members"][2]["disk_used_percent"].is_null()) << members.dump();
  EXPECT_EQ(members["members"][2]["disk_unknown_reason"],
            "the member runs on another host (10.0.0.3): run a collector beside it or give "
            "--member-data-dir=10.0.0.3:2379=DIR");
}

TEST_F(GatewayServiceTest, CurrentMetricsAndLatency) {
  Start();
  json current = Http("GET", base_ + "/api/v1/metrics/current").Json();
  EXPECT_EQ(current["cluster_metrics"]["etcd_cluster_member_count"], 3);
  EXPECT_EQ(current["cluster_metrics"]["etcd_request_read_latency_p99_milliseconds"], 2.5);
  EXPECT_EQ(current["members"]["etcd-1"]["etcd_member_up"], 1);
  EXPECT_EQ(current["members"]["etcd-2"]["etcd_member_is_leader"], 1);

  json latency = Http("GET", base_ + "/api/v1/metrics/latency").Json();
  EXPECT_EQ(latency["read"]["p50_ms"], 0.5);
  EXPECT_EQ(latency["write"]["p99_ms"], 2.5);
  EXPECT_EQ(latency["wal_fsync"]["p95_ms"], 3);
  EXPECT_EQ(latency["backend_commit"]["p99_ms"], 4);
  EXPECT_FALSE(latency["wal_fsync"].contains("p50_ms"));
  ASSERT_EQ(latency["members"].size(), 3u);
  EXPECT_EQ(latency["members"][0]["member"], "etcd-1");
}

TEST_F(GatewayServiceTest, HistoryParsesTimesAndValidates) {
  Start();
  HttpResult list = Http("GET", base_ + "/api/v1/metrics/history");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Json()["metrics"][0]["name"], "etcd_cluster_member_count");
  EXPECT_EQ(list.Json()["metrics"][1]["scope"], "member");

  HttpResult h = Http("GET", base_ +
                                 "/api/v1/metrics/history?metric=etcd_cluster_member_count"
                                 "&from=2024-05-01T09:00:00Z&to=1714557600&step=1m");
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(h.Json()["points"][0]["time"], "2024-05-01T10:00:00.000Z");
  EXPECT_EQ(h.Json()["points"][0]["value"], 3);
  v1::HistoryQuery q = monitor_.LastQuery();
  EXPECT_EQ(q.from_unix_ms(), kTick - 3600000);
  EXPECT_EQ(q.to_unix_ms(), kTick);
  EXPECT_EQ(q.step_ms(), 60000);

  HttpResult relative =
      Http("GET", base_ + "/api/v1/metrics/history?metric=etcd_member_up&member=etcd-2&from=-10m");
  ASSERT_EQ(relative.status, 200) << relative.body;
  q = monitor_.LastQuery();
  EXPECT_EQ(q.member(), "etcd-2");
  EXPECT_EQ(q.to_unix_ms() - q.from_unix_ms(), 600000);

  // Error paths: unknown metric, unknown member, bad times, inverted range, unknown parameter,
  // a per-member metric without member.
  ExpectError(Http("GET", base_ + "/api/v1/metrics/history?metric=no_such_metric"), 404);
  ExpectError(Http("GET", base_ + "/api/v1/metrics/history?metric=etcd_member_up&member=ghost"),
              404);
  ExpectError(Http("GET", base_ + "/api/v1/metrics/history?metric=etcd_cluster_healthy&from=soon"),
              400);
  ExpectError(
      Http("GET", base_ + "/api/v1/metrics/history?metric=etcd_cluster_healthy&from=-1h&to=-2h"),
      400);
  ExpectError(Http("GET", base_ + "/api/v1/metrics/history?metric=etcd_cluster_healthy&step=x"),
              400);
  ExpectError(Http("GET", base_ + "/api/v1/metrics/history?metric=etcd_cluster_healthy&bogus=1"),
              400);
  ExpectError(Http("GET", base_ + "/api/v1/metrics/history?metric=etcd_member_up"), 400);
  ExpectError(Http("GET", base_ + "/api/v1/metrics/history?member=etcd-1"), 400);
}

TEST_F(GatewayServiceTest, AlertsFiltersHistoryAndSilences) {
  Start();
  json alerts = Http("GET", base_ + "/api/v1/alerts").Json();
  ASSERT_EQ(alerts["alerts"].size(), 2u);
  EXPECT_EQ(alerts["alerts"][0]["rule"], "member_down");
  EXPECT_EQ(alerts["alerts"][0]["started_at"], "2024-05-01T10:00:00.000Z");
  EXPECT_TRUE(alerts["alerts"][1]["resolved_at"].is_null());
  json critical = Http("GET", base_ + "/api/v1/alerts?severity=critical").Json();
  ASSERT_EQ(critical["alerts"].size(), 1u);

  HttpResult history =
      Http("GET", base_ + "/api/v1/alerts/history?rule=leader_changes&page_size=10&from=-1d");
  // "1d" is not a duration unit: a bad query.
  ExpectError(history, 400);
  history =
      Http("GET", base_ + "/api/v1/alerts/history?rule=leader_changes&page_size=10&from=-24h");
  ASSERT_EQ(history.status, 200) << history.body;
  EXPECT_EQ(history.Json()["alerts"][0]["rule"], "leader_changes");
  EXPECT_EQ(history.Json()["next_page_token"], "next-1");
  ExpectError(Http("GET", base_ + "/api/v1/alerts/history?page_size=0"), 400);
  ExpectError(Http("GET", base_ + "/api/v1/alerts/history?page_token=bad"), 400);

  json silences = Http("GET", base_ + "/api/v1/alerts/silences").Json();
  EXPECT_EQ(silences["silences"][0]["id"], "s1");
}

TEST_F(GatewayServiceTest, BenchmarkNeedsTokenValidatesAndRunsOneAtATime) {
  Start();
  const std::string url = base_ + "/api/v1/performance/benchmark";
  const std::string body = R"({"type":"mixed","ops":1000,"clients":4,"value_size":64})";
  HttpResult no_token = Http("POST", url, body);
  ExpectError(no_token, 401);
  EXPECT_NE(no_token.headers.find("WWW-Authenticate: Bearer"), std::string::npos);
  ExpectError(Http("POST", url, body, "Bearer wrong"), 401);
  ExpectError(Http("POST", url, body, "Basic " + kToken), 401);
  EXPECT_EQ(Http("POST", url, body, "Bearer wrong").body.find(kToken), std::string::npos);

  ExpectError(Http("POST", url, "not json", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, R"({"type":"delete"})", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, R"({"ops":0})", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, R"({"ops":5001})", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, R"({"ops":-1})", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, R"({"opz":10})", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, std::string(200, '[') + std::string(200, ']'), "Bearer " + kToken),
              400);
  ExpectError(
      Http("POST", url, "{\"type\":\"" + std::string(2000, 'w') + "\"}", "Bearer " + kToken), 413);

  HttpResult started = Http("POST", url, body, "Bearer " + kToken);
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_EQ(started.Json()["id"], "bench-1");
  EXPECT_NE(started.headers.find("Location: /api/v1/performance/benchmark/bench-1"),
            std::string::npos);
  BenchmarkSpec spec = benchmark_.LastSpec();
  EXPECT_EQ(spec.type, config::BenchmarkType::kMixed);
  EXPECT_EQ(spec.ops, 1000u);
  EXPECT_EQ(spec.clients, 4u);
  EXPECT_EQ(spec.value_size, 64u);
  ExpectError(Http("POST", url, body, "Bearer " + kToken), 409);

  HttpResult progress = Http("GET", url + "/bench-1");
  ASSERT_EQ(progress.status, 200);
  EXPECT_EQ(progress.Json()["state"], "running");
  ExpectError(Http("GET", url + "/bench-2"), 404);
  ExpectError(Http("GET", url + "/..%2Fetc"), 404);
  ExpectError(Http("GET", url), 405);
}

// POST /api/v1/alerts/silences: token-guarded, validated, passed to the alerter with the
// gateway's own token; the path answers GET and POST only.
TEST_F(GatewayServiceTest, SilenceCreationNeedsTokenAndValidates) {
  Start();
  const std::string url = base_ + "/api/v1/alerts/silences";
  const std::string body = R"({"member":"etcd-2","duration":"2h","comment":"kernel upgrade"})";
  ExpectError(Http("POST", url, body), 401);
  ExpectError(Http("POST", url, body, "Bearer wrong"), 401);
  ExpectError(Http("POST", url, R"({"member":"etcd-2"})", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, R"({"duration":"soon"})", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, R"({"duration":"1h","team":"x"})", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, R"({"duration":3600})", "Bearer " + kToken), 400);
  ExpectError(Http("POST", url, R"({"duration":"1h","rule":"NoSuchRule"})", "Bearer " + kToken),
              400);

  const auto before = std::chrono::system_clock::now();
  HttpResult created = Http("POST", url, body, "Bearer " + kToken);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.Json()["id"], "0123456789abcdef");
  EXPECT_EQ(created.Json()["member"], "etcd-2");
  EXPECT_EQ(created.Json()["comment"], "kernel upgrade");
  const v1::Silence sent = alerts_.Created();
  EXPECT_EQ(sent.member(), "etcd-2");
  const int64_t expected = std::chrono::duration_cast<std::chrono::milliseconds>(
                               (before + std::chrono::hours(2)).time_since_epoch())
                               .count();
  EXPECT_GE(sent.expires_unix_ms(), expected);
  EXPECT_LT(sent.expires_unix_ms(), expected + 60'000);
  EXPECT_EQ(alerts_.Token(), kToken);

  HttpResult wrong = Http("PUT", url, body);
  ExpectError(wrong, 405);
  EXPECT_NE(wrong.headers.find("Allow: GET, POST"), std::string::npos) << wrong.headers;
  EXPECT_EQ(Http("GET", url).status, 200);
}

TEST_F(GatewayServiceTest, BenchmarkWithoutRunnerIs501) {
  Start(/*with_snapshot=*/true, /*with_benchmark=*/false);
  HttpResult r =
      Http("POST", base_ + "/api/v1/performance/benchmark", R"({"ops":10})", "Bearer " + kToken);
  ExpectError(r, 501);
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("benchmark"), std::string::npos);
}

TEST_F(GatewayServiceTest, UnknownPathWrongMethodBadQueryAreJsonErrors) {
  Start();
  ExpectError(Http("GET", base_ + "/api/v1/nothing"), 404);
  ExpectError(Http("GET", base_ + "/api/v2/cluster/status"), 404);
  HttpResult wrong = Http("DELETE", base_ + "/api/v1/cluster/status");
  ExpectError(wrong, 405);
  EXPECT_NE(wrong.headers.find("Allow: GET"), std::string::npos);
  ExpectError(Http("POST", base_ + "/metrics", "x"), 405);
  ExpectError(Http("PUT", base_ + "/api/v1/performance/benchmark", "{}"), 405);
  ExpectError(Http("GET", base_ + "/api/v1/cluster/status?verbose=1"), 400);
  ExpectError(Http("GET", base_ + "/api/v1/cluster/status?x=%zz"), 400);
  // A body larger than the whole-request limit is refused too (by the HTTP layer), and the
  // server keeps serving.
  HttpResult huge = Http("POST", base_ + "/api/v1/performance/benchmark",
                         std::string(2 * 1024 * 1024, 'x'), "Bearer " + kToken);
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(Http("GET", base_ + "/api/v1/cluster/status").status, 200);
}

TEST_F(GatewayServiceTest, NoDataYetIs503AndHealthSaysWhy) {
  Start(/*with_snapshot=*/false);
  ExpectError(Http("GET", base_ + "/api/v1/cluster/status"), 503);
  ExpectError(Http("GET", base_ + "/api/v1/metrics/latency"), 503);
  HttpResult health;
  ASSERT_TRUE(WaitFor([&] {
    health = Http("GET", base_ + "/health");
    return health.Json()["checks"]["aggregator"]["ok"] == true;
  }));
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.Json()["checks"]["data"]["ok"], false);
  EXPECT_NE(health.Json()["checks"]["data"]["detail"].get<std::string>().find("no snapshot"),
            std::string::npos);
  // Data arrives: the endpoints answer.
  monitor_.SetSnapshot(ThreeMemberSnapshot());
  EXPECT_TRUE(WaitFor([&] { return Http("GET", base_ + "/api/v1/cluster/status").status == 200; }));
}

TEST_F(GatewayServiceTest, HealthReportsStaleData) {
  Start();
  // The fake snapshot's tick is in 2024: far older than stale_after.
  HttpResult health;
  ASSERT_TRUE(WaitFor([&] {
    health = Http("GET", base_ + "/health");
    return health.Json()["checks"]["alerter"]["ok"] == true;
  }));
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(health.Json()["status"], "unavailable");
  EXPECT_EQ(health.Json()["checks"]["data"]["ok"], false);
  EXPECT_EQ(health.Json()["checks"]["aggregator"]["ok"], true);
  EXPECT_EQ(health.Json()["checks"]["gateway"]["ok"], true);

  v1::ClusterSnapshot fresh = ThreeMemberSnapshot();
  fresh.set_tick_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() +
                         60000);  // a minute ahead: fresh for the whole test
  monitor_.SetSnapshot(fresh);
  EXPECT_TRUE(WaitFor([&] { return Http("GET", base_ + "/health").status == 200; }))
      << Http("GET", base_ + "/health").body;
}

// A tick a minute ahead of now: fresh for the whole test.
int64_t FreshTick() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         60000;
}

// --endpoints=localhost:1: fresh data, every service up, but no etcd member answers. The
// monitor is not ok (503, "unavailable"), and the etcd check says why; once one member answers
// it is ok again.
TEST_F(GatewayServiceTest, HealthIsUnavailableWhenNoMemberAnswers) {
  v1::ClusterSnapshot none;
  none.set_cluster("default");
  none.set_tick_unix_ms(FreshTick());
  none.set_state(v1::CLUSTER_NO_LEADER);
  none.set_member_count(1);
  none.set_fresh_members(1);
  none.set_unreachable_members(1);
  v1::MemberState* m = none.add_members();
  m->set_endpoint("localhost:1");
  m->set_health(v1::UNREACHABLE);
  m->set_sampled(true);
  m->set_reachable(false);
  m->set_error("connection refused");
  m->set_reason("connection refused");
  m->set_figures_stale(true);
  monitor_.SetSnapshot(none);
  Start(/*with_snapshot=*/false);
  HttpResult health;
  ASSERT_TRUE(WaitFor([&] {
    health = Http("GET", base_ + "/health");
    const json j = health.Json();
    return j.is_object() && j["checks"]["alerter"]["ok"] == true &&
           j["checks"]["data"]["ok"] == true;
  })) << health.body;
  EXPECT_EQ(health.status, 503) << health.body;
  const json j = health.Json();
  EXPECT_EQ(j["status"], "unavailable");
  EXPECT_EQ(j["checks"]["etcd"]["ok"], false);
  EXPECT_EQ(j["checks"]["etcd"]["detail"],
            "no etcd member answers: 0 of 1 reachable (localhost:1: connection refused)");
  // The member is labelled by its endpoint.
  json members = Http("GET", base_ + "/api/v1/cluster/members").Json();
  ASSERT_EQ(members["members"].size(), 1u);
  EXPECT_EQ(members["members"][0]["label"], "localhost:1");

  // One of three answers: ok.
  v1::ClusterSnapshot one = ThreeMemberSnapshot();
  one.set_tick_unix_ms(FreshTick());
  for (int i = 1; i < 3; ++i) {
    one.mutable_members(i)->set_health(v1::UNREACHABLE);
    one.mutable_members(i)->set_reachable(false);
  }
  monitor_.SetSnapshot(one);
  ASSERT_TRUE(WaitFor([&] {
    health = Http("GET", base_ + "/health");
    return health.status == 200;
  })) << health.body;
  EXPECT_EQ(health.Json()["checks"]["etcd"]["ok"], true);
  EXPECT_EQ(health.Json()["checks"]["etcd"]["detail"], "1 of 3 members answer");
}

// The snapshot of a cluster with one member that stopped answering and one that never did:
// what they said is null (unknown, not zero), their figures are marked stale as of their last
// answer, /metrics exports none of their gauges as current, and the cluster is degraded.
v1::ClusterSnapshot OneStoppedOneNeverAnswered() {
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

TEST_F(GatewayServiceTest, MembersThatDoNotAnswerShowUnknownAndStale) {
  monitor_.SetSnapshot(OneStoppedOneNeverAnswered());
  Start(/*with_snapshot=*/false);
  json members;
  ASSERT_TRUE(WaitFor([&] {
    HttpResult r = Http("GET", base_ + "/api/v1/cluster/members");
    members = r.Json();
    return r.status == 200;
  }));
  ASSERT_EQ(members["members"].size(), 3u);
  const json& stopped = members["members"][0];
  const json& up = members["members"][1];
  const json& never = members["members"][2];
  for (const char* key :
       {"raft_term", "raft_index", "raft_applied_index", "apply_lag", "revision", "db_size_bytes",
        "db_size_in_use_bytes", "version", "leader_id", "cluster_id", "db_quota_bytes"}) {
    EXPECT_TRUE(stopped[key].is_null()) << key << ": " << stopped.dump();
    EXPECT_TRUE(never[key].is_null()) << key << ": " << never.dump();
  }
  EXPECT_EQ(stopped["figures_stale"], true);
  EXPECT_EQ(stopped["figures_as_of"], "2024-05-01T09:59:30.000Z");
  EXPECT_EQ(stopped["read_latency"]["p99_ms"], 2.5) << "the window is kept, marked stale";
  EXPECT_EQ(never["figures_stale"], true);
  EXPECT_TRUE(never["figures_as_of"].is_null());
  EXPECT_TRUE(never["read_latency"].is_null());

  EXPECT_EQ(up["raft_term"], 7);
  EXPECT_EQ(up["revision"], 42);
  EXPECT_EQ(up["version"], "3.5.9");
  EXPECT_EQ(up["leader_id"], "2");
  EXPECT_EQ(up["db_size_bytes"], 20480);
  EXPECT_EQ(up["figures_stale"], false);
  EXPECT_EQ(up["figures_as_of"], "2024-05-01T10:00:00.000Z");

  json status = Http("GET", base_ + "/api/v1/cluster/status").Json();
  EXPECT_EQ(status["state"], "degraded");
  EXPECT_EQ(status["degraded"], true);
  EXPECT_EQ(status["healthy"], true);

  json latency = Http("GET", base_ + "/api/v1/metrics/latency").Json();
  ASSERT_EQ(latency["members"].size(), 3u);
  EXPECT_EQ(latency["members"][0]["figures_stale"], true);
  EXPECT_EQ(latency["members"][0]["figures_as_of"], "2024-05-01T09:59:30.000Z");
  EXPECT_EQ(latency["members"][1]["figures_stale"], false);

  // The leader's JSON is a member's JSON.
  json leader = Http("GET", base_ + "/api/v1/cluster/leader").Json();
  EXPECT_EQ(leader["leader"]["raft_term"], 7);
  EXPECT_EQ(leader["leader"]["figures_stale"], false);

  // /metrics: the members that do not answer are up 0, with their counters, and no gauge.
  const std::string text = Http("GET", base_ + "/metrics").body;
  EXPECT_NE(text.find("etcd_member_up{cluster=\"prod\",member=\"etcd-1\"} 0"), std::string::npos);
  EXPECT_NE(text.find("etcd_server_proposals_committed_total{cluster=\"prod\",member=\"etcd-1\"}"),
            std::string::npos);
  for (const char* gauge :
       {"etcd_request_read_latency_p99_milliseconds",
        "etcd_disk_wal_fsync_duration_p99_milliseconds", "etcd_request_rate_per_second",
        "etcd_member_raft_term", "etcd_mvcc_db_total_size_bytes"}) {
    for (const char* member : {"etcd-1", "etcd-3"}) {
      const std::string series =
          std::string(gauge) + "{cluster=\"prod\",member=\"" + member + "\"}";
      EXPECT_EQ(text.find(series), std::string::npos) << series;
    }
  }
  EXPECT_NE(
      text.find("etcd_request_read_latency_p99_milliseconds{cluster=\"prod\",member=\"etcd-2\"}"),
      std::string::npos);
}

TEST_F(GatewayServiceTest, DashboardIsHtmlUsingTheApi) {
  Start();
  HttpResult r = Http("GET", base_ + "/");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("text/html"), std::string::npos);
  EXPECT_NE(r.body.find("api/v1/cluster/status"), std::string::npos);
  EXPECT_NE(r.body.find("api/v1/alerts"), std::string::npos);
}

TEST_F(GatewayServiceTest, MetricsHaveTheQuickstartNamesAndLabels) {
  Start();
  HttpResult r;
  // The request counters appear at the render after the first request.
  ASSERT_TRUE(WaitFor([&] {
    r = Http("GET", base_ + "/metrics");
    return r.body.find("etcd_monitor_gateway_http_requests_total{") != std::string::npos;
  }));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("text/plain; version=0.0.4"), std::string::npos);
  const std::string& text = r.body;
  for (const char* name : {"etcd_cluster_healthy",
                           "etcd_cluster_has_leader",
                           "etcd_cluster_member_count",
                           "etcd_cluster_quorum_size",
                           "etcd_cluster_leader_changes_total",
                           "etcd_request_read_latency_p50_milliseconds",
                           "etcd_request_read_latency_p95_milliseconds",
                           "etcd_request_read_latency_p99_milliseconds",
                           "etcd_request_write_latency_p50_milliseconds",
                           "etcd_request_write_latency_p95_milliseconds",
                           "etcd_request_write_latency_p99_milliseconds",
                           "etcd_request_rate_per_second",
                           "etcd_mvcc_db_total_size_bytes",
                           "etcd_mvcc_db_total_size_in_use_bytes",
                           "etcd_server_proposals_committed_total",
                           "etcd_server_proposals_applied_total",
                           "etcd_server_proposals_pending",
                           "etcd_server_proposals_failed_total",
                           "etcd_disk_wal_fsync_duration_p95_milliseconds",
                           "etcd_disk_backend_commit_duration_p95_milliseconds",
                           "etcd_member_up",
                           "etcd_cluster_split_brain",
                           "etcd_certificate_expiry_seconds",
                           "etcd_host_disk_usage_percent",
                           "etcd_host_memory_usage_percent",
                           "etcd_monitor_alerts_firing",
                           "etcd_monitor_collector_up",
                           "etcd_monitor_gateway_http_requests_total"}) {
    EXPECT_NE(text.find("\n# TYPE " + std::string(name) + " "), std::string::npos) << name;
  }
  EXPECT_NE(text.find("etcd_cluster_member_count{cluster=\"prod\"} 3"), std::string::npos);
  EXPECT_NE(text.find("etcd_member_up{cluster=\"prod\",member=\"etcd-2\"} 1"), std::string::npos);
  EXPECT_NE(text.find("# TYPE etcd_cluster_leader_changes_total counter"), std::string::npos);
  EXPECT_NE(text.find("etcd_monitor_alerts_firing{cluster=\"prod\",severity=\"critical\"} 1"),
            std::string::npos);
  // Every series has the cluster label.
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] != '#') {
      EXPECT_NE(line.find("cluster=\""), std::string::npos) << line;
    }
  }
}

// promtool must be installed (Debian's prometheus package): a missing promtool fails the test.
// The only complaints accepted are the lint rules the quickstart's names break on purpose: the
// unit of the *_milliseconds names (the lint wants seconds) and the "_count" suffix of
// etcd_cluster_member_count. Any other complaint, or a parse error, fails.
TEST_F(GatewayServiceTest, PromtoolAcceptsTheExposition) {
  ASSERT_TRUE(OnPath("promtool")) << "promtool not found: install Debian's prometheus package";
  Start();
  // A request first, so the gateway's own counters have series too.
  ASSERT_EQ(Http("GET", base_ + "/api/v1/cluster/status").status, 200);
  std::string text;
  ASSERT_TRUE(WaitFor([&] {
    text = Http("GET", base_ + "/metrics").body;
    return text.find("etcd_monitor_gateway_http_requests_total{") != std::string::npos;
  }));
  testing::TempDir dir;
  auto [rc, output] = Promtool(text, dir.path());
  ASSERT_TRUE(rc == 0 || rc == 3) << "promtool failed (" << rc << "): " << output;
  std::istringstream problems(output);
  std::string problem;
  while (std::getline(problems, problem)) {
    if (problem.empty()) {
      continue;
    }
    const bool unit = problem.find(
                          "_milliseconds use base unit \"seconds\" instead of "
                          "\"milliseconds\"") != std::string::npos;
    const bool member_count = problem.rfind("etcd_cluster_member_count non-histogram", 0) == 0;
    EXPECT_TRUE(unit || member_count) << "unexpected promtool complaint: " << problem;
  }
  // A damaged exposition is refused: the check can fail.
  auto [bad_rc, bad_output] = Promtool("# TYPE x gauge\nx{cluster=\"a\" 1\n", dir.path());
  EXPECT_EQ(bad_rc, 1) << bad_output;
}

TEST_F(GatewayServiceTest, StopTwiceAndDestroyWithoutStart) {
  Start();
  service_->Stop();
  service_->Stop();
  GatewayConfig config;
  config.port = 0;
  GatewayBackends backends;
  backends.monitor = &monitor_;
  auto unused = GatewayService::Create(config, backends, nullptr);
  ASSERT_TRUE(unused.ok());
  (*unused)->Stop();
  GatewayBackends none;
  EXPECT_FALSE(GatewayService::Create(config, none, nullptr).ok());
}

}  // namespace
}  // namespace etcdmon::gateway
