// remote_write against a real receiver: Debian's Prometheus started with
// --web.enable-remote-write-receiver. The series written are queried back with their labels
// and values, and writes resume after the receiver restarts on the same data directory.

#include "etcdmon/remote_write/remote_write.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "etcdmon/testing/prometheus_receiver.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::remote_write {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class RemoteWriteTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(receiver_.Start().ok()); }

  testing::TempDir dir_;
  testing::PrometheusReceiver receiver_{dir_.path()};
};

TEST_F(RemoteWriteTest, SeriesAreQueriedBackWithTheirLabelsAndResumeAfterARestart) {
  ClientOptions options;
  options.url = receiver_.WriteUrl();
  options.timeout = seconds(5);
  Result<std::unique_ptr<Client>> client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const Labels external = {{"region", "eu-1"}};

  const int64_t t0 = testing::NowUnixMs() - 10000;
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
  EXPECT_EQ(
      receiver_.QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd1\"}", "", &metric),
      "1");
  EXPECT_EQ(metric.value("region", ""), "eu-1");
  EXPECT_EQ(receiver_.QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd2\"}"), "0");
  EXPECT_EQ(
      receiver_.QueryOne("etcd_disk_wal_fsync_duration_p99_milliseconds{cluster=\"staging\"}"),
      "12.5");
  EXPECT_EQ(receiver_.QueryOne("count(etcd_server_has_leader{region=\"eu-1\"})"), "2");

  // A request sent again after a lost answer (a sender retries what it cannot confirm): Prometheus
  // 2.42 refuses the older samples of a series as out of order, for good. A sender must not
  // retry such a 400: the samples are already there.
  const SendResult again = (*client)->Send(*body);
  EXPECT_EQ(again.outcome, SendOutcome::kRejected) << again.http_status << " " << again.detail;
  EXPECT_EQ(again.http_status, 400);

  // The receiver goes away: retry later; it comes back on the same data: writes resume.
  receiver_.Stop();
  const int64_t t1 = testing::NowUnixMs() - 2000;
  Result<std::string> later = EncodeWriteRequest(
      {Series{"etcd_server_has_leader", {{"cluster", "prod"}, {"member", "etcd1"}}, {{t1, 0}}}},
      external);
  ASSERT_TRUE(later.ok());
  const SendResult down = (*client)->Send(*later);
  EXPECT_EQ(down.outcome, SendOutcome::kRetryable) << down.detail;
  ASSERT_TRUE(receiver_.Start().ok());
  const SendResult resumed = (*client)->Send(*later);
  ASSERT_EQ(resumed.outcome, SendOutcome::kAccepted)
      << resumed.http_status << " " << resumed.detail;
  EXPECT_EQ(receiver_.QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd1\"}"), "0");
  EXPECT_EQ(receiver_.QueryOne("etcd_server_has_leader{cluster=\"prod\",member=\"etcd2\"}"), "0");
}

}  // namespace
}  // namespace etcdmon::remote_write
