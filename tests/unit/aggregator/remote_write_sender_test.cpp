// The remote_write sender against a local HTTP receiver and a real history file: what it sends
// (labels, batches), when its cursors advance, and what it counts. Rounds are run one at a time
// with RunRound() on a FakeClock, so nothing waits on time; one test runs the thread.

#include "etcdmon/aggregator/remote_write_sender.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/remote_write/remote_write.h"
#include "etcdmon/sqlite/connection.h"
#include "etcdmon/testing/http_server.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::aggregator {
namespace {

using etcdmon::testing::CannedResponse;
using etcdmon::testing::HttpServer;
using etcdmon::testing::TempDir;

constexpr int64_t kT0 = 1699999200000;  // a whole hour
constexpr char kPath[] = "/api/v1/write";

class RemoteWriteSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    history_.path = dir_.File("history.db");
    history_.raw_retention = std::chrono::minutes(5);
    auto store = HistoryStore::Open(history_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    ASSERT_TRUE(server_.Start().ok());
    server_.Set(kPath, CannedResponse::With(200));
    config_.url = server_.Url(kPath);
    config_.external_labels = {{"region", "eu-1"}};
  }

  std::unique_ptr<RemoteWriteSender> NewSender() {
    auto sender = RemoteWriteSender::Create(config_, history_.path, nullptr, clock_);
    EXPECT_TRUE(sender.ok()) << sender.status().ToString();
    return sender.ok() ? std::move(sender).value() : nullptr;
  }

  void Write(const std::string& metric, const std::string& member,
             std::vector<std::pair<int64_t, double>> points) {
    auto id = store_->Series("prod", metric, member);
    ASSERT_TRUE(id.ok());
    WriteBatch batch;
    for (const auto& [ts, value] : points) {
      batch.points.push_back({*id, ts, value});
    }
    ASSERT_TRUE(store_->Write(batch).ok());
  }

  RoundResult Round(RemoteWriteSender& sender) {
    Result<RoundResult> r = sender.RunRound();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RoundResult{};
  }

  // The series of the n-th request the receiver got.
  std::vector<remote_write::Series> Request(std::size_t n) {
    auto requests = server_.requests();
    EXPECT_GT(requests.size(), n);
    if (requests.size() <= n) {
      return {};
    }
    auto series = remote_write::DecodeWriteRequest(requests[n].body);
    EXPECT_TRUE(series.ok()) << series.status().ToString();
    return series.ok() ? *series : std::vector<remote_write::Series>{};
  }

  int64_t CursorRows() {
    auto db = sqlite::Connection::Open(history_.path, sqlite::ConnectionOptions{});
    EXPECT_TRUE(db.ok());
    return *(*db)->QueryInt64("SELECT COUNT(*) FROM remote_write_cursor");
  }

  TempDir dir_;
  HistoryConfig history_;
  std::unique_ptr<HistoryStore> store_;
  HttpServer server_;
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(kT0 + 60000))};
  RemoteWriteConfig config_;
};

// Every stored point goes out once, with __name__, cluster, member (member series only) and the
// external labels; a second round finds nothing to send and the lag is 0.
TEST_F(RemoteWriteSenderTest, SendsStoredPointsWithLabels) {
  Write("etcd_server_has_leader", "etcd-1", {{kT0, 1}, {kT0 + 1000, 1}, {kT0 + 2000, 0}});
  Write("etcd_cluster_has_leader", "", {{kT0, 1}, {kT0 + 1000, 1}});
  auto sender = NewSender();
  ASSERT_NE(sender, nullptr);
  RoundResult first = Round(*sender);
  EXPECT_EQ(first.outcome, RoundOutcome::kAccepted);
  EXPECT_EQ(first.samples, 5u);
  EXPECT_FALSE(first.more);

  std::map<std::string, remote_write::Series> by_name;
  for (remote_write::Series& s : Request(0)) {
    by_name[s.name] = s;
  }
  ASSERT_EQ(by_name.size(), 2u);
  const remote_write::Labels member_labels = {{"__name__", "etcd_server_has_leader"},
                                              {"cluster", "prod"},
                                              {"member", "etcd-1"},
                                              {"region", "eu-1"}};
  EXPECT_EQ(by_name["etcd_server_has_leader"].labels, member_labels);
  ASSERT_EQ(by_name["etcd_server_has_leader"].samples.size(), 3u);
  EXPECT_EQ(by_name["etcd_server_has_leader"].samples[2].timestamp_ms, kT0 + 2000);
  EXPECT_EQ(by_name["etcd_server_has_leader"].samples[2].value, 0);
  const remote_write::Labels cluster_labels = {
      {"__name__", "etcd_cluster_has_leader"}, {"cluster", "prod"}, {"region", "eu-1"}};
  EXPECT_EQ(by_name["etcd_cluster_has_leader"].labels, cluster_labels);

  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kIdle);
  EXPECT_EQ(server_.requests().size(), 1u);
  RemoteWriteStats stats = sender->Stats();
  EXPECT_EQ(stats.samples_sent, 5u);
  EXPECT_EQ(stats.lag_seconds, 0);
  EXPECT_EQ(stats.last_success_unix_ms, kT0 + 60000);
  EXPECT_EQ(CursorRows(), 2);
}

// A retryable answer (503) advances nothing: the next round sends the very same samples.
TEST_F(RemoteWriteSenderTest, ResendsTheSameSamplesAfterARetryableFailure) {
  server_.SetSequence(kPath, {CannedResponse::With(503, "busy"), CannedResponse::With(200)});
  Write("m", "etcd-1", {{kT0, 1}, {kT0 + 1000, 2}});
  auto sender = NewSender();
  ASSERT_NE(sender, nullptr);
  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kRetryable);
  EXPECT_EQ(sender->Stats().failures, 1u);
  EXPECT_EQ(sender->Stats().samples_sent, 0u);
  EXPECT_DOUBLE_EQ(sender->Stats().lag_seconds, 60.0);  // now is kT0 + 60 s
  EXPECT_EQ(CursorRows(), 0);

  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kAccepted);
  auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body, requests[1].body);
  EXPECT_EQ(sender->Stats().samples_sent, 2u);
  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kIdle);
}

// A refused request (400, e.g. out of order) is counted as rejected and passed over: the next
// round sends only newer points.
TEST_F(RemoteWriteSenderTest, CountsARejectedRequestAndMovesOn) {
  server_.SetSequence(
      kPath, {CannedResponse::With(400, "out of order sample"), CannedResponse::With(200)});
  Write("m", "etcd-1", {{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}});
  auto sender = NewSender();
  ASSERT_NE(sender, nullptr);
  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kRejected);
  EXPECT_EQ(sender->Stats().samples_rejected, 3u);
  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kIdle);

  Write("m", "etcd-1", {{kT0 + 3000, 4}});
  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kAccepted);
  auto sent = Request(1);
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(sent[0].samples.size(), 1u);
  EXPECT_EQ(sent[0].samples[0].timestamp_ms, kT0 + 3000);
  EXPECT_EQ(sender->Stats().samples_sent, 1u);
  EXPECT_EQ(sender->Stats().samples_rejected, 3u);
}

// The cursors are on disk: a new sender on the same file (a restart) sends only what the
// previous one had not.
TEST_F(RemoteWriteSenderTest, ResumesFromTheCursorAfterARestart) {
  Write("m", "etcd-1", {{kT0, 1}, {kT0 + 1000, 2}});
  {
    auto sender = NewSender();
    ASSERT_NE(sender, nullptr);
    EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kAccepted);
  }
  Write("m", "etcd-1", {{kT0 + 2000, 3}});
  Write("m", "etcd-2", {{kT0 + 2000, 5}});
  auto sender = NewSender();
  ASSERT_NE(sender, nullptr);
  RoundResult r = Round(*sender);
  EXPECT_EQ(r.outcome, RoundOutcome::kAccepted);
  EXPECT_EQ(r.samples, 2u);
  for (const remote_write::Series& s : Request(1)) {
    ASSERT_EQ(s.samples.size(), 1u);
    EXPECT_EQ(s.samples[0].timestamp_ms, kT0 + 2000);
  }
}

// No request carries more than max_samples; a full request says more is waiting, and the
// rounds together send every point exactly once.
TEST_F(RemoteWriteSenderTest, CapsTheSamplesOfOneRequest) {
  config_.max_samples = 4;
  Write("a", "etcd-1", {{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}});
  Write("b", "etcd-1", {{kT0, 1}, {kT0 + 1000, 2}, {kT0 + 2000, 3}});
  auto sender = NewSender();
  ASSERT_NE(sender, nullptr);
  RoundResult first = Round(*sender);
  EXPECT_EQ(first.samples, 4u);
  EXPECT_TRUE(first.more);
  RoundResult second = Round(*sender);
  EXPECT_EQ(second.samples, 2u);
  EXPECT_FALSE(second.more);
  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kIdle);
  std::set<std::pair<std::string, int64_t>> seen;
  for (std::size_t n = 0; n < 2; ++n) {
    std::size_t in_request = 0;
    for (const remote_write::Series& s : Request(n)) {
      for (const remote_write::Sample& sample : s.samples) {
        EXPECT_TRUE(seen.insert({s.name, sample.timestamp_ms}).second) << s.name;
        ++in_request;
      }
    }
    EXPECT_LE(in_request, 4u);
  }
  EXPECT_EQ(seen.size(), 6u);
}

// Points the raw retention pruned before they were sent are counted as dropped (from the 1 min
// roll-ups of the whole minutes in the gap); sending resumes with what is left.
TEST_F(RemoteWriteSenderTest, CountsPointsPrunedBeforeTheyWereSentAsDropped) {
  Write("m", "etcd-1", {{kT0, 1}});
  auto sender = NewSender();
  ASSERT_NE(sender, nullptr);
  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kAccepted);

  // 54 points in the minutes [kT0+1m, kT0+10m), never sent, then pruned.
  std::vector<std::pair<int64_t, double>> unsent;
  for (int64_t ts = kT0 + 60000; ts < kT0 + 600000; ts += 10000) {
    unsent.push_back({ts, 2});
  }
  Write("m", "etcd-1", unsent);
  const auto later = std::chrono::system_clock::time_point(std::chrono::minutes(30)) +
                     std::chrono::milliseconds(kT0);
  clock_.SetNow(later);
  for (int i = 0; i < 100; ++i) {
    auto more = store_->Maintain(later);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) {
      break;
    }
  }
  auto raw = store_->Query({"m", "etcd-1", kT0 + 60000, kT0 + 60000, 0, "prod"});
  ASSERT_TRUE(raw.ok());
  ASSERT_NE(raw->resolution, "raw") << "retention has not pruned the raw points";

  Write("m", "etcd-1", {{kT0 + 29 * 60000, 3}});
  RoundResult r = Round(*sender);
  EXPECT_EQ(r.outcome, RoundOutcome::kAccepted);
  EXPECT_EQ(r.samples, 1u);
  EXPECT_EQ(sender->Stats().samples_dropped, unsent.size());
  EXPECT_EQ(sender->Stats().samples_sent, 2u);
  EXPECT_EQ(sender->Stats().lag_seconds, 0);
}

// The lag is the age of the oldest point not yet sent.
TEST_F(RemoteWriteSenderTest, ReportsTheLagOfTheOldestUnsentPoint) {
  config_.max_samples = 1;
  Write("m", "etcd-1", {{kT0, 1}, {kT0 + 20000, 2}});
  auto sender = NewSender();
  ASSERT_NE(sender, nullptr);
  EXPECT_TRUE(Round(*sender).more);
  EXPECT_DOUBLE_EQ(sender->Stats().lag_seconds, 40.0);  // now is kT0 + 60 s
  EXPECT_EQ(Round(*sender).outcome, RoundOutcome::kAccepted);
  EXPECT_DOUBLE_EQ(sender->Stats().lag_seconds, 0.0);
}

// Bad settings are refused at Create.
TEST_F(RemoteWriteSenderTest, RefusesBadConfiguration) {
  RemoteWriteConfig bad_label = config_;
  bad_label.external_labels = {{"bad-name", "x"}};
  RemoteWriteConfig no_samples = config_;
  no_samples.max_samples = 0;
  RemoteWriteConfig bad_url = config_;
  bad_url.url = "ftp://example";
  for (const RemoteWriteConfig& c : {bad_label, no_samples, bad_url}) {
    auto sender = RemoteWriteSender::Create(c, history_.path, nullptr, clock_);
    EXPECT_EQ(sender.status().code(), StatusCode::kInvalidArgument) << c.url;
  }
}

// The thread sends on its own; Stop twice, Stop without Start and destroy without Stop are fine.
TEST_F(RemoteWriteSenderTest, ThreadSendsAndStopsCleanly) {
  Write("m", "etcd-1", {{kT0, 1}});
  auto sender = NewSender();
  ASSERT_NE(sender, nullptr);
  ASSERT_TRUE(sender->Start().ok());
  EXPECT_TRUE(server_.WaitForRequests(1, std::chrono::seconds(30)));
  EXPECT_TRUE(etcdmon::testing::WaitFor([&] { return sender->Stats().samples_sent == 1; }));
  sender->Stop();
  sender->Stop();

  auto never_started = NewSender();
  ASSERT_NE(never_started, nullptr);
  never_started->Stop();

  auto destroyed_running = NewSender();
  ASSERT_NE(destroyed_running, nullptr);
  ASSERT_TRUE(destroyed_running->Start().ok());
}

// The backoff doubles from the minimum to the maximum, scaled by jitter into [half, whole].
TEST(RemoteWriteBackoffTest, DoublesUpToTheMaximumWithJitter) {
  using std::chrono::milliseconds;
  const struct {
    int failures;
    double unit;
    milliseconds expected;
  } cases[] = {
      {1, 1.0, milliseconds(500)},  {1, 0.0, milliseconds(250)},   {2, 1.0, milliseconds(1000)},
      {4, 1.0, milliseconds(4000)}, {7, 1.0, milliseconds(30000)}, {100, 0.0, milliseconds(15000)},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(detail::RetryBackoff(c.failures, milliseconds(500), milliseconds(30000), c.unit),
              c.expected)
        << c.failures << " " << c.unit;
  }
}

}  // namespace
}  // namespace etcdmon::aggregator
