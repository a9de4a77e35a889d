// The aggregator's remote_write sender on a real history file against a real receiver (Debian's
// Prometheus with --web.enable-remote-write-receiver): the history's points are queried back with
// the cluster and external labels, and after the receiver was down the points stored meanwhile
// arrive once it is back (the lag returns to 0).

#include "etcdmon/aggregator/remote_write_sender.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/testing/prometheus_receiver.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class RemoteWriteSenderIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(receiver_.Start().ok());
    HistoryConfig history;
    history.path = dir_.File("history.db");
    Result<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(history);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  void Write(const std::string& metric, const std::string& member, int64_t ts, double value) {
    Result<SeriesId> id = store_->Series("prod", metric, member);
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(store_->Write({{{*id, ts, value}}, {}}).ok());
  }

  testing::TempDir dir_;
  testing::PrometheusReceiver receiver_{dir_.path()};
  std::unique_ptr<HistoryStore> store_;
};

TEST_F(RemoteWriteSenderIntegrationTest, HistoryReachesPrometheusAndResumesAfterAnOutage) {
  const int64_t t0 = testing::NowUnixMs() - 20000;
  for (int i = 0; i < 5; ++i) {
    Write("etcd_cluster_has_leader", "", t0 + i * 1000, 1);
    Write("etcd_server_has_leader", "etcd-1", t0 + i * 1000, 1);
  }
  RemoteWriteConfig config;
  config.url = receiver_.WriteUrl();
  config.external_labels = {{"region", "eu-1"}};
  config.interval = milliseconds(200);
  config.min_backoff = milliseconds(100);
  config.max_backoff = milliseconds(1000);
  config.timeout = seconds(5);
  Result<std::unique_ptr<RemoteWriteSender>> sender =
      RemoteWriteSender::Create(config, dir_.File("history.db"), nullptr);
  ASSERT_TRUE(sender.ok()) << sender.status().ToString();
  ASSERT_TRUE((*sender)->Start().ok());

  nlohmann::json metric;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return receiver_.QueryOne("etcd_cluster_has_leader{cluster=\"prod\",region=\"eu-1\"}", "",
                                  &metric) == "1";
      },
      seconds(30)))
      << "not in Prometheus";
  EXPECT_FALSE(metric.contains("member"));
  EXPECT_EQ(receiver_.QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd-1\"}"), "1");
  EXPECT_TRUE(testing::WaitFor([&] { return (*sender)->Stats().samples_sent == 10; }));

  // The receiver goes away; points keep being stored and wait in the history.
  receiver_.Stop();
  const int64_t t1 = t0 + 10000;
  for (int i = 0; i < 5; ++i) {
    Write("etcd_cluster_has_leader", "", t1 + i * 1000, 0);
  }
  ASSERT_TRUE(testing::WaitFor([&] { return (*sender)->Stats().failures >= 1; }, seconds(30)));
  EXPECT_EQ((*sender)->Stats().samples_sent, 10u);
  EXPECT_GT((*sender)->Stats().lag_seconds, 0);

  // Back on the same data: the gap's points arrive, the lag returns to 0.
  ASSERT_TRUE(receiver_.Start().ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const RemoteWriteStats s = (*sender)->Stats();
        return s.samples_sent == 15 && s.lag_seconds == 0;
      },
      seconds(30)));
  EXPECT_EQ(receiver_.QueryOne("etcd_cluster_has_leader{cluster=\"prod\"}"), "0");
  EXPECT_EQ(receiver_.QueryOne("count_over_time(etcd_cluster_has_leader{cluster=\"prod\"}[10m])"),
            "10");
  EXPECT_EQ((*sender)->Stats().samples_rejected, 0u);
  EXPECT_EQ((*sender)->Stats().samples_dropped, 0u);
  (*sender)->Stop();
}

}  // namespace
}  // namespace etcdmon::aggregator
