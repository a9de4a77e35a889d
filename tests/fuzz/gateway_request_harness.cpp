// GatewayRequest (fuzz_harness.h): the REST API's query helpers and Api::Handle, without a
// server, on the fake backends of the gateway's unit tests and a published three-member state.

#include <prometheus/registry.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api.h"
#include "etcdmon/clock/clock.h"
#include "fake_backends.h"
#include "fuzz_harness.h"
#include "query.h"
#include "render.h"

namespace etcdmon::fuzz {
namespace {

using gateway::detail::ApiRequest;
using gateway::detail::ApiResponse;

void Check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

std::shared_ptr<const std::string> Share(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

class Harness {
 public:
  Harness()
      : clock_(std::chrono::system_clock::time_point(
            std::chrono::milliseconds(gateway::kTick + 1000))) {
    config_.api_token = config::Secret(gateway::kToken);
    config_.benchmark_token = config::Secret(gateway::kBenchmarkToken);
    gateway::GatewayBackends backends;
    backends.monitor = &monitor_;
    backends.alerts = &alerts_;
    backends.etcd_clusters["prod"].benchmark = &benchmark_;
    api_ = std::make_unique<gateway::detail::Api>(config_, backends, registry_, clock_);
    // What the refresher publishes (as tests/unit/gateway/api_fixture.h does).
    const etcdmonitor::v1::ClusterSnapshot snapshot = gateway::ThreeMemberSnapshot();
    monitor_.SetSnapshot(snapshot);
    auto state = std::make_shared<gateway::detail::RenderedState>();
    auto shared = std::make_shared<const etcdmonitor::v1::ClusterSnapshot>(snapshot);
    state->snapshot = shared;
    std::vector<gateway::detail::Series> series;
    gateway::detail::SnapshotSeries(*shared, series);
    for (const etcdmonitor::v1::MemberState& m : shared->members()) {
      state->member_labels.push_back(gateway::detail::MemberLabel(m));
    }
    state->status = Share(gateway::detail::RenderStatusJson(*shared));
    state->members = Share(gateway::detail::RenderMembersJson(*shared));
    state->leader = Share(gateway::detail::RenderLeaderJson(*shared));
    state->current = Share(gateway::detail::RenderCurrentJson(*shared, series));
    state->latency = Share(gateway::detail::RenderLatencyJson(*shared));
    gateway::detail::ServiceState services;
    services.has_snapshot = true;
    services.aggregator_up = true;
    auto fleet = std::make_shared<gateway::detail::FleetState>();
    fleet->clusters[snapshot.cluster()] = std::move(state);
    fleet->metrics_text =
        Share(gateway::detail::RenderPrometheus(shared.get(), services, {}, "unknown"));
    fleet->clusters_json = Share("{\"clusters\":[],\"count\":0}");
    api_->Publish(std::move(fleet));
  }

  void Run(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
      return;
    }
    clock_.Advance(std::chrono::seconds(1));
    static constexpr std::string_view kMethods[] = {"GET",  "POST",    "PUT",   "DELETE",
                                                    "HEAD", "OPTIONS", "PATCH", "GET"};
    const std::uint8_t selector = data[0];
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t newline = rest.find('\n');
    const std::string_view target = rest.substr(0, newline);
    const std::string_view body =
        newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);

    const std::string api_bearer = "Bearer " + gateway::kToken;
    const std::string benchmark_bearer = "Bearer " + gateway::kBenchmarkToken;
    ApiRequest request;
    request.method = kMethods[selector & 7];
    const std::size_t question = target.find('?');
    request.path = target.substr(0, question);
    request.query =
        question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
    switch ((selector >> 3) & 3) {
      case 0:
        break;
      case 1:
        request.authorization = api_bearer;
        break;
      case 2:
        request.authorization = benchmark_bearer;
        break;
      default:
        request.authorization = body.substr(0, body.find('\n'));
        break;
    }
    request.body = body;
    request.client = (selector & 0x20) != 0 ? "10.0.0.1" : "";

    Queries(request.query);

    const ApiResponse response = api_->Handle(request);
    Check(response.status >= 200 && response.status <= 599);
    if (response.content_type == "application/json") {
      Check(nlohmann::json::accept(response.Body()));
    }
  }

 private:
  void Queries(std::string_view query) {
    namespace d = gateway::detail;
    const int64_t now = gateway::kTick;
    Result<d::QueryParams> params = d::QueryParams::Parse(query);
    if (!params.ok()) {
      Check(!params.status().message().empty());
      return;
    }
    (void)params->OnlyKnown({"from", "to", "step", "metric", "member", "page_size"});
    for (std::string_view name : {"from", "to", "step", "metric", "member", "page_size"}) {
      std::optional<std::string> value = params->Get(name);
      if (!value) {
        continue;
      }
      Check(value->size() <= d::kMaxQueryValueBytes);
      (void)d::ParseTime(name, *value, now);
      (void)d::ParseStepMs(*value);
      Result<uint64_t> n = d::ParseBoundedUint(name, *value, 1, 1000);
      Check(!n.ok() || (*n >= 1 && *n <= 1000));
    }
  }

  gateway::GatewayConfig config_;
  FakeClock clock_;
  gateway::FakeMonitor monitor_;
  gateway::FakeAlerts alerts_;
  gateway::FakeBenchmark benchmark_;
  prometheus::Registry registry_;
  std::unique_ptr<gateway::detail::Api> api_;
};

}  // namespace

void GatewayRequest(const std::uint8_t* data, std::size_t size) {
  static Harness* harness = [] {
    static Harness h;
    return &h;
  }();
  harness->Run(data, size);
}

}  // namespace etcdmon::fuzz
