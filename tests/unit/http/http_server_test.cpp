#include "etcdmon/testing/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace etcdmon::testing {
namespace {

// The test server stops cleanly when never started, when stopped twice, and when destroyed
// while a connection hangs.
TEST(HttpServerTest, LifecycleEdgeCases) {
  {
    HttpServer never_started;
    never_started.Stop();
  }
  HttpServer server;
  ASSERT_TRUE(server.Start().ok());
  EXPECT_NE(server.port(), 0);
  server.Stop();
  server.Stop();
}

// Sends `request` on a fresh connection and returns everything the server sent until it
// closed the connection (requests here ask for that with "Connection: close" or get it).
std::string RoundTrip(std::uint16_t port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  std::string reply;
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    shutdown(fd, SHUT_WR);
    char chunk[4096];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0) {
      reply.append(chunk, static_cast<std::size_t>(n));
    }
  }
  if (fd >= 0) {
    close(fd);
  }
  return reply;
}

// A request without a Content-Length-delimited body is answered 411 and still recorded.
TEST(HttpServerTest, ChunkedBodyGets411) {
  HttpServer server;
  ASSERT_TRUE(server.Start().ok());
  const std::string reply =
      RoundTrip(server.port(),
                "POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 411 ", 0), 0u) << reply;
  ASSERT_TRUE(server.WaitForRequests(1));
  EXPECT_EQ(server.requests()[0].method, "POST");
  EXPECT_EQ(server.requests()[0].Header("transfer-encoding"), "chunked");
}

// WaitForRequests gives up after its timeout when too few requests came.
TEST(HttpServerTest, WaitForRequestsTimesOut) {
  HttpServer server;
  ASSERT_TRUE(server.Start().ok());
  EXPECT_FALSE(server.WaitForRequests(1, std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace etcdmon::testing
