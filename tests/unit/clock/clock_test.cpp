#include "etcdmon/clock/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace etcdmon {
namespace {

using namespace std::chrono_literals;

// FakeClock moves only on Advance, and moves wall and steady time together.
TEST(FakeClockTest, AdvanceMovesBothClocks) {
  FakeClock clock;
  const auto wall = clock.Now();
  const auto steady = clock.SteadyNow();
  EXPECT_EQ(clock.Now(), wall);
  clock.Advance(1500ms);
  EXPECT_EQ(clock.Now() - wall, 1500ms);
  EXPECT_EQ(clock.SteadyNow() - steady, 1500ms);
}

// A waiter on the fake clock returns once another thread advances past its deadline.
TEST(FakeClockTest, WaitUntilReturnsAfterAdvance) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> done{false};
  bool stopped = true;
  const auto deadline = clock.SteadyNow() + 10s;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    stopped = clock.WaitUntil(lock, cv, deadline, [] { return false; });
    done = true;
  });
  clock.Advance(5s);
  EXPECT_FALSE(done.load());  // 5 s of fake time is not enough; the waiter must still wait
  clock.Advance(5s);
  waiter.join();
  EXPECT_TRUE(done.load());
  EXPECT_FALSE(stopped);
}

// WaitUntil returns true as soon as the stop predicate holds, without time passing.
TEST(FakeClockTest, WaitUntilStopsOnPredicate) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread waiter;
  bool result = false;
  {
    waiter = std::thread([&] {
      std::unique_lock<std::mutex> lock(mu);
      result = clock.WaitUntil(lock, cv, clock.SteadyNow() + 1h, [&] { return stop; });
    });
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(result);
}

// The system clock's steady time never goes backwards.
TEST(SystemClockTest, SteadyIsMonotonic) {
  auto& clock = SystemClock::Instance();
  auto a = clock.SteadyNow();
  auto b = clock.SteadyNow();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace etcdmon
