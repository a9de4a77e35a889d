// The request guard alone: byte-at-a-time and pipelined input, the size limits, body framing.

#include "request_guard.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace etcdmon::gateway::detail {
namespace {

RequestLimits Limits() {
  RequestLimits limits;
  limits.max_request_line_bytes = 64;
  limits.max_head_bytes = 256;
  limits.max_body_bytes = 100;
  return limits;
}

// Feeds `bytes` one at a time; the first refusal, or nullopt.
std::optional<Refusal> FeedBytewise(RequestGuard& guard, const std::string& bytes) {
  for (char c : bytes) {
    if (std::optional<Refusal> r = guard.Feed(std::string_view(&c, 1))) {
      return r;
    }
  }
  return std::nullopt;
}

TEST(RequestGuardTest, PassesPipelinedRequestsFedByteByByte) {
  RequestGuard guard(Limits());
  const std::string requests =
      "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
      "POST /b HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
      "POST /b HTTP/1.1\r\nContent-Length: 100\r\n\r\n" +
      std::string(100, 'b') + "GET /c?x=%C3%A9 HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_FALSE(FeedBytewise(guard, requests).has_value());
  RequestGuard whole(Limits());
  EXPECT_FALSE(whole.Feed(requests + requests).has_value());
  EXPECT_FALSE(whole.refused());
}

TEST(RequestGuardTest, RefusesOversizedBodiesFromTheHeaders) {
  RequestGuard guard(Limits());
  std::optional<Refusal> r = guard.Feed("POST /a HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->http_status, 413);
  EXPECT_TRUE(guard.refused());
  EXPECT_TRUE(guard.Feed("more").has_value());
}

// Chunk framing never reaches the parser behind the guard (it reads past its buffer on a
// chunk-size line cut short): 411 from the headers, before any chunk, whatever follows.
TEST(RequestGuardTest, RefusesChunkedBodiesWith411) {
  for (const std::string& chunks : {std::string(""), std::string("3\r\nabc\r\n0\r\n\r\n"),
                                    std::string("ffffffffffffffffff"), std::string("zz\r\n")}) {
    RequestGuard guard(Limits());
    std::optional<Refusal> r =
        FeedBytewise(guard, "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks);
    ASSERT_TRUE(r.has_value()) << chunks;
    EXPECT_EQ(r->http_status, 411) << chunks;
    EXPECT_NE(r->message.find("Content-Length"), std::string::npos) << r->message;
    EXPECT_TRUE(guard.refused());
  }
}

TEST(RequestGuardTest, RefusesLongRequestLinesAndHeads) {
  RequestGuard line(Limits());
  std::optional<Refusal> r = FeedBytewise(line, "GET /" + std::string(100, 'a'));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->http_status, 414);
  RequestGuard head(Limits());
  r = FeedBytewise(head, "GET / HTTP/1.1\r\nX: " + std::string(300, 'a'));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->http_status, 431);
}

TEST(RequestGuardTest, RefusesMalformedRequestsWith400) {
  for (const std::string& request : {
           std::string("POST /a HTTP/1.1\r\nContent-Length: -5\r\n\r\n"),
           std::string("POST /a HTTP/1.1\r\nContent-Length:\r\n\r\n"),
           std::string("GET /a?t=%ff%fe HTTP/1.1\r\n\r\n"),
           std::string("GET /a?t=%0 HTTP/1.1\r\n\r\n"),
           std::string("GET /a?t=%00 HTTP/1.1\r\n\r\n"),
           std::string("GET /a\x01 HTTP/1.1\r\n\r\n"),
           std::string("GET /a HTTP/1.1\r\nX: a\x01\r\n\r\n"),
           std::string("GET a HTTP/1.1\r\n\r\n"),
           std::string("GET /a HTTP/2.0\r\n\r\n"),
           std::string("\r\n\r\n"),
           std::string(
               "POST /a HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
       }) {
    RequestGuard guard(Limits());
    std::optional<Refusal> r = guard.Feed(request);
    ASSERT_TRUE(r.has_value()) << request;
    EXPECT_EQ(r->http_status, 400) << request;
    EXPECT_FALSE(r->message.empty());
  }
}

}  // namespace
}  // namespace etcdmon::gateway::detail
