#include "render.h"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace etcdmon::gateway::detail {
namespace {

namespace v1 = etcdmonitor::v1;

v1::ClusterSnapshot OneMember() {
  v1::ClusterSnapshot s;
  s.set_cluster("prod");
  s.set_healthy(true);
  s.set_member_count(1);
  v1::MemberState& m = *s.add_members();
  m.set_name("etcd-1");
  m.set_health(v1::HEALTHY);
  m.set_sampled(true);
  m.set_reachable(true);
  return s;
}

bool HasClusterSeries(const std::vector<Series>& series, std::string_view name) {
  for (const Series& s : series) {
    if (s.name == name && s.member.empty()) {
      return true;
    }
  }
  return false;
}

// Before any rates the cluster's request rate and pending proposals are unknown: absent from
// /metrics and /api/v1/metrics/current, as from the history, rather than 0.
TEST(SnapshotSeriesTest, ClusterRequestRateAndPendingAbsentWithoutRates) {
  v1::ClusterSnapshot s = OneMember();
  std::vector<Series> series;
  SnapshotSeries(s, series);
  EXPECT_TRUE(HasClusterSeries(series, "etcd_cluster_healthy"));
  EXPECT_FALSE(HasClusterSeries(series, "etcd_request_rate_per_second"));
  EXPECT_FALSE(HasClusterSeries(series, "etcd_server_proposals_pending"));
  const std::string text = RenderPrometheus(&s, ServiceState{}, {}, "prod");
  EXPECT_EQ(text.find("etcd_request_rate_per_second{"), std::string::npos);
  EXPECT_EQ(text.find("etcd_server_proposals_pending{"), std::string::npos);

  s.mutable_rates()->set_requests_per_second(12.5);
  s.set_request_rate_per_second(12.5);
  s.set_proposals_pending(4);
  series.clear();
  SnapshotSeries(s, series);
  EXPECT_TRUE(HasClusterSeries(series, "etcd_request_rate_per_second"));
  EXPECT_TRUE(HasClusterSeries(series, "etcd_server_proposals_pending"));
  const std::string with = RenderPrometheus(&s, ServiceState{}, {}, "prod");
  EXPECT_NE(with.find("etcd_request_rate_per_second{cluster=\"prod\"} 12.5"), std::string::npos);
  EXPECT_NE(with.find("etcd_server_proposals_pending{cluster=\"prod\"} 4"), std::string::npos);
  // Help and type come from the catalogue.
  EXPECT_NE(with.find("# HELP etcd_request_rate_per_second Unary gRPC requests handled per "
                      "second"),
            std::string::npos);
  EXPECT_NE(with.find("# TYPE etcd_monitor_aggregator_up gauge"), std::string::npos);
}

// The aggregator's ingest refusals become one counter family with a `reason` label each,
// sorted by reason, with help and type from the catalogue.
TEST(RenderPrometheusTest, IngestRejectedByReason) {
  etcdmonitor::v1::ClusterSnapshot s;
  s.set_cluster("prod");
  (*s.mutable_ingest_rejected())["unknown_key"] = 3;
  (*s.mutable_ingest_rejected())["collector_not_allowed"] = 2;
  (*s.mutable_ingest_rejected())["clock_skew"] = 0;
  const std::string text = RenderPrometheus(&s, ServiceState{}, {}, "prod");
  EXPECT_NE(text.find("# TYPE etcd_monitor_ingest_rejected_total counter"), std::string::npos);
  const std::size_t unknown = text.find(
      "etcd_monitor_ingest_rejected_total{cluster=\"prod\","
      "reason=\"unknown_key\"} 3");
  const std::size_t foreign = text.find(
      "etcd_monitor_ingest_rejected_total{cluster=\"prod\","
      "reason=\"collector_not_allowed\"} 2");
  const std::size_t skew =
      text.find("etcd_monitor_ingest_rejected_total{cluster=\"prod\",reason=\"clock_skew\"} 0");
  ASSERT_NE(unknown, std::string::npos) << text;
  ASSERT_NE(foreign, std::string::npos) << text;
  ASSERT_NE(skew, std::string::npos) << text;
  EXPECT_LT(skew, foreign);
  EXPECT_LT(foreign, unknown);
}

// Freshness: 3 ticks when the snapshot carries its tick, the fallback otherwise.
TEST(FreshnessTest, ThreeTicksOrTheFallback) {
  etcdmonitor::v1::ClusterSnapshot s;
  s.set_tick_unix_ms(10000);
  s.set_tick_interval_ms(200);
  EXPECT_FALSE(FreshnessOf(s, 10600, std::chrono::seconds(30)).stale);
  const Freshness stale = FreshnessOf(s, 10601, std::chrono::seconds(30));
  EXPECT_TRUE(stale.stale);
  EXPECT_EQ(stale.stale_since_unix_ms, 10600);
  EXPECT_DOUBLE_EQ(stale.age_seconds, 0.601);
  s.set_tick_interval_ms(0);
  EXPECT_FALSE(FreshnessOf(s, 40000, std::chrono::seconds(30)).stale);
  EXPECT_TRUE(FreshnessOf(s, 40001, std::chrono::seconds(30)).stale);
}

// A stale snapshot's values leave /metrics; its age and the stale gauge stay, with its cluster.
TEST(RenderPrometheusTest, StaleSnapshotExportsOnlyItsAgeAndTheStaleGauge) {
  etcdmonitor::v1::ClusterSnapshot s;
  s.set_cluster("prod");
  s.set_member_count(3);
  s.add_members()->set_name("etcd-1");
  ServiceState state;
  state.has_snapshot = true;
  state.snapshot_age_seconds = 5;
  state.snapshot_stale = true;
  const std::string text = RenderPrometheus(&s, state, {}, "unknown");
  EXPECT_NE(text.find("etcd_monitor_snapshot_stale{cluster=\"prod\"} 1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("etcd_monitor_snapshot_age_seconds{cluster=\"prod\"} 5"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("etcd_cluster_member_count"), std::string::npos) << text;
  EXPECT_EQ(text.find("etcd-1"), std::string::npos) << text;
}

// The aggregator's failed history writes: a counter and a failing gauge, always present.
TEST(RenderPrometheusTest, StorageFailures) {
  etcdmonitor::v1::ClusterSnapshot s;
  s.set_cluster("prod");
  std::string text = RenderPrometheus(&s, ServiceState{}, {}, "prod");
  EXPECT_NE(text.find("# TYPE etcd_monitor_storage_failures_total counter"), std::string::npos);
  EXPECT_NE(text.find("etcd_monitor_storage_failures_total{cluster=\"prod\"} 0"), std::string::npos)
      << text;
  EXPECT_NE(text.find("etcd_monitor_storage_failing{cluster=\"prod\"} 0"), std::string::npos);
  s.mutable_storage()->set_failing(true);
  s.mutable_storage()->set_failures_total(1234);
  text = RenderPrometheus(&s, ServiceState{}, {}, "prod");
  EXPECT_NE(text.find("etcd_monitor_storage_failures_total{cluster=\"prod\"} 1234"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("etcd_monitor_storage_failing{cluster=\"prod\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace etcdmon::gateway::detail
