#pragma once

// Aborting HTTP requests in flight from another thread, so that a thread blocked on a server
// that stopped answering can be stopped and joined.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace etcdmon::http {

/// Shared by the fetchers (FetcherOptions::cancellation) whose requests one owner may want to
/// abort, e.g. everything a collector's sampling thread asks its member. Thread-safe.
///
/// After Cancel(), every request of those fetchers fails at once with Unavailable ("cancelled"):
/// those in flight are aborted (their socket is shut down) and later ones are not sent. A
/// request that is still connecting ends at its connect timeout. Cancellation is final.
class Cancellation final {
 public:
  Cancellation() = default;
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  /// Aborts the requests in flight and refuses later ones. Calling it again is harmless, and
  /// aborts a request that was about to start when the first call came.
  void Cancel();

  bool cancelled() const;

  /// For fetchers: registers `abort`, called by Cancel() while the request runs. Returns 0 (and
  /// registers nothing) when already cancelled; otherwise an id for Leave().
  uint64_t Enter(std::function<void()> abort);
  void Leave(uint64_t id);

 private:
  mutable std::mutex mu_;
  bool cancelled_ = false;                            // guarded by mu_
  uint64_t next_id_ = 1;                              // guarded by mu_
  std::map<uint64_t, std::function<void()>> aborts_;  // guarded by mu_
};

}  // namespace etcdmon::http
