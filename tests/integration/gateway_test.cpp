// The gateway in the running product: a real 3-member etcd cluster, one collector process per
// member, an aggregator process and a gateway process, all on free loopback ports. Every endpoint
// is read over HTTP and compared with what the members say.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::gateway {
namespace {

using etcdmon::testing::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;

using etcdmon::testing::Http;
using etcdmon::testing::HttpResult;

// Three members shared by the suite, and the product's processes on them: an aggregator, a
// collector per member, the gateway.
class GatewayProductTest : public testing::EtcdClusterSuite<GatewayProductTest> {
 public:
  static void SetUpTestSuite() {
    EtcdClusterSuite::SetUpTestSuite();
    if (!start_error().empty()) {
      return;  // every case fails in SetUp with the reason
    }
    auto ports = testing::PickFreeLoopbackPorts(4);
    ASSERT_TRUE(ports.ok());
    const std::string dir = cluster().Dir();
    const std::string ingest = "tcp://127.0.0.1:" + std::to_string(ports->at(0));
    const std::string publish = "tcp://127.0.0.1:" + std::to_string(ports->at(1));
    const std::string grpc = "127.0.0.1:" + std::to_string(ports->at(2));
    base_ = new std::string("http://127.0.0.1:" + std::to_string(ports->at(3)));
    processes_ = new std::vector<std::unique_ptr<testing::ChildProcess>>();
    processes_->push_back(std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{ETCDMON_AGGREGATOR_BINARY, "--listen=" + ingest,
                                 "--publish=" + publish, "--grpc-listen=" + grpc,
                                 "--db=" + dir + "/history.db", "--tick=200ms",
                                 "--metrics-interval=200ms", "--cluster=itest", "--log-level=warn"},
        dir + "/aggregator.log"));
    for (size_t i = 0; i < cluster().size(); ++i) {
      processes_->push_back(std::make_unique<testing::ChildProcess>(
          std::vector<std::string>{
              ETCDMON_COLLECTOR_BINARY, "--endpoints=" + cluster().ClientEndpoint(i),
              "--aggregator=" + ingest, "--collector-id=c" + std::to_string(i),
              "--metrics-interval=200ms", "--health-check-interval=1s",
              "--metrics-url=" + cluster().MetricsUrl(i),
              "--state-file=" + dir + "/c" + std::to_string(i) + ".seq", "--log-level=warn"},
          dir + "/collector" + std::to_string(i) + ".log"));
    }
    processes_->push_back(std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{ETCDMON_GATEWAY_BINARY, "--api-host=127.0.0.1",
                                 "--api-port=" + std::to_string(ports->at(3)),
                                 "--aggregator=" + grpc, "--alerter", "", "--snapshots=" + publish,
                                 "--endpoints=" + cluster().ClientEndpoint(0), "--log-level=warn"},
        dir + "/gateway.log",
        std::vector<std::string>{"API_TOKEN=itest-token", "BENCHMARK_TOKEN=itest-bench-token"}));
    ASSERT_TRUE(WaitFor(
        [] {
          json s = Http("GET", *base_ + "/api/v1/cluster/status").Json();
          return s.is_object() && s.value("member_count", 0) == 3 &&
                 s.value("healthy_members", 0) == 3 && s.value("has_leader", false);
        },
        60s))
        << "the gateway never showed a healthy 3-member cluster: "
        << Http("GET", *base_ + "/api/v1/cluster/status").body;
  }
  static void TearDownTestSuite() {
    delete processes_;  // stops the gateway, collectors and aggregator
    processes_ = nullptr;
    delete base_;
    base_ = nullptr;
    EtcdClusterSuite::TearDownTestSuite();
  }

 protected:
  static std::string* base_;
  static std::vector<std::unique_ptr<testing::ChildProcess>>* processes_;
};

std::string* GatewayProductTest::base_ = nullptr;
std::vector<std::unique_ptr<testing::ChildProcess>>* GatewayProductTest::processes_ = nullptr;

TEST_F(GatewayProductTest, StatusMembersAndLeaderEqualWhatTheMembersSay) {
  // What etcd itself says: the leader and the member names.
  auto out = cluster().Etcdctl({"endpoint", "status", "--cluster", "-w", "json"});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  json members_said = json::parse(*out);
  ASSERT_EQ(members_said.size(), 3u);
  char leader_hex[17];
  std::snprintf(
      leader_hex, sizeof(leader_hex), "%llx",
      static_cast<unsigned long long>(members_said[0]["Status"]["leader"].get<uint64_t>()));

  json status = Http("GET", *base_ + "/api/v1/cluster/status").Json();
  EXPECT_EQ(status["cluster"], "itest");
  EXPECT_EQ(status["member_count"], 3);
  EXPECT_EQ(status["quorum_size"], 2);
  EXPECT_EQ(status["quorum_ok"], true);
  EXPECT_EQ(status["healthy"], true);
  EXPECT_EQ(status["split_brain"]["detected"], false);
  EXPECT_EQ(status["leader"]["id"], leader_hex);
  EXPECT_TRUE(status["alarms"].empty());

  json members = Http("GET", *base_ + "/api/v1/cluster/members").Json();
  ASSERT_EQ(members["members"].size(), 3u);
  std::vector<std::string> names;
  for (const json& m : members["members"]) {
    names.push_back(m["name"]);
    EXPECT_EQ(m["health"], "healthy");
  }
  for (size_t i = 0; i < cluster().size(); ++i) {
    EXPECT_NE(std::find(names.begin(), names.end(), cluster().Name(i)), names.end());
  }
  json leader = Http("GET", *base_ + "/api/v1/cluster/leader").Json();
  EXPECT_EQ(leader["leader"]["id"], leader_hex);
  EXPECT_EQ(Http("GET", *base_ + "/api/v1/cluster/members/" + cluster().Name(0)).status, 200);
  EXPECT_EQ(Http("GET", *base_ + "/api/v1/cluster/members/ghost").status, 404);
}

TEST_F(GatewayProductTest, LatencyIsPositiveAndOrdered) {
  json latency;
  ASSERT_TRUE(WaitFor([&] {
    latency = Http("GET", *base_ + "/api/v1/metrics/latency").Json();
    return latency.is_object() && latency["read"].is_object() && latency["write"].is_object();
  }));
  for (const char* kind : {"read", "write"}) {
    const json& p = latency[kind];
    EXPECT_GT(p["p50_ms"].get<double>(), 0) << kind;
    EXPECT_LE(p["p50_ms"].get<double>(), p["p95_ms"].get<double>()) << kind;
    EXPECT_LE(p["p95_ms"].get<double>(), p["p99_ms"].get<double>()) << kind;
  }
  json current = Http("GET", *base_ + "/api/v1/metrics/current").Json();
  EXPECT_EQ(current["cluster_metrics"]["etcd_cluster_member_count"], 3);
  EXPECT_EQ(current["members"].size(), 3u);
}

TEST_F(GatewayProductTest, HistoryReturnsPointsAfterAFewTicks) {
  json history;
  ASSERT_TRUE(WaitFor([&] {
    history = Http("GET", *base_ +
                              "/api/v1/metrics/history?metric=etcd_cluster_member_count"
                              "&from=-5m")
                  .Json();
    return history.is_object() && history["points"].size() >= 3;
  })) << history.dump();
  for (const json& p : history["points"]) {
    EXPECT_EQ(p["value"], 3);
  }
  json list = Http("GET", *base_ + "/api/v1/metrics/history").Json();
  EXPECT_FALSE(list["metrics"].empty());
  json member = Http("GET", *base_ + "/api/v1/metrics/history?metric=etcd_member_up&member=" +
                                cluster().Name(1) + "&from=-5m")
                    .Json();
  EXPECT_EQ(member["member"], cluster().Name(1));
  EXPECT_EQ(Http("GET", *base_ + "/api/v1/metrics/history?metric=nope").status, 404);
  EXPECT_EQ(
      Http("GET", *base_ + "/api/v1/metrics/history?metric=etcd_member_up&member=ghost").status,
      404);
  EXPECT_EQ(
      Http("GET", *base_ + "/api/v1/metrics/history?metric=etcd_cluster_healthy&from=x").status,
      400);
}

TEST_F(GatewayProductTest, HealthMetricsAndErrorPaths) {
  EXPECT_TRUE(WaitFor([] { return Http("GET", *base_ + "/health").status == 200; }))
      << Http("GET", *base_ + "/health").body;
  HttpResult metrics = Http("GET", *base_ + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("etcd_cluster_member_count{cluster=\"itest\"} 3"), std::string::npos);
  EXPECT_NE(
      metrics.body.find("etcd_member_up{cluster=\"itest\",member=\"" + cluster().Name(0) + "\"} 1"),
      std::string::npos);
  // No alerter configured: alert endpoints say so.
  EXPECT_EQ(Http("GET", *base_ + "/api/v1/alerts").status, 503);
  // The benchmark: the token is checked first.
  const std::string url = *base_ + "/api/v1/performance/benchmark";
  EXPECT_EQ(Http("POST", url, R"({"ops":10})").status, 401);
  EXPECT_EQ(Http("POST", url, R"({"ops":10})", "Bearer wrong").status, 401);
  // The API (silence) token does not run benchmarks; the benchmark token does.
  EXPECT_EQ(Http("POST", url, R"({"ops":10})", "Bearer itest-token").status, 403);
  EXPECT_EQ(Http("POST", url, std::string(100 * 1024, ' '), "Bearer itest-bench-token").status,
            413);
  EXPECT_EQ(Http("DELETE", *base_ + "/api/v1/cluster/status").status, 405);
  EXPECT_EQ(Http("GET", *base_ + "/api/v1/unknown").status, 404);
  EXPECT_EQ(Http("GET", *base_ + "/api/v1/cluster/status?x=1").status, 400);
}

// The standalone gateway given --endpoints runs REST benchmarks itself, as the all-in-one does:
// an empty body is the default run (10,000 writes), and its figures reach /metrics although the
// aggregator never hears of it.
TEST_F(GatewayProductTest, RunsTheDefaultBenchmarkWithAnEmptyBody) {
  const std::string url = *base_ + "/api/v1/performance/benchmark";
  HttpResult started = Http("POST", url, "{}", "Bearer itest-bench-token");
  ASSERT_EQ(started.status, 202) << started.body;
  const json body = started.Json();
  EXPECT_EQ(body.value("ops", 0), 10000) << started.body;
  EXPECT_EQ(body.value("type", ""), "write") << started.body;
  const std::string id = body.value("id", "");
  ASSERT_FALSE(id.empty()) << started.body;
  // The list of runs shows the one just started, first.
  const json runs = Http("GET", url).Json();
  ASSERT_TRUE(runs.is_object() && runs["runs"].is_array() && !runs["runs"].empty()) << runs;
  EXPECT_EQ(runs["runs"][0].value("id", ""), id) << runs;
  EXPECT_EQ(runs["runs"][0].value("trigger", ""), "api") << runs;
  json run;
  ASSERT_TRUE(WaitFor(
      [&] {
        run = Http("GET", url + "/" + id).Json();
        return run.is_object() && run.value("state", "") != "running";
      },
      240s))
      << run.dump();
  EXPECT_EQ(run.value("state", ""), "done") << run.dump();
  EXPECT_EQ(run["result"].value("ops", 0), 10000) << run.dump();
  EXPECT_EQ(run["result"].value("failed", -1), 0) << run.dump();
  EXPECT_TRUE(run["result"].value("keys_deleted", false)) << run.dump();
  std::string metrics;
  EXPECT_TRUE(WaitFor([&] {
    metrics = Http("GET", *base_ + "/metrics").body;
    return metrics.find("etcd_benchmark_ops_per_second{cluster=\"itest\"}") != std::string::npos;
  })) << metrics;
}

// The standalone gateway given --endpoints checks consistency on its etcd connection: the one
// member it was given hashes its key space.
TEST_F(GatewayProductTest, ChecksConsistencyOnItsEtcdConnection) {
  HttpResult checked = Http("GET", *base_ + "/api/v1/cluster/consistency");
  ASSERT_EQ(checked.status, 200) << checked.body;
  const json report = checked.Json();
  EXPECT_EQ(report.value("verdict", ""), "consistent") << checked.body;
  ASSERT_EQ(report["endpoints"].size(), 1u) << checked.body;
  EXPECT_EQ(report["endpoints"][0].value("endpoint", ""), cluster().ClientEndpoint(0))
      << checked.body;
  EXPECT_TRUE(report["checked_at"].is_string()) << checked.body;
  EXPECT_EQ(Http("POST", *base_ + "/api/v1/cluster/consistency", "{}").status, 405);
}

}  // namespace
}  // namespace etcdmon::gateway
