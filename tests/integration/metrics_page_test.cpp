// The Prometheus text parser and the HTTP fetcher on a real etcd member's /metrics page.

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "etcdmon/histogram/quantile.h"
#include "etcdmon/http/fetcher.h"
#include "etcdmon/promtext/parser.h"
#include "etcdmon/testing/etcd_cluster.h"

namespace etcdmon::promtext {
namespace {

using testing::EtcdCluster;
using testing::EtcdClusterOptions;

const Sample* FirstSample(const ParseResult& page, std::string_view family) {
  const MetricFamily* f = page.FindFamily(family);
  return f == nullptr || f->samples.empty() ? nullptr : &f->samples.front();
}

// The page parses without a single line error and has what the collector relies on: the leader
// flag, the db size, and the WAL fsync histogram with a +Inf bucket and a finite p99.
TEST(MetricsPageTest, ParsesRealMemberPage) {
  EtcdClusterOptions options;
  options.members = 1;
  EtcdCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());

  http::FetcherOptions fetch_options;
  auto fetcher = http::HttpFetcher::Create(fetch_options);
  ASSERT_TRUE(fetcher.ok()) << fetcher.status().ToString();
  Result<http::HttpResponse> response = (*fetcher)->Get(cluster.MetricsUrl(0));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  ASSERT_EQ(response->status_code, 200);

  ParseResult page;
  Status parsed = Parse(response->body, page);
  ASSERT_TRUE(parsed.ok()) << parsed.ToString();
  for (const auto& e : page.errors()) {
    ADD_FAILURE() << "line " << e.line << ": " << e.reason;
  }

  const Sample* has_leader = FirstSample(page, "etcd_server_has_leader");
  ASSERT_NE(has_leader, nullptr);
  EXPECT_EQ(has_leader->value, 1.0);

  const Sample* db_size = FirstSample(page, "etcd_mvcc_db_total_size_in_bytes");
  ASSERT_NE(db_size, nullptr);
  EXPECT_GT(db_size->value, 0.0);

  const MetricFamily* fsync = page.FindFamily("etcd_disk_wal_fsync_duration_seconds");
  ASSERT_NE(fsync, nullptr);
  EXPECT_EQ(fsync->type, MetricType::kHistogram);
  Result<std::vector<HistogramSeries>> series = HistogramView(*fsync);
  ASSERT_TRUE(series.ok()) << series.status().ToString();
  ASSERT_EQ(series->size(), 1u);
  const auto& buckets = (*series)[0].buckets;
  ASSERT_GE(buckets.size(), 2u);
  EXPECT_TRUE(std::isinf(buckets.back().upper_bound));
  // A fresh member has fsynced its WAL at least once while bootstrapping.
  EXPECT_GT((*series)[0].count, 0.0);
  double p99 = histogram::HistogramQuantile(0.99, buckets);
  EXPECT_TRUE(std::isfinite(p99)) << p99;
  EXPECT_GT(p99, 0.0);
}

}  // namespace
}  // namespace etcdmon::promtext
