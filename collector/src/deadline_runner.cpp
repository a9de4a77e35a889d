#include "deadline_runner.h"

namespace etcdmon::collector::detail {

DeadlineRunner::DeadlineRunner(Clock& clock) : clock_(clock), worker_([this] { Work(); }) {}

DeadlineRunner::~DeadlineRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

DeadlineRunner::Outcome DeadlineRunner::Run(const std::function<void()>& call,
                                            std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!clock_.WaitUntil(lock, cv_, deadline, [this] { return !busy_; })) {
    return Outcome::kNotStarted;  // an earlier call still holds the worker
  }
  if (clock_.SteadyNow() >= deadline) {
    return Outcome::kNotStarted;  // no time left: starting it would only leave it running
  }
  pending_ = &call;
  busy_ = true;
  busy_since_ = clock_.SteadyNow();
  const uint64_t ticket = ++handed_over_;
  cv_.notify_all();
  return clock_.WaitUntil(lock, cv_, deadline, [&] { return returned_ >= ticket; })
             ? Outcome::kReturned
             : Outcome::kAbandoned;
}

std::chrono::steady_clock::duration DeadlineRunner::BusyFor() const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_ ? clock_.SteadyNow() - busy_since_ : std::chrono::steady_clock::duration::zero();
}

void DeadlineRunner::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || pending_ != nullptr; });
    if (pending_ == nullptr) {
      return;  // stopping, and nothing handed over
    }
    const std::function<void()>* call = pending_;
    pending_ = nullptr;
    lock.unlock();
    (*call)();
    lock.lock();
    busy_ = false;
    ++returned_;
    cv_.notify_all();
  }
}

}  // namespace etcdmon::collector::detail
