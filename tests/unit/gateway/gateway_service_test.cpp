// The gateway as a server (Pistache on 127.0.0.1, port 0) against fake backends: what needs
// the real server and its refresher. The HTTP adapter's headers and limits, the refresher
// polling the services and taking snapshots, /metrics with the gateway's own counters through
// promtool, the lifecycle. The API's own behaviour is tested through Api::Handle in api_test.cpp.

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/gateway/gateway.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/temp_dir.h"
#include "fake_backends.h"

namespace etcdmon::gateway {
namespace {

using etcdmon::testing::WaitFor;
using nlohmann::json;

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

// Runs promtool check metrics on the exposition `text` (its files in `dir`) and fails the calling
// test on a parse error or on any complaint but the lint rules the quickstart's names break on
// purpose: the unit of the *_milliseconds names (the lint wants seconds) and the "_count" suffix
// of etcd_cluster_member_count.
void ExpectPromtoolAccepts(const std::string& text, const std::string& dir) {
  auto [rc, output] = Promtool(text, dir);
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
    config.benchmark_token = config::Secret(kBenchmarkToken);
    config.max_body_bytes = 1024;
    config.refresh_interval = std::chrono::milliseconds(50);
    config.max_benchmark_ops = 5000;
    GatewayBackends backends;
    backends.monitor = &monitor_;
    backends.alerts = &alerts_;
    backends.etcd_clusters["prod"].benchmark = with_benchmark ? &benchmark_ : nullptr;
    auto logger = spdlog::default_logger()->clone("gateway-test");
    logger->set_level(spdlog::level::warn);
    auto service = GatewayService::Create(config, backends, logger, clock_);
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

  // /health's freshness and the snapshot age on /metrics follow this clock; the refresher's
  // schedule runs in real time.
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(kTick))};
  FakeMonitor monitor_;
  FakeAlerts alerts_;
  FakeBenchmark benchmark_;
  std::unique_ptr<GatewayService> service_;
  std::string base_;
};

// The HTTP adapter sends what Api::Handle answered: status, content type, and the
// WWW-Authenticate, Location and Allow headers.
TEST_F(GatewayServiceTest, ServesTheApiWithItsHeaders) {
  Start();
  HttpResult status = Http("GET", base_ + "/api/v1/cluster/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_NE(status.headers.find("application/json"), std::string::npos);
  EXPECT_EQ(status.Json()["member_count"], 3);

  const std::string url = base_ + "/api/v1/performance/benchmark";
  const std::string body = R"({"type":"mixed","ops":1000,"clients":4,"value_size":64})";
  HttpResult no_token = Http("POST", url, body);
  ExpectError(no_token, 401);
  EXPECT_NE(no_token.headers.find("WWW-Authenticate: Bearer"), std::string::npos);
  HttpResult started = Http("POST", url, body, "Bearer " + kBenchmarkToken);
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_NE(started.headers.find("Location: /api/v1/performance/benchmark/bench-1"),
            std::string::npos);
  HttpResult progress = Http("GET", url + "/bench-1");
  ASSERT_EQ(progress.status, 200);
  ExpectError(Http("GET", url + "/..%2Fetc"), 404);

  HttpResult wrong = Http("DELETE", base_ + "/api/v1/cluster/status");
  ExpectError(wrong, 405);
  EXPECT_NE(wrong.headers.find("Allow: GET"), std::string::npos);
  HttpResult put = Http("PUT", base_ + "/api/v1/alerts/silences", "{}");
  ExpectError(put, 405);
  EXPECT_NE(put.headers.find("Allow: GET, POST"), std::string::npos) << put.headers;
  ExpectError(Http("GET", base_ + "/api/v1/cluster/status?x=%zz"), 400);

  HttpResult dashboard = Http("GET", base_ + "/");
  ASSERT_EQ(dashboard.status, 200);
  EXPECT_NE(dashboard.headers.find("text/html"), std::string::npos);
}

// DELETE /api/v1/alerts/silences/{id} through the real server (request guard, Pistache): 401
// with WWW-Authenticate without the token, 200 with the expired silence's JSON, 404 for an
// unknown id, 400 for a malformed one; the listing answers ?state=all. The connection serves
// requests after each DELETE.
TEST_F(GatewayServiceTest, ExpiresASilenceOverHttp) {
  Start();
  const std::string url = base_ + "/api/v1/alerts/silences/0123456789abcdef";
  HttpResult no_token = Http("DELETE", url);
  ExpectError(no_token, 401);
  EXPECT_NE(no_token.headers.find("WWW-Authenticate: Bearer"), std::string::npos);
  HttpResult expired = Http("DELETE", url, "", "Bearer " + kToken);
  ASSERT_EQ(expired.status, 200) << expired.body;
  EXPECT_NE(expired.headers.find("application/json"), std::string::npos);
  EXPECT_EQ(expired.Json()["id"], "0123456789abcdef");
  EXPECT_EQ(expired.Json()["state"], "expired");
  EXPECT_EQ(expired.Json()["expires_at"], "2024-05-01T10:00:00.000Z");
  ExpectError(
      Http("DELETE", base_ + "/api/v1/alerts/silences/fedcba9876543210", "", "Bearer " + kToken),
      404);
  ExpectError(Http("DELETE", base_ + "/api/v1/alerts/silences/a.b", "", "Bearer " + kToken), 400);
  HttpResult wrong = Http("PUT", url, "{}");
  ExpectError(wrong, 405);
  EXPECT_NE(wrong.headers.find("Allow: DELETE"), std::string::npos) << wrong.headers;
  EXPECT_EQ(alerts_.ExpiredIds(),
            (std::vector<std::string>{"0123456789abcdef", "fedcba9876543210"}));

  HttpResult all = Http("GET", base_ + "/api/v1/alerts/silences?state=all");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.Json()["silences"].size(), 2u) << all.body;
}

// A body larger than the whole-request limit is refused by the HTTP layer (413), and the
// server keeps serving.
TEST_F(GatewayServiceTest, RequestOverTheServerLimitIs413) {
  Start();
  HttpResult huge = Http("POST", base_ + "/api/v1/performance/benchmark",
                         std::string(2 * 1024 * 1024, 'x'), "Bearer " + kToken);
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(Http("GET", base_ + "/api/v1/cluster/status").status, 200);
}

// Before the aggregator has a snapshot the endpoints are 503 and /health says why (the
// refresher has checked the aggregator); the refresher keeps polling and serves the snapshot
// once there is one.
TEST_F(GatewayServiceTest, RefresherPollsUntilDataArrives) {
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

// The refresher checks the aggregator and the alerter for /health, and replaces a stale
// snapshot with a fresh one.
TEST_F(GatewayServiceTest, RefresherChecksServicesAndTakesFreshSnapshots) {
  clock_.SetNow(std::chrono::system_clock::time_point(std::chrono::milliseconds(kTick + 60000)));
  Start();
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
  fresh.set_tick_unix_ms(kTick + 60000);
  monitor_.SetSnapshot(fresh);
  EXPECT_TRUE(WaitFor([&] { return Http("GET", base_ + "/health").status == 200; }))
      << Http("GET", base_ + "/health").body;
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
// Only the complaints about the quickstart's names are accepted (ExpectPromtoolAccepts).
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
  ASSERT_NO_FATAL_FAILURE(ExpectPromtoolAccepts(text, dir.path()));
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

namespace etcdmon::gateway {
namespace {

// A dead aggregator's last snapshot: once older than 3 of its ticks (the clock is moved, nothing
// sleeps) the status says stale and not healthy, /health answers 503 saying since when, and
// /metrics drops the snapshot's values, keeping its age and etcd_monitor_snapshot_stale 1.
TEST_F(GatewayServiceTest, SnapshotOlderThanThreeTicksIsReportedStale) {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  s.set_tick_interval_ms(1000);
  monitor_.SetSnapshot(s);
  clock_.SetNow(std::chrono::system_clock::time_point(std::chrono::milliseconds(kTick + 2000)));
  Start(/*with_snapshot=*/false);
  ASSERT_TRUE(WaitFor([&] { return Http("GET", base_ + "/api/v1/cluster/status").status == 200; }));
  json status = Http("GET", base_ + "/api/v1/cluster/status").Json();
  EXPECT_EQ(status["stale"], false);
  EXPECT_EQ(status["state"], "healthy");
  EXPECT_EQ(Http("GET", base_ + "/health").status, 200);
  ASSERT_TRUE(WaitFor([&] {
    return Http("GET", base_ + "/metrics")
               .body.find("etcd_monitor_snapshot_stale{cluster=\"prod\"} 0") != std::string::npos;
  }));
  EXPECT_NE(Http("GET", base_ + "/metrics").body.find("member=\"etcd-1\""), std::string::npos);

  clock_.SetNow(std::chrono::system_clock::time_point(std::chrono::milliseconds(kTick + 3001)));
  ASSERT_TRUE(WaitFor(
      [&] { return Http("GET", base_ + "/api/v1/cluster/status").Json().value("stale", false); }));
  status = Http("GET", base_ + "/api/v1/cluster/status").Json();
  EXPECT_EQ(status["state"], "stale");
  EXPECT_EQ(status["healthy"], false);
  EXPECT_EQ(status["stale_since"], "2024-05-01T10:00:03.000Z");
  EXPECT_NE(status["health_reason"].get<std::string>().find("stale"), std::string::npos);

  const HttpResult health = Http("GET", base_ + "/health");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_EQ(health.Json()["stale"], true) << health.body;
  EXPECT_EQ(health.Json()["checks"]["data"]["stale_since"], "2024-05-01T10:00:03.000Z");

  ASSERT_TRUE(WaitFor([&] {
    return Http("GET", base_ + "/metrics")
               .body.find("etcd_monitor_snapshot_stale{cluster=\"prod\"} 1") != std::string::npos;
  }));
  const std::string metrics = Http("GET", base_ + "/metrics").body;
  EXPECT_EQ(metrics.find("member=\"etcd-1\""), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("etcd_monitor_snapshot_age_seconds{cluster=\"prod\"} 3.001"),
            std::string::npos)
      << metrics;
}

// The aggregator's stream: snapshots queued by the test, delivered in order.
class FakeFeed final : public SnapshotFeed {
 public:
  void Push(v1::ClusterSnapshot s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(s));
    }
    ready_.notify_all();
  }
  Result<bool> Next(v1::ClusterSnapshot& out, std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (!ready_.wait_for(lock, timeout, [&] { return !queue_.empty(); })) {
      return false;
    }
    out = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<v1::ClusterSnapshot> queue_;
};

v1::ClusterSnapshot At(const std::string& cluster, int64_t tick) {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  s.set_cluster(cluster);
  s.set_tick_unix_ms(tick);
  s.set_tick_interval_ms(1000);
  return s;
}

class FleetServiceTest : public ::testing::Test {
 protected:
  void Start(SnapshotFeed* feed) {
    GatewayConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.refresh_interval = std::chrono::milliseconds(50);
    GatewayBackends backends;
    backends.monitor = &monitor_;
    backends.alerts = &alerts_;
    backends.feed = feed;
    auto logger = spdlog::default_logger()->clone("gateway-fleet-test");
    logger->set_level(spdlog::level::err);
    auto service = GatewayService::Create(config, backends, logger, clock_);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    ASSERT_TRUE(service_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(service_->port());
  }

  // The names in /api/v1/clusters, in its order.
  std::vector<std::string> Names() {
    std::vector<std::string> names;
    const json list = Http("GET", base_ + "/api/v1/clusters").Json();
    if (list.is_object()) {
      for (const json& c : list["clusters"]) {
        names.push_back(c["name"]);
      }
    }
    return names;
  }

  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(kTick + 2000))};
  FakeMonitor monitor_;
  FakeAlerts alerts_;
  FakeFeed feed_;  // outlives the service, which reads it until stopped
  std::unique_ptr<GatewayService> service_;
  std::string base_;
};

// The stream delivers one snapshot per cluster per tick, in order: the refresher drains it and
// keeps the newest of each cluster; the aggregator's list (a little older) does not undo that.
TEST_F(FleetServiceTest, FeedIsDrainedKeepingTheNewestOfEachCluster) {
  monitor_.AddSnapshot(At("prod", kTick));
  monitor_.AddSnapshot(At("staging", kTick));
  feed_.Push(At("prod", kTick + 1000));
  feed_.Push(At("staging", kTick + 1000));
  feed_.Push(At("prod", kTick + 2000));
  Start(&feed_);
  ASSERT_TRUE(WaitFor([&] {
    return Http("GET", base_ + "/api/v1/cluster/status?cluster=prod")
               .Json()
               .value("last_update", "") == "2024-05-01T10:00:02.000Z";
  }));
  EXPECT_EQ(Names(), (std::vector<std::string>{"prod", "staging"}));
  EXPECT_EQ(Http("GET", base_ + "/api/v1/cluster/status?cluster=staging").Json()["last_update"],
            "2024-05-01T10:00:01.000Z");
  EXPECT_EQ(service_->Stats().snapshots_received, 3u);
  // Several clusters: a request must name one.
  EXPECT_EQ(Http("GET", base_ + "/api/v1/cluster/status").status, 400);
  // A new cluster (which the aggregator lists too, or the next poll would forget it) appears.
  monitor_.AddSnapshot(At("dev", kTick + 2000));
  feed_.Push(At("dev", kTick + 2000));
  ASSERT_TRUE(WaitFor([&] { return Names().size() == 3; }));
  EXPECT_EQ(service_->Stats().snapshots_received, 4u) << "taken once, from either path";
}

// A cluster the aggregator no longer lists is forgotten; with one left, requests need no name.
TEST_F(FleetServiceTest, ClusterTheAggregatorNoLongerListsIsForgotten) {
  monitor_.AddSnapshot(At("prod", kTick + 1000));
  monitor_.AddSnapshot(At("staging", kTick + 1000));
  v1::AlertRecord firing;
  firing.set_cluster("staging");
  firing.set_state("firing");
  firing.set_severity("critical");
  alerts_.SetAlerts({firing});
  Start(/*feed=*/nullptr);
  ASSERT_TRUE(WaitFor([&] { return Names().size() == 2; }));
  const json list = Http("GET", base_ + "/api/v1/clusters").Json();
  // Same state: more critical alerts first.
  EXPECT_EQ(list["clusters"][0]["name"], "staging") << list;
  EXPECT_EQ(list["clusters"][0]["alerts_firing"]["critical"], 1) << list;
  EXPECT_EQ(list["clusters"][1]["alerts_firing"]["critical"], 0) << list;
  EXPECT_EQ(alerts_.LastAlertsCluster(), "") << "one call for every cluster's alerts";

  monitor_.RemoveCluster("staging");
  ASSERT_TRUE(WaitFor([&] { return Names() == std::vector<std::string>{"prod"}; }));
  const HttpResult status = Http("GET", base_ + "/api/v1/cluster/status");
  EXPECT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(Http("GET", base_ + "/api/v1/cluster/status?cluster=staging").status, 404);
  const std::string metrics = Http("GET", base_ + "/metrics").body;
  EXPECT_EQ(metrics.find("cluster=\"staging\""), std::string::npos) << metrics;
}

// With the stream, the clusters are listed every 30 s, and at once when a cluster the gateway
// did not keep reports: the default cluster, which the aggregator drops when a fleet's named
// clusters come, goes from the list with it (not up to 30 s later). The stream delivers all
// along, as an aggregator's does every tick: while it is silent the gateway lists the clusters
// at every refresh anyway.
TEST_F(FleetServiceTest, ANewClusterListsTheClustersAgainAtOnce) {
  int64_t tick = kTick + 1000;
  auto streaming = [&](const std::string& cluster, const std::vector<std::string>& listed) {
    feed_.Push(At(cluster, tick += 1000));
    return Names() == listed;
  };
  monitor_.AddSnapshot(At("default", tick));
  Start(&feed_);
  ASSERT_TRUE(WaitFor([&] { return streaming("default", {"default"}); }));
  monitor_.RemoveCluster("default");
  monitor_.AddSnapshot(At("prod", tick));
  EXPECT_TRUE(WaitFor([&] { return streaming("prod", {"prod"}); }, std::chrono::seconds(10)))
      << ::testing::PrintToString(Names());
}

// At most kMaxClusters are kept: the snapshots of more are dropped, not grown into.
TEST_F(FleetServiceTest, KeepsAtMostAThousandClusters) {
  for (size_t i = 0; i <= kMaxClusters; ++i) {
    char name[16];
    std::snprintf(name, sizeof(name), "c%04zu", i);
    v1::ClusterSnapshot s = At(name, kTick + 1000);
    s.clear_members();  // light: the test is about the count
    s.clear_collectors();
    monitor_.AddSnapshot(std::move(s));
  }
  Start(/*feed=*/nullptr);
  ASSERT_TRUE(WaitFor([&] {
    return Http("GET", base_ + "/api/v1/clusters").Json().value("count", 0) ==
           static_cast<int>(kMaxClusters);
  }));
  EXPECT_EQ(Http("GET", base_ + "/api/v1/cluster/status?cluster=c0999").status, 200);
  EXPECT_EQ(Http("GET", base_ + "/api/v1/cluster/status?cluster=c1000").status, 404);
  EXPECT_EQ(service_->Stats().snapshots_received, kMaxClusters);
}

// promtool over two clusters and the remote_write figures: the same complaints only as for one
// cluster (the quickstart's names), so the families are well formed across clusters.
TEST_F(FleetServiceTest, PromtoolAcceptsTheFleetExposition) {
  ASSERT_TRUE(OnPath("promtool")) << "promtool not found: install Debian's prometheus package";
  monitor_.AddSnapshot(At("prod", kTick + 1000));
  v1::ClusterSnapshot staging = At("staging", kTick + 1000);
  staging.mutable_remote_write()->set_samples_sent_total(10);
  staging.mutable_remote_write()->set_last_success_unix_ms(kTick);
  staging.set_identity_conflicts_total(2);
  monitor_.AddSnapshot(staging);
  Start(/*feed=*/nullptr);
  // A request first, so the gateway's own counters have series too.
  ASSERT_TRUE(WaitFor(
      [&] { return Http("GET", base_ + "/api/v1/cluster/status?cluster=prod").status == 200; }));
  std::string text;
  ASSERT_TRUE(WaitFor([&] {
    text = Http("GET", base_ + "/metrics").body;
    return text.find("etcd_monitor_gateway_http_requests_total{") != std::string::npos &&
           text.find("etcd_monitor_remote_write_samples_sent_total 10") != std::string::npos;
  }));
  EXPECT_NE(text.find("etcd_monitor_cluster_identity_conflicts_total{cluster=\"staging\"} 2"),
            std::string::npos);
  testing::TempDir dir;
  ExpectPromtoolAccepts(text, dir.path());
}

}  // namespace
}  // namespace etcdmon::gateway
