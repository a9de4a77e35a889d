#include "etcdmon/benchmark/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace etcdmon::benchmark {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

// The nearest-rank percentile of sorted values: what the histogram approximates.
uint64_t ExactPercentile(const std::vector<uint64_t>& sorted, double percent) {
  size_t rank = static_cast<size_t>(std::ceil(percent / 100.0 * sorted.size()));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// An empty histogram reports zeros, not garbage.
TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), nanoseconds(0));
  EXPECT_EQ(h.max(), nanoseconds(0));
  EXPECT_EQ(h.mean(), nanoseconds(0));
  EXPECT_EQ(h.stddev(), nanoseconds(0));
  EXPECT_EQ(h.Percentile(99), nanoseconds(0));
}

// 1..10000 µs once each: every reported percentile is the exact one within 1%.
TEST(LatencyHistogramTest, PercentilesOfUniformValuesWithinOnePercent) {
  LatencyHistogram h;
  std::vector<uint64_t> values;
  for (uint64_t us = 1; us <= 10000; ++us) {
    h.Record(microseconds(us));
    values.push_back(us * 1000);
  }
  for (double p : {10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9}) {
    const double exact = static_cast<double>(ExactPercentile(values, p));
    const double got = static_cast<double>(h.Percentile(p).count());
    EXPECT_NEAR(got, exact, exact * 0.01) << "p" << p;
  }
  // 5 ms lies in [2^22, 2^23) ns, cut into 128 buckets of 32768 ns: the midpoint of
  // [4980736, 5013504).
  EXPECT_EQ(h.Percentile(50), nanoseconds(4'980'736 + 16'383));
  EXPECT_EQ(h.count(), 10000u);
  EXPECT_EQ(h.min(), microseconds(1));
  EXPECT_EQ(h.max(), microseconds(10000));
  EXPECT_EQ(h.mean(), nanoseconds(5'000'500));
  // Population stddev of 1..n is sqrt((n^2 - 1) / 12).
  EXPECT_NEAR(static_cast<double>(h.stddev().count()), std::sqrt((1e8 - 1) / 12) * 1000, 1.0);
}

// Small values (below 256 ns) are exact.
TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v : {3, 3, 7, 200, 255}) {
    h.RecordNanos(v);
  }
  EXPECT_EQ(h.Percentile(20), nanoseconds(3));
  EXPECT_EQ(h.Percentile(40), nanoseconds(3));
  EXPECT_EQ(h.Percentile(60), nanoseconds(7));
  EXPECT_EQ(h.Percentile(80), nanoseconds(200));
  EXPECT_EQ(h.Percentile(100), nanoseconds(255));
}

// A skewed distribution (99% fast, 1% slow): p99 is fast, p99.9 is slow, as ranks say.
TEST(LatencyHistogramTest, TailOfSkewedDistribution) {
  LatencyHistogram h;
  for (int i = 0; i < 990; ++i) {
    h.Record(microseconds(500));
  }
  for (int i = 0; i < 10; ++i) {
    h.Record(std::chrono::milliseconds(200));
  }
  EXPECT_NEAR(h.Percentile(99).count(), 500'000, 5'000);
  EXPECT_NEAR(h.Percentile(99.9).count(), 200'000'000, 2'000'000);
  EXPECT_EQ(h.max(), std::chrono::milliseconds(200));
}

// Random log-normal latencies over six decades: every percentile within 1% of the exact one.
TEST(LatencyHistogramTest, RandomValuesWithinOnePercent) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(13.0, 2.0);  // median ~0.44 ms
  LatencyHistogram h;
  std::vector<uint64_t> values;
  for (int i = 0; i < 100000; ++i) {
    const auto v = static_cast<uint64_t>(std::min(dist(rng), 1e12));
    h.RecordNanos(v);
    values.push_back(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    const double exact = static_cast<double>(ExactPercentile(values, p));
    EXPECT_NEAR(static_cast<double>(h.Percentile(p).count()), exact, exact * 0.01) << "p" << p;
  }
}

// Merging per-thread histograms equals recording everything into one.
TEST(LatencyHistogramTest, MergeEqualsSingleHistogram) {
  LatencyHistogram all, a, b;
  for (uint64_t v = 1; v <= 5000; ++v) {
    all.RecordNanos(v * 997);
    (v % 3 == 0 ? a : b).RecordNanos(v * 997);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.mean(), all.mean());
  EXPECT_NEAR(a.stddev().count(), all.stddev().count(), 1);
  for (double p : {10.0, 50.0, 99.0, 99.9}) {
    EXPECT_EQ(a.Percentile(p), all.Percentile(p)) << p;
  }
}

// Values beyond the trackable range land in the top bucket; max stays exact.
TEST(LatencyHistogramTest, HugeValuesAreClampedButMaxIsExact) {
  LatencyHistogram h;
  h.RecordNanos(LatencyHistogram::kMaxTrackableNanos * 4);
  h.RecordNanos(1000);
  EXPECT_EQ(h.max().count(), static_cast<int64_t>(LatencyHistogram::kMaxTrackableNanos * 4));
  EXPECT_EQ(h.Percentile(100), h.max());
  EXPECT_NEAR(h.Percentile(50).count(), 1000, 10);
}

}  // namespace
}  // namespace etcdmon::benchmark
