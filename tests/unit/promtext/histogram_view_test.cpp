#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "etcdmon/histogram/quantile.h"
#include "etcdmon/promtext/parser.h"

namespace etcdmon::promtext {
namespace {

using histogram::Bucket;
using Labels = std::vector<std::pair<std::string, std::string>>;

constexpr double kInf = std::numeric_limits<double>::infinity();

const MetricFamily& MustFind(const ParseResult& result, std::string_view name) {
  const MetricFamily* family = result.FindFamily(name);
  EXPECT_NE(family, nullptr) << name;
  static const MetricFamily kEmpty;
  return family != nullptr ? *family : kEmpty;
}

// Buckets are grouped per label set without `le`, sorted by bound, with sum and count.
TEST(HistogramViewTest, GroupsSeriesAndSortsBuckets) {
  const std::string page =
      "# TYPE grpc_server_handling_seconds histogram\n"
      "grpc_server_handling_seconds_bucket{method=\"Range\",le=\"0.01\"} 8\n"
      "grpc_server_handling_seconds_bucket{method=\"Range\",le=\"+Inf\"} 10\n"
      "grpc_server_handling_seconds_bucket{method=\"Range\",le=\"0.005\"} 4\n"
      "grpc_server_handling_seconds_sum{method=\"Range\"} 0.07\n"
      "grpc_server_handling_seconds_count{method=\"Range\"} 10\n"
      // labels in another order are the same series
      "grpc_server_handling_seconds_bucket{le=\"0.005\",type=\"unary\",method=\"Put\"} 1\n"
      "grpc_server_handling_seconds_bucket{method=\"Put\",le=\"+Inf\",type=\"unary\"} 3\n"
      "grpc_server_handling_seconds_count{type=\"unary\",method=\"Put\"} 3\n";
  ParseResult result;
  ASSERT_TRUE(Parse(page, result).ok());
  ASSERT_TRUE(result.errors().empty());
  auto view = HistogramView(MustFind(result, "grpc_server_handling_seconds"));
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  ASSERT_EQ(view->size(), 2u);

  const HistogramSeries& range = (*view)[0];
  EXPECT_EQ(range.labels, (Labels{{"method", "Range"}}));
  EXPECT_EQ(range.buckets, (std::vector<Bucket>{{0.005, 4}, {0.01, 8}, {kInf, 10}}));
  EXPECT_DOUBLE_EQ(range.sum, 0.07);
  EXPECT_EQ(range.count, 10);

  const HistogramSeries& put = (*view)[1];
  EXPECT_EQ(put.labels, (Labels{{"method", "Put"}, {"type", "unary"}}));
  EXPECT_EQ(put.buckets, (std::vector<Bucket>{{0.005, 1}, {kInf, 3}}));
  EXPECT_TRUE(std::isnan(put.sum));  // no _sum line
  EXPECT_EQ(put.count, 3);

  // The view feeds the quantile math: rank 0.5*10 = 5 -> (0.005,0.01]:
  // 0.005 + 0.005 * ((5-4)/(8-4)) = 0.00625
  EXPECT_DOUBLE_EQ(histogram::HistogramQuantile(0.5, range.buckets), 0.00625);
}

// The view owns its strings and outlives the parse result's next use.
TEST(HistogramViewTest, OwnsItsLabels) {
  ParseResult result;
  ASSERT_TRUE(Parse("# TYPE h histogram\nh_bucket{m=\"a\",le=\"+Inf\"} 1\n", result).ok());
  auto view = HistogramView(MustFind(result, "h"));
  ASSERT_TRUE(view.ok());
  ASSERT_TRUE(Parse("# TYPE h histogram\nh_bucket{m=\"zzz\",le=\"+Inf\"} 1\n", result).ok());
  EXPECT_EQ((*view)[0].labels, (Labels{{"m", "a"}}));
}

// Families that are not histograms, or series without a +Inf bucket or with a repeated
// bound, are InvalidArgument.
TEST(HistogramViewTest, RejectsUnusableHistograms) {
  struct Case {
    const char* name;
    std::string page;
    std::string message_part;
  };
  const Case cases[] = {
      {"not a histogram", "# TYPE h gauge\nh 1\n", "is gauge, not a histogram"},
      {"no +Inf bucket", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",
       "has no le=\"+Inf\" bucket"},
      {"only sum and count", "# TYPE h histogram\nh_sum{x=\"y\"} 1\nh_count{x=\"y\"} 1\n",
       "h{x=\"y\"} has no le=\"+Inf\" bucket"},
      {"repeated bound",
       "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\n"
       "h_bucket{le=\"+Inf\"} 1\n",
       "has two buckets with le=1"},
      {"NaN bound", "# TYPE h histogram\nh_bucket{le=\"NaN\"} 1\nh_bucket{le=\"+Inf\"} 1\n",
       "without a numeric le label"},
  };
  for (const auto& c : cases) {
    ParseResult result;
    ASSERT_TRUE(Parse(c.page, result).ok()) << c.name;
    ASSERT_TRUE(result.errors().empty()) << c.name << ": " << result.errors()[0].reason;
    auto view = HistogramView(MustFind(result, "h"));
    ASSERT_FALSE(view.ok()) << c.name;
    EXPECT_EQ(view.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(view.status().message().find(c.message_part), std::string::npos)
        << c.name << ": " << view.status().message();
  }
}

// A histogram without samples has no series.
TEST(HistogramViewTest, EmptyHistogram) {
  ParseResult result;
  ASSERT_TRUE(Parse("# TYPE h histogram\n", result).ok());
  auto view = HistogramView(MustFind(result, "h"));
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->empty());
}

}  // namespace
}  // namespace etcdmon::promtext
