#include "etcdmon/collector/service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/testing/http_server.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/transport/batch_receiver.h"
#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::collector {
namespace {

using namespace std::chrono_literals;
using testing::CannedResponse;
using testing::HttpServer;

// A collector whose member is a local HTTP server, and whose aggregator nobody listens at (the
// transport just queues).
class CollectorServiceStopTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(member_.Start().ok()); }

  // Every request the sampler makes reads the request and never answers, as a member that
  // stopped (SIGSTOP) does.
  void MemberStopsAnswering() {
    CannedResponse hang;
    hang.action = CannedResponse::Action::kHang;
    for (const char* path : {"/v3/maintenance/status", "/v3/cluster/member/list", "/v3/kv/range",
                             "/v3/kv/put", "/health", "/metrics"}) {
      member_.Set(path, hang);
    }
  }

  std::unique_ptr<CollectorService> Make(std::chrono::milliseconds interval = 100ms) {
    CollectorConfig c;
    Result<config::Endpoint> endpoint =
        config::ParseEndpoint("127.0.0.1:" + std::to_string(member_.port()));
    EXPECT_TRUE(endpoint.ok());
    c.etcd.endpoints.push_back(*endpoint);
    // A member that stopped answering would hold a request this long without cancellation.
    c.etcd.dial_timeout = 20s;
    c.etcd.request_timeout = 20s;
    c.aggregator = "tcp://127.0.0.1:1";
    c.collector_id = "stop-test";
    c.metrics_interval = interval;
    c.health_check_interval = std::max<std::chrono::milliseconds>(interval, 1s);
    c.metrics_url = member_.Url("/metrics");
    c.sequence_state_file = dir_.File("collector.seq");
    auto service = CollectorService::Create(c, nullptr);
    EXPECT_TRUE(service.ok()) << service.status().ToString();
    return service.ok() ? std::move(service).value() : nullptr;
  }

  testing::TempDir dir_;
  HttpServer member_;
};

// Stop() joins the sampling thread promptly while a sample waits for a member that does not
// answer: the member's requests are aborted rather than waited out. The interval is long, so
// that the round (three quarters of it) still waits when Stop() comes.
TEST_F(CollectorServiceStopTest, StopJoinsPromptlyWhileASampleIsBlocked) {
  MemberStopsAnswering();
  auto service = Make(20s);
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(service->Start().ok());
  // Let the first sample reach the member and block there.
  ASSERT_TRUE(testing::WaitFor([&] { return !member_.requests().empty(); }, 5s))
      << "the sampler never asked the member";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(service->Stop(1s)) << "the blocked sample is reported as abandoned";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(service->Stats().samples, 0u);
}

// A member that stopped answering (its requests would wait 20 s) does not stop the samples:
// one goes out every interval, each saying the member did not answer in time.
TEST_F(CollectorServiceStopTest, HungMemberStillGetsASampleEveryInterval) {
  MemberStopsAnswering();
  auto service = Make(100ms);
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(service->Start().ok());
  EXPECT_TRUE(testing::WaitFor([&] { return service->Stats().samples >= 5; }, 10s))
      << "samples taken while the member hangs: " << service->Stats().samples;
  // Stop() does not wait for the member's requests left behind: they are aborted.
  const auto start = std::chrono::steady_clock::now();
  service->Stop(0ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

// With no flush time (the destructor's Stop) a blocked sample is aborted at once as well.
TEST_F(CollectorServiceStopTest, DestructorJoinsPromptlyWhileASampleIsBlocked) {
  MemberStopsAnswering();
  auto service = Make();
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(service->Start().ok());
  std::this_thread::sleep_for(300ms);
  const auto start = std::chrono::steady_clock::now();
  service.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(CollectorServiceStopTest, StopWithoutStart) {
  auto service = Make();
  ASSERT_NE(service, nullptr);
  EXPECT_TRUE(service->Stop(100ms));
}

TEST_F(CollectorServiceStopTest, StopStop) {
  auto service = Make();
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(service->Start().ok());
  std::this_thread::sleep_for(100ms);
  service->Stop(500ms);
  EXPECT_TRUE(service->Stop(500ms));
  EXPECT_EQ(service->Start().code(), StatusCode::kFailedPrecondition);
}

// A collector against a local HTTP member and a real batch receiver standing in for the
// aggregator: what goes on the wire.
class CollectorServiceClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(member_.Start().ok());
    transport::BatchReceiverOptions options;
    options.endpoint = "tcp://127.0.0.1:0";
    auto receiver = transport::BatchReceiver::Create(
        options, [this](const etcdmonitor::v1::SampleBatch& batch) {
          std::lock_guard<std::mutex> lock(mu_);
          clusters_.push_back(batch.cluster());
          return Status::Ok();
        });
    ASSERT_TRUE(receiver.ok()) << receiver.status().ToString();
    receiver_ = std::move(receiver).value();
    ASSERT_TRUE(receiver_->Start().ok());
  }

  CollectorConfig Config(const std::string& cluster) {
    CollectorConfig c;
    Result<config::Endpoint> endpoint =
        config::ParseEndpoint("127.0.0.1:" + std::to_string(member_.port()));
    EXPECT_TRUE(endpoint.ok());
    c.etcd.endpoints.push_back(*endpoint);
    c.aggregator = receiver_->endpoint();
    c.collector_id = "cluster-test";
    c.cluster = cluster;
    c.metrics_interval = 50ms;
    c.health_check_interval = 1s;
    c.metrics_url = member_.Url("/metrics");
    c.sequence_state_file = dir_.File("collector-" + cluster + ".seq");
    return c;
  }

  // The cluster field of the first `n` batches received (fewer if they do not come in time).
  std::vector<std::string> Receive(CollectorService& service, size_t n) {
    EXPECT_TRUE(service.Start().ok());
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          std::lock_guard<std::mutex> lock(mu_);
          return clusters_.size() >= n;
        },
        10s))
        << "fewer than " << n << " batches received";
    service.Stop(500ms);
    std::lock_guard<std::mutex> lock(mu_);
    return std::vector<std::string>(clusters_.begin(),
                                    clusters_.begin() + std::min(n, clusters_.size()));
  }

  testing::TempDir dir_;
  HttpServer member_;
  std::mutex mu_;
  std::vector<std::string> clusters_;  // guarded by mu_; SampleBatch.cluster in arrival order
  std::unique_ptr<transport::BatchReceiver> receiver_;
};

// Every batch carries the collector's cluster name, not only the first (the batch is reused).
TEST_F(CollectorServiceClusterTest, EveryBatchCarriesTheClusterName) {
  auto service = CollectorService::Create(Config("prod-eu"), nullptr);
  ASSERT_TRUE(service.ok()) << service.status().ToString();
  EXPECT_EQ(Receive(**service, 3), std::vector<std::string>(3, "prod-eu"));
}

// No name: the field stays empty, which the aggregator reads as its own default cluster.
TEST_F(CollectorServiceClusterTest, NoNameSendsAnEmptyCluster) {
  auto service = CollectorService::Create(Config(""), nullptr);
  ASSERT_TRUE(service.ok()) << service.status().ToString();
  EXPECT_EQ(Receive(**service, 2), std::vector<std::string>(2, ""));
}

// A name the aggregator would refuse is refused before anything starts.
TEST_F(CollectorServiceClusterTest, InvalidNameIsRefusedAtCreate) {
  for (const std::string& bad : std::vector<std::string>{"a b", "-x", std::string(64, 'c')}) {
    auto service = CollectorService::Create(Config(bad), nullptr);
    ASSERT_FALSE(service.ok()) << bad;
    EXPECT_EQ(service.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(service.status().message().find("invalid cluster name"), std::string::npos)
        << service.status().message();
  }
}

}  // namespace
}  // namespace etcdmon::collector
