#include "etcdmon/runtime/signals.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <thread>

namespace etcdmon::runtime {
namespace {

// A blocked SIGTERM sent to the process is picked up by WaitForTerminationSignal, not by the
// default handler (which would kill the test).
TEST(SignalsTest, WaitReturnsTheSignal) {
  BlockTerminationSignals();
  std::thread sender([] { kill(getpid(), SIGTERM); });
  EXPECT_EQ(WaitForTerminationSignal(), SIGTERM);
  sender.join();
}

// The host name is never empty.
TEST(SignalsTest, HostNameNotEmpty) { EXPECT_FALSE(HostName().empty()); }

}  // namespace
}  // namespace etcdmon::runtime
