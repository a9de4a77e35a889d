#include "deadline_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>

namespace etcdmon::collector::detail {
namespace {

using namespace std::chrono_literals;
using Outcome = DeadlineRunner::Outcome;

// A call that blocks until the test opens its gate.
class Gate {
 public:
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.wait(lock, [this] { return open_; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  int entered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;  // guarded by mu_
  int entered_ = 0;    // guarded by mu_
};

class DeadlineRunnerTest : public ::testing::Test {
 protected:
  // Run() on another thread; the fake clock is moved past `deadline` once the run waits.
  Outcome RunAndExpire(DeadlineRunner& runner, const std::function<void()>& call) {
    const auto deadline = clock_.SteadyNow() + 100ms;
    auto outcome = std::async(std::launch::async, [&] { return runner.Run(call, deadline); });
    // The run returns once the fake clock passed its deadline: one step, or a few if the first
    // came before the run had started.
    for (int i = 0; i < 100 && outcome.wait_for(10ms) != std::future_status::ready; ++i) {
      clock_.Advance(100ms);
    }
    EXPECT_EQ(outcome.wait_for(30s), std::future_status::ready);
    return outcome.get();
  }

  FakeClock clock_;
  Gate gate_;  // opened by each test before the runner (declared later) is destroyed
};

// A call that returns in time is kReturned, and ran on the worker.
TEST_F(DeadlineRunnerTest, CallThatReturnsInTime) {
  DeadlineRunner runner(clock_);
  int runs = 0;
  const std::function<void()> call = [&] { ++runs; };
  EXPECT_EQ(runner.Run(call, clock_.SteadyNow() + 1s), Outcome::kReturned);
  EXPECT_EQ(runner.Run(call, clock_.SteadyNow() + 1s), Outcome::kReturned);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(runner.BusyFor(), std::chrono::steady_clock::duration::zero());
}

// A call still running at the deadline is abandoned; the next call is not started while it runs
// (at most one outstanding), and runs once it has returned.
TEST_F(DeadlineRunnerTest, AbandonedCallHoldsTheWorkerUntilItReturns) {
  DeadlineRunner runner(clock_);
  const std::function<void()> hang = [this] { gate_.Pass(); };
  int runs = 0;
  const std::function<void()> quick = [&] { ++runs; };
  EXPECT_EQ(RunAndExpire(runner, hang), Outcome::kAbandoned);
  EXPECT_GT(runner.BusyFor(), std::chrono::steady_clock::duration::zero());
  EXPECT_EQ(RunAndExpire(runner, quick), Outcome::kNotStarted);
  EXPECT_EQ(RunAndExpire(runner, hang), Outcome::kNotStarted);
  EXPECT_EQ(gate_.entered(), 1) << "the hung call was not sent again";
  EXPECT_EQ(runs, 0);

  gate_.Open();
  EXPECT_EQ(runner.Run(quick, clock_.SteadyNow() + 1h), Outcome::kReturned);
  EXPECT_EQ(runs, 1);
}

// No time left: the call is not started (it would only be left running).
TEST_F(DeadlineRunnerTest, PastDeadlineStartsNothing) {
  DeadlineRunner runner(clock_);
  int runs = 0;
  const std::function<void()> call = [&] { ++runs; };
  EXPECT_EQ(runner.Run(call, clock_.SteadyNow()), Outcome::kNotStarted);
  EXPECT_EQ(runs, 0);
}

// The destructor waits for the call in flight to return.
TEST_F(DeadlineRunnerTest, DestructorWaitsForTheCallInFlight) {
  std::atomic<bool> returned{false};
  const std::function<void()> hang = [&] {
    gate_.Pass();
    returned = true;
  };
  {
    DeadlineRunner runner(clock_);
    EXPECT_EQ(RunAndExpire(runner, hang), Outcome::kAbandoned);
    gate_.Open();
  }
  EXPECT_TRUE(returned);
}

}  // namespace
}  // namespace etcdmon::collector::detail
