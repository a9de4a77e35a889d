#include "consistency_cache.h"

#include <utility>

namespace etcdmon::gateway::detail {

ConsistencyCache::ConsistencyCache(etcd::EtcdClient& client, Clock& clock,
                                   std::chrono::milliseconds min_interval,
                                   std::chrono::milliseconds max_wait)
    : client_(client), clock_(clock), min_interval_(min_interval), max_wait_(max_wait) {}

ConsistencyCache::~ConsistencyCache() { Stop(); }

ConsistencyCache::Answer ConsistencyCache::Get() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto now = clock_.SteadyNow();
  if (last_ != nullptr && now - last_->checked_at_steady < min_interval_) {
    return Answer{last_, running_};
  }
  if (stopping_) {
    return Answer{last_, false};
  }
  if (running_) {
    // Another request started the check and waits for it: this one answers at once, so a hung
    // member holds at most one HTTP thread, never all of them.
    return Answer{last_, true};
  }
  // The previous check's thread has published its result (running_ is false) and only has to
  // return; joining is immediate.
  if (thread_.joinable()) {
    thread_.join();
  }
  running_ = true;
  thread_ = std::thread([this] { Run(); });
  clock_.WaitUntil(lock, done_, now + max_wait_, [this] { return !running_ || stopping_; });
  return Answer{last_, running_};
}

void ConsistencyCache::Run() {
  etcd::ConsistencyReport report = etcd::CheckConsistency(client_);
  auto checked = std::make_shared<Checked>();
  checked->report = std::move(report);
  checked->checked_at = clock_.Now();
  checked->checked_at_steady = clock_.SteadyNow();
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = std::move(checked);
    running_ = false;
  }
  done_.notify_all();
}

void ConsistencyCache::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  done_.notify_all();
  if (thread.joinable()) {
    thread.join();
  }
}

}  // namespace etcdmon::gateway::detail
