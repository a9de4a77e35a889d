// The aggregator's remote_write sender on a real history file against a real receiver (Debian's
// Prometheus with --web.enable-remote-write-receiver): the history's points are queried back with
// the cluster and external labels, and after the receiver was down the points stored meanwhile
// arrive once it is back (the lag returns to 0).

#include "etcdmon/aggregator/remote_write_sender.h"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::aggregator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kPrometheus = "/usr/bin/prometheus";

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RemoteWriteSenderIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::vector<uint16_t>> ports = testing::PickFreeLoopbackPorts(1);
    ASSERT_TRUE(ports.ok()) << ports.status().ToString();
    base_ = "http://127.0.0.1:" + std::to_string((*ports)[0]);
    FILE* f = std::fopen(dir_.File("prometheus.yml").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("global:\n  scrape_interval: 1m\n", f);  // no scrape jobs
    ASSERT_EQ(std::fclose(f), 0);
    StartReceiver("prometheus-1.log");
    HistoryConfig history;
    history.path = dir_.File("history.db");
    Result<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(history);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  void StartReceiver(const std::string& log_name) {
    log_ = dir_.File(log_name);
    receiver_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{kPrometheus, "--config.file=" + dir_.File("prometheus.yml"),
                                 "--storage.tsdb.path=" + dir_.File("tsdb"),
                                 "--web.listen-address=" + base_.substr(7),
                                 "--web.enable-remote-write-receiver", "--log.level=warn"},
        log_);
    ASSERT_TRUE(receiver_->ok()) << receiver_->status().ToString();
    ASSERT_TRUE(testing::WaitFor(
        [&] { return testing::Http("GET", base_ + "/-/ready").status == 200; }, seconds(60)))
        << testing::TailOfFile(log_, 20);
  }

  // The value of the instant query `promql`, "" when it has no single result.
  std::string QueryOne(const std::string& promql, nlohmann::json* metric = nullptr) {
    std::string encoded;
    for (char c : promql) {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(c));
      encoded += std::isalnum(static_cast<unsigned char>(c)) ? std::string(1, c) : hex;
    }
    const nlohmann::json answer =
        testing::Http("GET", base_ + "/api/v1/query?query=" + encoded).Json();
    if (!answer.is_object() || answer.value("status", "") != "success") return "";
    const nlohmann::json& result = answer["data"]["result"];
    if (!result.is_array() || result.size() != 1) return "";
    if (metric != nullptr) *metric = result[0]["metric"];
    return result[0]["value"][1].get<std::string>();
  }

  void Write(const std::string& metric, const std::string& member, int64_t ts, double value) {
    Result<SeriesId> id = store_->Series(metric, member);
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(store_->Write({{{*id, ts, value}}, {}}).ok());
  }

  testing::TempDir dir_;
  std::string base_;
  std::string log_;
  std::unique_ptr<testing::ChildProcess> receiver_;
  std::unique_ptr<HistoryStore> store_;
};

TEST_F(RemoteWriteSenderIntegrationTest, HistoryReachesPrometheusAndResumesAfterAnOutage) {
  const int64_t t0 = NowMs() - 20000;
  for (int i = 0; i < 5; ++i) {
    Write("etcd_cluster_has_leader", "", t0 + i * 1000, 1);
    Write("etcd_server_has_leader", "etcd-1", t0 + i * 1000, 1);
  }
  RemoteWriteConfig config;
  config.url = base_ + "/api/v1/write";
  config.external_labels = {{"region", "eu-1"}};
  config.interval = milliseconds(200);
  config.min_backoff = milliseconds(100);
  config.max_backoff = milliseconds(1000);
  config.timeout = seconds(5);
  Result<std::unique_ptr<RemoteWriteSender>> sender =
      RemoteWriteSender::Create(config, dir_.File("history.db"), "prod", nullptr);
  ASSERT_TRUE(sender.ok()) << sender.status().ToString();
  ASSERT_TRUE((*sender)->Start().ok());

  nlohmann::json metric;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return QueryOne("etcd_cluster_has_leader{cluster=\"prod\",region=\"eu-1\"}", &metric) ==
               "1";
      },
      seconds(30)))
      << testing::TailOfFile(log_, 20);
  EXPECT_FALSE(metric.contains("member"));
  EXPECT_EQ(QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd-1\"}"), "1");
  EXPECT_TRUE(testing::WaitFor([&] { return (*sender)->Stats().samples_sent == 10; }));

  // The receiver goes away; points keep being stored and wait in the history.
  ASSERT_TRUE(receiver_->Stop(SIGTERM, seconds(30)).ok());
  const int64_t t1 = t0 + 10000;
  for (int i = 0; i < 5; ++i) {
    Write("etcd_cluster_has_leader", "", t1 + i * 1000, 0);
  }
  ASSERT_TRUE(testing::WaitFor([&] { return (*sender)->Stats().failures >= 1; }, seconds(30)));
  EXPECT_EQ((*sender)->Stats().samples_sent, 10u);
  EXPECT_GT((*sender)->Stats().lag_seconds, 0);

  // Back on the same data: the gap's points arrive, the lag returns to 0.
  StartReceiver("prometheus-2.log");
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const RemoteWriteStats s = (*sender)->Stats();
        return s.samples_sent == 15 && s.lag_seconds == 0;
      },
      seconds(30)));
  EXPECT_EQ(QueryOne("etcd_cluster_has_leader{cluster=\"prod\"}"), "0");
  EXPECT_EQ(QueryOne("count_over_time(etcd_cluster_has_leader{cluster=\"prod\"}[10m])"), "10");
  EXPECT_EQ((*sender)->Stats().samples_rejected, 0u);
  EXPECT_EQ((*sender)->Stats().samples_dropped, 0u);
  (*sender)->Stop();
}

}  // namespace
}  // namespace etcdmon::aggregator
