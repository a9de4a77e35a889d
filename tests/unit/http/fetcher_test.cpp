#include "etcdmon/http/fetcher.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "etcdmon/testing/http_server.h"

namespace etcdmon::http {
namespace {

using namespace std::chrono_literals;
using testing::CannedResponse;
using testing::HttpServer;

// A loopback port that refuses connections: bound, so nobody else can take it, but not
// listening. Closed on destruction.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~RefusingPort() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

class HttpFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  std::unique_ptr<HttpFetcher> MakeFetcher(FetcherOptions options = {}) {
    auto fetcher = HttpFetcher::Create(std::move(options));
    EXPECT_TRUE(fetcher.ok()) << fetcher.status().ToString();
    return fetcher.ok() ? std::move(*fetcher) : nullptr;
  }

  // `path` reads the request and then never answers.
  void Hang(const std::string& path) {
    CannedResponse hang;
    hang.action = CannedResponse::Action::kHang;
    server_.Set(path, hang);
  }

  // `path` answers 200 with the body "ok".
  void AnswerOk(const std::string& path) {
    CannedResponse ok;
    ok.body = "ok";
    server_.Set(path, ok);
  }

  HttpServer server_;
};

// A 200 response comes back with its body and content type.
TEST_F(HttpFetcherTest, Returns200WithBody) {
  CannedResponse metrics;
  metrics.body = "# TYPE etcd_server_has_leader gauge\netcd_server_has_leader 1\n";
  server_.Set("/metrics", metrics);
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);

  auto response = fetcher->Get(server_.Url("/metrics"));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status_code, 200);
  EXPECT_EQ(response->body, metrics.body);
  EXPECT_EQ(response->content_type, "text/plain; version=0.0.4; charset=utf-8");
}

// An HTTP error status is a response, not an error.
TEST_F(HttpFetcherTest, PassesThrough404) {
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);
  auto response = fetcher->Get(server_.Url("/nowhere"));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status_code, 404);
  EXPECT_EQ(response->body, "not found\n");
}

// Consecutive requests to one server reuse one connection; the output's storage is reused.
TEST_F(HttpFetcherTest, KeepsConnectionAlive) {
  CannedResponse metrics;
  metrics.body = std::string(10000, 'm');
  server_.Set("/metrics", metrics);
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);

  HttpResponse out;
  ASSERT_TRUE(fetcher->Get(server_.Url("/metrics"), out).ok());
  const char* storage = out.body.data();
  ASSERT_TRUE(fetcher->Get(server_.Url("/metrics"), out).ok());
  ASSERT_TRUE(fetcher->Get(server_.Url("/metrics"), out).ok());
  EXPECT_EQ(out.body, metrics.body);
  EXPECT_EQ(out.body.data(), storage);
  EXPECT_EQ(server_.requests_received(), 3u);
  EXPECT_EQ(server_.connections_accepted(), 1u);
}

// A refused connection is Unavailable and the message names the URL.
TEST_F(HttpFetcherTest, ConnectionRefusedIsUnavailable) {
  RefusingPort refusing;
  ASSERT_NE(refusing.port(), 0);
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);
  const std::string url = "http://127.0.0.1:" + std::to_string(refusing.port()) + "/metrics";
  auto response = fetcher->Get(url);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable) << response.status().ToString();
  EXPECT_NE(response.status().message().find(url), std::string::npos)
      << response.status().message();
  EXPECT_NE(response.status().message().find("connection refused"), std::string::npos)
      << response.status().message();
  EXPECT_TRUE(fetcher->last_failure_was_connect());
}

// A server that accepts but never answers runs into the request timeout.
TEST_F(HttpFetcherTest, HangingServerIsDeadlineExceeded) {
  Hang("/metrics");
  FetcherOptions options;
  options.timeout = 300ms;
  auto fetcher = MakeFetcher(options);
  ASSERT_NE(fetcher, nullptr);
  auto response = fetcher->Get(server_.Url("/metrics"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kDeadlineExceeded)
      << response.status().ToString();
}

// Cancel() from another thread aborts a request waiting for a server that never answers, and
// later requests fail at once without being sent.
TEST_F(HttpFetcherTest, CancellationAbortsTheRequestInFlight) {
  Hang("/metrics");
  FetcherOptions options;
  options.timeout = 20s;
  options.cancellation = std::make_shared<Cancellation>();
  auto fetcher = MakeFetcher(options);
  ASSERT_NE(fetcher, nullptr);
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    options.cancellation->Cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  auto response = fetcher->Get(server_.Url("/metrics"));
  const auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable) << response.status().ToString();
  EXPECT_NE(response.status().message().find("cancelled"), std::string::npos);
  EXPECT_LT(took, 5s);
  AnswerOk("/ok");
  const auto again = std::chrono::steady_clock::now();
  auto later = fetcher->Get(server_.Url("/ok"));
  EXPECT_EQ(later.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - again, 1s);
}

// Without a cancellation, or before Cancel(), requests are unaffected.
TEST_F(HttpFetcherTest, UncancelledCancellationChangesNothing) {
  AnswerOk("/ok");
  FetcherOptions options;
  options.cancellation = std::make_shared<Cancellation>();
  auto fetcher = MakeFetcher(options);
  ASSERT_NE(fetcher, nullptr);
  auto response = fetcher->Get(server_.Url("/ok"));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "ok");
  EXPECT_FALSE(options.cancellation->cancelled());
}

// After a failed request the same fetcher works again.
TEST_F(HttpFetcherTest, RecoversAfterTimeout) {
  Hang("/hang");
  AnswerOk("/ok");
  FetcherOptions options;
  options.timeout = 300ms;
  auto fetcher = MakeFetcher(options);
  ASSERT_NE(fetcher, nullptr);
  EXPECT_EQ(fetcher->Get(server_.Url("/hang")).status().code(), StatusCode::kDeadlineExceeded);
  auto response = fetcher->Get(server_.Url("/ok"));
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->body, "ok");
}

// Bodies over the cap abort the transfer, whether or not their length was announced.
TEST_F(HttpFetcherTest, BodyOverCapIsResourceExhausted) {
  for (const bool announced : {true, false}) {
    CannedResponse huge;
    huge.generated_body_bytes = 8u << 20;
    huge.send_content_length = announced;
    server_.Set("/huge", huge);
    FetcherOptions options;
    options.max_body_bytes = 1u << 20;
    auto fetcher = MakeFetcher(options);
    ASSERT_NE(fetcher, nullptr);
    auto response = fetcher->Get(server_.Url("/huge"));
    ASSERT_FALSE(response.ok()) << "announced=" << announced;
    EXPECT_EQ(response.status().code(), StatusCode::kResourceExhausted)
        << "announced=" << announced << ": " << response.status().ToString();
    EXPECT_NE(response.status().message().find("limit of 1048576 bytes"), std::string::npos)
        << response.status().message();
  }
}

// A body of exactly the cap is accepted, announced or streamed.
TEST_F(HttpFetcherTest, BodyAtCapIsAccepted) {
  for (const bool announced : {true, false}) {
    CannedResponse full;
    full.generated_body_bytes = 300000;
    full.send_content_length = announced;
    server_.Set("/full", full);
    FetcherOptions options;
    options.max_body_bytes = 300000;
    auto fetcher = MakeFetcher(options);
    ASSERT_NE(fetcher, nullptr);
    auto response = fetcher->Get(server_.Url("/full"));
    ASSERT_TRUE(response.ok()) << "announced=" << announced << ": " << response.status().ToString();
    EXPECT_EQ(response->body.size(), 300000u);
  }
}

// A connection reset without any response is Unavailable.
TEST_F(HttpFetcherTest, AbruptCloseIsUnavailable) {
  CannedResponse reset;
  reset.action = CannedResponse::Action::kCloseAbruptly;
  server_.Set("/metrics", reset);
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);
  auto response = fetcher->Get(server_.Url("/metrics"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable) << response.status().ToString();
  // It never answered on this connection: as good as not reachable.
  EXPECT_TRUE(fetcher->last_failure_was_connect());

  // Once a server has answered, a connection it drops is lost, not unreachable.
  AnswerOk("/ok");
  ASSERT_TRUE(fetcher->Get(server_.Url("/ok")).ok());
  auto dropped = fetcher->Get(server_.Url("/metrics"));
  ASSERT_FALSE(dropped.ok());
  EXPECT_EQ(dropped.status().code(), StatusCode::kUnavailable) << dropped.status().ToString();
  EXPECT_FALSE(fetcher->last_failure_was_connect()) << dropped.status().ToString();
}

// Only http and https are fetched; malformed URLs are InvalidArgument.
TEST_F(HttpFetcherTest, RejectsOtherSchemesAndMalformedUrls) {
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);
  for (const char* url : {"file:///etc/hostname", "ftp://127.0.0.1/x", "http://[::1/"}) {
    auto response = fetcher->Get(url);
    ASSERT_FALSE(response.ok()) << url;
    EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument)
        << url << ": " << response.status().ToString();
  }
}

// Credentials in a URL never reach an error message.
TEST_F(HttpFetcherTest, RedactsCredentialsInErrors) {
  RefusingPort refusing;
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);
  auto response =
      fetcher->Get("http://user:s3cret@127.0.0.1:" + std::to_string(refusing.port()) + "/metrics");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().message().find("s3cret"), std::string::npos)
      << response.status().message();
  EXPECT_NE(response.status().message().find("http://***@127.0.0.1:"), std::string::npos)
      << response.status().message();
}

// A POST sends its body and headers, and the response comes back.
TEST_F(HttpFetcherTest, PostSendsBodyAndHeaders) {
  CannedResponse accepted;
  accepted.status = 202;
  accepted.content_type = "application/json";
  accepted.body = "{\"status\":\"success\"}";
  server_.Set("/hook", accepted);
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);

  const std::string body = "{\"alert\":\"NoLeader\"}";
  auto response = fetcher->Post(server_.Url("/hook"), body,
                                {{"Content-Type", "application/json"}, {"X-Test", "yes"}});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status_code, 202);
  EXPECT_EQ(response->body, accepted.body);
  EXPECT_EQ(response->content_type, "application/json");

  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/hook");
  EXPECT_EQ(requests[0].body, body);
  EXPECT_EQ(requests[0].Header("content-type"), "application/json");
  EXPECT_EQ(requests[0].Header("X-Test"), "yes");
  EXPECT_EQ(requests[0].Header("Content-Length"), std::to_string(body.size()));
  EXPECT_EQ(requests[0].Header("Expect"), "");
}

// DELETE goes out with its headers and no body; a header that would split the request is
// refused before anything is sent, without its value in the error.
TEST_F(HttpFetcherTest, DeleteSendsHeadersWithoutBody) {
  CannedResponse ok;
  ok.body = "{\"id\":\"s1\"}";
  server_.Set("/silences/s1", ok);
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);

  auto injected = fetcher->Delete(server_.Url("/silences/s1"),
                                  {{"Authorization", "Bearer tok3n\r\nX-Evil: 1"}});
  EXPECT_EQ(injected.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(injected.status().message().find("tok3n"), std::string::npos);
  EXPECT_EQ(server_.requests_received(), 0u);

  auto response = fetcher->Delete(server_.Url("/silences/s1"), {{"Authorization", "Bearer t"}});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status_code, 200);
  EXPECT_EQ(response->body, ok.body);
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "DELETE");
  EXPECT_EQ(requests[0].path, "/silences/s1");
  EXPECT_EQ(requests[0].body, "");
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer t");
}

// A scripted 500 then 200 arrive in that order; a GET after a POST on the same fetcher is a
// plain GET without the POST's headers or body.
TEST_F(HttpFetcherTest, PostThenGetOnOneFetcher) {
  CannedResponse failure;
  failure.status = 500;
  CannedResponse ok;
  ok.body = "ok";
  server_.SetSequence("/hook", {failure, ok});
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);

  auto first = fetcher->Post(server_.Url("/hook"), "a", {{"X-Test", "1"}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->status_code, 500);
  auto second = fetcher->Get(server_.Url("/hook"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->status_code, 200);
  EXPECT_EQ(second->body, "ok");

  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].body, "");
  EXPECT_EQ(requests[1].Header("X-Test"), "");
}

// A body over the request cap, or a header that would split the request, is refused before
// anything is sent, and a header value never reaches the error.
TEST_F(HttpFetcherTest, PostRefusesOversizedBodyAndBadHeaders) {
  FetcherOptions options;
  options.max_request_body_bytes = 100;
  auto fetcher = MakeFetcher(options);
  ASSERT_NE(fetcher, nullptr);

  auto too_big = fetcher->Post(server_.Url("/hook"), std::string(101, 'x'), {});
  EXPECT_EQ(too_big.status().code(), StatusCode::kInvalidArgument) << too_big.status().ToString();
  auto injected =
      fetcher->Post(server_.Url("/hook"), "x", {{"Authorization", "Bearer tok3n\r\nX-Evil: 1"}});
  EXPECT_EQ(injected.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(injected.status().message().find("tok3n"), std::string::npos)
      << injected.status().message();
  auto bad_name = fetcher->Post(server_.Url("/hook"), "x", {{"X:Y", "1"}});
  EXPECT_EQ(bad_name.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server_.requests_received(), 0u);

  auto at_cap = fetcher->Post(server_.Url("/hook"), std::string(100, 'x'), {});
  ASSERT_TRUE(at_cap.ok()) << at_cap.status().ToString();
  EXPECT_EQ(at_cap->status_code, 404);
}

// A POST to a server that never answers runs into the request timeout.
TEST_F(HttpFetcherTest, PostToHangingServerIsDeadlineExceeded) {
  Hang("/hook");
  FetcherOptions options;
  options.timeout = 300ms;
  auto fetcher = MakeFetcher(options);
  ASSERT_NE(fetcher, nullptr);
  auto response = fetcher->Post(server_.Url("/hook"), "{}", {});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kDeadlineExceeded)
      << response.status().ToString();
  EXPECT_NE(response.status().message().find("POST "), std::string::npos);
}

// A GET names the client, asks for no compression (a compressed /metrics page costs the
// member CPU), and sends the user name and password of the URL as basic auth.
TEST_F(HttpFetcherTest, GetSendsIdentityWithoutCompressionAndBasicAuth) {
  AnswerOk("/metrics");
  auto fetcher = MakeFetcher();
  ASSERT_NE(fetcher, nullptr);
  const std::string plain = server_.Url("/metrics");
  const std::string with_user = "http://mon%40itor:p%3Ass@" + plain.substr(7);
  ASSERT_TRUE(fetcher->Get(plain).ok());
  ASSERT_TRUE(fetcher->Get(with_user).ok());
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("User-Agent"), "etcd-monitor");
  EXPECT_EQ(requests[0].Header("Accept-Encoding"), "");
  EXPECT_EQ(requests[0].Header("Authorization"), "");
  // base64("mon@itor:p:ss")
  EXPECT_EQ(requests[1].Header("Authorization"), "Basic bW9uQGl0b3I6cDpzcw==");
}

// A POST's own timeout replaces the fetcher's for that call only.
TEST_F(HttpFetcherTest, PostTimeoutOverridesTheFetchers) {
  Hang("/hang");
  AnswerOk("/ok");
  FetcherOptions options;
  options.timeout = std::chrono::minutes(10);
  auto fetcher = MakeFetcher(options);
  ASSERT_NE(fetcher, nullptr);
  auto response = fetcher->Post(server_.Url("/hang"), "{}", {}, CallOptions{200ms, 0ms});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kDeadlineExceeded)
      << response.status().ToString();
  HttpResponse out;
  ASSERT_TRUE(fetcher->Post(server_.Url("/ok"), "{}", {}, out).ok());
  EXPECT_EQ(out.body, "ok");
}

// Unreadable TLS files are reported when the fetcher is built, naming the file.
TEST(HttpFetcherCreateTest, RejectsUnreadableTlsFiles) {
  FetcherOptions options;
  options.tls.ca_file = "/nonexistent/ca.pem";
  auto fetcher = HttpFetcher::Create(options);
  ASSERT_FALSE(fetcher.ok());
  EXPECT_EQ(fetcher.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fetcher.status().message().find("/nonexistent/ca.pem"), std::string::npos);
  options = FetcherOptions{};
  options.tls.cert_file = "/etc/hostname";
  EXPECT_EQ(HttpFetcher::Create(options).status().code(), StatusCode::kInvalidArgument)
      << "a certificate without its key";
}

// Through a proxy, a plain-http request goes to the proxy in absolute form with the proxy's
// credentials; loopback addresses are reached directly.
TEST_F(HttpFetcherTest, HttpRequestsGoThroughTheProxyUnlessExcluded) {
  AnswerOk("http://receiver.example:8080/hook");
  AnswerOk("/direct");
  FetcherOptions options;
  const std::string proxy = server_.Url("");
  options.proxy.http_proxy = "http://relay:s3cret@" + proxy.substr(7);
  options.proxy.no_proxy = "other.example";
  auto fetcher = MakeFetcher(options);
  ASSERT_NE(fetcher, nullptr);

  auto via = fetcher->Post("http://receiver.example:8080/hook", "{}", {});
  ASSERT_TRUE(via.ok()) << via.status().ToString();
  EXPECT_EQ(via->body, "ok");
  auto direct = fetcher->Get(server_.Url("/direct"));
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_EQ(direct->body, "ok");

  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path, "http://receiver.example:8080/hook");
  // base64("relay:s3cret")
  EXPECT_EQ(requests[0].Header("Proxy-Authorization"), "Basic cmVsYXk6czNjcmV0");
  EXPECT_EQ(requests[1].path, "/direct");
  EXPECT_EQ(requests[1].Header("Proxy-Authorization"), "");
}

// Which requests a proxy serves, and what the environment says.
TEST(ProxySettingsTest, MatchesNoProxyAndReadsTheEnvironment) {
  ProxySettings p;
  p.http_proxy = "http://proxy:3128";
  p.https_proxy = "http://tls-proxy:3128";
  p.no_proxy = " .internal ,example.com,10.0.0.1";
  EXPECT_EQ(p.For("hooks.slack.com", true), "http://tls-proxy:3128");
  EXPECT_EQ(p.For("hooks.slack.com", false), "http://proxy:3128");
  EXPECT_EQ(p.For("a.internal", true), "");
  EXPECT_EQ(p.For("internal", true), "http://tls-proxy:3128");
  EXPECT_EQ(p.For("example.com", true), "");
  EXPECT_EQ(p.For("api.example.com", true), "");
  EXPECT_EQ(p.For("notexample.com", true), "http://tls-proxy:3128");
  EXPECT_EQ(p.For("10.0.0.1", false), "");
  EXPECT_EQ(p.For("10.0.0.10", false), "http://proxy:3128");
  EXPECT_EQ(p.For("127.0.0.1", true), "");
  EXPECT_EQ(p.For("localhost", false), "");
  EXPECT_EQ(p.For("::1", false), "");
  p.no_proxy = "*";
  EXPECT_EQ(p.For("anything", true), "");

  setenv("HTTPS_PROXY", "http://from-env:8080", 1);
  setenv("HTTP_PROXY", "http://ignored:1", 1);  // upper case is not read for http (httpoxy)
  unsetenv("http_proxy");
  setenv("ALL_PROXY", "http://all:2", 1);
  setenv("no_proxy", "localhost", 1);
  unsetenv("NO_PROXY");
  const ProxySettings env = ProxySettings::FromEnvironment();
  EXPECT_EQ(env.https_proxy, "http://from-env:8080");
  EXPECT_EQ(env.http_proxy, "http://all:2");
  EXPECT_EQ(env.no_proxy, "localhost");
  for (const char* name : {"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "no_proxy"}) {
    unsetenv(name);
  }

  FetcherOptions options;
  options.proxy.https_proxy = "https://tls-proxy:3128";
  EXPECT_EQ(HttpFetcher::Create(options).status().code(), StatusCode::kInvalidArgument);
}

// Non-positive timeouts are rejected when the fetcher is built.
TEST(HttpFetcherCreateTest, RejectsNonPositiveTimeouts) {
  FetcherOptions options;
  options.timeout = 0ms;
  EXPECT_EQ(HttpFetcher::Create(options).status().code(), StatusCode::kInvalidArgument);
  options = FetcherOptions{};
  options.connect_timeout = -1ms;
  EXPECT_EQ(HttpFetcher::Create(options).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace etcdmon::http
