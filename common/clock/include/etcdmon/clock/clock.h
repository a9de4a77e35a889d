#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace etcdmon {

/// Time source for everything that timestamps or waits. Inject it; tests use FakeClock.
/// Implementations are safe for concurrent use.
class Clock {
 public:
  virtual ~Clock() = default;

  /// Wall-clock time, for timestamps that leave the process (samples, history, JSON).
  virtual std::chrono::system_clock::time_point Now() const = 0;

  /// Monotonic time, for measuring durations and scheduling.
  virtual std::chrono::steady_clock::time_point SteadyNow() const = 0;

  /// Blocks until `deadline` (steady time) has passed or `stop_requested()` is true after a
  /// wake-up. `cv` and `mu` are the caller's; whoever changes the stop condition notifies `cv`
  /// under `mu`. `lock` must hold `mu`. Returns true when woken because of `stop_requested`.
  template <typename Pred>
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 std::chrono::steady_clock::time_point deadline, Pred stop_requested) {
    while (!stop_requested()) {
      if (SteadyNow() >= deadline) {
        return false;
      }
      WaitSome(lock, cv, deadline);
    }
    return true;
  }

 protected:
  /// One bounded wait on `cv`; may return early (spurious wake-ups are fine).
  virtual void WaitSome(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                        std::chrono::steady_clock::time_point deadline) = 0;
};

/// The process's real clocks.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override;
  std::chrono::steady_clock::time_point SteadyNow() const override;

  /// A process-wide instance, for code that has no clock injected (main()).
  static SystemClock& Instance();

 protected:
  void WaitSome(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                std::chrono::steady_clock::time_point deadline) override;
};

/// A clock that moves only when told to. Waiters wake up (in real time, within a few ms) after
/// Advance() passes their deadline. Safe for concurrent use.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start =
                         std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)));

  std::chrono::system_clock::time_point Now() const override;
  std::chrono::steady_clock::time_point SteadyNow() const override;

  /// Moves both clocks forward by `d`.
  void Advance(std::chrono::nanoseconds d);

  /// Sets the wall clock (the steady clock keeps going forward only).
  void SetNow(std::chrono::system_clock::time_point now);

 protected:
  void WaitSome(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                std::chrono::steady_clock::time_point deadline) override;

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point wall_;    // guarded by mu_
  std::chrono::steady_clock::time_point steady_;  // guarded by mu_
};

}  // namespace etcdmon
