#pragma once

// A detail::Api without a server, for the API's tests: requests go straight to Api::Handle,
// against the fake backends and a FakeClock, with the state the refresher would render
// published directly. Shared by the endpoint tests and the hardening tests.

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api.h"
#include "etcdmon/testing/fake_etcd_client.h"
#include "fake_backends.h"
#include "render.h"

namespace etcdmon::gateway {

inline std::chrono::system_clock::time_point AtUnixMs(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

inline int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

class ApiFixture : public ::testing::Test {
 protected:
  ApiFixture() : clock_(AtUnixMs(kTick + 1000)) {
    config_.api_token = config::Secret(kToken);
    config_.benchmark_token = config::Secret(kBenchmarkToken);
  }

  // A fresh Api on config_; without a benchmark backend the benchmark endpoints answer 501,
  // without an etcd client (`etcd`, else etcd_) the consistency check does.
  void Build(bool with_benchmark = true, bool with_etcd = true, etcd::EtcdClient* etcd = nullptr) {
    GatewayBackends backends;
    backends.monitor = &monitor_;
    backends.alerts = &alerts_;
    ClusterEtcdBackends prod;
    prod.benchmark = with_benchmark ? &benchmark_ : nullptr;
    prod.etcd = with_etcd ? (etcd != nullptr ? etcd : &etcd_) : nullptr;
    backends.etcd_clusters["prod"] = prod;
    BuildWith(std::move(backends));
  }

  // A fresh Api on config_ with `backends`.
  void BuildWith(GatewayBackends backends) {
    api_.reset();
    registry_ = std::make_unique<prometheus::Registry>();
    api_ = std::make_unique<detail::Api>(config_, backends, *registry_, clock_);
  }

  // What the refresher publishes for `snapshot`: the cached documents and the /metrics text.
  void Publish(const etcdmonitor::v1::ClusterSnapshot& snapshot) { PublishFleet({snapshot}); }

  // What the refresher publishes for these clusters (one snapshot each), with `firing` (by
  // cluster and severity; nullopt: the alerter is down) for /api/v1/clusters and /metrics.
  using Firing = std::map<std::string, std::map<std::string, uint64_t>>;
  void PublishFleet(const std::vector<etcdmonitor::v1::ClusterSnapshot>& snapshots,
                    const std::optional<Firing>& firing = std::nullopt) {
    auto fleet = std::make_shared<detail::FleetState>();
    std::vector<detail::ClusterExport> exports;
    std::vector<detail::ClusterSummary> summaries;
    const int64_t now = UnixMs(clock_.Now());
    for (const etcdmonitor::v1::ClusterSnapshot& snapshot : snapshots) {
      auto state = std::make_shared<detail::RenderedState>();
      auto shared = std::make_shared<const etcdmonitor::v1::ClusterSnapshot>(snapshot);
      state->snapshot = shared;
      std::vector<detail::Series> series;
      detail::SnapshotSeries(*shared, series);
      for (const etcdmonitor::v1::MemberState& m : shared->members()) {
        state->member_labels.push_back(detail::MemberLabel(m));
      }
      state->status = Share(detail::RenderStatusJson(*shared));
      state->members = Share(detail::RenderMembersJson(*shared));
      state->leader = Share(detail::RenderLeaderJson(*shared));
      state->current = Share(detail::RenderCurrentJson(*shared, series));
      state->latency = Share(detail::RenderLatencyJson(*shared));
      fleet->clusters[snapshot.cluster()] = state;
      const detail::Freshness freshness = detail::FreshnessOf(*shared, now, config_.stale_after);
      std::optional<std::map<std::string, uint64_t>> cluster_firing;
      if (firing.has_value()) {
        auto it = firing->find(snapshot.cluster());
        cluster_firing = it != firing->end() ? it->second : std::map<std::string, uint64_t>{};
      }
      detail::ClusterExport e;
      e.snapshot = shared.get();
      e.name = snapshot.cluster();
      if (cluster_firing.has_value()) {
        e.firing_by_severity.emplace(cluster_firing->begin(), cluster_firing->end());
      }
      exports.push_back(e);
      summaries.push_back({shared.get(), snapshot.cluster(), freshness, cluster_firing});
      kept_.push_back(shared);
    }
    detail::FleetServices services;
    services.aggregator_up = true;
    services.alerter_configured = firing.has_value();
    services.alerter_up = firing.has_value();
    fleet->metrics_text = Share(detail::RenderFleetPrometheus(exports, services, {}, "unknown"));
    fleet->clusters_json = Share(detail::RenderClustersJson(summaries));
    api_->Publish(std::move(fleet));
  }

  // `target` is the path with an optional "?query"; `client` the peer's address.
  detail::ApiResponse Call(std::string_view method, std::string_view target,
                           std::string_view body = "", std::string_view authorization = "",
                           std::string_view client = "10.0.0.1") {
    detail::ApiRequest request;
    request.method = method;
    const size_t question = target.find('?');
    request.path = target.substr(0, question);
    request.query = question == std::string_view::npos ? "" : target.substr(question + 1);
    request.authorization = authorization;
    request.body = body;
    request.client = client;
    return api_->Handle(request);
  }

  static nlohmann::json Parse(const detail::ApiResponse& r) {
    return nlohmann::json::parse(r.Body(), nullptr, /*allow_exceptions=*/false);
  }

  // The error's message; "" when the answer is not an error.
  static std::string Message(const detail::ApiResponse& r) {
    const nlohmann::json j = Parse(r);
    return j.is_object() && j.contains("error") ? j["error"]["message"].get<std::string>() : "";
  }

  // `r` is the JSON error shape with `status`.
  static void ExpectError(const detail::ApiResponse& r, int status) {
    EXPECT_EQ(r.status, status) << r.Body();
    EXPECT_EQ(r.content_type, "application/json");
    const nlohmann::json j = Parse(r);
    ASSERT_TRUE(j.is_object()) << r.Body();
    ASSERT_TRUE(j.contains("error")) << r.Body();
    EXPECT_EQ(j["error"]["code"], status);
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }

  GatewayConfig config_;
  FakeClock clock_;
  FakeMonitor monitor_;
  FakeAlerts alerts_;
  FakeBenchmark benchmark_;
  // The monitored cluster for the consistency check: no answers set (each test sets its own).
  testing::FakeEtcdClient etcd_{{"a:1", "b:2", "c:3"}};
  std::unique_ptr<prometheus::Registry> registry_;
  std::unique_ptr<detail::Api> api_;
  // The snapshots published (the exports point into them).
  std::vector<std::shared_ptr<const etcdmonitor::v1::ClusterSnapshot>> kept_;

 private:
  static std::shared_ptr<const std::string> Share(std::string text) {
    return std::make_shared<const std::string>(std::move(text));
  }
};

}  // namespace etcdmon::gateway
