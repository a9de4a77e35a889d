// remote_write against a real receiver: Debian's Prometheus started with
// --web.enable-remote-write-receiver. The series written are queried back with their labels
// and values, and writes resume after the receiver restarts on the same data directory.

#include "etcdmon/remote_write/remote_write.h"

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

#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::remote_write {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kPrometheus = "/usr/bin/prometheus";

int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class RemoteWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::vector<uint16_t>> ports = testing::PickFreeLoopbackPorts(1);
    ASSERT_TRUE(ports.ok()) << ports.status().ToString();
    base_ = "http://127.0.0.1:" + std::to_string((*ports)[0]);
    // No scrape jobs: every series in it came through remote_write.
    ASSERT_TRUE(WriteConfig());
    StartReceiver("prometheus-1.log");
  }

  bool WriteConfig() {
    FILE* f = std::fopen(dir_.File("prometheus.yml").c_str(), "w");
    if (f == nullptr) return false;
    std::fputs("global:\n  scrape_interval: 1m\n", f);
    return std::fclose(f) == 0;
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

  testing::TempDir dir_;
  std::string base_;
  std::string log_;
  std::unique_ptr<testing::ChildProcess> receiver_;
};

TEST_F(RemoteWriteTest, SeriesAreQueriedBackWithTheirLabelsAndResumeAfterARestart) {
  ClientOptions options;
  options.url = base_ + "/api/v1/write";
  options.timeout = seconds(5);
  Result<std::unique_ptr<Client>> client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const Labels external = {{"region", "eu-1"}};

  const int64_t t0 = NowMs() - 10000;
  Result<std::string> body =
      EncodeWriteRequest({Series{"etcd_server_has_leader",
                                 {{"cluster", "prod"}, {"member", "etcd1"}},
                                 {{t0, 1}, {t0 + 1000, 1}}},
                          Series{"etcd_server_has_leader",
                                 {{"cluster", "prod"}, {"member", "etcd2"}},
                                 {{t0, 0}, {t0 + 1000, 0}}},
                          Series{"etcd_disk_wal_fsync_duration_p99_milliseconds",
                                 {{"cluster", "staging"}, {"member", "etcd1"}},
                                 {{t0 + 1000, 12.5}}}},
                         external);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  const SendResult sent = (*client)->Send(*body);
  ASSERT_EQ(sent.outcome, SendOutcome::kAccepted) << sent.http_status << " " << sent.detail;

  nlohmann::json metric;
  EXPECT_EQ(QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd1\"}", &metric), "1");
  EXPECT_EQ(metric.value("region", ""), "eu-1");
  EXPECT_EQ(QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd2\"}"), "0");
  EXPECT_EQ(QueryOne("etcd_disk_wal_fsync_duration_p99_milliseconds{cluster=\"staging\"}"), "12.5");
  EXPECT_EQ(QueryOne("count(etcd_server_has_leader{region=\"eu-1\"})"), "2");

  // A request sent again after a lost answer (a sender retries what it cannot confirm): Prometheus
  // 2.42 refuses the older samples of a series as out of order, for good. A sender must not
  // retry such a 400: the samples are already there.
  const SendResult again = (*client)->Send(*body);
  EXPECT_EQ(again.outcome, SendOutcome::kRejected) << again.http_status << " " << again.detail;
  EXPECT_EQ(again.http_status, 400);

  // The receiver goes away: retry later; it comes back on the same data: writes resume.
  ASSERT_TRUE(receiver_->Stop(SIGTERM, seconds(30)).ok());
  const int64_t t1 = NowMs() - 2000;
  Result<std::string> later = EncodeWriteRequest(
      {Series{"etcd_server_has_leader", {{"cluster", "prod"}, {"member", "etcd1"}}, {{t1, 0}}}},
      external);
  ASSERT_TRUE(later.ok());
  const SendResult down = (*client)->Send(*later);
  EXPECT_EQ(down.outcome, SendOutcome::kRetryable) << down.detail;
  StartReceiver("prometheus-2.log");
  const SendResult resumed = (*client)->Send(*later);
  ASSERT_EQ(resumed.outcome, SendOutcome::kAccepted)
      << resumed.http_status << " " << resumed.detail;
  EXPECT_EQ(QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd1\"}"), "0");
  EXPECT_EQ(QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd2\"}"), "0");
}

}  // namespace
}  // namespace etcdmon::remote_write
