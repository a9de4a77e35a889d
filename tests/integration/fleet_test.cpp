// One monitor, two real etcd clusters (the suite's 3 members and a 1-member cluster of each
// case): the all-in-one given both with --cluster NAME=..., and the distributed services with
// collectors that name their cluster. Per cluster through REST: status, members, history and
// alerts; quorum loss in one cluster fires for that cluster only; a collector pointed at the
// wrong cluster is refused and raises ClusterIdentityConflict.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::Http;
using testing::WaitFor;

constexpr char kToken[] = "fleet-test-token";

// Alerts that fire within a second of their condition, so the test waits on the product, not
// on the rules' default `for`.
constexpr char kRules[] = R"(rules:
  NoLeader: {for: 1s}
  QuorumLost: {for: 1s}
  MemberUnavailable: {for: 1s}
)";

class FleetTest : public testing::EtcdClusterSuite<FleetTest> {
 protected:
  void SetUp() override {
    EtcdClusterSuite::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    testing::EtcdClusterOptions options;
    options.members = 1;
    solo_ = std::make_unique<testing::EtcdCluster>(options);
    ASSERT_TRUE(solo_->Start().ok());
    std::ofstream(dir_.File("token")) << kToken << "\n";
    std::filesystem::permissions(dir_.File("token"), std::filesystem::perms::owner_read |
                                                         std::filesystem::perms::owner_write);
    std::ofstream(dir_.File("rules.yml")) << kRules;
  }

  std::string ProdEndpoints() const {
    std::string endpoints;
    for (size_t i = 0; i < cluster().size(); ++i) {
      endpoints += (i ? "," : "") + cluster().ClientEndpoint(i);
    }
    return endpoints;
  }

  std::string Url(const std::string& path) const { return base_ + path; }
  json Get(const std::string& path) { return Http("GET", Url(path)).Json(); }
  long Status(const std::string& path) { return Http("GET", Url(path)).status; }

  // The alerts `cluster` has firing, by rule.
  std::set<std::string> Firing(const std::string& cluster) {
    std::set<std::string> rules;
    json alerts = Get("/api/v1/alerts?cluster=" + cluster);
    if (!alerts.is_object() || !alerts["alerts"].is_array()) {
      return rules;
    }
    for (const json& a : alerts["alerts"]) {
      if (a.value("state", "") == "firing") {
        rules.insert(a.value("rule", ""));
      }
    }
    return rules;
  }

  // Waits (60 s at most: a rule's `for` and the alerter's evaluation) until `rule` fires in
  // `cluster`; fails naming what fires there instead.
  void ExpectFiring(const std::string& cluster, const std::string& rule) {
    std::set<std::string> firing;
    ASSERT_TRUE(WaitFor(
        [&] {
          firing = Firing(cluster);
          return firing.count(rule) == 1;
        },
        60s))
        << cluster << " fires: " << json(firing).dump();
  }

  // Waits until /api/v1/clusters lists exactly `names`, all with their members up.
  void ExpectClustersUp(const std::map<std::string, int>& members) {
    json clusters;
    ASSERT_TRUE(WaitFor(
        [&] {
          clusters = Get("/api/v1/clusters");
          if (!clusters.is_object() || clusters["clusters"].size() != members.size()) {
            return false;
          }
          for (const json& c : clusters["clusters"]) {
            auto want = members.find(c.value("name", ""));
            if (want == members.end() || c.value("members_up", -1) != want->second ||
                c.value("members_total", -1) != want->second) {
              return false;
            }
          }
          return true;
        },
        60s))
        << clusters.dump();
  }

  // What both ways of running must answer, per cluster.
  void ExpectPerClusterAnswers() {
    ExpectClustersUp({{"prod", 3}, {"solo", 1}});

    // Unnamed requests are refused with the names; named ones answer for their cluster only.
    testing::HttpResult unnamed = Http("GET", Url("/api/v1/cluster/status"));
    EXPECT_EQ(unnamed.status, 400) << unnamed.body;
    EXPECT_NE(unnamed.body.find("prod"), std::string::npos) << unnamed.body;
    EXPECT_NE(unnamed.body.find("solo"), std::string::npos) << unnamed.body;
    EXPECT_EQ(Status("/api/v1/cluster/status?cluster=nope"), 404);

    json prod = Get("/api/v1/cluster/status?cluster=prod");
    json solo = Get("/api/v1/cluster/status?cluster=solo");
    EXPECT_EQ(prod.value("member_count", 0), 3) << prod.dump();
    EXPECT_EQ(solo.value("member_count", 0), 1) << solo.dump();
    EXPECT_NE(prod.value("cluster_id", ""), solo.value("cluster_id", ""));
    // Both clusters have a member named etcd0: each cluster lists its own.
    json solo_members = Get("/api/v1/cluster/members?cluster=solo");
    ASSERT_TRUE(solo_members.is_object()) << solo_members.dump();
    ASSERT_EQ(solo_members["members"].size(), 1u) << solo_members.dump();
    EXPECT_EQ(solo_members["members"][0].value("name", ""), "etcd0");
    EXPECT_EQ(Get("/api/v1/cluster/members?cluster=prod")["members"].size(), 3u);

    // A history query never returns another cluster's points.
    for (const auto& [name, count] : std::map<std::string, double>{{"prod", 3}, {"solo", 1}}) {
      json history;
      ASSERT_TRUE(WaitFor([&] {
        history = Get("/api/v1/metrics/history?metric=etcd_cluster_member_count&from=-5m&cluster=" +
                      name);
        return history.is_object() && history["points"].size() >= 2;
      })) << name
          << ": " << history.dump();
      for (const json& p : history["points"]) {
        EXPECT_EQ(p.value("value", -1.0), count) << name << ": " << p.dump();
      }
    }

    // /metrics carries both under their cluster label.
    const std::string metrics = Http("GET", Url("/metrics")).body;
    EXPECT_NE(metrics.find("etcd_cluster_member_count{cluster=\"prod\"} 3"), std::string::npos);
    EXPECT_NE(metrics.find("etcd_cluster_member_count{cluster=\"solo\"} 1"), std::string::npos);
  }

  // Quorum loss in solo fires for solo only.
  void ExpectQuorumLossInSoloOnly() {
    ASSERT_TRUE(solo_->Stop(0).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectFiring("solo", "QuorumLost"));
    const std::set<std::string> prod = Firing("prod");
    EXPECT_EQ(prod.count("QuorumLost"), 0u) << json(prod).dump();
    EXPECT_EQ(prod.count("NoLeader"), 0u) << json(prod).dump();
    json clusters = Get("/api/v1/clusters");
    ASSERT_TRUE(clusters.is_object());
    // Worst first.
    EXPECT_EQ(clusters["clusters"][0].value("name", ""), "solo") << clusters.dump();
    EXPECT_EQ(clusters["clusters"][1].value("state", ""), "healthy") << clusters.dump();
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::EtcdCluster> solo_;
  std::string base_;
};

TEST_F(FleetTest, OneAllInOneWatchesTwoClusters) {
  auto ports = testing::PickFreeLoopbackPorts(1);
  ASSERT_TRUE(ports.ok());
  base_ = "http://127.0.0.1:" + std::to_string((*ports)[0]);
  testing::ChildProcess monitor(
      {ETCDMON_BINARY, "--cluster", "prod=" + ProdEndpoints(), "--cluster",
       "solo=" + solo_->ClientEndpoint(0), "--api-host=127.0.0.1",
       "--api-port=" + std::to_string((*ports)[0]), "--data-dir=" + dir_.File("data"),
       "--metrics-interval=500ms", "--health-check-interval=1s", "--dial-timeout=1s",
       "--api-token-file=" + dir_.File("token"), "--rules-file=" + dir_.File("rules.yml")},
      dir_.File("etcd-monitor.log"));
  ExpectPerClusterAnswers();
  if (HasFatalFailure()) {
    ADD_FAILURE() << testing::TailOfFile(dir_.File("etcd-monitor.log"), 30);
    return;
  }
  ExpectQuorumLossInSoloOnly();
}

TEST_F(FleetTest, DistributedServicesKeepClustersApartAndRefuseAWrongCollector) {
  auto ports = testing::PickFreeLoopbackPorts(5);
  ASSERT_TRUE(ports.ok());
  const std::string ingest = "tcp://127.0.0.1:" + std::to_string(ports->at(0));
  const std::string publish = "tcp://127.0.0.1:" + std::to_string(ports->at(1));
  const std::string monitor_grpc = "127.0.0.1:" + std::to_string(ports->at(2));
  const std::string alerter_grpc = "127.0.0.1:" + std::to_string(ports->at(3));
  base_ = "http://127.0.0.1:" + std::to_string(ports->at(4));
  std::vector<std::unique_ptr<testing::ChildProcess>> processes;
  processes.push_back(std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{ETCDMON_AGGREGATOR_BINARY, "--listen=" + ingest,
                               "--publish=" + publish, "--grpc-listen=" + monitor_grpc,
                               "--db=" + dir_.File("history.db"), "--tick=200ms",
                               "--metrics-interval=500ms", "--log-level=warn"},
      dir_.File("aggregator.log")));
  auto collector = [&](const std::string& id, const std::string& cluster_name,
                       const std::string& endpoint, const std::string& metrics_url) {
    processes.push_back(std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{ETCDMON_COLLECTOR_BINARY, "--endpoints=" + endpoint,
                                 "--cluster=" + cluster_name, "--aggregator=" + ingest,
                                 "--collector-id=" + id, "--metrics-interval=500ms",
                                 "--health-check-interval=1s", "--metrics-url=" + metrics_url,
                                 "--state-file=" + dir_.File(id + ".seq"), "--log-level=warn"},
        dir_.File(id + ".log")));
  };
  for (size_t i = 0; i < cluster().size(); ++i) {
    collector("prod-" + std::to_string(i), "prod", cluster().ClientEndpoint(i),
              cluster().MetricsUrl(i));
  }
  collector("solo-0", "solo", solo_->ClientEndpoint(0), solo_->MetricsUrl(0));
  processes.push_back(std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{ETCDMON_ALERTER_BINARY, "--snapshots=" + publish,
                               "--grpc-listen=" + alerter_grpc, "--db=" + dir_.File("alerts.db"),
                               "--rules-file=" + dir_.File("rules.yml"), "--log-level=warn"},
      dir_.File("alerter.log")));
  processes.push_back(std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{ETCDMON_GATEWAY_BINARY, "--api-host=127.0.0.1",
                               "--api-port=" + std::to_string(ports->at(4)),
                               "--aggregator=" + monitor_grpc, "--alerter=" + alerter_grpc,
                               "--snapshots=" + publish, "--log-level=warn"},
      dir_.File("gateway.log")));
  ExpectPerClusterAnswers();
  if (HasFatalFailure()) {
    ADD_FAILURE() << testing::TailOfFile(dir_.File("aggregator.log"), 30)
                  << testing::TailOfFile(dir_.File("gateway.log"), 30);
    return;
  }

  // A collector given the wrong --cluster: solo's member sent as "prod". Refused, never merged
  // (prod keeps 3 members), and alerted on for prod.
  collector("wrong", "prod", solo_->ClientEndpoint(0), solo_->MetricsUrl(0));
  ASSERT_NO_FATAL_FAILURE(ExpectFiring("prod", "ClusterIdentityConflict"));
  EXPECT_EQ(Get("/api/v1/cluster/status?cluster=prod").value("member_count", 0), 3);
  EXPECT_EQ(Firing("solo").count("ClusterIdentityConflict"), 0u);
  EXPECT_NE(Http("GET", Url("/metrics"))
                .body.find("etcd_monitor_cluster_identity_conflicts_total{cluster=\"prod\"}"),
            std::string::npos);
  processes.pop_back();  // a stopped wrong collector: the conflict ages out, solo is untouched

  ExpectQuorumLossInSoloOnly();
}

}  // namespace
}  // namespace etcdmon
