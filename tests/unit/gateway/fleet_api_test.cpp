// The API over several clusters, through Api::Handle against fake backends: ?cluster= on every
// endpoint, the answers without it (the only cluster, or a 400 naming them), unknown and bad
// names, GET /api/v1/clusters, /metrics across clusters, and the cluster passed on to the
// aggregator, the alerter and each cluster's benchmark runner and etcd client.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "api_fixture.h"
#include "etcdmon/promtext/parser.h"
#include "fake_backends.h"

namespace etcdmon::gateway {
namespace {

using detail::ApiResponse;
using nlohmann::json;

// A second cluster, unlike prod in every document: no quorum, no leader, its own members.
v1::ClusterSnapshot StagingSnapshot() {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  s.set_cluster("staging");
  s.set_cluster_id(0xdef);
  s.set_state(v1::CLUSTER_NO_QUORUM);
  s.set_healthy(false);
  s.set_quorum_ok(false);
  s.set_has_leader(false);
  s.set_leader_id(0);
  s.set_leader_name("");
  s.set_healthy_members(1);
  s.set_member_count(3);
  s.set_identity_conflicts_total(7);
  for (int i = 0; i < 3; ++i) {
    v1::MemberState* m = s.mutable_members(i);
    m->set_name("stage-" + std::to_string(i + 1));
    m->set_id(static_cast<uint64_t>(100 + i));
    m->set_is_leader(false);
  }
  s.mutable_collectors(0)->set_id("collector-s");
  return s;
}

// A snapshot of cluster `name` in `state`, healthy unless told.
v1::ClusterSnapshot Named(const std::string& name, v1::ClusterState state = v1::CLUSTER_HEALTHY) {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  s.set_cluster(name);
  s.set_state(state);
  s.set_healthy(state == v1::CLUSTER_HEALTHY);
  return s;
}

class FleetApiTest : public ApiFixture {
 protected:
  void SetUp() override {
    // Each cluster its own runner and etcd client; "dev" has neither.
    GatewayBackends backends;
    backends.monitor = &monitor_;
    backends.alerts = &alerts_;
    backends.etcd_clusters["prod"] = {&benchmark_, &etcd_};
    backends.etcd_clusters["staging"] = {&staging_benchmark_, &staging_etcd_};
    BuildWith(std::move(backends));
    PublishFleet({ThreeMemberSnapshot(), StagingSnapshot()});
  }

  ApiResponse Get(std::string_view target) { return Call("GET", target); }
  json GetJson(std::string_view target) {
    ApiResponse r = Get(target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.Body();
    return Parse(r);
  }

  FakeBenchmark staging_benchmark_{"bench-staging"};
  testing::FakeEtcdClient staging_etcd_{{"s:1"}};
};

// Every endpoint that answers for one cluster, as a GET (path without the query).
const char* const kClusterEndpoints[] = {
    "/api/v1/cluster/status",         "/api/v1/cluster/members",
    "/api/v1/cluster/members/etcd-1", "/api/v1/cluster/leader",
    "/api/v1/metrics/current",        "/api/v1/metrics/latency",
    "/api/v1/metrics/history",        "/api/v1/alerts",
    "/api/v1/alerts/history",         "/api/v1/alerts/silences",
    "/api/v1/performance/benchmark",  "/api/v1/cluster/consistency",
};

// Without ?cluster= while two are monitored, every per-cluster endpoint is a 400 that names
// them and says what to add; nothing reaches a backend.
TEST_F(FleetApiTest, WithoutClusterSeveralAre400NamingThem) {
  for (const char* path : kClusterEndpoints) {
    ApiResponse r = Get(path);
    ExpectError(r, 400);
    EXPECT_EQ(Message(r), "2 clusters are monitored (prod, staging): add ?cluster=NAME") << path;
  }
  ApiResponse post =
      Call("POST", "/api/v1/alerts/silences", R"({"duration":"1h"})", "Bearer " + kToken);
  ExpectError(post, 400);
  ApiResponse bench =
      Call("POST", "/api/v1/performance/benchmark", R"({"ops":10})", "Bearer " + kBenchmarkToken);
  ExpectError(bench, 400);
  EXPECT_FALSE(benchmark_.Started());
  EXPECT_FALSE(staging_benchmark_.Started());
}

// The 400 lists at most 20 names, then how many more.
TEST_F(FleetApiTest, ManyClustersListTwentyNamesThenHowManyMore) {
  std::vector<v1::ClusterSnapshot> fleet;
  for (int i = 0; i < 25; ++i) {
    fleet.push_back(Named("c" + std::string(i < 10 ? "0" : "") + std::to_string(i)));
  }
  PublishFleet(fleet);
  ApiResponse r = Get("/api/v1/cluster/status");
  ExpectError(r, 400);
  EXPECT_EQ(Message(r),
            "25 clusters are monitored (c00, c01, c02, c03, c04, c05, c06, c07, c08, c09, c10, "
            "c11, c12, c13, c14, c15, c16, c17, c18, c19 and 5 more): add ?cluster=NAME");
}

// An unknown name is a 404 naming it, a bad one a 400 from the name's rules, on every endpoint.
TEST_F(FleetApiTest, UnknownClusterIs404AndBadNameIs400) {
  for (const char* path : kClusterEndpoints) {
    ApiResponse unknown = Get(std::string(path) + "?cluster=nowhere");
    ExpectError(unknown, 404);
    EXPECT_NE(Message(unknown).find("\"nowhere\""), std::string::npos) << path;
    ApiResponse bad = Get(std::string(path) + "?cluster=-bad%20name");
    ExpectError(bad, 400);
    EXPECT_NE(Message(bad).find("invalid cluster name"), std::string::npos)
        << path << ": " << Message(bad);
  }
}

// The snapshot endpoints answer with the named cluster's documents.
TEST_F(FleetApiTest, SnapshotEndpointsAnswerForTheNamedCluster) {
  for (const std::string cluster : {"prod", "staging"}) {
    for (const char* path :
         {"/api/v1/cluster/status", "/api/v1/cluster/members", "/api/v1/cluster/leader",
          "/api/v1/metrics/current", "/api/v1/metrics/latency"}) {
      EXPECT_EQ(GetJson(std::string(path) + "?cluster=" + cluster)["cluster"], cluster) << path;
    }
  }
  const json staging = GetJson("/api/v1/cluster/status?cluster=staging");
  EXPECT_EQ(staging["state"], "no_quorum");
  EXPECT_EQ(staging["has_leader"], false);
  EXPECT_EQ(GetJson("/api/v1/cluster/status?cluster=prod")["state"], "healthy");
  const json members = GetJson("/api/v1/cluster/members?cluster=staging");
  EXPECT_EQ(members["members"][0]["name"], "stage-1");
  EXPECT_EQ(GetJson("/api/v1/cluster/members/stage-2?cluster=staging")["name"], "stage-2");
  // A member is looked up in the named cluster only.
  ExpectError(Get("/api/v1/cluster/members/stage-2?cluster=prod"), 404);
  ExpectError(Get("/api/v1/cluster/members/etcd-2?cluster=staging"), 404);
}

// History goes to the aggregator with the cluster; a member is checked against that cluster.
TEST_F(FleetApiTest, HistoryPassesTheCluster) {
  json h = GetJson("/api/v1/metrics/history?metric=etcd_member_up&member=stage-1&cluster=staging");
  EXPECT_EQ(h["member"], "stage-1");
  EXPECT_EQ(monitor_.LastQuery().cluster(), "staging");
  ExpectError(Get("/api/v1/metrics/history?metric=etcd_member_up&member=etcd-1&cluster=staging"),
              404);
  GetJson("/api/v1/metrics/history?metric=etcd_cluster_member_count&cluster=prod");
  EXPECT_EQ(monitor_.LastQuery().cluster(), "prod");
}

// The alerter's reads get the cluster as their filter.
TEST_F(FleetApiTest, AlertReadsPassTheCluster) {
  v1::AlertRecord a;
  a.set_fingerprint("p1");
  a.set_cluster("prod");
  a.set_state("firing");
  a.set_severity("critical");
  v1::AlertRecord b = a;
  b.set_fingerprint("s1");
  b.set_cluster("staging");
  alerts_.SetAlerts({a, b});
  const json alerts = GetJson("/api/v1/alerts?cluster=staging");
  ASSERT_EQ(alerts["alerts"].size(), 1u) << alerts;
  EXPECT_EQ(alerts["alerts"][0]["fingerprint"], "s1");
  EXPECT_EQ(alerts_.LastAlertsCluster(), "staging");
  GetJson("/api/v1/alerts/history?cluster=prod");
  EXPECT_EQ(alerts_.LastHistoryCluster(), "prod");
  GetJson("/api/v1/alerts/silences?cluster=staging&state=all");
  EXPECT_EQ(alerts_.LastSilencesCluster(), "staging");
}

// POST silences: the cluster from the query or the body sets Silence.cluster; both given and
// different is a 400; DELETE by id needs no cluster.
TEST_F(FleetApiTest, SilenceCreateSetsTheCluster) {
  const std::string auth = "Bearer " + kToken;
  ApiResponse by_query =
      Call("POST", "/api/v1/alerts/silences?cluster=staging", R"({"duration":"1h"})", auth);
  ASSERT_EQ(by_query.status, 201) << by_query.Body();
  EXPECT_EQ(alerts_.Created().cluster(), "staging");
  EXPECT_EQ(Parse(by_query)["cluster"], "staging");

  ApiResponse by_body =
      Call("POST", "/api/v1/alerts/silences", R"({"duration":"1h","cluster":"prod"})", auth);
  ASSERT_EQ(by_body.status, 201) << by_body.Body();
  EXPECT_EQ(alerts_.Created().cluster(), "prod");

  ApiResponse same = Call("POST", "/api/v1/alerts/silences?cluster=prod",
                          R"({"duration":"1h","cluster":"prod"})", auth);
  EXPECT_EQ(same.status, 201) << same.Body();
  ApiResponse differ = Call("POST", "/api/v1/alerts/silences?cluster=prod",
                            R"({"duration":"1h","cluster":"staging"})", auth);
  ExpectError(differ, 400);
  ExpectError(Call("POST", "/api/v1/alerts/silences", R"({"duration":"1h","cluster":"x y"})", auth),
              400);
  ExpectError(
      Call("POST", "/api/v1/alerts/silences", R"({"duration":"1h","cluster":"gone"})", auth), 404);

  ApiResponse expired = Call("DELETE", "/api/v1/alerts/silences/0123456789abcdef", "", auth);
  EXPECT_EQ(expired.status, 200) << expired.Body();
}

// With one cluster, a silence made without naming it is that cluster's (not every cluster's,
// which would silence a cluster added later).
TEST_F(FleetApiTest, SilenceOfTheOnlyClusterNamesIt) {
  PublishFleet({StagingSnapshot()});
  ApiResponse r =
      Call("POST", "/api/v1/alerts/silences", R"({"duration":"1h"})", "Bearer " + kToken);
  ASSERT_EQ(r.status, 201) << r.Body();
  EXPECT_EQ(alerts_.Created().cluster(), "staging");
}

// Benchmarks run on the named cluster's runner; a run is found in any runner; a cluster without
// one is a 501 naming it.
TEST_F(FleetApiTest, BenchmarksRunPerCluster) {
  const std::string auth = "Bearer " + kBenchmarkToken;
  ApiResponse started =
      Call("POST", "/api/v1/performance/benchmark?cluster=staging", R"({"ops":100})", auth);
  ASSERT_EQ(started.status, 202) << started.Body();
  EXPECT_EQ(Parse(started)["id"], "bench-staging");
  EXPECT_TRUE(staging_benchmark_.Started());
  EXPECT_FALSE(benchmark_.Started());
  EXPECT_EQ(GetJson("/api/v1/performance/benchmark/bench-staging")["id"], "bench-staging");
  EXPECT_EQ(GetJson("/api/v1/performance/benchmark/bench-1")["id"], "bench-1");
  ExpectError(Get("/api/v1/performance/benchmark/bench-none"), 404);
  EXPECT_EQ(GetJson("/api/v1/performance/benchmark?cluster=prod")["runs"].size(), 2u);

  PublishFleet({ThreeMemberSnapshot(), StagingSnapshot(), Named("dev")});
  ApiResponse none =
      Call("POST", "/api/v1/performance/benchmark?cluster=dev", R"({"ops":100})", auth);
  ExpectError(none, 501);
  EXPECT_NE(Message(none).find("cluster \"dev\""), std::string::npos) << Message(none);
  ApiResponse list = Get("/api/v1/performance/benchmark?cluster=dev");
  ExpectError(list, 501);
  EXPECT_NE(Message(list).find("cluster \"dev\""), std::string::npos) << Message(list);
}

// The consistency check asks the named cluster's etcd; a cluster without one is a 501 naming it.
TEST_F(FleetApiTest, ConsistencyChecksTheNamedCluster) {
  etcd::EndpointStatus status;
  status.member_id = 1;
  status.revision = 10;
  staging_etcd_.SetStatus("s:1", status);
  etcd::HashKVResult hash;
  hash.header.member_id = 1;
  hash.header.revision = 10;
  hash.hash = 5;
  staging_etcd_.SetHashKV("s:1", hash);
  const json report = GetJson("/api/v1/cluster/consistency?cluster=staging");
  EXPECT_EQ(report["endpoints"].size(), 1u) << report;
  EXPECT_EQ(report["endpoints"][0]["endpoint"], "s:1");
  EXPECT_EQ(etcd_.calls().status, 0) << "prod's etcd is not asked";

  PublishFleet({ThreeMemberSnapshot(), StagingSnapshot(), Named("dev")});
  ApiResponse none = Get("/api/v1/cluster/consistency?cluster=dev");
  ExpectError(none, 501);
  EXPECT_NE(Message(none).find("cluster \"dev\""), std::string::npos) << Message(none);
}

// GET /api/v1/clusters: one row per cluster, worst first (state, then critical alerts, then
// name), with the status endpoint's words and the firing alerts by severity.
TEST_F(FleetApiTest, ClustersListsTheWorstFirst) {
  v1::ClusterSnapshot stale = Named("d-stale");
  stale.set_tick_unix_ms(kTick - 60 * 1000);  // older than --stale-after (no tick interval)
  v1::ClusterSnapshot split = Named("f-split", v1::CLUSTER_SPLIT_BRAIN);
  split.set_leader_name("etcd-1");
  PublishFleet(
      {Named("a-healthy"), Named("b-degraded", v1::CLUSTER_DEGRADED),
       Named("c-noquorum", v1::CLUSTER_NO_QUORUM), stale, Named("e-healthy"), split,
       Named("g-noleader", v1::CLUSTER_NO_LEADER), Named("h-unknown", v1::CLUSTER_STATE_UNKNOWN)},
      Firing{{"e-healthy", {{"critical", 2}, {"warning", 1}}},
             {"f-split", {{"critical", 1}, {"info", 3}}}});
  const json list = GetJson("/api/v1/clusters");
  ASSERT_EQ(list["count"], 8);
  std::vector<std::string> order;
  for (const json& c : list["clusters"]) {
    order.push_back(c["name"]);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"f-split", "c-noquorum", "g-noleader", "d-stale",
                                             "b-degraded", "h-unknown", "e-healthy", "a-healthy"}));
  const json& first = list["clusters"][0];
  EXPECT_EQ(first["state"], "split_brain");
  EXPECT_EQ(first["healthy"], false);
  EXPECT_EQ(first["cluster_id"], "abc");
  EXPECT_EQ(first["leader"], "etcd-1");
  EXPECT_EQ(first["members_up"], 3);
  EXPECT_EQ(first["members_total"], 3);
  EXPECT_EQ(first["quorum_ok"], true);
  EXPECT_EQ(first["alerts_firing"], json({{"critical", 1}, {"warning", 0}, {"info", 3}}));
  EXPECT_EQ(first["last_update_unix_ms"], kTick);
  EXPECT_EQ(first["last_update"], "2024-05-01T10:00:00.000Z");
  EXPECT_EQ(list["clusters"][3]["state"], "stale");
  EXPECT_EQ(list["clusters"][3]["healthy"], false);
  EXPECT_EQ(list["clusters"][7]["alerts_firing"],
            json({{"critical", 0}, {"warning", 0}, {"info", 0}}));
  // The status endpoint says the same word.
  EXPECT_EQ(GetJson("/api/v1/cluster/status?cluster=h-unknown")["state"], "unknown");

  // The alerter unavailable: the counts are unknown (null), not zero.
  PublishFleet({Named("a-healthy")});
  const json unknown = GetJson("/api/v1/clusters");
  ASSERT_EQ(unknown["count"], 1);
  EXPECT_TRUE(unknown["clusters"][0]["alerts_firing"].is_null()) << unknown;
  ExpectError(Get("/api/v1/clusters?x=1"), 400);
  ExpectError(Call("POST", "/api/v1/clusters"), 405);
}

// The sample lines of `text` by family name, in order; every family's lines must be one run.
void ExpectFamiliesContiguous(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  std::string current;
  std::set<std::string> done;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    if (name != current) {
      EXPECT_EQ(done.count(name), 0u) << name << " appears in two places";
      if (!current.empty()) {
        done.insert(current);
      }
      current = name;
    }
  }
}

// The series value of `family` with these labels, or NaN.
double Value(const promtext::ParseResult& parsed, std::string_view family,
             const std::map<std::string, std::string>& labels) {
  const promtext::MetricFamily* f = parsed.FindFamily(family);
  if (f == nullptr) {
    return std::nan("");
  }
  for (const promtext::Sample& s : f->samples) {
    if (s.labels.size() != labels.size()) {
      continue;
    }
    bool match = true;
    for (const auto& [name, value] : labels) {
      match = match && s.labels.Find(name) == std::optional<std::string_view>(value);
    }
    if (match) {
      return s.value;
    }
  }
  return std::nan("");
}

// /metrics with two clusters: each family once, holding both clusters' samples (each labelled
// with its cluster), the identity conflicts per cluster, and the remote_write sender's figures
// once, without a cluster label, from the newest snapshot that has them.
TEST_F(FleetApiTest, MetricsHoldEveryClusterFamilyByFamily) {
  v1::ClusterSnapshot prod = ThreeMemberSnapshot();
  prod.mutable_remote_write()->set_samples_sent_total(10);  // older: not the one shown
  v1::ClusterSnapshot staging = StagingSnapshot();
  staging.set_tick_unix_ms(kTick + 500);
  v1::RemoteWriteState* rw = staging.mutable_remote_write();
  rw->set_samples_sent_total(1200);
  rw->set_samples_rejected_total(3);
  rw->set_samples_dropped_total(4);
  rw->set_failures_total(5);
  rw->set_lag_seconds(2.5);
  rw->set_last_success_unix_ms(kTick);
  PublishFleet({prod, staging}, Firing{{"staging", {{"critical", 2}}}});
  ApiResponse r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  const std::string& text = r.Body();
  ExpectFamiliesContiguous(text);

  promtext::ParseResult parsed;
  ASSERT_TRUE(promtext::Parse(text, parsed).ok());
  EXPECT_TRUE(parsed.errors().empty()) << parsed.errors()[0].reason;
  EXPECT_EQ(Value(parsed, "etcd_cluster_member_count", {{"cluster", "prod"}}), 3);
  EXPECT_EQ(Value(parsed, "etcd_cluster_member_count", {{"cluster", "staging"}}), 3);
  EXPECT_EQ(Value(parsed, "etcd_member_up", {{"cluster", "staging"}, {"member", "stage-2"}}), 1);
  EXPECT_EQ(Value(parsed, "etcd_cluster_has_leader", {{"cluster", "staging"}}), 0);
  EXPECT_EQ(Value(parsed, "etcd_cluster_has_leader", {{"cluster", "prod"}}), 1);
  EXPECT_EQ(Value(parsed, "etcd_monitor_collector_up",
                  {{"cluster", "staging"}, {"collector", "collector-s"}}),
            1);
  EXPECT_EQ(
      Value(parsed, "etcd_monitor_cluster_identity_conflicts_total", {{"cluster", "staging"}}), 7);
  EXPECT_EQ(Value(parsed, "etcd_monitor_cluster_identity_conflicts_total", {{"cluster", "prod"}}),
            0);
  EXPECT_EQ(Value(parsed, "etcd_monitor_alerts_firing",
                  {{"cluster", "staging"}, {"severity", "critical"}}),
            2);
  EXPECT_EQ(Value(parsed, "etcd_monitor_aggregator_up", {{"cluster", "prod"}}), 1);
  EXPECT_EQ(Value(parsed, "etcd_monitor_aggregator_up", {{"cluster", "staging"}}), 1);

  const struct {
    const char* name;
    promtext::MetricType type;
    double value;
  } kRemoteWrite[] = {
      {"etcd_monitor_remote_write_samples_sent_total", promtext::MetricType::kCounter, 1200},
      {"etcd_monitor_remote_write_samples_rejected_total", promtext::MetricType::kCounter, 3},
      {"etcd_monitor_remote_write_samples_dropped_total", promtext::MetricType::kCounter, 4},
      {"etcd_monitor_remote_write_failures_total", promtext::MetricType::kCounter, 5},
      {"etcd_monitor_remote_write_lag_seconds", promtext::MetricType::kGauge, 2.5},
      {"etcd_monitor_remote_write_last_success_timestamp_seconds", promtext::MetricType::kGauge,
       kTick / 1000.0},
  };
  for (const auto& c : kRemoteWrite) {
    const promtext::MetricFamily* f = parsed.FindFamily(c.name);
    ASSERT_NE(f, nullptr) << c.name;
    EXPECT_EQ(f->type, c.type) << c.name;
    EXPECT_FALSE(f->help.empty()) << c.name;
    ASSERT_EQ(f->samples.size(), 1u) << c.name;
    EXPECT_TRUE(f->samples[0].labels.empty()) << c.name;
    EXPECT_EQ(f->samples[0].value, c.value) << c.name;
  }

  // Without a sender, no remote_write series at all.
  PublishFleet({ThreeMemberSnapshot(), StagingSnapshot()});
  EXPECT_EQ(Get("/metrics").Body().find("etcd_monitor_remote_write_"), std::string::npos);
}

// /health over several clusters: the data check holds for every one and names the stale ones;
// the etcd check names a cluster whose monitor reaches no member.
TEST_F(FleetApiTest, HealthJudgesEveryCluster) {
  detail::DependencyState deps;
  deps.aggregator_checked = deps.aggregator_ok = true;
  deps.alerter_checked = deps.alerter_ok = true;
  api_->SetDependencies(deps);
  ApiResponse fresh = Get("/health");
  EXPECT_EQ(fresh.status, 200) << fresh.Body();
  EXPECT_EQ(Parse(fresh)["checks"]["data"]["detail"], "fresh (2 clusters)");

  v1::ClusterSnapshot stale = StagingSnapshot();
  stale.set_tick_unix_ms(kTick - 60 * 1000);
  v1::ClusterSnapshot blind = Named("dev");
  for (v1::MemberState& m : *blind.mutable_members()) {
    m.set_reachable(false);
    m.set_health(v1::UNREACHABLE);
  }
  PublishFleet({ThreeMemberSnapshot(), stale, blind});
  ApiResponse r = Get("/health");
  EXPECT_EQ(r.status, 503) << r.Body();
  const json health = Parse(r);
  EXPECT_EQ(health["stale"], true);
  EXPECT_EQ(health["checks"]["data"]["detail"],
            "1 of 3 clusters stale (no snapshot for 3 ticks): staging");
  EXPECT_EQ(health["checks"]["etcd"]["ok"], false);
  EXPECT_NE(health["checks"]["etcd"]["detail"].get<std::string>().find("dev: no etcd member"),
            std::string::npos)
      << health;
}

}  // namespace
}  // namespace etcdmon::gateway
