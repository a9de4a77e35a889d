// The gateway's hardening, each point by the attack it stops: reading data without a token under
// --api-auth=all, framing or script injection into the dashboard (its headers), flooding POST
// endpoints (per-client rate limit), benchmarks that would fill the monitored cluster (byte
// budget, near-quota refusal) and benchmarks started with the silence token.
//
// The API's logic runs through Api::Handle with a FakeClock (exact, no timing); what only the
// server does (headers, the client's address) runs against a GatewayService on 127.0.0.1.

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "api.h"
#include "api_fixture.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/gateway/gateway.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/temp_dir.h"
#include "fake_backends.h"
#include "rate_limiter.h"

namespace etcdmon::gateway {
namespace {

using detail::ApiRequest;
using detail::ApiResponse;
using etcdmon::testing::Http;
using etcdmon::testing::HttpResult;
using etcdmon::testing::WaitFor;
using nlohmann::json;

constexpr std::string_view kBenchmarkUrl = "/api/v1/performance/benchmark";
constexpr uint64_t kMiB = 1024 * 1024;

// A snapshot whose members' databases hold `db_bytes` of an etcd quota of `quota_bytes`.
v1::ClusterSnapshot SnapshotWithDb(int64_t db_bytes, int64_t quota_bytes) {
  v1::ClusterSnapshot s = ThreeMemberSnapshot();
  for (v1::MemberState& m : *s.mutable_members()) {
    m.set_db_size_bytes(db_bytes);
    m.set_db_quota_bytes(quota_bytes);
  }
  return s;
}

double CounterValue(prometheus::Registry& registry, const std::string& name) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name == name && !family.metric.empty()) {
      return family.metric.front().counter.value;
    }
  }
  return -1;
}

class ApiSecurityTest : public ApiFixture {
 protected:
  ApiSecurityTest() { config_.max_benchmark_ops = 1'000'000; }

  ApiResponse PostBenchmark(std::string_view body, std::string_view token = kBenchmarkToken) {
    return Call("POST", kBenchmarkUrl, body, "Bearer " + std::string(token));
  }
};

const std::vector<std::string> kReadEndpoints = {
    "/metrics",
    "/api/v1/cluster/status",
    "/api/v1/cluster/members",
    "/api/v1/cluster/members/etcd-1",
    "/api/v1/cluster/leader",
    "/api/v1/metrics/current",
    "/api/v1/metrics/history",
    "/api/v1/metrics/latency",
    "/api/v1/alerts",
    "/api/v1/alerts/history",
    "/api/v1/alerts/silences",
    "/api/v1/cluster/consistency",
    "/api/v1/performance/benchmark/bench-1",
    "/api/v1/performance/benchmark",
};

// --api-auth=all: every read endpoint answers 401 without the token or with a wrong one, and
// serves with it; /health (liveness probes) and the dashboard's static files (no data in them)
// stay open.
TEST_F(ApiSecurityTest, AuthAllPutsEveryReadEndpointBehindTheToken) {
  config_.api_auth = ApiAuth::kAll;
  Build();
  Publish(ThreeMemberSnapshot());
  for (const std::string& path : kReadEndpoints) {
    SCOPED_TRACE(path);
    ApiResponse none = Call("GET", path);
    ExpectError(none, 401);
    EXPECT_TRUE(none.authenticate);
    ExpectError(Call("GET", path, "", "Bearer wrong"), 401);
    ExpectError(Call("GET", path, "", "Bearer " + kToken + "x"), 401);
    EXPECT_NE(Call("GET", path, "", "Bearer " + kToken).status, 401);
  }
  // A run's report, and the list of runs, may also be read with the benchmark token.
  for (const char* path : {"/api/v1/performance/benchmark/bench-1", "/api/v1/performance/benchmark",
                           "/api/v1/performance/benchmark/"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(Call("GET", path, "", "Bearer " + kBenchmarkToken).status, 200);
    ExpectError(Call("GET", path, "", "Bearer " + kBenchmarkToken + "x"), 401);
  }
  // The consistency check is a read like the others: the API token, not the benchmark token.
  ExpectError(Call("GET", "/api/v1/cluster/consistency", "", "Bearer " + kBenchmarkToken), 401);
  // The console's page and files are public (they hold no data; the page asks for the token).
  const std::string page = Call("GET", "/").Body();
  std::vector<std::string> open = {"/health", "/"};
  const std::regex asset(R"re((?:src|href)="(assets/[^"]+)")re");
  for (std::sregex_iterator it(page.begin(), page.end(), asset), end; it != end; ++it) {
    open.push_back("/" + (*it)[1].str());
  }
  EXPECT_EQ(open.size(), 7u) << page;  // the page, its icon, two scripts, two style sheets
  for (const std::string& path : open) {
    SCOPED_TRACE(path);
    EXPECT_NE(Call("GET", path).status, 401);
  }
}

// The default, --api-auth=mutating: reads need no token, POSTs still do.
TEST_F(ApiSecurityTest, AuthMutatingLeavesReadsOpen) {
  Build();
  Publish(ThreeMemberSnapshot());
  for (const std::string& path : kReadEndpoints) {
    SCOPED_TRACE(path);
    EXPECT_NE(Call("GET", path).status, 401);
  }
  ExpectError(Call("POST", "/api/v1/alerts/silences", R"({"duration":"1h"})"), 401);
}

// A gateway cannot be configured to guard reads with no token to guard them with.
TEST(GatewayConfigSecurity, AuthAllWithoutTokenIsRefusedAtCreate) {
  FakeMonitor monitor;
  GatewayConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.api_auth = ApiAuth::kAll;
  GatewayBackends backends;
  backends.monitor = &monitor;
  auto service = GatewayService::Create(config, backends, nullptr);
  ASSERT_FALSE(service.ok());
  EXPECT_NE(service.status().message().find("--api-token-file"), std::string::npos);
}

// 50 rapid POSTs from one address pass the limiter (whatever their outcome); the 51st is 429
// with Retry-After and the JSON error shape, counted; another address still gets through; the
// first gets through again once Retry-After has passed.
TEST_F(ApiSecurityTest, FiftyFirstRapidPostFromOneClientIsRefused) {
  Build();
  Publish(ThreeMemberSnapshot());
  const std::string silence = R"({"duration":"1h","comment":"flood"})";
  for (int i = 1; i <= 50; ++i) {
    ApiResponse r = Call("POST", "/api/v1/alerts/silences", silence, "Bearer " + kToken);
    ASSERT_EQ(r.status, 201) << "POST " << i << ": " << r.Body();
  }
  ApiResponse refused = Call("POST", "/api/v1/alerts/silences", silence, "Bearer " + kToken);
  ExpectError(refused, 429);
  EXPECT_GE(refused.retry_after_seconds, 1);
  EXPECT_LE(refused.retry_after_seconds, 60);
  EXPECT_NE(Message(refused).find("--post-rate-limit"), std::string::npos) << refused.Body();
  EXPECT_EQ(CounterValue(*registry_, "etcd_monitor_gateway_rate_limited_total"), 1);
  // Wrong tokens are limited as well: guessing is no faster than the limit.
  ExpectError(Call("POST", "/api/v1/alerts/silences", silence, "Bearer guess"), 429);

  ApiResponse other =
      Call("POST", "/api/v1/alerts/silences", silence, "Bearer " + kToken, "10.0.0.2");
  EXPECT_EQ(other.status, 201) << other.Body();
  // Reads are not limited.
  EXPECT_EQ(Call("GET", "/api/v1/cluster/status").status, 200);

  clock_.Advance(std::chrono::seconds(refused.retry_after_seconds));
  EXPECT_EQ(Call("POST", "/api/v1/alerts/silences", silence, "Bearer " + kToken).status, 201);
  EXPECT_EQ(CounterValue(*registry_, "etcd_monitor_gateway_rate_limited_total"), 2);
}

// DELETE is limited like POST, from the same per-client budget: after 25 POSTs and 25 DELETEs
// the next DELETE is 429, counted for its route.
TEST_F(ApiSecurityTest, DeleteSharesThePostRateLimit) {
  Build();
  const std::string silence = R"({"duration":"1h","comment":"flood"})";
  const std::string url = "/api/v1/alerts/silences/0123456789abcdef";
  for (int i = 1; i <= 25; ++i) {
    ASSERT_EQ(Call("POST", "/api/v1/alerts/silences", silence, "Bearer " + kToken).status, 201)
        << "POST " << i;
    ASSERT_EQ(Call("DELETE", url, "", "Bearer " + kToken).status, 200) << "DELETE " << i;
  }
  ApiResponse refused = Call("DELETE", url, "", "Bearer " + kToken);
  ExpectError(refused, 429);
  EXPECT_GE(refused.retry_after_seconds, 1);
  EXPECT_EQ(CounterValue(*registry_, "etcd_monitor_gateway_rate_limited_total"), 1);
  // Guessing tokens with DELETE is no faster.
  ExpectError(Call("DELETE", url, "", "Bearer guess"), 429);
  EXPECT_EQ(alerts_.ExpiredIds().size(), 25u);
  bool counted = false;
  for (const prometheus::MetricFamily& family : registry_->Collect()) {
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::string handler, code;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "handler") handler = label.value;
        if (label.name == "code") code = label.value;
      }
      if (family.name == "etcd_monitor_gateway_http_requests_total" &&
          handler == "silence_expire" && code == "429") {
        EXPECT_EQ(metric.counter.value, 2);
        counted = true;
      }
    }
  }
  EXPECT_TRUE(counted) << "429s are counted under silence_expire";
  // Reads are still not limited.
  EXPECT_EQ(Call("GET", "/api/v1/alerts/silences").status, 200);
}

// --post-rate-limit=0 turns the limit off.
TEST_F(ApiSecurityTest, RateLimitZeroIsOff) {
  config_.post_rate_limit_per_minute = 0;
  Build();
  for (int i = 0; i < 200; ++i) {
    ASSERT_NE(Call("POST", "/api/v1/alerts/silences", "{}").status, 429) << i;
  }
}

// The client table stays bounded however many addresses send, and churn through fresh addresses
// does not free a client that is being refused.
TEST(ClientRateLimiterTest, TableIsBoundedAndChurnDoesNotResetARefusedClient) {
  FakeClock clock;
  detail::ClientRateLimiter limiter(/*per_minute=*/5, /*max_clients=*/100, clock);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(limiter.Allow("attacker").allowed);
  }
  ASSERT_FALSE(limiter.Allow("attacker").allowed);
  for (int i = 0; i < 10'000; ++i) {
    limiter.Allow("198.51.100." + std::to_string(i));
    ASSERT_LE(limiter.tracked_clients(), 100u);
  }
  EXPECT_FALSE(limiter.Allow("attacker").allowed);
  // One token comes back after 12 s at 5 per minute.
  clock.Advance(std::chrono::seconds(12));
  EXPECT_TRUE(limiter.Allow("attacker").allowed);
  EXPECT_FALSE(limiter.Allow("attacker").allowed);
}

// A run bigger than --benchmark-max-bytes (default 64 MiB) is 400, naming the numbers.
TEST_F(ApiSecurityTest, BenchmarkOverTheByteBudgetIs400) {
  Build();
  Publish(SnapshotWithDb(1 * kMiB, 8192 * kMiB));
  // 100,000 × (64 + 1024) bytes = 108,800,000 bytes > 67,108,864.
  ApiResponse r = PostBenchmark(R"({"ops":100000,"key_size":64,"value_size":1024})");
  ExpectError(r, 400);
  const std::string message = Message(r);
  EXPECT_NE(message.find("108800000"), std::string::npos) << message;
  EXPECT_NE(message.find("67108864"), std::string::npos) << message;
  EXPECT_NE(message.find("--benchmark-max-bytes"), std::string::npos) << message;
  EXPECT_EQ(benchmark_.LastSpec().ops, BenchmarkSpec().ops) << "no run was started";
  // A raised budget lets the same run through.
  config_.benchmark_max_bytes = 200 * kMiB;
  Build();
  Publish(SnapshotWithDb(1 * kMiB, 8192 * kMiB));
  EXPECT_EQ(PostBenchmark(R"({"ops":100000,"key_size":64,"value_size":1024})").status, 202);
}

// A run is refused while a member's db (plus the run) is within 20% of its quota: etcd's own
// quota, or the smaller --max-db-size-mb the monitor knows. Without any snapshot the size is
// unknown and the run waits.
TEST_F(ApiSecurityTest, BenchmarkNearTheQuotaIsRefused) {
  Build();
  const std::string small = R"({"ops":1000,"key_size":64,"value_size":64})";  // 125 KiB
  ExpectError(PostBenchmark(small), 503);

  Publish(SnapshotWithDb(85 * kMiB, 100 * kMiB));
  ApiResponse refused = PostBenchmark(small);
  ExpectError(refused, 409);
  EXPECT_NE(Message(refused).find("etcd-1"), std::string::npos) << refused.Body();
  EXPECT_NE(Message(refused).find("85.0 MiB of 100.0 MiB"), std::string::npos) << refused.Body();

  // The run's own bytes count: 70 MiB + 20 MiB would cross 80 MiB.
  Publish(SnapshotWithDb(70 * kMiB, 100 * kMiB));
  ExpectError(PostBenchmark(R"({"ops":20480,"key_size":24,"value_size":1000})"), 409);
  EXPECT_EQ(PostBenchmark(small).status, 202);

  // The monitor's own cap (--max-db-size-mb) beats a larger etcd quota.
  config_.max_db_size_bytes = 80 * kMiB;
  Build();
  Publish(SnapshotWithDb(70 * kMiB, 8192 * kMiB));
  ApiResponse capped = PostBenchmark(small);
  ExpectError(capped, 409);
  EXPECT_NE(Message(capped).find("--max-db-size-mb"), std::string::npos) << capped.Body();
}

// Benchmarks have a token of their own: the silence (API) token alone is 403, naming the flag;
// a gateway with no benchmark token refuses every benchmark with 403.
TEST_F(ApiSecurityTest, BenchmarkWithTheSilenceTokenIs403) {
  Build();
  Publish(SnapshotWithDb(1 * kMiB, 8192 * kMiB));
  const std::string body = R"({"ops":100})";
  ApiResponse with_api_token = PostBenchmark(body, kToken);
  ExpectError(with_api_token, 403);
  EXPECT_NE(Message(with_api_token).find("--benchmark-token-file"), std::string::npos);
  ExpectError(PostBenchmark(body, "wrong"), 401);
  EXPECT_EQ(PostBenchmark(body).status, 202);
  // The benchmark token does not create silences either.
  ExpectError(
      Call("POST", "/api/v1/alerts/silences", R"({"duration":"1h"})", "Bearer " + kBenchmarkToken),
      401);

  config_.benchmark_token = config::Secret();
  Build();
  Publish(SnapshotWithDb(1 * kMiB, 8192 * kMiB));
  ApiResponse disabled = PostBenchmark(body, kToken);
  ExpectError(disabled, 403);
  EXPECT_NE(Message(disabled).find("--benchmark-token-file"), std::string::npos);
}

// What the server adds: security headers, Retry-After, and the client's address as the limit's
// key (a second loopback address is a second client).
class ServerSecurityTest : public ::testing::Test {
 protected:
  void Start(GatewayConfig config) {
    monitor_.SetSnapshot(ThreeMemberSnapshot());
    config.host = "127.0.0.1";
    config.port = 0;
    config.refresh_interval = std::chrono::milliseconds(50);
    config.api_token = config::Secret(kToken);
    GatewayBackends backends;
    backends.monitor = &monitor_;
    backends.alerts = &alerts_;
    auto logger = spdlog::default_logger()->clone("gateway-security-test");
    logger->set_level(spdlog::level::err);
    auto service = GatewayService::Create(config, backends, logger, clock_);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    ASSERT_TRUE(service_->Start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(service_->port());
  }

  // A header's value in a raw response head ("" when absent); names compared case-insensitively.
  static std::string Header(const std::string& head, std::string name) {
    auto lower = [](std::string s) {
      for (char& c : s) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return s;
    };
    const std::string wanted = lower(name) + ":";
    size_t start = 0;
    while (start < head.size()) {
      size_t end = head.find('\n', start);
      end = end == std::string::npos ? head.size() : end;
      std::string line = head.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (lower(line).rfind(wanted, 0) == 0) {
        const size_t value = line.find_first_not_of(' ', wanted.size());
        return value == std::string::npos ? "" : line.substr(value);
      }
      start = end + 1;
    }
    return "";
  }

  FakeClock clock_{AtUnixMs(kTick)};
  FakeMonitor monitor_;
  FakeAlerts alerts_;
  std::unique_ptr<GatewayService> service_;
  std::string base_;
};

// POST from `source` (a local address to send from), with an X-Forwarded-For header when
// `forwarded_for` is not empty: the status and the response head.
std::pair<long, std::string> PostFrom(const std::string& url, const std::string& source,
                                      const std::string& forwarded_for = "") {
  std::string head;
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  if (!forwarded_for.empty()) {
    headers = curl_slist_append(headers, ("X-Forwarded-For: " + forwarded_for).c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "{}");
  curl_easy_setopt(curl, CURLOPT_INTERFACE, source.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION,
      +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
  curl_easy_setopt(
      curl, CURLOPT_HEADERFUNCTION, +[](char* data, size_t size, size_t n, void* out) -> size_t {
        static_cast<std::string*>(out)->append(data, size * n);
        return size * n;
      });
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  }
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  return {status, head};
}

// The dashboard and every HTML answer: a tight Content-Security-Policy (no inline script or
// style), X-Frame-Options DENY; every answer, JSON and errors included: nosniff.
TEST_F(ServerSecurityTest, SecurityHeadersOnEveryAnswer) {
  Start(GatewayConfig());
  HttpResult page = Http("GET", base_ + "/");
  ASSERT_EQ(page.status, 200);
  const std::string csp = Header(page.headers, "Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << page.headers;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << page.headers;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << page.headers;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << page.headers;
  EXPECT_EQ(Header(page.headers, "X-Frame-Options"), "DENY");
  EXPECT_EQ(Header(page.headers, "X-Content-Type-Options"), "nosniff");
  // The policy forbids inline script: the page has none, it loads its own files.
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);
  EXPECT_EQ(page.body.find("<style"), std::string::npos);
  EXPECT_EQ(page.body.find(" style="), std::string::npos);
  // The page is asked for again on every load: it names the assets of the running build.
  EXPECT_EQ(Header(page.headers, "Cache-Control"), "no-cache");
  std::smatch script_name;
  ASSERT_TRUE(std::regex_search(page.body, script_name,
                                std::regex(R"re(<script src="(assets/app\.[0-9a-f]{12}\.js)">)re")))
      << page.body;
  std::smatch style_name;
  ASSERT_TRUE(std::regex_search(page.body, style_name,
                                std::regex(R"re(href="(assets/app\.[0-9a-f]{12}\.css)")re")))
      << page.body;

  // Versioned by content, so a browser may keep them for a year.
  HttpResult script = Http("GET", base_ + "/" + script_name[1].str());
  ASSERT_EQ(script.status, 200);
  EXPECT_NE(Header(script.headers, "Content-Type").find("text/javascript"), std::string::npos);
  EXPECT_EQ(Header(script.headers, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(script.headers, "Cache-Control"), "public, max-age=31536000, immutable");
  HttpResult style = Http("GET", base_ + "/" + style_name[1].str());
  ASSERT_EQ(style.status, 200);
  EXPECT_NE(Header(style.headers, "Content-Type").find("text/css"), std::string::npos);
  EXPECT_EQ(Header(style.headers, "Cache-Control"), "public, max-age=31536000, immutable");
  // An asset of another build is a plain 404 (JSON, never cached), and assets are read-only.
  HttpResult old = Http("GET", base_ + "/assets/app.000000000000.js");
  EXPECT_EQ(old.status, 404);
  EXPECT_EQ(Header(old.headers, "Cache-Control"), "");
  EXPECT_EQ(Http("POST", base_ + "/" + script_name[1].str(), "{}").status, 405);

  for (const char* path : {"/health", "/metrics", "/api/v1/cluster/status", "/nowhere"}) {
    SCOPED_TRACE(path);
    HttpResult r = Http("GET", base_ + path);
    ASSERT_NE(r.status, 0);
    EXPECT_EQ(Header(r.headers, "X-Content-Type-Options"), "nosniff");
  }
}

// Over the network: the client's address keys the limit; 429 carries Retry-After and is counted
// on /metrics.
TEST_F(ServerSecurityTest, RateLimitIsPerClientAddress) {
  GatewayConfig config;
  // Small, so that refilling (one token per 20 s) cannot happen while the test sends.
  config.post_rate_limit_per_minute = 3;
  Start(config);
  const std::string url = base_ + "/api/v1/alerts/silences";
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(PostFrom(url, "127.0.0.1").first, 401) << i;
  }
  auto [status, head] = PostFrom(url, "127.0.0.1");
  EXPECT_EQ(status, 429);
  const std::string retry_after = Header(head, "Retry-After");
  ASSERT_FALSE(retry_after.empty()) << head;
  EXPECT_GE(std::stoi(retry_after), 1);
  // Another client (another loopback address) still gets through.
  EXPECT_EQ(PostFrom(url, "127.0.0.2").first, 401);
  EXPECT_TRUE(WaitFor([&] {
    return Http("GET", base_ + "/metrics")
               .body.find("etcd_monitor_gateway_rate_limited_total{cluster=\"prod\"} 1") !=
           std::string::npos;
  })) << Http("GET", base_ + "/metrics").body;
}

// Behind a trusted proxy (--trusted-proxy) the limit counts the address the proxy appended to
// X-Forwarded-For; a client cannot pick its own key by sending the header through the proxy
// (only the last address counts) or directly (an untrusted peer's header is ignored).
TEST_F(ServerSecurityTest, RateLimitBehindATrustedProxyCountsTheForwardedClient) {
  GatewayConfig config;
  config.post_rate_limit_per_minute = 2;
  config.trusted_proxies = {"127.0.0.1"};
  Start(config);
  const std::string url = base_ + "/api/v1/alerts/silences";
  // Client A through the proxy, lying about itself in the first hop.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(PostFrom(url, "127.0.0.1", "10.9.9." + std::to_string(i) + ", 198.51.100.1").first,
              401)
        << i;
  }
  EXPECT_EQ(PostFrom(url, "127.0.0.1", "10.9.9.9, 198.51.100.1").first, 429);
  // Client B through the same proxy still gets through.
  EXPECT_EQ(PostFrom(url, "127.0.0.1", "198.51.100.2").first, 401);
  // A peer that is not the proxy is counted by its own address, whatever it forwards.
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(PostFrom(url, "127.0.0.2", "198.51.100." + std::to_string(10 + i)).first, 401) << i;
  }
  EXPECT_EQ(PostFrom(url, "127.0.0.2", "198.51.100.20").first, 429);
}

// Under --api-auth=all over the network: /metrics and the API need the token, /health does not.
TEST_F(ServerSecurityTest, AuthAllOverHttp) {
  GatewayConfig config;
  config.api_auth = ApiAuth::kAll;
  Start(config);
  const long health = Http("GET", base_ + "/health").status;
  EXPECT_NE(health, 0);
  EXPECT_NE(health, 401);
  HttpResult metrics = Http("GET", base_ + "/metrics");
  EXPECT_EQ(metrics.status, 401);
  EXPECT_EQ(Header(metrics.headers, "WWW-Authenticate"), "Bearer");
  EXPECT_EQ(Http("GET", base_ + "/metrics", "", "Bearer " + kToken).status, 200);
  EXPECT_EQ(Http("GET", base_ + "/api/v1/cluster/members").status, 401);
}

}  // namespace
}  // namespace etcdmon::gateway
