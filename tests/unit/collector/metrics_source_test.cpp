#include "etcdmon/collector/metrics_source.h"

#include <gtest/gtest.h>

#include <future>
#include <string>

#include "etcdmon/testing/http_server.h"

namespace etcdmon::collector {
namespace {

using etcdmon::testing::CannedResponse;
using etcdmon::testing::HttpServer;

class MetricsSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  std::unique_ptr<MetricsSource> Make(std::size_t max_body_bytes = 16u << 20,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    http::FetcherOptions options;
    options.timeout = timeout;
    options.max_body_bytes = max_body_bytes;
    auto source = NewHttpMetricsSource(options);
    EXPECT_TRUE(source.ok()) << source.status().ToString();
    return source.ok() ? std::move(source).value() : nullptr;
  }

  HttpServer server_;
};

// A page arrives in the caller's buffer, whose storage is kept across fetches.
TEST_F(MetricsSourceTest, FetchesIntoTheCallersBuffer) {
  CannedResponse page;
  page.body = std::string(100000, 'x');
  server_.Set("/metrics", page);
  auto source = Make();
  ASSERT_NE(source, nullptr);

  std::string body;
  Result<int> code = source->Fetch(server_.Url("/metrics"), body);
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 200);
  EXPECT_EQ(body, page.body);
  const char* storage = body.data();
  code = source->Fetch(server_.Url("/metrics"), body);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(body.size(), page.body.size());
  EXPECT_EQ(body.data(), storage);
}

// Any HTTP status is an answer, with its body (etcd's unhealthy /health is a 503).
TEST_F(MetricsSourceTest, ErrorStatusIsAnAnswer) {
  CannedResponse unhealthy;
  unhealthy.status = 503;
  unhealthy.content_type = "text/plain";
  unhealthy.body = R"({"health":"false"})";
  server_.Set("/health", unhealthy);
  auto source = Make();
  ASSERT_NE(source, nullptr);
  std::string body;
  Result<int> code = source->Fetch(server_.Url("/health"), body);
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 503);
  EXPECT_EQ(body, unhealthy.body);
}

// Network failures and the size cap are errors with the fetcher's codes.
TEST_F(MetricsSourceTest, FailuresAreErrors) {
  CannedResponse big;
  big.generated_body_bytes = 5000;
  server_.Set("/big", big);
  CannedResponse reset;
  reset.action = CannedResponse::Action::kCloseAbruptly;
  server_.Set("/reset", reset);
  auto source = Make(/*max_body_bytes=*/1000);
  ASSERT_NE(source, nullptr);
  std::string body;

  Result<int> code = source->Fetch(server_.Url("/big"), body);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), StatusCode::kResourceExhausted);

  code = source->Fetch(server_.Url("/reset"), body);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), StatusCode::kUnavailable);

  const std::string url = server_.Url("/metrics");
  server_.Stop();
  code = source->Fetch(url, body);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), StatusCode::kUnavailable);
}

// Concurrent fetches each get a connection: /health answers while a /metrics request still
// hangs on another one (the sampler's lanes fetch from one source).
TEST_F(MetricsSourceTest, ConcurrentFetchesDoNotWaitForEachOther) {
  CannedResponse hang;
  hang.action = CannedResponse::Action::kHang;
  server_.Set("/metrics", hang);
  CannedResponse healthy;
  healthy.body = R"({"health":"true"})";
  server_.Set("/health", healthy);
  auto source = Make(16u << 20, std::chrono::seconds(5));
  ASSERT_NE(source, nullptr);

  std::string page;
  auto hung =
      std::async(std::launch::async, [&] { return source->Fetch(server_.Url("/metrics"), page); });
  ASSERT_TRUE(server_.WaitForRequests(1));
  std::string body;
  Result<int> code = source->Fetch(server_.Url("/health"), body);
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 200);
  EXPECT_EQ(body, healthy.body);
  EXPECT_EQ(hung.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the /metrics request was still waiting";
  EXPECT_EQ(hung.get().status().code(), StatusCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace etcdmon::collector
