#pragma once

// Runs the sampler's calls to its member on a worker thread, so that a sampling round can stop
// waiting at its deadline and still send its sample on time.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "etcdmon/clock/clock.h"

namespace etcdmon::collector::detail {

/// One worker thread that runs one call at a time for a caller that waits with a deadline.
///
/// At most one call is outstanding: a call its caller gave up on keeps the worker until it
/// returns (the etcd client's and HTTP fetcher's own deadlines end it), and the next Run()
/// waits for it within its own deadline, so slow calls never pile up. Because a call may
/// still run after Run() returned false, it must touch only state that outlives the runner,
/// and the caller must not touch that state again until a later Run() returned true (the
/// worker is then idle).
///
/// One caller thread at a time. The destructor waits for the call in flight to return:
/// whoever owns the calls must make them return (cancel them) first.
class DeadlineRunner final {
 public:
  explicit DeadlineRunner(Clock& clock);
  ~DeadlineRunner();
  DeadlineRunner(const DeadlineRunner&) = delete;
  DeadlineRunner& operator=(const DeadlineRunner&) = delete;

  enum class Outcome {
    kReturned,    // the call returned before the deadline
    kNotStarted,  // an earlier call still held the worker at the deadline: the call never ran
    kAbandoned,   // the call had not returned by the deadline; it goes on running
  };

  /// Runs `call` (which must outlive the runner) on the worker, waiting until it returns or
  /// `deadline` (steady time of the runner's clock) passes.
  Outcome Run(const std::function<void()>& call, std::chrono::steady_clock::time_point deadline);

  /// How long the call still running (given up on by an earlier Run) has been running; zero
  /// when the worker is idle.
  std::chrono::steady_clock::duration BusyFor() const;

 private:
  void Work();

  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* pending_ = nullptr;  // guarded by mu_; handed over, not started
  bool busy_ = false;         // guarded by mu_; a call was handed over and has not returned
  uint64_t handed_over_ = 0;  // guarded by mu_; calls handed over so far
  uint64_t returned_ = 0;     // guarded by mu_; calls that returned so far
  std::chrono::steady_clock::time_point busy_since_;  // guarded by mu_
  bool stopping_ = false;                             // guarded by mu_
  std::thread worker_;                                // started last, joined by the destructor
};

}  // namespace etcdmon::collector::detail
