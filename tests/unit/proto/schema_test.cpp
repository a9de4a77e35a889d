#include "etcdmon/proto/schema.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::proto {
namespace {

// Only the version this build speaks is accepted; a missing or future one is rejected by name.
TEST(SchemaTest, AcceptsOnlyCurrentVersion) {
  EXPECT_TRUE(CheckSchemaVersion(kSchemaVersion).ok());
  Status missing = CheckSchemaVersion(0);
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.message().find("no schema_version"), std::string::npos);
  Status future = CheckSchemaVersion(kSchemaVersion + 1);
  EXPECT_EQ(future.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(future.message().find("unsupported schema_version 2"), std::string::npos);
}

// A SampleBatch survives a serialize/parse round trip, +Inf bucket bound included.
TEST(SchemaTest, SampleBatchRoundTrip) {
  etcdmonitor::v1::SampleBatch batch;
  batch.set_schema_version(kSchemaVersion);
  batch.set_collector_id("c1");
  batch.set_sequence(812);
  auto* sample = batch.add_samples();
  sample->set_endpoint("127.0.0.1:2379");
  sample->set_reachable(false);
  sample->set_error("connection refused");
  auto* hist = sample->add_histograms();
  hist->set_name("etcd_disk_wal_fsync_duration_seconds");
  auto* bucket = hist->add_buckets();
  bucket->set_upper_bound(std::numeric_limits<double>::infinity());
  bucket->set_cumulative_count(10);

  std::string wire;
  ASSERT_TRUE(batch.SerializeToString(&wire));
  etcdmonitor::v1::SampleBatch parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  EXPECT_EQ(parsed.collector_id(), "c1");
  EXPECT_EQ(parsed.sequence(), 812u);
  ASSERT_EQ(parsed.samples_size(), 1);
  EXPECT_FALSE(parsed.samples(0).reachable());
  EXPECT_EQ(parsed.samples(0).error(), "connection refused");
  EXPECT_TRUE(std::isinf(parsed.samples(0).histograms(0).buckets(0).upper_bound()));
}

}  // namespace
}  // namespace etcdmon::proto
