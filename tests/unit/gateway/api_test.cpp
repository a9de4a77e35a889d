// detail::Api without a server: requests go straight to Api::Handle, against fake backends and a
// FakeClock, with the state the refresher would render published directly. Routing, validation,
// the token check, every endpoint's JSON, /health's logic, silences and benchmarks.

#include "api.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "api_fixture.h"
#include "etcdmon/testing/forwarding_etcd_client.h"
#include "etcdmon/testing/temp_dir.h"
#include "fake_backends.h"
#include "render.h"

namespace etcdmon::gateway {
namespace {

using detail::ApiRequest;
using detail::ApiResponse;
using nlohmann::json;

class ApiTest : public ApiFixture {
 protected:
  ApiTest() {
    config_.host = "127.0.0.1";
    config_.port = 0;
    config_.max_body_bytes = 1024;
    config_.max_benchmark_ops = 5000;
    Build(/*with_benchmark=*/true);
  }

  // What the refresher records after polling healthy services.
  void ServicesUp() {
    detail::DependencyState deps;
    deps.aggregator_checked = true;
    deps.aggregator_ok = true;
    deps.aggregator_detail = "ticking";
    deps.aggregator_last_update_unix_ms = kTick;
    deps.alerter_checked = true;
    deps.alerter_ok = true;
    deps.alerter_detail = "ok";
    api_->SetDependencies(deps);
  }

  ApiResponse Get(std::string_view target) { return Call("GET", target); }
  json GetJson(std::string_view target) { return Parse(Get(target)); }
};

// GET /api/v1/cluster/status: every field of the snapshot, snake_case, times in RFC 3339.
TEST_F(ApiTest, ClusterStatusCarriesEveryField) {
  Publish(ThreeMemberSnapshot());
  ApiResponse r = Get("/api/v1/cluster/status");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  json s = Parse(r);
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

// The split-brain verdict comes with its kinds and evidence.
TEST_F(ApiTest, SplitBrainEvidenceIsShown) {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  s.set_healthy(false);
  s.mutable_split_brain()->set_detected(true);
  s.mutable_split_brain()->set_reason("two leaders in term 7");
  s.mutable_split_brain()->add_kinds(v1::SAME_TERM_DIFFERENT_LEADERS);
  v1::Evidence* e = s.mutable_split_brain()->add_evidence();
  e->set_member_name("etcd-1");
  e->set_statement("follows leader 1 at term 7");
  e->set_kind(v1::SAME_TERM_DIFFERENT_LEADERS);
  Publish(s);
  ApiResponse r = Get("/api/v1/cluster/status");
  ASSERT_EQ(r.status, 200);
  json status = Parse(r);
  EXPECT_EQ(status["split_brain"]["detected"], true);
  EXPECT_EQ(status["split_brain"]["kinds"][0], "same_term_different_leaders");
  EXPECT_EQ(status["split_brain"]["evidence"][0]["member_name"], "etcd-1");
  EXPECT_EQ(status["split_brain"]["evidence"][0]["statement"], "follows leader 1 at term 7");
}

// The member list, the leader, and one member by name (404 for an unknown one).
TEST_F(ApiTest, MembersLeaderAndOneMember) {
  Publish(ThreeMemberSnapshot());
  json members = GetJson("/api/v1/cluster/members");
  ASSERT_EQ(members["members"].size(), 3u);
  EXPECT_EQ(members["members"][0]["name"], "etcd-1");
  EXPECT_EQ(members["members"][0]["health"], "healthy");
  EXPECT_EQ(members["members"][1]["is_leader"], true);
  EXPECT_EQ(members["members"][0]["db_size_bytes"], 20480);

  json leader = GetJson("/api/v1/cluster/leader");
  EXPECT_EQ(leader["has_leader"], true);
  EXPECT_EQ(leader["leader"]["name"], "etcd-2");
  EXPECT_EQ(leader["leader"]["endpoint"], "127.0.0.1:22379");

  ApiResponse one = Get("/api/v1/cluster/members/etcd-3");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(Parse(one)["name"], "etcd-3");
  ExpectError(Get("/api/v1/cluster/members/nobody"), 404);
}

// A member whose disk usage is unknown shows null with the reason; the others a number and a
// null reason.
TEST_F(ApiTest, MemberDiskUnknownShowsTheReason) {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  v1::MemberState* remote = s.mutable_members(2);
  remote->clear_disk_used_percent();
  remote->set_disk_unknown_reason(
      "the member runs on another host (10.0.0.3): run a collector beside it or give "
      "--member-data-dir=10.0.0.3:2379=DIR");
  Publish(s);
  ApiResponse r = Get("/api/v1/cluster/members");
  ASSERT_EQ(r.status, 200);
  json members = Parse(r);
  ASSERT_EQ(members["members"].size(), 3u);
  EXPECT_EQ(members["members"][0]["disk_used_percent"], 42);
  EXPECT_TRUE(members["members"][0]["disk_unknown_reason"].is_null()) << members.dump();
  EXPECT_TRUE(members["members"][2]["disk_used_percent"].is_null()) << members.dump();
  EXPECT_EQ(members["members"][2]["disk_unknown_reason"],
            "the member runs on another host (10.0.0.3): run a collector beside it or give "
            "--member-data-dir=10.0.0.3:2379=DIR");
}

// Current metrics by cluster and member, and the latency percentiles.
TEST_F(ApiTest, CurrentMetricsAndLatency) {
  Publish(ThreeMemberSnapshot());
  json current = GetJson("/api/v1/metrics/current");
  EXPECT_EQ(current["cluster_metrics"]["etcd_cluster_member_count"], 3);
  EXPECT_EQ(current["cluster_metrics"]["etcd_request_read_latency_p99_milliseconds"], 2.5);
  EXPECT_EQ(current["members"]["etcd-1"]["etcd_member_up"], 1);
  EXPECT_EQ(current["members"]["etcd-2"]["etcd_member_is_leader"], 1);

  json latency = GetJson("/api/v1/metrics/latency");
  EXPECT_EQ(latency["read"]["p50_ms"], 0.5);
  EXPECT_EQ(latency["write"]["p99_ms"], 2.5);
  EXPECT_EQ(latency["wal_fsync"]["p95_ms"], 3);
  EXPECT_EQ(latency["backend_commit"]["p99_ms"], 4);
  EXPECT_FALSE(latency["wal_fsync"].contains("p50_ms"));
  ASSERT_EQ(latency["members"].size(), 3u);
  EXPECT_EQ(latency["members"][0]["member"], "etcd-1");
}

// History: the metric list, absolute and relative times (relative to the clock), and every
// validation error.
TEST_F(ApiTest, HistoryParsesTimesAndValidates) {
  Publish(ThreeMemberSnapshot());
  ApiResponse list = Get("/api/v1/metrics/history");
  ASSERT_EQ(list.status, 200) << list.Body();
  EXPECT_EQ(Parse(list)["metrics"][0]["name"], "etcd_cluster_member_count");
  EXPECT_EQ(Parse(list)["metrics"][1]["scope"], "member");

  ApiResponse h =
      Get("/api/v1/metrics/history?metric=etcd_cluster_member_count"
          "&from=2024-05-01T09:00:00Z&to=1714557600&step=1m");
  ASSERT_EQ(h.status, 200) << h.Body();
  EXPECT_EQ(Parse(h)["points"][0]["time"], "2024-05-01T10:00:00.000Z");
  EXPECT_EQ(Parse(h)["points"][0]["value"], 3);
  v1::HistoryQuery q = monitor_.LastQuery();
  EXPECT_EQ(q.from_unix_ms(), kTick - 3600000);
  EXPECT_EQ(q.to_unix_ms(), kTick);
  EXPECT_EQ(q.step_ms(), 60000);

  ApiResponse relative =
      Get("/api/v1/metrics/history?metric=etcd_member_up&member=etcd-2&from=-10m");
  ASSERT_EQ(relative.status, 200) << relative.Body();
  q = monitor_.LastQuery();
  EXPECT_EQ(q.member(), "etcd-2");
  EXPECT_EQ(q.to_unix_ms() - q.from_unix_ms(), 600000);
  EXPECT_EQ(q.to_unix_ms(), UnixMs(clock_.Now()));

  // Error paths: unknown metric, unknown member, bad times, inverted range, unknown parameter,
  // a per-member metric without member.
  struct Case {
    std::string_view target;
    int status;
  };
  const Case cases[] = {
      {"/api/v1/metrics/history?metric=no_such_metric", 404},
      {"/api/v1/metrics/history?metric=etcd_member_up&member=ghost", 404},
      {"/api/v1/metrics/history?metric=etcd_cluster_healthy&from=soon", 400},
      {"/api/v1/metrics/history?metric=etcd_cluster_healthy&from=-1h&to=-2h", 400},
      {"/api/v1/metrics/history?metric=etcd_cluster_healthy&step=x", 400},
      {"/api/v1/metrics/history?metric=etcd_cluster_healthy&bogus=1", 400},
      {"/api/v1/metrics/history?metric=etcd_member_up", 400},
      {"/api/v1/metrics/history?member=etcd-1", 400},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    ExpectError(Get(c.target), c.status);
  }
}

// Active alerts with filters, the alert history with its paging and validation, silences.
TEST_F(ApiTest, AlertsFiltersHistoryAndSilences) {
  Publish(ThreeMemberSnapshot());
  json alerts = GetJson("/api/v1/alerts");
  ASSERT_EQ(alerts["alerts"].size(), 2u);
  EXPECT_EQ(alerts["alerts"][0]["rule"], "member_down");
  EXPECT_EQ(alerts["alerts"][0]["started_at"], "2024-05-01T10:00:00.000Z");
  EXPECT_TRUE(alerts["alerts"][1]["resolved_at"].is_null());
  json critical = GetJson("/api/v1/alerts?severity=critical");
  ASSERT_EQ(critical["alerts"].size(), 1u);

  // "1d" is not a duration unit: a bad query.
  ExpectError(Get("/api/v1/alerts/history?rule=leader_changes&page_size=10&from=-1d"), 400);
  ApiResponse history = Get("/api/v1/alerts/history?rule=leader_changes&page_size=10&from=-24h");
  ASSERT_EQ(history.status, 200) << history.Body();
  EXPECT_EQ(Parse(history)["alerts"][0]["rule"], "leader_changes");
  EXPECT_EQ(Parse(history)["next_page_token"], "next-1");
  ExpectError(Get("/api/v1/alerts/history?page_size=0"), 400);
  ExpectError(Get("/api/v1/alerts/history?page_token=bad"), 400);

  json silences = GetJson("/api/v1/alerts/silences");
  EXPECT_EQ(silences["silences"][0]["id"], "s1");
}

// POST benchmark: the token, the body's validation and limits, one run at a time, its progress.
TEST_F(ApiTest, BenchmarkNeedsTokenValidatesAndRunsOneAtATime) {
  const std::string url = "/api/v1/performance/benchmark";
  const std::string body = R"({"type":"mixed","ops":1000,"clients":4,"value_size":64})";
  const std::string bearer = "Bearer " + kBenchmarkToken;
  Publish(ThreeMemberSnapshot());  // the database's size is known
  ApiResponse no_token = Call("POST", url, body);
  ExpectError(no_token, 401);
  EXPECT_TRUE(no_token.authenticate) << "WWW-Authenticate: Bearer";
  ExpectError(Call("POST", url, body, "Bearer wrong"), 401);
  ExpectError(Call("POST", url, body, "Basic " + kBenchmarkToken), 401);
  EXPECT_EQ(Call("POST", url, body, "Bearer wrong").Body().find(kBenchmarkToken),
            std::string::npos);

  struct Case {
    std::string body;
    int status;
  };
  const Case cases[] = {
      {"not json", 400},
      {R"({"type":"delete"})", 400},
      {R"({"ops":0})", 400},
      {R"({"ops":5001})", 400},
      {R"({"ops":-1})", 400},
      {R"({"opz":10})", 400},
      {std::string(200, '[') + std::string(200, ']'), 400},
      {"{\"type\":\"" + std::string(2000, 'w') + "\"}", 413},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 40));
    ExpectError(Call("POST", url, c.body, bearer), c.status);
  }

  ApiResponse started = Call("POST", url, body, bearer);
  ASSERT_EQ(started.status, 202) << started.Body();
  EXPECT_EQ(Parse(started)["id"], "bench-1");
  EXPECT_EQ(started.location, "/api/v1/performance/benchmark/bench-1");
  BenchmarkSpec spec = benchmark_.LastSpec();
  EXPECT_EQ(spec.type, config::BenchmarkType::kMixed);
  EXPECT_EQ(spec.ops, 1000u);
  EXPECT_EQ(spec.clients, 4u);
  EXPECT_EQ(spec.value_size, 64u);
  ExpectError(Call("POST", url, body, bearer), 409);

  ApiResponse progress = Get(url + "/bench-1");
  ASSERT_EQ(progress.status, 200);
  EXPECT_EQ(Parse(progress)["state"], "running");
  ExpectError(Get(url + "/bench-2"), 404);
  ExpectError(Get(url + "/..%2Fetc"), 404);
}

// A timed run ("duration") instead of a number of operations: bounded to 1 s..10 min, never with
// "ops", and capped at the rate that keeps the whole run within the ops bound and byte budget.
TEST_F(ApiTest, BenchmarkForADurationIsRateCappedWithinTheBounds) {
  const std::string url = "/api/v1/performance/benchmark";
  const std::string bearer = "Bearer " + kBenchmarkToken;
  Publish(ThreeMemberSnapshot());
  for (const char* bad : {R"({"duration":"0s"})", R"({"duration":"11m"})", R"({"duration":30})",
                          R"({"duration":"soon"})", R"({"duration":"30s","ops":100})"}) {
    SCOPED_TRACE(bad);
    ExpectError(Call("POST", url, bad, bearer), 400);
  }
  ApiResponse started =
      Call("POST", url, R"({"type":"write","duration":"20s","clients":4})", bearer);
  ASSERT_EQ(started.status, 202) << started.Body();
  const BenchmarkSpec spec = benchmark_.LastSpec();
  EXPECT_EQ(spec.duration, std::chrono::seconds(20));
  // The fixture's bound is 5000 operations: 250 per second for 20 s.
  EXPECT_EQ(spec.rate, 250u);
  EXPECT_EQ(spec.ops, 5000u);
  EXPECT_EQ(spec.clients, 4u);
  const nlohmann::json answer = Parse(started);
  EXPECT_EQ(answer["duration_seconds"], 20.0);
  EXPECT_EQ(answer["rate_limit"], 250);
  EXPECT_EQ(answer["max_ops"], 5000);
  EXPECT_FALSE(answer.contains("ops"));
}

// POST /api/v1/alerts/silences: token-guarded, validated, passed to the alerter with the
// gateway's own token, expiring `duration` after the clock's now; the path answers GET and POST
// only.
TEST_F(ApiTest, SilenceCreationNeedsTokenAndValidates) {
  const std::string url = "/api/v1/alerts/silences";
  const std::string body = R"({"member":"etcd-2","duration":"2h","comment":"kernel upgrade"})";
  const std::string bearer = "Bearer " + kToken;
  ExpectError(Call("POST", url, body), 401);
  ExpectError(Call("POST", url, body, "Bearer wrong"), 401);
  for (const char* bad :
       {R"({"member":"etcd-2"})", R"({"duration":"soon"})", R"({"duration":"1h","team":"x"})",
        R"({"duration":3600})", R"({"duration":"1h","rule":"NoSuchRule"})"}) {
    SCOPED_TRACE(bad);
    ExpectError(Call("POST", url, bad, bearer), 400);
  }

  ApiResponse created = Call("POST", url, body, bearer);
  ASSERT_EQ(created.status, 201) << created.Body();
  EXPECT_EQ(Parse(created)["id"], "0123456789abcdef");
  EXPECT_EQ(Parse(created)["member"], "etcd-2");
  EXPECT_EQ(Parse(created)["comment"], "kernel upgrade");
  const v1::Silence sent = alerts_.Created();
  EXPECT_EQ(sent.member(), "etcd-2");
  EXPECT_EQ(sent.expires_unix_ms(), UnixMs(clock_.Now()) + 2 * 3600 * 1000);
  EXPECT_EQ(alerts_.Token(), kToken);

  ApiResponse wrong = Call("PUT", url, body);
  ExpectError(wrong, 405);
  EXPECT_EQ(wrong.allow, "GET, POST");
  EXPECT_EQ(Get(url).status, 200);
}

// The request counter of one handler and status code; 0 when it was never counted.
double RequestCount(prometheus::Registry& registry, const std::string& handler,
                    const std::string& code) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != "etcd_monitor_gateway_http_requests_total") {
      continue;
    }
    for (const prometheus::ClientMetric& metric : family.metric) {
      bool handler_matches = false;
      bool code_matches = false;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        handler_matches |= label.name == "handler" && label.value == handler;
        code_matches |= label.name == "code" && label.value == code;
      }
      if (handler_matches && code_matches) {
        return metric.counter.value;
      }
    }
  }
  return 0;
}

// GET /api/v1/alerts/silences lists the active silences; ?state=all expired ones too (each
// marked with its state); any other state is a 400.
TEST_F(ApiTest, SilencesListActiveByDefaultAndAllOnRequest) {
  for (const char* target : {"/api/v1/alerts/silences", "/api/v1/alerts/silences?state=active",
                             "/api/v1/alerts/silences/"}) {
    SCOPED_TRACE(target);
    ApiResponse r = Get(target);
    ASSERT_EQ(r.status, 200) << r.Body();
    const json list = Parse(r)["silences"];
    ASSERT_EQ(list.size(), 1u) << r.Body();
    EXPECT_EQ(list[0]["id"], "s1");
    EXPECT_EQ(list[0]["state"], "active");
    EXPECT_EQ(list[0]["expires_at"], "2024-05-01T11:00:00.000Z");
  }
  ApiResponse all = Get("/api/v1/alerts/silences?state=all");
  ASSERT_EQ(all.status, 200) << all.Body();
  const json list = Parse(all)["silences"];
  ASSERT_EQ(list.size(), 2u) << all.Body();
  EXPECT_EQ(list[1]["id"], "s0");
  EXPECT_EQ(list[1]["state"], "expired");
  EXPECT_EQ(list[1]["expires_at"], "2024-05-01T10:00:00.000Z");
  ExpectError(Get("/api/v1/alerts/silences?state=expired"), 400);
  ExpectError(Get("/api/v1/alerts/silences?status=all"), 400);
}

// DELETE /api/v1/alerts/silences/{id}: token-guarded like POST, the id validated before the
// alerter is asked, the gateway's own token passed on; 200 with the silence, 404 for an unknown
// id; the path answers DELETE only; counted as "silence_expire".
TEST_F(ApiTest, SilenceExpiryNeedsTokenAndValidatesTheId) {
  const std::string url = "/api/v1/alerts/silences/0123456789abcdef";
  const std::string bearer = "Bearer " + kToken;
  ApiResponse no_token = Call("DELETE", url);
  ExpectError(no_token, 401);
  EXPECT_TRUE(no_token.authenticate) << "WWW-Authenticate: Bearer";
  ExpectError(Call("DELETE", url, "", "Bearer wrong"), 401);
  ExpectError(Call("DELETE", url, "", "Basic " + kToken), 401);

  struct Case {
    std::string target;
    int status;
  };
  const Case cases[] = {
      {"/api/v1/alerts/silences/", 400},
      {"/api/v1/alerts/silences/" + std::string(129, 'a'), 400},
      {"/api/v1/alerts/silences/abc.def", 400},
      {"/api/v1/alerts/silences/abc/def", 400},
      {"/api/v1/alerts/silences/abc%2Fdef", 400},
      {"/api/v1/alerts/silences/0123456789abcdef/", 400},
      {"/api/v1/alerts/silences/" + std::string(128, 'a'), 404},  // well-formed, not found
      {"/api/v1/alerts/silences/fedcba9876543210", 404},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    ExpectError(Call("DELETE", c.target, "", bearer), c.status);
  }
  EXPECT_EQ(alerts_.ExpiredIds(),
            (std::vector<std::string>{std::string(128, 'a'), "fedcba9876543210"}))
      << "malformed ids never reach the alerter";

  ApiResponse expired = Call("DELETE", url, "", bearer);
  ASSERT_EQ(expired.status, 200) << expired.Body();
  const json body = Parse(expired);
  EXPECT_EQ(body["id"], "0123456789abcdef");
  EXPECT_EQ(body["member"], "etcd-2");
  EXPECT_EQ(body["rule"], "");
  EXPECT_EQ(body["comment"], "kernel upgrade");
  EXPECT_EQ(body["created_at"], "2024-05-01T09:59:00.000Z");
  EXPECT_EQ(body["expires_at"], "2024-05-01T10:00:00.000Z");
  EXPECT_EQ(body["state"], "expired");
  EXPECT_EQ(alerts_.Token(), kToken);

  ApiResponse get_one = Get(url);
  ExpectError(get_one, 405);
  EXPECT_EQ(get_one.allow, "DELETE");
  ApiResponse delete_all = Call("DELETE", "/api/v1/alerts/silences", "", bearer);
  ExpectError(delete_all, 405);
  EXPECT_EQ(delete_all.allow, "GET, POST");

  EXPECT_EQ(RequestCount(*registry_, "silence_expire", "200"), 1);
  EXPECT_EQ(RequestCount(*registry_, "silence_expire", "401"), 3);
  EXPECT_EQ(RequestCount(*registry_, "silence_expire", "400"), 6);
  EXPECT_EQ(RequestCount(*registry_, "silence_expire", "404"), 2);
  EXPECT_EQ(RequestCount(*registry_, "silence_expire", "405"), 1);
}

// Without an API token the gateway refuses to expire silences (403), as it refuses to create
// them.
TEST_F(ApiTest, SilenceExpiryWithoutApiTokenIs403) {
  config_.api_token = config::Secret("");
  Build();
  ExpectError(Call("DELETE", "/api/v1/alerts/silences/0123456789abcdef", "", "Bearer x"), 403);
  EXPECT_TRUE(alerts_.ExpiredIds().empty());
}

// Without a benchmark runner POST benchmark is 501, saying why.
TEST_F(ApiTest, BenchmarkWithoutRunnerIs501) {
  Build(/*with_benchmark=*/false);
  ApiResponse r =
      Call("POST", "/api/v1/performance/benchmark", R"({"ops":10})", "Bearer " + kBenchmarkToken);
  ExpectError(r, 501);
  EXPECT_NE(Parse(r)["error"]["message"].get<std::string>().find("benchmark"), std::string::npos);
}

// GET /api/v1/performance/benchmark, with or without a trailing slash: the runner's list as it
// renders it; the same path still takes POST, and a run's id still goes to GET /{id}.
TEST_F(ApiTest, BenchmarkListIsTheRunnersList) {
  Publish(ThreeMemberSnapshot());  // POST needs the members' db sizes
  const std::string url = "/api/v1/performance/benchmark";
  for (const std::string& target : {url, url + "/"}) {
    SCOPED_TRACE(target);
    ApiResponse r = Get(target);
    ASSERT_EQ(r.status, 200) << r.Body();
    EXPECT_EQ(r.content_type, "application/json");
    const json runs = Parse(r)["runs"];
    ASSERT_EQ(runs.size(), 2u) << r.Body();
    EXPECT_EQ(runs[0]["id"], "bench-2");
    EXPECT_EQ(runs[1]["id"], "bench-1");
  }
  EXPECT_EQ(Parse(Get(url + "/bench-1"))["id"], "bench-1");
  EXPECT_EQ(Call("POST", url, R"({"ops":10})", "Bearer " + kBenchmarkToken).status, 202);
}

// Without a benchmark runner the list is 501 too, saying why.
TEST_F(ApiTest, BenchmarkListWithoutRunnerIs501) {
  Build(/*with_benchmark=*/false);
  ApiResponse r = Get("/api/v1/performance/benchmark");
  ExpectError(r, 501);
  EXPECT_NE(Message(r).find("--endpoints"), std::string::npos) << r.Body();
}

// The consistency check's three members, agreeing (consistent) at revision 10.
void Agreeing(testing::FakeEtcdClient& etcd) {
  for (uint64_t id = 1; id <= 3; ++id) {
    const std::string endpoint = std::vector<std::string>{"a:1", "b:2", "c:3"}[id - 1];
    etcd::EndpointStatus status;
    status.member_id = id;
    status.revision = 9 + static_cast<int64_t>(id);
    etcd.SetStatus(endpoint, status);
    etcd::HashKVResult hash;
    hash.header.member_id = id;
    hash.header.revision = 12;
    hash.hash = 777;
    etcd.SetHashKV(endpoint, hash);
  }
}

// GET /api/v1/cluster/consistency: the CLI's report with checked_at and age_seconds. It runs
// the check at most once per interval: a request within 60 s of the last check gets the cached
// result (older, same checked_at), one after it runs the check again.
TEST_F(ApiTest, ConsistencyIsCheckedAtMostOncePerInterval) {
  Agreeing(etcd_);
  const std::string checked_at = detail::FormatRfc3339(UnixMs(clock_.Now()));
  ApiResponse first = Get("/api/v1/cluster/consistency");
  ASSERT_EQ(first.status, 200) << first.Body();
  const json report = Parse(first);
  EXPECT_EQ(report["verdict"], "consistent") << report;
  EXPECT_EQ(report["revision"], 10);
  EXPECT_EQ(report["reason"], "3 endpoints hash the key space at revision 10 to 777");
  ASSERT_EQ(report["endpoints"].size(), 3u);
  EXPECT_EQ(report["endpoints"][0], json({{"endpoint", "a:1"},
                                          {"ok", true},
                                          {"member_id", "1"},
                                          {"hash", 777},
                                          {"revision", 12},
                                          {"compact_revision", 0}}));
  EXPECT_EQ(report["checked_at"], checked_at);
  EXPECT_EQ(report["age_seconds"], 0);
  EXPECT_EQ(report["check_in_progress"], false);
  EXPECT_EQ(etcd_.calls().status, 3);

  clock_.Advance(std::chrono::seconds(59));
  etcd_.SetHashKV("c:3", Status::Unavailable("endpoint c:3: connection refused"));
  const json cached = GetJson("/api/v1/cluster/consistency/");
  EXPECT_EQ(cached["verdict"], "consistent") << cached;
  EXPECT_EQ(cached["checked_at"], checked_at);
  EXPECT_EQ(cached["age_seconds"], 59);
  EXPECT_EQ(etcd_.calls().status, 3) << "no check within 60 s of the last";

  clock_.Advance(std::chrono::seconds(1));
  const json rechecked = GetJson("/api/v1/cluster/consistency");
  EXPECT_EQ(rechecked["verdict"], "unknown") << rechecked;
  EXPECT_EQ(rechecked["reason"], "endpoint c:3: connection refused");
  EXPECT_EQ(rechecked["checked_at"], detail::FormatRfc3339(UnixMs(clock_.Now())));
  EXPECT_EQ(rechecked["age_seconds"], 0);
  EXPECT_EQ(etcd_.calls().status, 6);

  // An unknown verdict is a result too: cached like any other.
  clock_.Advance(std::chrono::seconds(30));
  EXPECT_EQ(GetJson("/api/v1/cluster/consistency")["age_seconds"], 30);
  EXPECT_EQ(etcd_.calls().status, 6);
}

// Without an etcd connection the consistency check is 501, saying why.
TEST_F(ApiTest, ConsistencyWithoutEtcdIs501) {
  Build(/*with_benchmark=*/true, /*with_etcd=*/false);
  ApiResponse r = Get("/api/v1/cluster/consistency");
  ExpectError(r, 501);
  EXPECT_NE(Message(r).find("--endpoints"), std::string::npos) << r.Body();
}

// An EtcdClient whose GetStatus waits until the test opens the gate, counting the calls that
// reached it: a consistency check that takes as long as the test wants.
class GatedEtcdClient final : public testing::ForwardingEtcdClient {
 public:
  using ForwardingEtcdClient::ForwardingEtcdClient;

  Result<etcd::EndpointStatus> GetStatus(const std::string& endpoint) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
    }
    return ForwardingEtcdClient::GetStatus(endpoint);
  }

  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  int entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }
  void SetOpen(bool open) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = open;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;    // guarded by mu_
  bool open_ = false;  // guarded by mu_
};

// A slow check holds no request: the request that starts it waits at most --consistency-wait
// (fake time), then gets 503 with Retry-After while there is no result yet; requests that find
// it running answer at once (so a hung member ties up one HTTP thread, not all), with the previous
// result (check_in_progress) once there is one. Concurrent requests never start a second check.
TEST_F(ApiTest, ConsistencyRequestsWaitBoundedAndShareOneCheck) {
  testing::FakeEtcdClient one({"a:1"});
  etcd::EndpointStatus status;
  status.member_id = 1;
  status.revision = 5;
  one.SetStatus("a:1", status);
  etcd::HashKVResult hash;
  hash.hash = 42;
  one.SetHashKV("a:1", hash);
  GatedEtcdClient gated(one);
  config_.consistency_wait = std::chrono::seconds(5);
  Build(/*with_benchmark=*/true, /*with_etcd=*/true, &gated);
  const std::string url = "/api/v1/cluster/consistency";

  // The first request starts the check and waits for it; the others find it running and answer
  // without waiting (the fake clock does not move for them).
  auto first = std::async(std::launch::async, [&] { return Get(url); });
  gated.WaitEntered(1);
  for (int i = 0; i < 4; ++i) {
    ApiResponse other = Get(url);
    ExpectError(other, 503);
    EXPECT_EQ(other.retry_after_seconds, 5);
  }
  // The first waits until 5 s (fake) after it arrived.
  while (first.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
    clock_.Advance(std::chrono::seconds(5));
  }
  ApiResponse busy = first.get();
  ExpectError(busy, 503);
  EXPECT_EQ(busy.retry_after_seconds, 5);
  EXPECT_NE(Message(busy).find("in progress"), std::string::npos) << busy.Body();
  EXPECT_EQ(gated.entered(), 1) << "one check, however many requests";

  // The check finishes: its result is served (without a new check).
  gated.SetOpen(true);
  // Until the check's thread has published, a request finds it running and answers 503 at once.
  ApiResponse done;
  ASSERT_TRUE(etcdmon::testing::WaitFor([&] {
    done = Get(url);
    return done.status == 200;
  })) << done.Body();
  EXPECT_EQ(Parse(done)["verdict"], "consistent");
  EXPECT_EQ(gated.entered(), 1);

  // 60 s later the next request starts a new check; while it runs, the previous result is
  // served with its age.
  gated.SetOpen(false);
  clock_.Advance(std::chrono::seconds(61));
  auto stale = std::async(std::launch::async, [&] { return Get(url); });
  gated.WaitEntered(2);
  while (stale.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
    clock_.Advance(std::chrono::seconds(5));
  }
  ApiResponse previous = stale.get();
  ASSERT_EQ(previous.status, 200) << previous.Body();
  EXPECT_EQ(Parse(previous)["check_in_progress"], true);
  EXPECT_GE(Parse(previous)["age_seconds"].get<int64_t>(), 66);
  EXPECT_EQ(gated.entered(), 2);
  gated.SetOpen(true);  // lets the check finish; the Api joins it before `gated` goes
  api_.reset();
}

// Unknown paths, wrong methods (with Allow) and bad queries are JSON errors.
TEST_F(ApiTest, UnknownPathWrongMethodBadQueryAreJsonErrors) {
  Publish(ThreeMemberSnapshot());
  struct Case {
    std::string_view method;
    std::string_view target;
    int status;
    std::string_view allow;  // for 405
  };
  const Case cases[] = {
      {"GET", "/api/v1/nothing", 404, ""},
      {"GET", "/api/v2/cluster/status", 404, ""},
      {"DELETE", "/api/v1/cluster/status", 405, "GET"},
      {"POST", "/metrics", 405, "GET"},
      {"PUT", "/api/v1/performance/benchmark", 405, "POST, GET"},
      {"POST", "/api/v1/cluster/consistency", 405, "GET"},
      {"GET", "/api/v1/cluster/consistency?now=1", 400, ""},
      {"GET", "/api/v1/performance/benchmark?limit=1", 400, ""},
      {"GET", "/api/v1/cluster/status?verbose=1", 400, ""},
      {"GET", "/api/v1/cluster/status?x=%zz", 400, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + std::string(c.target));
    ApiResponse r = Call(c.method, c.target, c.method == "GET" ? "" : "{}");
    ExpectError(r, c.status);
    EXPECT_EQ(r.allow, c.allow);
  }
  EXPECT_EQ(Get("/api/v1/cluster/status").status, 200);
  EXPECT_EQ(Get("/api/v1/cluster/status/").status, 200) << "a trailing slash is the same path";
}

// Before the first snapshot the snapshot endpoints are 503 and /health says why; once one is
// published they answer.
TEST_F(ApiTest, NoDataYetIs503AndHealthSaysWhy) {
  ExpectError(Get("/api/v1/cluster/status"), 503);
  ExpectError(Get("/api/v1/metrics/latency"), 503);
  detail::DependencyState deps;
  deps.aggregator_checked = true;
  deps.aggregator_ok = true;
  deps.aggregator_detail = "ticking";
  deps.alerter_checked = true;
  deps.alerter_ok = true;
  deps.last_snapshot_error = "aggregator GetSnapshot: no snapshot yet";
  api_->SetDependencies(deps);
  ApiResponse health = Get("/health");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(Parse(health)["checks"]["aggregator"]["ok"], true);
  EXPECT_EQ(Parse(health)["checks"]["data"]["ok"], false);
  EXPECT_NE(Parse(health)["checks"]["data"]["detail"].get<std::string>().find("no snapshot"),
            std::string::npos);
  // Data arrives: the endpoints answer.
  Publish(ThreeMemberSnapshot());
  EXPECT_EQ(Get("/api/v1/cluster/status").status, 200);
}

// /health before the refresher has checked anything: not ok, "not checked yet".
TEST_F(ApiTest, HealthBeforeAnyCheck) {
  ApiResponse health = Get("/health");
  EXPECT_EQ(health.status, 503);
  json j = Parse(health);
  EXPECT_EQ(j["status"], "unavailable");
  EXPECT_EQ(j["checks"]["gateway"]["ok"], true);
  EXPECT_EQ(j["checks"]["aggregator"]["ok"], false);
  EXPECT_EQ(j["checks"]["aggregator"]["detail"], "not checked yet");
  EXPECT_EQ(j["checks"]["alerter"]["detail"], "not checked yet");
}

// Data older than stale_after (30s by default) makes /health 503; a fresh snapshot makes it 200.
TEST_F(ApiTest, HealthReportsStaleData) {
  ServicesUp();
  Publish(ThreeMemberSnapshot());
  clock_.SetNow(AtUnixMs(kTick + 60000));
  ApiResponse health = Get("/health");
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(Parse(health)["status"], "unavailable");
  EXPECT_EQ(Parse(health)["checks"]["data"]["ok"], false);
  EXPECT_EQ(Parse(health)["checks"]["aggregator"]["ok"], true);
  EXPECT_EQ(Parse(health)["checks"]["alerter"]["ok"], true);
  EXPECT_EQ(Parse(health)["checks"]["gateway"]["ok"], true);

  v1::ClusterSnapshot fresh = ThreeMemberSnapshot();
  fresh.set_tick_unix_ms(UnixMs(clock_.Now()));
  Publish(fresh);
  health = Get("/health");
  EXPECT_EQ(health.status, 200) << health.Body();
  EXPECT_EQ(Parse(health)["status"], "ok");
  EXPECT_EQ(Parse(health)["time"], "2024-05-01T10:01:00.000Z");
}

// Fresh data, every service up, but the aggregator's history writes fail (a full data disk):
// 503 "degraded", the storage check says why; once the writes succeed again it is ok.
TEST_F(ApiTest, HealthIsDegradedWhileStorageFails) {
  ServicesUp();
  v1::ClusterSnapshot failing = ThreeMemberSnapshot();
  failing.mutable_storage()->set_failing(true);
  failing.mutable_storage()->set_failures_total(4321);
  failing.mutable_storage()->set_last_error("database or disk is full");
  failing.mutable_storage()->set_last_failure_unix_ms(kTick);
  Publish(failing);
  ApiResponse health = Get("/health");
  EXPECT_EQ(health.status, 503) << health.Body();
  json j = Parse(health);
  EXPECT_EQ(j["status"], "degraded");
  EXPECT_EQ(j["checks"]["data"]["ok"], true);
  EXPECT_EQ(j["checks"]["storage"]["ok"], false);
  EXPECT_EQ(j["checks"]["storage"]["failures_total"], 4321);
  EXPECT_NE(j["checks"]["storage"]["detail"].get<std::string>().find("database or disk is full"),
            std::string::npos)
      << health.Body();

  v1::ClusterSnapshot recovered = failing;
  recovered.mutable_storage()->set_failing(false);
  Publish(recovered);
  health = Get("/health");
  EXPECT_EQ(health.status, 200) << health.Body();
  EXPECT_EQ(Parse(health)["status"], "ok");
  EXPECT_EQ(Parse(health)["checks"]["storage"]["ok"], true);
}

// The data is fresh up to stale_after old, stale beyond it.
TEST_F(ApiTest, StaleAfterIsInclusive) {
  ServicesUp();
  Publish(ThreeMemberSnapshot());
  struct Case {
    int64_t age_ms;
    int status;
  };
  const Case cases[] = {{0, 200}, {29999, 200}, {30000, 200}, {30001, 503}, {3600000, 503}};
  for (const Case& c : cases) {
    clock_.SetNow(AtUnixMs(kTick + c.age_ms));
    ApiResponse health = Get("/health");
    EXPECT_EQ(health.status, c.status) << "age " << c.age_ms << "ms: " << health.Body();
    EXPECT_EQ(Parse(health)["checks"]["data"]["age_seconds"], c.age_ms / 1000.0);
  }
}

// A snapshot that carries its tick is stale once older than 3 ticks, whatever stale_after says:
// /health is 503 with "stale" and since when.
TEST_F(ApiTest, SnapshotOlderThanThreeTicksMakesHealthStale) {
  ServicesUp();
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  s.set_tick_interval_ms(1000);
  Publish(s);
  clock_.SetNow(AtUnixMs(kTick + 3000));
  ApiResponse health = Get("/health");
  EXPECT_EQ(health.status, 200) << health.Body();
  EXPECT_EQ(Parse(health)["stale"], false);
  clock_.SetNow(AtUnixMs(kTick + 3001));
  health = Get("/health");
  EXPECT_EQ(health.status, 503) << health.Body();
  EXPECT_EQ(Parse(health)["stale"], true);
  EXPECT_EQ(Parse(health)["checks"]["data"]["stale"], true);
  EXPECT_EQ(Parse(health)["checks"]["data"]["stale_since"], "2024-05-01T10:00:03.000Z");
}

// Fresh data, every service up, but no etcd member answers: not ok (503, "unavailable"), and the
// etcd check says why; once one member answers it is ok again.
TEST_F(ApiTest, HealthIsUnavailableWhenNoMemberAnswers) {
  ServicesUp();
  v1::ClusterSnapshot none;
  none.set_cluster("default");
  none.set_tick_unix_ms(UnixMs(clock_.Now()));
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
  Publish(none);
  ApiResponse health = Get("/health");
  EXPECT_EQ(health.status, 503) << health.Body();
  json j = Parse(health);
  EXPECT_EQ(j["checks"]["data"]["ok"], true);
  EXPECT_EQ(j["status"], "unavailable");
  EXPECT_EQ(j["checks"]["etcd"]["ok"], false);
  EXPECT_EQ(j["checks"]["etcd"]["detail"],
            "no etcd member answers: 0 of 1 reachable (localhost:1: connection refused)");
  // The member is labelled by its endpoint.
  json members = GetJson("/api/v1/cluster/members");
  ASSERT_EQ(members["members"].size(), 1u);
  EXPECT_EQ(members["members"][0]["label"], "localhost:1");

  // One of three answers: ok.
  v1::ClusterSnapshot one = ThreeMemberSnapshot();
  one.set_tick_unix_ms(UnixMs(clock_.Now()));
  for (int i = 1; i < 3; ++i) {
    one.mutable_members(i)->set_health(v1::UNREACHABLE);
    one.mutable_members(i)->set_reachable(false);
  }
  Publish(one);
  health = Get("/health");
  EXPECT_EQ(health.status, 200) << health.Body();
  EXPECT_EQ(Parse(health)["checks"]["etcd"]["ok"], true);
  EXPECT_EQ(Parse(health)["checks"]["etcd"]["detail"], "1 of 3 members answer");
}

// Members that stopped answering, or never did: unknown figures are null, marked stale as of
// their last answer, and /metrics exports none of their gauges as current.
TEST_F(ApiTest, MembersThatDoNotAnswerShowUnknownAndStale) {
  Publish(OneStoppedOneNeverAnswered());
  ApiResponse r = Get("/api/v1/cluster/members");
  ASSERT_EQ(r.status, 200);
  json members = Parse(r);
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

  json status = GetJson("/api/v1/cluster/status");
  EXPECT_EQ(status["state"], "degraded");
  EXPECT_EQ(status["degraded"], true);
  EXPECT_EQ(status["healthy"], true);

  json latency = GetJson("/api/v1/metrics/latency");
  ASSERT_EQ(latency["members"].size(), 3u);
  EXPECT_EQ(latency["members"][0]["figures_stale"], true);
  EXPECT_EQ(latency["members"][0]["figures_as_of"], "2024-05-01T09:59:30.000Z");
  EXPECT_EQ(latency["members"][1]["figures_stale"], false);

  // The leader's JSON is a member's JSON.
  json leader = GetJson("/api/v1/cluster/leader");
  EXPECT_EQ(leader["leader"]["raft_term"], 7);
  EXPECT_EQ(leader["leader"]["figures_stale"], false);

  // /metrics: the members that do not answer are up 0, with their counters, and no gauge.
  ApiResponse metrics = Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics.Body();
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

// The dashboard is HTML that reads the REST API.
TEST_F(ApiTest, DashboardIsHtmlUsingTheApi) {
  ApiResponse r = Get("/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.Body().find("api/v1/cluster/status"), std::string::npos);
  EXPECT_NE(r.Body().find("api/v1/alerts"), std::string::npos);
}

// Every request is counted.
TEST_F(ApiTest, CountsRequests) {
  EXPECT_EQ(api_->requests(), 0u);
  Get("/health");
  Get("/nowhere");
  EXPECT_EQ(api_->requests(), 2u);
}

}  // namespace
}  // namespace etcdmon::gateway
