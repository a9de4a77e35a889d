// The collector service end to end: a real etcd member, the real transport, and an in-process
// receiver standing in for the aggregator.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/collector/service.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/transport/batch_receiver.h"
#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::collector {
namespace {

using namespace std::chrono_literals;
using testing::EtcdClusterOptions;

using etcdmon::testing::WaitFor;

// Records what a receiver got, in arrival order.
struct Received {
  std::mutex mu;
  std::vector<uint64_t> sequences;                     // guarded by mu
  std::vector<etcdmonitor::v1::MemberSample> samples;  // guarded by mu

  transport::BatchHandler Handler() {
    return [this](const etcdmonitor::v1::SampleBatch& batch) {
      std::lock_guard<std::mutex> lock(mu);
      sequences.push_back(batch.sequence());
      for (const auto& s : batch.samples()) {
        samples.push_back(s);
      }
      return Status::Ok();
    };
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return sequences.size();
  }
};

std::unique_ptr<transport::BatchReceiver> StartReceiver(const std::string& endpoint,
                                                        Received& received) {
  transport::BatchReceiverOptions options;
  options.endpoint = endpoint;
  auto receiver = transport::BatchReceiver::Create(options, received.Handler());
  EXPECT_TRUE(receiver.ok()) << receiver.status().ToString();
  if (!receiver.ok()) {
    return nullptr;
  }
  EXPECT_TRUE((*receiver)->Start().ok());
  return std::move(receiver).value();
}

// One member shared by the suite.
class CollectorServiceTest : public testing::EtcdClusterSuite<CollectorServiceTest> {
 public:
  static EtcdClusterOptions ClusterOptions() {
    EtcdClusterOptions options;
    options.members = 1;
    return options;
  }

 protected:
  CollectorConfig Config(const std::string& aggregator) {
    CollectorConfig c;
    c.etcd = cluster().ConnectionConfig();
    c.etcd.endpoints.resize(1);
    c.aggregator = aggregator;
    c.collector_id = "test-collector";
    c.metrics_interval = 100ms;
    c.health_check_interval = 1s;
    c.metrics_url = cluster().MetricsUrl(0);
    c.sequence_state_file = cluster().Dir() + "/collector-" +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                            ".seq";
    return c;
  }
};

// Samples of a healthy member flow to the aggregator in sequence order, with the member's
// identity, status and probes, and the collector's own counters.
TEST_F(CollectorServiceTest, DeliversSamplesInOrder) {
  Received received;
  auto receiver = StartReceiver("tcp://127.0.0.1:0", received);
  ASSERT_NE(receiver, nullptr);
  auto service = CollectorService::Create(Config(receiver->endpoint()), nullptr);
  ASSERT_TRUE(service.ok()) << service.status().ToString();
  ASSERT_TRUE((*service)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return received.count() >= 5; }));
  (*service)->Stop(1s);

  std::lock_guard<std::mutex> lock(received.mu);
  for (size_t i = 1; i < received.sequences.size(); ++i) {
    EXPECT_GT(received.sequences[i], received.sequences[i - 1]);
  }
  const auto& s = received.samples.back();
  EXPECT_TRUE(s.reachable()) << s.error();
  EXPECT_EQ(s.endpoint(), cluster().ClientEndpoint(0));
  EXPECT_EQ(s.member_name(), cluster().Name(0));
  EXPECT_NE(s.member_id(), 0u);
  EXPECT_EQ(s.status().leader_id(), s.member_id());  // a one-member cluster leads itself
  EXPECT_EQ(s.probes_size(), 3);
  for (const auto& p : s.probes()) {
    EXPECT_TRUE(p.ok()) << p.error();
  }
  EXPECT_GT(s.scalars_size(), 0);
  EXPECT_GT(s.histograms_size(), 0);
}

// While the aggregator is down the collector keeps sampling; once it is up, every batch made
// meanwhile arrives, in order, with no sequence gap.
TEST_F(CollectorServiceTest, AggregatorDownThenBack) {
  const uint16_t port = testing::PickFreeLoopbackPorts(1).value().at(0);
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  auto service = CollectorService::Create(Config(endpoint), nullptr);
  ASSERT_TRUE(service.ok()) << service.status().ToString();
  ASSERT_TRUE((*service)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return (*service)->Stats().queue_depth >= 10; }));

  Received received;
  auto receiver = StartReceiver(endpoint, received);
  ASSERT_NE(receiver, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    CollectorStats s = (*service)->Stats();
    return s.acked_sequence > 0 && received.count() >= 15;
  }));
  (*service)->Stop(2s);

  std::lock_guard<std::mutex> lock(received.mu);
  // Duplicates are allowed (at-least-once); gaps and reordering are not.
  std::vector<uint64_t> distinct;
  for (uint64_t seq : received.sequences) {
    if (distinct.empty() || seq > distinct.back()) {
      distinct.push_back(seq);
    } else {
      EXPECT_LE(seq, distinct.back());
    }
  }
  ASSERT_GE(distinct.size(), 15u);
  for (size_t i = 1; i < distinct.size(); ++i) {
    EXPECT_EQ(distinct[i], distinct[i - 1] + 1) << "gap after " << distinct[i - 1];
  }
  EXPECT_EQ((*service)->Stats().dropped_batches, 0u);
}

// The binary: SIGTERM makes it flush and exit 0 promptly.
TEST_F(CollectorServiceTest, BinaryExitsCleanlyOnSigterm) {
  Received received;
  auto receiver = StartReceiver("tcp://127.0.0.1:0", received);
  ASSERT_NE(receiver, nullptr);
  const std::string state = cluster().Dir() + "/binary.seq";
  std::vector<std::string> args = {ETCDMON_COLLECTOR_BINARY,
                                   "--endpoints=" + cluster().ClientEndpoint(0),
                                   "--aggregator=" + receiver->endpoint(),
                                   "--metrics-url=" + cluster().MetricsUrl(0),
                                   "--metrics-interval=100ms",
                                   "--collector-id=binary",
                                   "--state-file=" + state,
                                   "--log-level=warn"};
  testing::ChildProcess collector(args, state + ".log");
  ASSERT_TRUE(collector.ok()) << collector.status().message();
  ASSERT_TRUE(WaitFor([&] { return received.count() >= 3; }));
  const auto signalled = std::chrono::steady_clock::now();
  Result<int> status = collector.Stop(SIGTERM, 10s);
  ASSERT_TRUE(status.ok()) << "the collector did not exit within 10 s of SIGTERM";
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - signalled);
  RecordProperty("sigterm_to_exit_ms", static_cast<int>(took.count()));
}

// SIGTERM while a sample waits for a member that stopped answering (SIGSTOP): the binary still
// exits 0 promptly instead of waiting out the member's 20 s request timeout.
TEST_F(CollectorServiceTest, BinaryExitsOnSigtermWhileTheMemberHangs) {
  Received received;
  auto receiver = StartReceiver("tcp://127.0.0.1:0", received);
  ASSERT_NE(receiver, nullptr);
  const std::string state = cluster().Dir() + "/hanging.seq";
  std::vector<std::string> args = {ETCDMON_COLLECTOR_BINARY,
                                   "--endpoints=" + cluster().ClientEndpoint(0),
                                   "--aggregator=" + receiver->endpoint(),
                                   "--metrics-url=" + cluster().MetricsUrl(0),
                                   "--metrics-interval=100ms",
                                   "--dial-timeout=20s",
                                   "--command-timeout=20s",
                                   "--collector-id=hanging",
                                   "--state-file=" + state,
                                   "--log-level=warn"};
  testing::ChildProcess collector(args, state + ".log");
  ASSERT_TRUE(collector.ok()) << collector.status().message();
  ASSERT_TRUE(WaitFor([&] { return received.count() >= 3; }));
  ASSERT_TRUE(cluster().Pause(0).ok());
  // A sample is stuck once no batch has arrived for ten intervals.
  size_t seen = received.count();
  auto quiet_since = std::chrono::steady_clock::now();
  const bool stuck = WaitFor([&] {
    const size_t now_seen = received.count();
    if (now_seen != seen) {
      seen = now_seen;
      quiet_since = std::chrono::steady_clock::now();
    }
    return std::chrono::steady_clock::now() - quiet_since > 1s;
  });
  const auto signalled = std::chrono::steady_clock::now();
  Result<int> status = collector.Stop(SIGTERM, 8s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - signalled);
  ASSERT_TRUE(cluster().Resume(0).ok());
  ASSERT_TRUE(stuck) << "batches kept arriving from a paused member";
  ASSERT_TRUE(status.ok()) << "the collector did not exit within 8 s of SIGTERM";
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  RecordProperty("sigterm_to_exit_ms", static_cast<int>(took.count()));
  ASSERT_TRUE(cluster().WaitHealthy(0, 10s).ok());
}

// Several endpoints are refused: one collector samples one member.
TEST_F(CollectorServiceTest, RejectsSeveralEndpoints) {
  CollectorConfig c = Config("tcp://127.0.0.1:1");
  c.etcd.endpoints.push_back(c.etcd.endpoints.front());
  auto service = CollectorService::Create(c, nullptr);
  EXPECT_EQ(service.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace etcdmon::collector
