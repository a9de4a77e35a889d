#include "etcdmon/histogram/quantile.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace etcdmon::histogram {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// 60 observations: 10 in (0,1], 20 in (1,2], 30 in (2,4], none above 4.
const std::vector<Bucket> kBasic = {{1, 10}, {2, 30}, {4, 60}, {kInf, 60}};

struct QuantileCase {
  const char* name;
  double q;
  std::vector<Bucket> buckets;
  double want;
};

// Interpolated quantiles match values worked out by hand (arithmetic next to each case).
TEST(HistogramQuantileTest, InterpolatesInsideTheBucket) {
  const QuantileCase cases[] = {
      // rank 0 falls into the first bucket (10 >= 0): 0 + (1-0) * (0/10) = 0
      {"q0", 0.0, kBasic, 0.0},
      // rank 6 -> first bucket: 0 + (1-0) * (6/10) = 0.6
      {"q0.1", 0.1, kBasic, 0.6},
      // rank 15 -> (1,2]: 1 + (2-1) * ((15-10)/(30-10)) = 1.25
      {"q0.25", 0.25, kBasic, 1.25},
      // rank 30 -> (1,2] (30 >= 30): 1 + 1 * (20/20) = 2
      {"q0.5", 0.5, kBasic, 2.0},
      // rank 54 -> (2,4]: 2 + (4-2) * ((54-30)/(60-30)) = 2 + 2*0.8 = 3.6
      {"q0.9", 0.9, kBasic, 3.6},
      // rank 60 -> (2,4] (60 >= 60): 2 + 2 * (30/30) = 4
      {"q1", 1.0, kBasic, 4.0},
      // 40 observations, rank 36 is beyond le=2 (30): in +Inf, so the second-highest bound, 2
      {"rank in +Inf", 0.9, {{1, 10}, {2, 30}, {kInf, 40}}, 2.0},
      // negative lowest bound: rank 2 in the lowest bucket returns its upper bound, -1
      {"lowest bound negative", 0.1, {{-1, 5}, {0, 10}, {1, 20}, {kInf, 20}}, -1.0},
      // rank 10 -> (-1,0]: -1 + (0-(-1)) * ((10-5)/(10-5)) = 0
      {"second bucket after negative", 0.5, {{-1, 5}, {0, 10}, {1, 20}, {kInf, 20}}, 0.0},
      // lowest bound exactly 0 counts as "<= 0": rank 2 returns 0
      {"lowest bound zero", 0.2, {{0, 5}, {1, 10}, {kInf, 10}}, 0.0},
      // same as q0.25 but in shuffled order: sorting first gives 1.25 again
      {"unsorted", 0.25, {{4, 60}, {kInf, 60}, {1, 10}, {2, 30}}, 1.25},
      // two le=1 series merge to (1,10) -> same histogram as kBasic, q0.9 = 3.6
      {"coalesced duplicates", 0.9, {{1, 4}, {1, 6}, {2, 30}, {4, 60}, {kInf, 60}}, 3.6},
      // le=2 count 8 < 10 becomes 10; rank 10 -> first bucket: 0 + 1 * (10/10) = 1
      {"non-monotonic low q", 0.5, {{1, 10}, {2, 8}, {4, 20}, {kInf, 20}}, 1.0},
      // le=2 lifted to 10; rank 15 -> (2,4]: 2 + 2 * ((15-10)/(20-10)) = 3
      {"non-monotonic high q", 0.75, {{1, 10}, {2, 8}, {4, 20}, {kInf, 20}}, 3.0},
      // 1e12+0.5 differs from 1e12 by 5e-13 relative (<= 1e-12): treated as 1e12. Then
      // observations = 1e12, rank 1e12 -> (1,2]: 1 + 1 * (1e12/1e12) = 2 (uncorrected: 3)
      {"precision noise ignored",
       1.0,
       {{1, 0}, {2, 1e12}, {3, 1e12 + 0.5}, {kInf, 1e12 + 0.5}},
       2.0},
      // two buckets are enough: rank 1 -> 0 + 5 * (1/2) = 2.5
      {"two buckets", 0.5, {{5, 2}, {kInf, 2}}, 2.5},
  };
  for (const auto& c : cases) {
    EXPECT_DOUBLE_EQ(HistogramQuantile(c.q, c.buckets), c.want) << c.name;
  }
}

// Out-of-range and degenerate inputs give PromQL's special values.
TEST(HistogramQuantileTest, SpecialCases) {
  struct Case {
    const char* name;
    double q;
    std::vector<Bucket> buckets;
    double want;  // NaN means "expect NaN"
  };
  const Case cases[] = {
      {"q below 0", -0.1, kBasic, -kInf},
      {"q below 0 without buckets", -1, {}, -kInf},
      {"q above 1", 1.01, kBasic, kInf},
      {"q NaN", kNaN, kBasic, kNaN},
      {"no buckets", 0.5, {}, kNaN},
      {"only +Inf", 0.5, {{kInf, 5}}, kNaN},
      {"two +Inf merge into one", 0.5, {{kInf, 2}, {kInf, 3}}, kNaN},
      {"no +Inf bucket", 0.5, {{1, 10}, {2, 30}}, kNaN},
      {"-Inf is not +Inf", 0.5, {{1, 10}, {-kInf, 0}}, kNaN},
      {"zero observations", 0.5, {{1, 0}, {2, 0}, {kInf, 0}}, kNaN},
      {"NaN upper bound", 0.5, {{kNaN, 1}, {1, 10}, {kInf, 10}}, kNaN},
      // rank 0 in an empty lowest bucket: 0 + 1 * (0/0) is NaN in PromQL too
      {"q0 with empty first bucket", 0.0, {{1, 0}, {2, 10}, {kInf, 10}}, kNaN},
  };
  for (const auto& c : cases) {
    const double got = HistogramQuantile(c.q, c.buckets);
    if (std::isnan(c.want)) {
      EXPECT_TRUE(std::isnan(got)) << c.name << " got " << got;
    } else {
      EXPECT_EQ(got, c.want) << c.name;
    }
  }
}

// Deltas subtract bucket by bucket when no counter went down.
TEST(BucketDeltasTest, SubtractsCumulativeCounts) {
  const std::vector<Bucket> prev = {{0.001, 5}, {0.01, 8}, {kInf, 10}};
  const std::vector<Bucket> cur = {{0.001, 7}, {0.01, 20}, {kInf, 30}};
  auto deltas = BucketDeltas(prev, cur);
  ASSERT_TRUE(deltas.ok()) << deltas.status().ToString();
  // 7-5 = 2, 20-8 = 12, 30-10 = 20
  EXPECT_EQ(*deltas, (std::vector<Bucket>{{0.001, 2}, {0.01, 12}, {kInf, 20}}));
}

// A count lower than before means a restart: the window is the current snapshot.
TEST(BucketDeltasTest, ResetYieldsCurrentSnapshot) {
  const std::vector<Bucket> prev = {{1, 50}, {2, 80}, {kInf, 100}};
  const std::vector<Bucket> cur = {{1, 3}, {2, 90}, {kInf, 110}};  // only le=1 went down
  auto deltas = BucketDeltas(prev, cur);
  ASSERT_TRUE(deltas.ok());
  EXPECT_EQ(*deltas, cur);
}

// Different bucket counts or bounds are InvalidArgument and leave the output untouched.
TEST(BucketDeltasTest, LayoutMismatchIsInvalidArgument) {
  const std::vector<Bucket> three = {{1, 1}, {2, 2}, {kInf, 3}};
  const std::vector<Bucket> two = {{1, 1}, {kInf, 3}};
  const std::vector<Bucket> moved = {{1, 1}, {2.5, 2}, {kInf, 3}};
  std::vector<Bucket> out = {{42, 42}};
  Status s = BucketDeltas(three, two, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  s = BucketDeltas(three, moved, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("bucket 1"), std::string::npos) << s.message();
  EXPECT_EQ(out, (std::vector<Bucket>{{42, 42}}));
  EXPECT_EQ(BucketDeltas(two, three).status().code(), StatusCode::kInvalidArgument);
}

// The output vector keeps its storage across calls and may alias an input.
TEST(BucketDeltasTest, ReusesOutputAndAllowsAliasing) {
  const std::vector<Bucket> prev = {{1, 1}, {kInf, 2}};
  std::vector<Bucket> cur = {{1, 4}, {kInf, 9}};
  std::vector<Bucket> out;
  out.reserve(8);
  const Bucket* storage = out.data();
  ASSERT_TRUE(BucketDeltas(prev, cur, out).ok());
  EXPECT_EQ(out.data(), storage);
  EXPECT_EQ(out, (std::vector<Bucket>{{1, 3}, {kInf, 7}}));

  ASSERT_TRUE(BucketDeltas(prev, cur, cur).ok());  // in place: 4-1 = 3, 9-2 = 7
  EXPECT_EQ(cur, (std::vector<Bucket>{{1, 3}, {kInf, 7}}));
}

// Deltas feed straight into the quantile: the window's p50 ignores older observations.
TEST(BucketDeltasTest, QuantileOverWindow) {
  // Before: 100 fast observations (<= 1). Window: 10 more, all in (1,2].
  const std::vector<Bucket> prev = {{1, 100}, {2, 100}, {kInf, 100}};
  const std::vector<Bucket> cur = {{1, 100}, {2, 110}, {kInf, 110}};
  auto deltas = BucketDeltas(prev, cur);
  ASSERT_TRUE(deltas.ok());
  // window {0, 10, 10}: rank 5 -> (1,2]: 1 + 1 * (5/10) = 1.5
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, *deltas), 1.5);
}

}  // namespace
}  // namespace etcdmon::histogram
