#pragma once

// The consistency check behind GET /api/v1/cluster/consistency, rate-limited and off the HTTP
// threads. HashKV makes every member read its whole key space, so the check runs at most once
// per `min_interval`: a request within that time of the last check gets its result. Otherwise
// the request starts a check on the cache's own thread and waits for it at most `max_wait`; a
// check that takes longer leaves the request with the previous result, or none. While a check
// runs, other requests get the previous result (or none) at once: never two checks, and at most
// one HTTP thread waiting. Private to the gateway.
//
// Thread-safety: safe for concurrent use; Get() runs on every HTTP thread.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "etcdmon/clock/clock.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/etcd/consistency.h"

namespace etcdmon::gateway::detail {

class ConsistencyCache {
 public:
  /// One check's result. Immutable once published.
  struct Checked {
    etcd::ConsistencyReport report;
    std::chrono::system_clock::time_point checked_at;           // when it finished (wall)
    std::chrono::steady_clock::time_point checked_at_steady{};  // the same, for ages
  };

  struct Answer {
    std::shared_ptr<const Checked> checked;  // the newest result; null: none yet
    bool in_progress = false;                // a check is still running (checked is older)
  };

  /// `client` and `clock` must outlive the cache.
  ConsistencyCache(etcd::EtcdClient& client, Clock& clock, std::chrono::milliseconds min_interval,
                   std::chrono::milliseconds max_wait);
  ~ConsistencyCache();  // calls Stop()
  ConsistencyCache(const ConsistencyCache&) = delete;
  ConsistencyCache& operator=(const ConsistencyCache&) = delete;

  /// The newest result when it is younger than `min_interval`; else, when a check runs, the
  /// newest result at once (in_progress); else starts a check and waits up to `max_wait` for
  /// it. After Stop(): the newest result, starting none.
  Answer Get();

  /// Starts no more checks and waits for the one running (bounded by the client's timeouts).
  /// Idempotent.
  void Stop();

 private:
  void Run();

  etcd::EtcdClient& client_;
  Clock& clock_;
  const std::chrono::milliseconds min_interval_;
  const std::chrono::milliseconds max_wait_;

  std::mutex mu_;
  std::condition_variable done_;         // notified when a check finishes
  std::shared_ptr<const Checked> last_;  // guarded by mu_
  bool running_ = false;                 // guarded by mu_
  bool stopping_ = false;                // guarded by mu_
  std::thread thread_;                   // guarded by mu_; the newest check's
};

}  // namespace etcdmon::gateway::detail
