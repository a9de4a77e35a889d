#include "rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace etcdmon::gateway::detail {

ClientRateLimiter::ClientRateLimiter(uint32_t per_minute, std::size_t max_clients, Clock& clock)
    : capacity_(per_minute),
      per_second_(per_minute / 60.0),
      max_clients_(std::max<std::size_t>(max_clients, 1)),
      clock_(clock) {}

void ClientRateLimiter::Refill(Bucket& bucket, std::chrono::steady_clock::time_point now) const {
  if (now > bucket.updated) {
    const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
    bucket.tokens = std::min(capacity_, bucket.tokens + elapsed * per_second_);
    bucket.updated = now;
  }
}

void ClientRateLimiter::MakeRoom(std::chrono::steady_clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    Refill(it->second, now);
    it = it->second.tokens >= capacity_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() < max_clients_) {
    return;
  }
  // Every tracked client is mid-burst: forget the fullest bucket (after the refill above, the
  // client that has spent least recently), so that clients refused right now stay refused.
  auto fullest = std::max_element(
      buckets_.begin(), buckets_.end(),
      [](const auto& a, const auto& b) { return a.second.tokens < b.second.tokens; });
  buckets_.erase(fullest);
}

ClientRateLimiter::Decision ClientRateLimiter::Allow(std::string_view client) {
  Decision decision;
  if (capacity_ <= 0) {
    return decision;
  }
  const auto now = clock_.SteadyNow();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(std::string(client));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_clients_) {
      MakeRoom(now);
    }
    it = buckets_.emplace(std::string(client), Bucket{capacity_, now}).first;
  }
  Bucket& bucket = it->second;
  Refill(bucket, now);
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return decision;
  }
  decision.allowed = false;
  const double wait = (1.0 - bucket.tokens) / per_second_;
  decision.retry_after = std::chrono::seconds(std::max<int64_t>(1, std::llround(std::ceil(wait))));
  return decision;
}

std::size_t ClientRateLimiter::tracked_clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return buckets_.size();
}

}  // namespace etcdmon::gateway::detail
