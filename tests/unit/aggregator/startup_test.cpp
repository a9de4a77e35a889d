// MembersSampledLast: the members a previous run of the aggregator was still sampling when it
// stopped, read from a real history file.

#include "etcdmon/aggregator/startup.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/metrics/catalogue.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::aggregator {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kT0 = 1'700'000'000'000;

std::chrono::system_clock::time_point At(int64_t unix_ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms));
}

class MembersSampledLastTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HistoryConfig config;
    config.path = dir_.File("history.db");
    auto store = HistoryStore::Open(config);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  // etcd_member_up of `member` sampled every 10 s in [from, to].
  void Sampled(const std::string& member, int64_t from, int64_t to) {
    auto series = store_->Series("default", metrics::kMemberUp, member);
    ASSERT_TRUE(series.ok());
    WriteBatch batch;
    for (int64_t t = from; t <= to; t += 10'000) {
      batch.points.push_back({*series, t, 1});
    }
    ASSERT_TRUE(store_->Write(batch).ok());
  }

  std::vector<std::string> Expected(int64_t now) {
    auto members = MembersSampledLast(*store_, "default", At(now), 10s);
    EXPECT_TRUE(members.ok()) << members.status().ToString();
    return members.ok() ? *members : std::vector<std::string>{"<error>"};
  }

  testing::TempDir dir_;
  std::unique_ptr<HistoryStore> store_;
};

// A new file expects nobody.
TEST_F(MembersSampledLastTest, NewFileExpectsNobody) { EXPECT_TRUE(Expected(kT0).empty()); }

// The members sampled up to the end are expected (a down member's collector kept sampling it,
// under its endpoint); one whose collector had gone long before is not; the cluster-wide series
// is not a member.
TEST_F(MembersSampledLastTest, MembersSampledAtTheEndAreExpected) {
  Sampled("etcd-1", kT0, kT0 + 600'000);
  Sampled("127.0.0.1:22379", kT0 + 300'000, kT0 + 590'000);
  Sampled("etcd-gone", kT0, kT0 + 120'000);
  Sampled("", kT0, kT0 + 600'000);
  EXPECT_EQ(Expected(kT0 + 660'000), (std::vector<std::string>{"127.0.0.1:22379", "etcd-1"}));
}

// After a stop of more than an hour the previous run says nothing about the members now.
TEST_F(MembersSampledLastTest, LongStopExpectsNobody) {
  Sampled("etcd-1", kT0, kT0 + 600'000);
  EXPECT_TRUE(Expected(kT0 + 600'000 + 2 * 3'600'000).empty());
}

}  // namespace
}  // namespace etcdmon::aggregator
