#pragma once

// A token bucket per client address, for the gateway's POST endpoints. Private to the gateway.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "etcdmon/clock/clock.h"

namespace etcdmon::gateway::detail {

/// Each client may send `per_minute` requests per minute, in bursts of up to as many (its bucket
/// starts full and refills continuously). At most `max_clients` buckets are kept: when the table
/// is full, buckets that have refilled completely (they are no different from a new client) are
/// dropped first, else the least recently used one, so memory stays bounded whatever the number
/// of addresses a caller can use. Thread-safe.
class ClientRateLimiter {
 public:
  struct Decision {
    bool allowed = true;
    std::chrono::seconds retry_after{0};  // refused: when one request will be allowed again
  };

  /// `per_minute` 0: every request is allowed. `clock` must outlive the limiter.
  ClientRateLimiter(uint32_t per_minute, std::size_t max_clients, Clock& clock);

  /// Takes one token from `client`'s bucket, or refuses.
  Decision Allow(std::string_view client);

  std::size_t tracked_clients() const;

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point updated;
  };

  void Refill(Bucket& bucket, std::chrono::steady_clock::time_point now) const;
  void MakeRoom(std::chrono::steady_clock::time_point now);  // requires mu_

  const double capacity_;
  const double per_second_;
  const std::size_t max_clients_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace etcdmon::gateway::detail
