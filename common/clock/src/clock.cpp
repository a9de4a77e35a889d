#include "etcdmon/clock/clock.h"

#include <algorithm>

namespace etcdmon {

std::chrono::system_clock::time_point SystemClock::Now() const {
  return std::chrono::system_clock::now();
}

std::chrono::steady_clock::time_point SystemClock::SteadyNow() const {
  return std::chrono::steady_clock::now();
}

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

void SystemClock::WaitSome(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                           std::chrono::steady_clock::time_point deadline) {
  cv.wait_until(lock, deadline);
}

FakeClock::FakeClock(std::chrono::system_clock::time_point start)
    : wall_(start), steady_(std::chrono::steady_clock::time_point(std::chrono::hours(1))) {}

std::chrono::system_clock::time_point FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_;
}

std::chrono::steady_clock::time_point FakeClock::SteadyNow() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steady_;
}

void FakeClock::Advance(std::chrono::nanoseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  steady_ += d;
}

void FakeClock::SetNow(std::chrono::system_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_ = now;
}

void FakeClock::WaitSome(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         std::chrono::steady_clock::time_point /*deadline*/) {
  // Fake time does not pass on its own: poll briefly in real time so that an Advance() from
  // another thread (which does not know the waiter's condition variable) is seen promptly.
  cv.wait_for(lock, std::chrono::milliseconds(2));
}

}  // namespace etcdmon
