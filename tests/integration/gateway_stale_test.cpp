// A dead aggregator's last snapshot is not served as current: a real aggregator and gateway
// process, the aggregator SIGKILLed, and within a bounded time the cluster status, /health and
// /metrics say the data is stale. No etcd is needed: the aggregator publishes a snapshot every
// tick with or without collectors.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::gateway {
namespace {

using etcdmon::testing::Http;
using etcdmon::testing::WaitFor;
using nlohmann::json;
using namespace std::chrono_literals;

TEST(GatewayStaleTest, KilledAggregatorIsReportedStaleByStatusHealthAndMetrics) {
  testing::TempDir dir;
  auto ports = testing::PickFreeLoopbackPorts(4);
  ASSERT_TRUE(ports.ok()) << ports.status().ToString();
  const std::string ingest = "tcp://127.0.0.1:" + std::to_string(ports->at(0));
  const std::string publish = "tcp://127.0.0.1:" + std::to_string(ports->at(1));
  const std::string grpc = "127.0.0.1:" + std::to_string(ports->at(2));
  const std::string base = "http://127.0.0.1:" + std::to_string(ports->at(3));
  auto aggregator = std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{ETCDMON_AGGREGATOR_BINARY, "--listen=" + ingest,
                               "--publish=" + publish, "--grpc-listen=" + grpc,
                               "--db=" + dir.path() + "/history.db", "--tick=200ms",
                               "--cluster=stale", "--log-level=warn"},
      dir.path() + "/aggregator.log");
  ASSERT_TRUE(aggregator->ok()) << aggregator->status().ToString();
  testing::ChildProcess gateway(
      std::vector<std::string>{ETCDMON_GATEWAY_BINARY, "--api-host=127.0.0.1",
                               "--api-port=" + std::to_string(ports->at(3)), "--aggregator=" + grpc,
                               "--alerter", "", "--snapshots=" + publish, "--log-level=warn"},
      dir.path() + "/gateway.log");
  ASSERT_TRUE(gateway.ok()) << gateway.status().ToString();

  // Live: snapshots every 200 ms, so the newest is never 3 ticks old.
  ASSERT_TRUE(WaitFor(
      [&] {
        json s = Http("GET", base + "/api/v1/cluster/status").Json();
        return s.is_object() && s.contains("stale") && s["stale"] == false;
      },
      30s))
      << Http("GET", base + "/api/v1/cluster/status").body << "\n"
      << testing::TailOfFile(dir.path() + "/gateway.log", 20);
  ASSERT_TRUE(WaitFor([&] {
    return Http("GET", base + "/metrics")
               .body.find("etcd_monitor_snapshot_stale{cluster=\"stale\"} 0") != std::string::npos;
  }));

  ASSERT_TRUE(aggregator->Stop(SIGKILL, 10s).ok());

  // 3 ticks are 600 ms; the gateway re-renders every second: well within 10 s.
  EXPECT_TRUE(WaitFor(
      [&] {
        json s = Http("GET", base + "/api/v1/cluster/status").Json();
        return s.is_object() && s.value("stale", false) && s.value("state", "") == "stale" &&
               !s.value("healthy", true) && s["stale_since"].is_string();
      },
      10s))
      << Http("GET", base + "/api/v1/cluster/status").body;
  EXPECT_TRUE(WaitFor(
      [&] {
        const testing::HttpResult h = Http("GET", base + "/health");
        return h.status == 503 && h.Json().value("stale", false);
      },
      10s))
      << Http("GET", base + "/health").body;
  EXPECT_TRUE(WaitFor(
      [&] {
        return Http("GET", base + "/metrics")
                   .body.find("etcd_monitor_snapshot_stale{cluster=\"stale\"} 1") !=
               std::string::npos;
      },
      10s))
      << Http("GET", base + "/metrics").body;
}

}  // namespace
}  // namespace etcdmon::gateway
