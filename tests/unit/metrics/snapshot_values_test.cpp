#include "etcdmon/metrics/snapshot_values.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::metrics {
namespace {

namespace v1 = etcdmonitor::v1;

struct Visited {
  std::string member;  // "" for the cluster
  const MetricInfo* metric;
  double value;
  ValueSource source;
  bool current;
};

// Records what the walk yields.
class Recorder final : public SnapshotVisitor {
 public:
  void BeginMember(const v1::MemberState& member) override { member_ = member.name(); }
  void Value(const MetricInfo& metric, double value, ValueSource source, bool current) override {
    values.push_back({member_, &metric, value, source, current});
  }

  // The value of `name` for `member`, if visited.
  std::optional<Visited> Find(std::string_view name, const std::string& member = "") const {
    for (const Visited& v : values) {
      if (v.metric->name == name && v.member == member) {
        return v;
      }
    }
    return std::nullopt;
  }

  std::vector<Visited> values;

 private:
  std::string member_;
};

v1::ClusterSnapshot Snapshot() {
  v1::ClusterSnapshot s;
  s.set_healthy(true);
  s.set_has_leader(true);
  s.set_member_count(2);
  s.set_request_rate_per_second(0);
  s.set_proposals_pending(0);
  v1::MemberState& fresh = *s.add_members();
  fresh.set_name("etcd-1");
  fresh.set_health(v1::HEALTHY);
  fresh.set_sampled(true);
  fresh.set_reachable(true);
  fresh.set_raft_term(7);
  fresh.set_db_size_bytes(4096);
  fresh.set_proposals_committed_total(12);
  fresh.set_proposals_pending(2);
  fresh.mutable_rates()->set_requests_per_second(30);
  fresh.mutable_read_latency()->set_p99_ms(4);
  fresh.set_disk_used_percent(40);
  v1::MemberState& gone = *s.add_members();
  gone.CopyFrom(fresh);
  gone.set_name("etcd-2");
  gone.set_health(v1::UNREACHABLE);
  gone.set_reachable(false);
  gone.set_figures_stale(true);
  return s;
}

// Without rates the cluster's request rate and pending proposals are unknown, so they are not
// visited (the gateway used to serve them as 0 while the history left them out); with rates
// both are, the request rate from the rates.
TEST(SnapshotValuesTest, ClusterRequestRateAndPendingOnlyWithRates) {
  v1::ClusterSnapshot s = Snapshot();
  Recorder without;
  VisitClusterValues(s, without);
  EXPECT_FALSE(without.Find(kRequestRate));
  EXPECT_FALSE(without.Find(kProposalsPending));
  EXPECT_TRUE(without.Find(kClusterHealthy));

  s.mutable_rates()->set_requests_per_second(55);
  s.set_proposals_pending(3);
  Recorder with;
  VisitClusterValues(s, with);
  ASSERT_TRUE(with.Find(kRequestRate));
  EXPECT_EQ(with.Find(kRequestRate)->value, 55);
  ASSERT_TRUE(with.Find(kProposalsPending));
  EXPECT_EQ(with.Find(kProposalsPending)->value, 3);
}

// A member whose figures are stale still has them visited, marked not current, except what
// lasts: etcd's counters, up, and the host's figures.
TEST(SnapshotValuesTest, StaleFiguresAreNotCurrent) {
  Recorder r;
  VisitSnapshot(Snapshot(), r);
  for (const char* member : {"etcd-1", "etcd-2"}) {
    ASSERT_TRUE(r.Find(kMemberUp, member)) << member;
    EXPECT_TRUE(r.Find(kMemberUp, member)->current);
    EXPECT_TRUE(r.Find(kProposalsCommitted, member)->current);
    EXPECT_TRUE(r.Find(kDiskUsagePercent, member)->current);
    EXPECT_TRUE(r.Find(kMemberHealthy, member)->current);
  }
  for (std::string_view gauge : {kRequestRate, kProposalsPending, kReadLatencyP99, kDbSize}) {
    ASSERT_TRUE(r.Find(gauge, "etcd-1")) << gauge;
    EXPECT_TRUE(r.Find(gauge, "etcd-1")->current) << gauge;
    ASSERT_TRUE(r.Find(gauge, "etcd-2")) << gauge;
    EXPECT_FALSE(r.Find(gauge, "etcd-2")->current) << gauge;
  }
  EXPECT_EQ(r.Find(kRequestRate, "etcd-1")->source, ValueSource::kRates);
  EXPECT_EQ(r.Find(kReadLatencyP99, "etcd-1")->source, ValueSource::kWindow);
  EXPECT_EQ(r.Find(kMemberHealthy, "etcd-1")->source, ValueSource::kTick);
}

// Every value is a catalogue entry of the right scope.
TEST(SnapshotValuesTest, ValuesAreCatalogueEntriesOfTheirScope) {
  v1::ClusterSnapshot s = Snapshot();
  s.mutable_rates()->set_requests_per_second(1);
  s.mutable_last_benchmark()->set_ops_per_second(100);
  Recorder r;
  VisitSnapshot(s, r);
  ASSERT_FALSE(r.values.empty());
  for (const Visited& v : r.values) {
    EXPECT_EQ(FindMetric(v.metric->name), v.metric) << v.metric->name;
    const MetricScope wrong = v.member.empty() ? MetricScope::kMember : MetricScope::kCluster;
    EXPECT_NE(v.metric->scope, wrong) << v.metric->name << " of '" << v.member << "'";
  }
  EXPECT_EQ(r.Find(kBenchmarkOpsPerSecond)->source, ValueSource::kBenchmark);
}

// A member known only from member lists has its health and nothing measured.
TEST(SnapshotValuesTest, UnsampledMemberHasHealthOnly) {
  v1::MemberState m;
  m.set_name("etcd-9");
  m.set_health(v1::STALE);
  m.set_db_size_bytes(1);
  Recorder r;
  VisitMemberValues(m, r);
  ASSERT_EQ(r.values.size(), 3u);
  EXPECT_EQ(r.values[0].metric->name, kMemberHealthy);
  EXPECT_EQ(r.values[1].metric->name, kMemberStale);
  EXPECT_EQ(r.values[2].metric->name, kMemberIsLeader);
}

}  // namespace
}  // namespace etcdmon::metrics
