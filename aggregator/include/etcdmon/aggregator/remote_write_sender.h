#pragma once

// Ships the history's raw points to a Prometheus remote_write receiver. The history file itself
// is the queue: a cursor per series (remote_write_cursor: the newest point the receiver has, or
// refused) is advanced only after the receiver answered, in one transaction with the rest of
// that request's cursors, so a crash or a restart resends at most the last request
// (at-least-once). The queue is bounded by the raw retention: points pruned before they were
// sent are counted as dropped.

#include <spdlog/fwd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::aggregator {

struct RemoteWriteConfig {
  /// The receiver, e.g. http://prometheus:9090/api/v1/write. Empty: remote_write is off.
  std::string url;
  /// Sent as "Authorization: Bearer ..." when not empty.
  config::Secret bearer_token;
  /// For https:// URLs; the receiver's certificate is verified unless insecure_skip_verify.
  config::TlsConfig tls;
  /// Labels added to every series that does not carry the name itself (`--external-label`).
  std::vector<std::pair<std::string, std::string>> external_labels;
  /// How often a round runs when there is no backlog.
  std::chrono::milliseconds interval{std::chrono::seconds(5)};
  /// Most samples in one request.
  uint32_t max_samples = 2000;
  /// Bound on one request (connect + send + answer): Stop() waits at most this long.
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  /// Retry backoff after a retryable failure: doubles from min to max, with jitter.
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
};

/// Counters of one sender. The names are the metrics they stand for.
struct RemoteWriteStats {
  uint64_t samples_sent = 0;         // etcd_monitor_remote_write_samples_sent_total
  uint64_t samples_rejected = 0;     // ..._samples_rejected_total: refused by the receiver (4xx)
  uint64_t samples_dropped = 0;      // ..._samples_dropped_total: pruned by retention unsent
  uint64_t failures = 0;             // ..._failures_total: retryable failed requests
  double lag_seconds = 0;            // ..._lag_seconds: now - oldest unsent point; 0 caught up
  int64_t last_success_unix_ms = 0;  // ..._last_success_timestamp_seconds (* 1000)
};

/// What one round did.
enum class RoundOutcome {
  kIdle,       // nothing to send
  kAccepted,   // a request was accepted; cursors advanced
  kRejected,   // a request was refused for good; its samples counted, cursors advanced
  kRetryable,  // the request failed; nothing advanced, the same samples go again later
};

struct RoundResult {
  RoundOutcome outcome = RoundOutcome::kIdle;
  uint64_t samples = 0;  // samples in the request
  bool more = false;     // the request was full: more is waiting (run the next round at once)
};

namespace detail {
/// The wait after `failures` (>= 1) retryable failures in a row: min * 2^(failures-1), at most
/// max, scaled by a jitter factor in [0.5, 1] from `unit` in [0, 1).
std::chrono::milliseconds RetryBackoff(int failures, std::chrono::milliseconds min,
                                       std::chrono::milliseconds max, double unit);
}  // namespace detail

/// The sender. Threads: its own loop (Start/Stop), which runs RunRound() every interval, at once
/// while there is a backlog, and after a backoff on a retryable failure. It reads the history and
/// writes its cursors on its own SQLite connection (WAL), in short transactions, so it never
/// holds up ingest. RunRound() and Stats() are safe to call from any thread; rounds are
/// serialized. Stop() is idempotent, safe without Start(), and called by the destructor; a
/// request in flight delays it by at most `timeout`.
class RemoteWriteSender final {
 public:
  /// `history_path`: an existing history file (HistoryStore::Open has created or migrated its
  /// schema). Every series carries its cluster's name as the `cluster` label. InvalidArgument for a
  /// bad URL, bad external labels or max_samples 0; Unavailable/FailedPrecondition for the file.
  static Result<std::unique_ptr<RemoteWriteSender>> Create(RemoteWriteConfig config,
                                                           std::string history_path,
                                                           std::shared_ptr<spdlog::logger> logger,
                                                           Clock& clock = SystemClock::Instance());
  ~RemoteWriteSender();
  RemoteWriteSender(const RemoteWriteSender&) = delete;
  RemoteWriteSender& operator=(const RemoteWriteSender&) = delete;
  RemoteWriteSender(RemoteWriteSender&&) = delete;
  RemoteWriteSender& operator=(RemoteWriteSender&&) = delete;

  Status Start();
  void Stop();

  /// One round: reads up to max_samples unsent points (series in turn), sends them in one
  /// request and records the answer. An error is a failure to read or write the history (the
  /// round is then retried like a retryable send).
  Result<RoundResult> RunRound();

  RemoteWriteStats Stats() const;

 private:
  struct Impl;
  explicit RemoteWriteSender(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::aggregator
