// Idle TCP connections against the gateway's port: the slow-client attack on the listener.
//
// Pistache 0.0.5 runs SSL_accept blocking on its one listener thread, and no hook of that version
// (no handshake timeout, no access to the listening socket or the SSL context) lets the gateway
// bound it. So over HTTPS one idle connection that never sends a ClientHello stops every later
// connection from being accepted, for as long as it stays open. That limitation is stated here
// as a test (it fails, and the documentation must change, the day the listener stops starving),
// and the recommended setup, plain HTTP on loopback with TLS terminated in front of the gateway,
// is proven to keep answering with 50 idle connections open.

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/gateway/gateway.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/testing/test_certs.h"
#include "fake_backends.h"

namespace etcdmon::gateway {
namespace {

constexpr int kIdleConnections = 50;
constexpr auto kAnswerWithin = std::chrono::seconds(1);

// Connected TCP sockets that never send a byte; closed on destruction.
class IdleConnections {
 public:
  IdleConnections(uint16_t port, int count) {
    for (int i = 0; i < count; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ADD_FAILURE() << "cannot open idle connection " << i;
        if (fd >= 0) {
          close(fd);
        }
        return;
      }
      fds_.push_back(fd);
    }
  }
  ~IdleConnections() { CloseAll(); }
  IdleConnections(const IdleConnections&) = delete;
  IdleConnections& operator=(const IdleConnections&) = delete;

  void CloseAll() {
    for (int fd : fds_) {
      close(fd);
    }
    fds_.clear();
  }
  size_t size() const { return fds_.size(); }

 private:
  std::vector<int> fds_;
};

struct Answer {
  long status = 0;  // 0: none within the timeout
  std::chrono::milliseconds took{0};
};

// GET `url` with a total timeout; `ca_file` set: HTTPS verified against it.
Answer Get(const std::string& url, const std::string& ca_file, std::chrono::milliseconds timeout) {
  Answer answer;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION,
      +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
  if (!ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  }
  const auto start = std::chrono::steady_clock::now();
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  }
  answer.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  curl_easy_cleanup(curl);
  return answer;
}

class IdleConnectionsTest : public ::testing::Test {
 protected:
  void Start(const testing::TestCertificates* certs) {
    monitor_.SetSnapshot(ThreeMemberSnapshot());
    GatewayConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.refresh_interval = std::chrono::milliseconds(100);
    if (certs != nullptr) {
      config.tls_cert_file = certs->server_cert;
      config.tls_key_file = certs->server_key;
    }
    GatewayBackends backends;
    backends.monitor = &monitor_;
    auto logger = spdlog::default_logger()->clone("gateway-idle-test");
    logger->set_level(spdlog::level::err);
    auto service = GatewayService::Create(config, backends, logger, clock_);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    ASSERT_TRUE(service_->Start().ok());
    const std::string scheme = certs != nullptr ? "https" : "http";
    health_ = scheme + "://127.0.0.1:" + std::to_string(service_->port()) + "/health";
    // /health is 200 once the refresher has read the (fake) aggregator's first snapshot.
    const std::string ca_file = certs != nullptr ? certs->ca_cert : "";
    ASSERT_TRUE(testing::WaitFor(
        [&] { return Get(health_, ca_file, std::chrono::seconds(5)).status == 200; }));
  }

  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::milliseconds(kTick))};
  FakeMonitor monitor_;
  std::unique_ptr<GatewayService> service_;
  std::string health_;
};

// The recommended setup: plain HTTP (TLS terminated in front of the gateway) keeps answering
// /health within 1 s while 50 idle connections are open.
TEST_F(IdleConnectionsTest, PlainHttpAnswersHealthWithFiftyIdleConnections) {
  Start(nullptr);
  IdleConnections idle(service_->port(), kIdleConnections);
  ASSERT_EQ(idle.size(), static_cast<size_t>(kIdleConnections));
  std::chrono::milliseconds slowest{0};
  for (int attempt = 0; attempt < 3; ++attempt) {
    const Answer a = Get(health_, "", std::chrono::seconds(5));
    EXPECT_EQ(a.status, 200);
    EXPECT_LT(a.took, kAnswerWithin) << "took " << a.took.count() << " ms";
    slowest = std::max(slowest, a.took);
  }
  RecordProperty("slowest_health_ms", static_cast<int>(slowest.count()));
}

// The documented limitation: over HTTPS the same 50 idle connections stop /health from answering
// at all (the listener thread waits in SSL_accept for the first one's ClientHello), and it
// answers again once they close. If this starts failing because /health answers, the listener no
// longer starves: lift the warning of --tls-cert-file and the note in README.md.
TEST_F(IdleConnectionsTest, HttpsStarvesWhileIdleConnectionsAreOpenDocumentedLimitation) {
  testing::TempDir dir;
  Result<testing::TestCertificates> certs =
      testing::GenerateTestCertificates(dir.path() + "/certs");
  ASSERT_TRUE(certs.ok()) << certs.status().ToString();
  Start(&*certs);
  {
    IdleConnections idle(service_->port(), kIdleConnections);
    ASSERT_EQ(idle.size(), static_cast<size_t>(kIdleConnections));
    const Answer starved = Get(health_, certs->ca_cert, std::chrono::seconds(3));
    RecordProperty("starved_status", static_cast<int>(starved.status));
    RecordProperty("starved_waited_ms", static_cast<int>(starved.took.count()));
    EXPECT_EQ(starved.status, 0) << "HTTPS answered /health in " << starved.took.count()
                                 << " ms with idle connections open: the listener no longer "
                                    "starves, update the documented limitation";
    idle.CloseAll();
    // Once the idle peers are gone the listener accepts again.
    bool answered = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!answered && std::chrono::steady_clock::now() < deadline) {
      answered = Get(health_, certs->ca_cert, std::chrono::seconds(2)).status == 200;
    }
    EXPECT_TRUE(answered) << "HTTPS did not recover after the idle connections closed";
  }
}

}  // namespace
}  // namespace etcdmon::gateway
