#include "etcdmon/collector/certificate_probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include "etcdmon/testing/http_server.h"

// Reading a real certificate is covered by tests/integration/collector_sampler_test.cpp against
// a TLS etcd member; these cases cover the ways a probe fails.

namespace etcdmon::collector {
namespace {

using std::chrono::milliseconds;

// A listening loopback socket that never accepts: connects succeed, nothing is ever answered.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd_, 4) == 0) {
      socklen_t len = sizeof(addr);
      getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      port_ = ntohs(addr.sin_port);
    }
  }
  ~SilentListener() { close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

std::unique_ptr<CertificateProbe> MakeProbe(milliseconds timeout) {
  CertificateProbeOptions options;
  options.timeout = timeout;
  auto probe = NewCertificateProbe(options);
  EXPECT_TRUE(probe.ok()) << probe.status().ToString();
  return probe.ok() ? std::move(probe).value() : nullptr;
}

// Bad options are refused when the probe is made.
TEST(CertificateProbeTest, CreateRejectsBadOptions) {
  CertificateProbeOptions zero;
  zero.timeout = milliseconds(0);
  CertificateProbeOptions half;
  half.tls.cert_file = "/tmp/client.pem";
  CertificateProbeOptions missing;
  missing.tls.cert_file = "/nonexistent/client.pem";
  missing.tls.key_file = "/nonexistent/client-key.pem";
  const std::pair<const char*, CertificateProbeOptions> cases[] = {
      {"zero timeout", zero}, {"cert without key", half}, {"unreadable cert", missing}};
  for (const auto& [name, options] : cases) {
    auto probe = NewCertificateProbe(options);
    ASSERT_FALSE(probe.ok()) << name;
    EXPECT_EQ(probe.status().code(), StatusCode::kInvalidArgument) << name;
  }
  EXPECT_NE(NewCertificateProbe(missing).status().message().find("/nonexistent/client.pem"),
            std::string::npos);
}

// Nothing listening: Unavailable, naming the target.
TEST(CertificateProbeTest, RefusedConnectionIsUnavailable) {
  uint16_t port = 0;
  {
    SilentListener closed_soon;
    port = closed_soon.port();
  }
  auto probe = MakeProbe(milliseconds(1000));
  ASSERT_NE(probe, nullptr);
  Result<ServedCertificate> cert = probe->Read("127.0.0.1", port);
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), StatusCode::kUnavailable) << cert.status().ToString();
  EXPECT_NE(cert.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

// A server that never answers the handshake: DeadlineExceeded within the timeout.
TEST(CertificateProbeTest, SilentServerTimesOut) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  auto probe = MakeProbe(milliseconds(200));
  ASSERT_NE(probe, nullptr);
  const auto start = std::chrono::steady_clock::now();
  Result<ServedCertificate> cert = probe->Read("127.0.0.1", silent.port());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), StatusCode::kDeadlineExceeded) << cert.status().ToString();
  EXPECT_LT(elapsed, milliseconds(2000));
}

// Cancel() from another thread ends a probe waiting for a silent server long before its
// timeout.
TEST(CertificateProbeTest, CancellationEndsAProbeInProgress) {
  SilentListener silent;
  ASSERT_NE(silent.port(), 0);
  CertificateProbeOptions options;
  options.timeout = milliseconds(20000);
  options.cancellation = std::make_shared<http::Cancellation>();
  auto probe = NewCertificateProbe(options);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    options.cancellation->Cancel();
  });
  const auto start = std::chrono::steady_clock::now();
  Result<ServedCertificate> cert = (*probe)->Read("127.0.0.1", silent.port());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  canceller.join();
  ASSERT_FALSE(cert.ok());
  EXPECT_LT(elapsed, milliseconds(2000));
}

// A plain-HTTP server instead of TLS: an error, never a crash.
TEST(CertificateProbeTest, PlainHttpServerIsAnError) {
  etcdmon::testing::HttpServer server;
  ASSERT_TRUE(server.Start().ok());
  auto probe = MakeProbe(milliseconds(300));
  ASSERT_NE(probe, nullptr);
  Result<ServedCertificate> cert = probe->Read("127.0.0.1", server.port());
  ASSERT_FALSE(cert.ok());
  // The server waits for an HTTP request that never completes, or answers 400: either way
  // no certificate.
  EXPECT_TRUE(cert.status().code() == StatusCode::kDeadlineExceeded ||
              cert.status().code() == StatusCode::kUnavailable)
      << cert.status().ToString();
}

// An unknown host name fails to resolve.
TEST(CertificateProbeTest, UnknownHostIsUnavailable) {
  auto probe = MakeProbe(milliseconds(1000));
  ASSERT_NE(probe, nullptr);
  Result<ServedCertificate> cert = probe->Read("no-such-host.invalid", 2379);
  ASSERT_FALSE(cert.ok());
  EXPECT_EQ(cert.status().code(), StatusCode::kUnavailable) << cert.status().ToString();
}

}  // namespace
}  // namespace etcdmon::collector
