#include "etcdmon/metrics/catalogue.h"

#include <gtest/gtest.h>

#include <set>
#include <string_view>

namespace etcdmon::metrics {
namespace {

// The catalogue lists every name once, with the quickstart's names spelled exactly.
TEST(CatalogueTest, IsCompleteAndUnique) {
  std::set<std::string_view> names;
  for (const MetricInfo& m : kAllMetrics) {
    EXPECT_TRUE(names.insert(m.name).second) << "twice: " << m.name;
    EXPECT_FALSE(m.help.empty()) << m.name;
    for (char c : m.name) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << m.name;
    }
  }
  const char* quickstart[] = {
      "etcd_cluster_healthy",
      "etcd_cluster_has_leader",
      "etcd_cluster_member_count",
      "etcd_cluster_quorum_size",
      "etcd_cluster_leader_changes_total",
      "etcd_request_read_latency_p50_milliseconds",
      "etcd_request_read_latency_p95_milliseconds",
      "etcd_request_read_latency_p99_milliseconds",
      "etcd_request_write_latency_p50_milliseconds",
      "etcd_request_write_latency_p95_milliseconds",
      "etcd_request_write_latency_p99_milliseconds",
      "etcd_request_rate_per_second",
      "etcd_mvcc_db_total_size_bytes",
      "etcd_mvcc_db_total_size_in_use_bytes",
      "etcd_server_proposals_committed_total",
      "etcd_server_proposals_applied_total",
      "etcd_server_proposals_pending",
      "etcd_server_proposals_failed_total",
      "etcd_disk_wal_fsync_duration_p95_milliseconds",
      "etcd_disk_backend_commit_duration_p95_milliseconds",
  };
  for (const char* name : quickstart) {
    EXPECT_TRUE(IsKnownMetric(name)) << name;
  }
  EXPECT_EQ(FindMetric("etcd_cluster_healthy")->scope, MetricScope::kCluster);
  EXPECT_EQ(FindMetric("no_such_metric"), nullptr);
  static_assert(IsKnownMetric(kWalFsyncP99), "constexpr lookup");
}

// Counters are etcd's `_total` counters; the services' own metrics are not history metrics.
TEST(CatalogueTest, KindsAndServiceMetrics) {
  for (const MetricInfo& m : kAllMetrics) {
    const bool total = m.name.size() > 6 && m.name.substr(m.name.size() - 6) == "_total";
    EXPECT_EQ(m.kind == MetricKind::kCounter, total) << m.name;
  }
  EXPECT_EQ(FindMetric(kWriteLatencyP99)->unit, "ms");
  for (const MetricInfo& m : kServiceMetrics) {
    EXPECT_FALSE(IsKnownMetric(m.name)) << m.name;
    EXPECT_EQ(FindServiceMetric(m.name), &m);
    EXPECT_FALSE(m.help.empty()) << m.name;
  }
  EXPECT_EQ(FindServiceMetric(kClusterHealthy), nullptr);
}

}  // namespace
}  // namespace etcdmon::metrics
