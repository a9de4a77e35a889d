#include "query.h"

#include <gtest/gtest.h>

namespace etcdmon::gateway::detail {
namespace {

constexpr int64_t kNow = 1714557600000;  // 2024-05-01T10:00:00Z

TEST(ParseTimeTest, AcceptsRfc3339UnixSecondsNowAndRelative) {
  EXPECT_EQ(*ParseTime("from", "2024-05-01T10:00:00Z", kNow), kNow);
  EXPECT_EQ(*ParseTime("from", "2024-05-01T12:00:00.5+02:00", kNow), kNow + 500);
  EXPECT_EQ(*ParseTime("from", "1714557600", kNow), kNow);
  EXPECT_EQ(*ParseTime("from", "1714557600.25", kNow), kNow + 250);
  EXPECT_EQ(*ParseTime("from", "now", kNow), kNow);
  EXPECT_EQ(*ParseTime("from", "-1h", kNow), kNow - 3600000);
  EXPECT_EQ(*ParseTime("from", "-1h30m", kNow), kNow - 5400000);
}

TEST(ParseTimeTest, RejectsGarbageNamingTheParameter) {
  for (const char* bad : {"", "yesterday", "-1x", "2024-13-01T00:00:00Z", "2024-05-01T10:00:00",
                          "1.2.3", "-", "2024-05-01T10:00:00Zjunk"}) {
    Result<int64_t> t = ParseTime("from", bad, kNow);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("from"), std::string::npos);
  }
}

// page_token and every other value reach protobuf strings and JSON: NUL bytes, broken
// percent-encoding and bytes that are not UTF-8 are a 400, never an error deeper down.
TEST(QueryParamsTest, RejectsNulBadEncodingAndInvalidUtf8) {
  for (const char* bad : {"page_token=%ff%fe%00AAAA", "page_token=%ff%feAAAA", "a=%00", "a=%zz",
                          "a=%4", "a=%c0%af", "a=%ed%a0%80", "a=%f4%90%80%80", "%ff=1"}) {
    Result<QueryParams> q = QueryParams::Parse(bad);
    ASSERT_FALSE(q.ok()) << bad;
    EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  Result<QueryParams> good = QueryParams::Parse("page_token=d%C3%A9j%C3%A0+vu&x=%F0%9F%98%80");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->Get("page_token"), "d\xc3\xa9j\xc3\xa0 vu");
}

TEST(ParseStepTest, DurationsAndSeconds) {
  EXPECT_EQ(*ParseStepMs("60"), 60000);
  EXPECT_EQ(*ParseStepMs("5m"), 300000);
  EXPECT_FALSE(ParseStepMs("0").ok());
  EXPECT_FALSE(ParseStepMs("-5s").ok());
  EXPECT_FALSE(ParseStepMs("soon").ok());
}

TEST(QueryParamsTest, DecodesAndRejectsDuplicatesAndUnknown) {
  Result<QueryParams> q = QueryParams::Parse("metric=a%5Fb&member=node+1&empty=");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->Get("metric"), "a_b");
  EXPECT_EQ(q->Get("member"), "node 1");
  EXPECT_EQ(q->Get("empty"), "");
  EXPECT_FALSE(q->Get("missing").has_value());
  EXPECT_FALSE(q->OnlyKnown({"metric", "member"}).ok());
  EXPECT_TRUE(q->OnlyKnown({"metric", "member", "empty"}).ok());
  EXPECT_FALSE(QueryParams::Parse("a=1&a=2").ok());
  EXPECT_FALSE(QueryParams::Parse("a=%zz").ok());
  EXPECT_FALSE(QueryParams::Parse("a=%4").ok());
  EXPECT_FALSE(QueryParams::Parse("a=" + std::string(kMaxQueryValueBytes + 1, 'x')).ok());
  std::string many;
  for (size_t i = 0; i <= kMaxQueryParams; ++i) {
    many += "p" + std::to_string(i) + "=1&";
  }
  EXPECT_FALSE(QueryParams::Parse(many).ok());
}

}  // namespace
}  // namespace etcdmon::gateway::detail
