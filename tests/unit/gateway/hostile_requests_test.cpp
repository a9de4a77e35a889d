// HTTP input that hurts, sent over raw sockets to a real gateway on a loopback port: malformed
// requests answer 400 (414, 431, 501 where apt) and never 500, an oversized body is refused
// from its headers (413 and the connection closed), and huge or crawling uploads leave /health
// and /metrics answering.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/gateway/gateway.h"
#include "etcdmon/testing/temp_dir.h"
#include "fake_backends.h"

namespace etcdmon::gateway {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// One TCP connection to the gateway; closed on destruction.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  // False once the peer stopped taking bytes (it refused the request and closed).
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Everything received until the peer closes or `timeout` passes; `closed` tells which.
  std::string ReadUntilClose(milliseconds timeout, bool* closed = nullptr) {
    std::string out;
    const auto deadline = SteadyClock::now() + timeout;
    bool eof = false;
    while (!eof && SteadyClock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
      if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 1))) <= 0) {
        continue;
      }
      char buffer[16384];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        eof = true;  // the end of the stream, or a reset after the answer
      } else {
        out.append(buffer, static_cast<size_t>(n));
      }
    }
    if (closed != nullptr) {
      *closed = eof;
    }
    return out;
  }

  // One response, framed by its Content-Length (the gateway keeps connections open after an
  // answer, whatever the request's Connection header says); "" when none within `timeout`.
  std::string ReadResponse(milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
      const size_t head_end = pending_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const size_t length_at = pending_.find("Content-Length: ");
        const size_t length = length_at == std::string::npos || length_at > head_end
                                  ? 0
                                  : std::strtoul(pending_.c_str() + length_at + 16, nullptr, 10);
        if (pending_.size() >= head_end + 4 + length) {
          std::string response = pending_.substr(0, head_end + 4 + length);
          pending_.erase(0, response.size());
          return response;
        }
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) {
        continue;
      }
      char buffer[16384];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        break;
      }
      pending_.append(buffer, static_cast<size_t>(n));
    }
    return "";
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string pending_;  // received, not yet returned by ReadResponse
};

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) {
    return 0;
  }
  return std::atoi(response.substr(9, 3).c_str());
}

std::string BodyOf(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

class HostileRequestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    monitor_.SetSnapshot(ThreeMemberSnapshot());
    GatewayConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.refresh_interval = milliseconds(100);
    GatewayBackends backends;
    backends.monitor = &monitor_;
    backends.alerts = &alerts_;
    auto logger = spdlog::default_logger()->clone("gateway-hostile-test");
    logger->set_level(spdlog::level::err);
    auto service = GatewayService::Create(config, backends, logger, clock_);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    ASSERT_TRUE(service_->Start().ok());
    // /health is 200 once the refresher checked the (fake) aggregator.
    ASSERT_TRUE(testing::WaitFor([&] { return Get("/health") == 200; }));
  }

  // The response to `request` sent whole on a fresh connection, read until the gateway closes.
  std::string Exchange(const std::string& request, bool* closed = nullptr) {
    RawConnection c(service_->port());
    EXPECT_TRUE(c.connected());
    c.Send(request);
    return c.ReadUntilClose(std::chrono::seconds(5), closed);
  }

  // GET `path` on a fresh connection: the status, 0 when there is no answer within 5 s.
  int Get(const std::string& path) {
    RawConnection c(service_->port());
    c.Send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n");
    return StatusOf(c.ReadResponse(std::chrono::seconds(5)));
  }

  // `request` is refused with `status`: the JSON error shape, no exception text, and the
  // connection closed after the answer.
  void ExpectRefused(const std::string& request, int status) {
    bool closed = false;
    const std::string response = Exchange(request, &closed);
    EXPECT_EQ(StatusOf(response), status) << response.substr(0, 300);
    const nlohmann::json body = nlohmann::json::parse(BodyOf(response), nullptr, false);
    ASSERT_TRUE(body.is_object()) << response.substr(0, 300);
    EXPECT_EQ(body["error"]["code"], status);
    EXPECT_EQ(response.find("basic_string"), std::string::npos);
    EXPECT_TRUE(closed) << "the connection stays open after a refused request";
    // The gateway still serves.
    EXPECT_EQ(Get("/health"), 200);
  }

  FakeClock clock_{std::chrono::system_clock::time_point(milliseconds(kTick + 1000))};
  FakeMonitor monitor_;
  FakeAlerts alerts_;
  std::unique_ptr<GatewayService> service_;
};

const std::string kHead = " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n";

TEST_F(HostileRequestsTest, NegativeContentLengthIs400) {
  ExpectRefused("POST /api/v1/alerts/silences" + kHead + "Content-Length: -5\r\n\r\n", 400);
}

TEST_F(HostileRequestsTest, GarbageContentLengthIs400) {
  ExpectRefused("POST /api/v1/alerts/silences" + kHead + "Content-Length: 12abc\r\n\r\n", 400);
  ExpectRefused(
      "POST /api/v1/alerts/silences" + kHead + "Content-Length: 99999999999999999999\r\n\r\n", 400);
  ExpectRefused(
      "POST /api/v1/alerts/silences" + kHead + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
      400);
}

TEST_F(HostileRequestsTest, InvalidPageTokenIs400) {
  ExpectRefused("GET /api/v1/alerts/history?page_token=%ff%fe%00AAAA" + kHead + "\r\n", 400);
  ExpectRefused("GET /api/v1/alerts/history?page_token=%ff%feAAAA" + kHead + "\r\n", 400);
}

TEST_F(HostileRequestsTest, BadPercentEncodingIs400) {
  ExpectRefused("GET /api/v1/alerts/history?page_token=%zz" + kHead + "\r\n", 400);
  ExpectRefused("GET /api/v1/alerts/history?page_token=%4" + kHead + "\r\n", 400);
  ExpectRefused("GET /api/v1/cluster/members/%c0%af" + kHead + "\r\n", 400);
}

TEST_F(HostileRequestsTest, NulBytesAre400) {
  ExpectRefused(std::string("GET /health\0x", 13) + kHead + "\r\n", 400);
  ExpectRefused("GET /health" + kHead + std::string("X-Evil: a\0b\r\n\r\n", 15), 400);
}

TEST_F(HostileRequestsTest, MalformedRequestLinesAndHeadersAre400) {
  ExpectRefused("GET /health HTTP/9.9\r\nHost: t\r\n\r\n", 400);
  ExpectRefused("GET health" + kHead + "\r\n", 400);
  ExpectRefused("GET /health" + kHead + "no colon here\r\n\r\n", 400);
  ExpectRefused("GET /health" + kHead + " folded: value\r\n\r\n", 400);
}

TEST_F(HostileRequestsTest, OverlongUrlIs414AndOverlongHeadersAre431) {
  ExpectRefused("GET /health?x=" + std::string(9000, 'a') + kHead + "\r\n", 414);
  ExpectRefused("GET /health" + kHead + "X-Big: " + std::string(17000, 'a') + "\r\n\r\n", 431);
}

TEST_F(HostileRequestsTest, UnsupportedOrConflictingFramingIsRefused) {
  ExpectRefused("POST /api/v1/alerts/silences" + kHead + "Transfer-Encoding: gzip\r\n\r\n", 501);
  ExpectRefused("POST /api/v1/alerts/silences" + kHead +
                    "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                400);
}

// 413 from the headers alone: the body is never sent, yet the answer comes and the connection
// closes.
TEST_F(HostileRequestsTest, OversizedContentLengthIs413BeforeTheBody) {
  ExpectRefused("POST /api/v1/alerts/silences" + kHead + "Content-Length: 10485760\r\n\r\n", 413);
}

// A chunked body is refused from its headers (Pistache's chunk parser reads past its buffer on a
// chunk-size line cut short): the chunks that follow never reach it.
TEST_F(HostileRequestsTest, ChunkedBodyIs411) {
  const std::string head =
      "POST /api/v1/alerts/silences" + kHead + "Transfer-Encoding: chunked\r\n\r\n";
  ExpectRefused(head, 411);
  ExpectRefused(head + "4000\r\n" + std::string(16 * 1024, 'a') + "\r\n", 411);
  ExpectRefused(head + "ffffffff", 411);
}

TEST_F(HostileRequestsTest, WellFormedRequestsStillWork) {
  EXPECT_EQ(Get("/health"), 200);
  EXPECT_EQ(Get("/api/v1/alerts/history?page_token=abc%20d%C3%A9"), 200);
  const std::string body = R"({"matchers":{"alertname":"X"},"duration":"1h"})";
  RawConnection c(service_->port());
  ASSERT_TRUE(c.connected());
  // Head and body split across sends, two requests on one connection: both are answered.
  ASSERT_TRUE(c.Send("GET /he"));
  ASSERT_TRUE(c.Send("alth HTTP/1.1\r\nHost: t\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_EQ(StatusOf(c.ReadResponse(std::chrono::seconds(5))), 200);
  ASSERT_TRUE(c.Send("POST /api/v1/alerts/silences HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 5)));
  ASSERT_TRUE(c.Send(body.substr(5)));
  // Without a token silences are refused (403): what matters is an answer of the API.
  const std::string response = c.ReadResponse(std::chrono::seconds(5));
  EXPECT_EQ(StatusOf(response), 403) << response;
}

// Polls `paths` in turn until `done` and at least `min_polls` polls were made; returns
// {answered 200, made}.
std::pair<int, int> PollWhile(const std::vector<std::string>& paths, const std::atomic<bool>& done,
                              int min_polls, const std::function<int(const std::string&)>& get) {
  int answered = 0;
  int made = 0;
  while (!done.load() || made < min_polls) {
    const int status = get(paths[static_cast<size_t>(made) % paths.size()]);
    ++made;
    answered += status == 200 ? 1 : 0;
  }
  return {answered, made};
}

// Two concurrent 10 MB POSTs: refused from their headers, and /health answers while they are
// sent (before the fix every endpoint froze for seconds).
TEST_F(HostileRequestsTest, HealthAnswersDuringTwoConcurrentTenMegabyteUploads) {
  constexpr size_t kUpload = 10 * 1024 * 1024;
  std::atomic<int> uploads_left{2};
  std::atomic<bool> done{false};
  std::vector<std::string> answers(2);
  std::vector<std::thread> uploaders;
  for (int i = 0; i < 2; ++i) {
    uploaders.emplace_back([&, i] {
      RawConnection c(service_->port());
      c.Send("POST /api/v1/alerts/silences" + kHead + "Content-Length: " + std::to_string(kUpload) +
             "\r\n\r\n");
      const std::string piece(64 * 1024, 'x');
      for (size_t sent = 0; sent < kUpload && c.Send(piece); sent += piece.size()) {
      }
      answers[static_cast<size_t>(i)] = c.ReadUntilClose(std::chrono::seconds(10));
      if (--uploads_left == 0) {
        done = true;
      }
    });
  }
  const auto [answered, made] =
      PollWhile({"/health"}, done, 5, [this](const std::string& p) { return Get(p); });
  for (std::thread& t : uploaders) {
    t.join();
  }
  RecordProperty("health_polls_answered", answered);
  RecordProperty("health_polls_made", made);
  EXPECT_EQ(answered, made) << answered << " of " << made << " /health polls answered";
  for (const std::string& a : answers) {
    EXPECT_EQ(StatusOf(a), 413) << a.substr(0, 200);
  }
}

// Slow bodies (1 byte per 100 ms on 8 connections) hold no worker: /health and /metrics answer
// throughout, and the slow requests are served once complete.
TEST_F(HostileRequestsTest, HealthAndMetricsAnswerWhileBodiesCrawl) {
  constexpr int kSlowClients = 8;
  const std::string body = R"({"matchers":{"a":"b"}})";
  std::atomic<bool> done{false};
  std::atomic<int> served{0};
  std::thread crawler([&] {
    std::vector<std::unique_ptr<RawConnection>> clients;
    for (int i = 0; i < kSlowClients; ++i) {
      clients.push_back(std::make_unique<RawConnection>(service_->port()));
      clients.back()->Send("POST /api/v1/alerts/silences" + kHead +
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    }
    for (char byte : body) {
      for (auto& c : clients) {
        c->Send(std::string(1, byte));
      }
      std::this_thread::sleep_for(milliseconds(100));  // the attack's pace, not a wait
    }
    for (auto& c : clients) {
      served += StatusOf(c->ReadResponse(std::chrono::seconds(5))) == 403 ? 1 : 0;
    }
    done = true;
  });
  const auto [answered, made] =
      PollWhile({"/health", "/metrics"}, done, 10, [this](const std::string& p) { return Get(p); });
  crawler.join();
  RecordProperty("polls_answered", answered);
  RecordProperty("polls_made", made);
  EXPECT_EQ(answered, made) << answered << " of " << made << " polls answered";
  EXPECT_EQ(served.load(), kSlowClients);
}

}  // namespace
}  // namespace etcdmon::gateway
