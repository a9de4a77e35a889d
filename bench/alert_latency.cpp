// Alert latency: from the moment a 3-member cluster loses quorum (the second member is killed)
// to the moment a webhook receiver has the NoLeader notification, with the quickstart's kind of
// set-up at a 1 s interval (collectors, aggregator tick) and `for: 0s`. Five runs; prints each
// and the median.
//
//   cmake -S . -B build -DETCDMON_BUILD_BENCH=ON && ninja -C build alert_latency_bench
//   build/bench/alert_latency_bench [--runs=5] [--interval-ms=1000]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/alerter/channels.h"
#include "etcdmon/alerter/service.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/http_server.h"
#include "etcdmon/testing/monitor_stack.h"
#include "etcdmon/testing/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

bool WebhookHas(const etcdmon::testing::HttpServer& receiver, const std::string& alert,
                const std::string& kind) {
  for (const auto& r : receiver.requests()) {
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.value("alert", "") == alert && j.value("kind", "") == kind) {
      return true;
    }
  }
  return false;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "alert_latency_bench: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  int interval_ms = 1000;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--runs=", 7) == 0) runs = std::max(1, std::atoi(argv[i] + 7));
    if (std::strncmp(argv[i], "--interval-ms=", 14) == 0) {
      interval_ms = std::max(50, std::atoi(argv[i] + 14));
    }
  }
  const std::chrono::milliseconds interval(interval_ms);

  etcdmon::testing::EtcdClusterOptions options;
  options.members = 3;
  etcdmon::testing::EtcdCluster cluster(options);
  if (etcdmon::Status s = cluster.Start(); !s.ok()) return Fail(std::string(s.message()));
  etcdmon::testing::TempDir dir;
  etcdmon::testing::MonitorStack stack(cluster, dir.path(), interval);
  if (etcdmon::Status s = stack.StartAndWaitHealthy(120s); !s.ok()) {
    return Fail(std::string(s.message()));
  }

  std::vector<double> latencies_ms;
  for (int run = 0; run < runs; ++run) {
    etcdmon::testing::HttpServer webhook;
    webhook.Set("/hook",
                {etcdmon::testing::CannedResponse::Action::kRespond, 200, "text/plain", "ok"});
    if (!webhook.Start().ok()) return Fail("webhook receiver did not start");

    etcdmon::alerter::AlerterConfig config;
    config.snapshot_endpoint = stack.aggregator().publish_endpoint();
    config.grpc_address = "127.0.0.1:0";
    config.db_path = dir.File("alerts-" + std::to_string(run) + ".db");
    config.rules = etcdmon::alerter::RuleSet::Defaults(etcdmon::config::AlertThresholds{});
    if (!config.rules.ApplyText("defaults: {for: 0s}\n", "bench").ok()) return Fail("rules");
    etcdmon::alerter::ChannelConfig channels;
    channels.console = false;
    channels.webhook =
        etcdmon::alerter::WebhookConfig{etcdmon::config::Secret(webhook.Url("/hook")), {}, {}};
    auto notifiers =
        etcdmon::alerter::MakeNotifiers(channels, nullptr, etcdmon::SystemClock::Instance());
    if (!notifiers.ok()) return Fail(std::string(notifiers.status().message()));
    auto alerter = etcdmon::alerter::AlerterService::Create(
        std::move(config), std::move(notifiers).value(), etcdmon::testing::QuietLogger("alerter"));
    if (!alerter.ok() || !(*alerter)->Start().ok()) return Fail("alerter did not start");

    // One member down first (quorum still holds), then the second: quorum is lost at the kill.
    if (!cluster.Kill(1).ok()) return Fail("kill member 1");
    if (!stack.WaitForSnapshot(
            [](const etcdmonitor::v1::ClusterSnapshot& s) {
              return s.unreachable_members() == 1 && s.has_leader();
            },
            60s)) {
      return Fail("member 1 never seen down");
    }
    const Steady::time_point quorum_lost = Steady::now();
    if (!cluster.Kill(2).ok()) return Fail("kill member 2");
    const Steady::time_point deadline = quorum_lost + 60s;
    while (!WebhookHas(webhook, "NoLeader", "firing") && Steady::now() < deadline) {
      std::this_thread::sleep_for(2ms);
    }
    if (!WebhookHas(webhook, "NoLeader", "firing")) return Fail("NoLeader never arrived");
    const double ms =
        std::chrono::duration<double, std::milli>(Steady::now() - quorum_lost).count();
    latencies_ms.push_back(ms);
    std::printf("run %d: quorum lost -> NoLeader at the webhook in %.0f ms\n", run + 1, ms);
    std::fflush(stdout);

    (*alerter)->Stop();
    if (!cluster.Restart(1).ok() || !cluster.Restart(2).ok()) return Fail("restart members");
    if (!stack.WaitForSnapshot(
            [](const etcdmonitor::v1::ClusterSnapshot& s) {
              return s.healthy_members() == 3 && s.has_leader();
            },
            120s)) {
      return Fail("cluster never recovered");
    }
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::printf("median of %d runs: %.0f ms (interval %d ms, for: 0s; min %.0f, max %.0f)\n", runs,
              latencies_ms[latencies_ms.size() / 2], interval_ms, latencies_ms.front(),
              latencies_ms.back());
  return 0;
}
