#pragma once

// A notification channel (console, webhook, Slack, PagerDuty, email) is a Notifier. The
// Dispatcher gives every channel its own queue and thread, so a slow or failing channel never
// delays the others, and retries failed deliveries with backoff.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/alerter/alert.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/status/status.h"

namespace etcdmon::alerter {

/// Delivers notifications to one channel. Send() is called from one thread at a time (the
/// channel's dispatcher thread) and must return within its own timeout.
class Notifier {
 public:
  virtual ~Notifier() = default;

  /// The channel's name as rules files spell it: "console", "webhook", "slack", "pagerduty",
  /// "email".
  virtual const std::string& name() const = 0;

  /// Delivers one notification. Errors say why, without secrets. A permanent failure (the
  /// receiver rejected the request: HTTP 4xx other than 408/429, an SMTP 5xx) is
  /// InvalidArgument or FailedPrecondition and is not retried; anything else is retried.
  virtual Status Send(const Notification& notification) = 0;
};

/// True when a failed Send() is worth retrying (see Notifier::Send).
bool IsRetryable(const Status& status);

/// One delivery attempt's outcome, reported to the DeliveryObserver.
struct DeliveryAttempt {
  int64_t notification_id = 0;
  std::string channel;
  uint32_t attempt = 0;  // 1 for the first
  Status status;         // OK: delivered
  bool final = false;    // no further attempt follows (delivered, permanent, or gave up)
  int64_t unix_ms = 0;   // when the attempt ended
  std::chrono::milliseconds took{0};
};

/// Called after every attempt, on the channel's thread; must be quick and thread-safe. A
/// notification dropped from a full queue is reported (attempt 0, ResourceExhausted, final) on
/// the thread that called Dispatch/DispatchTo. The observer may be empty.
using DeliveryObserver = std::function<void(const Notification&, const DeliveryAttempt&)>;

struct DispatcherOptions {
  uint32_t max_attempts = 5;                       // per notification and channel
  std::chrono::milliseconds initial_backoff{500};  // doubled after each retryable failure
  std::chrono::milliseconds max_backoff{30000};    // the cap of the doubling
  std::size_t max_queue = 1000;  // per channel; when full the oldest queued notification is
                                 // dropped and reported as a final failed attempt
};

/// Fans notifications out to the channels, one queue and worker thread per channel, so that a
/// slow, hanging or failing channel never delays another. Each channel delivers its queue in
/// order, one notification at a time: a retryable failure (IsRetryable) is retried after a
/// backoff (initial_backoff, doubled per attempt up to max_backoff, timed by the clock) until
/// max_attempts; the attempt that delivers, fails permanently or is the last is `final`.
///
/// Thread-safe. Stop() (or the destructor) lets the attempt in progress finish (each channel
/// bounds its own attempts with a timeout), does not wait out a backoff, and drops what is
/// queued: a delivery interrupted by Stop() gets no final report, so whoever persists
/// deliveries (the alert store) still has it pending and can resume it with DispatchTo().
class Dispatcher {
 public:
  /// `clock` times backoff waits and attempt timestamps; it must outlive the dispatcher.
  Dispatcher(std::vector<std::unique_ptr<Notifier>> channels, DispatcherOptions options,
             DeliveryObserver observer, Clock& clock);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// The configured channels' names, in the order given.
  std::vector<std::string> channel_names() const;

  /// Queues `notification` for each channel its alert names (every channel when the alert's
  /// list is empty; names not configured are ignored). Never blocks on delivery.
  void Dispatch(const Notification& notification);

  /// Queues `notification` for one channel only (a delivery resumed after a restart).
  void DispatchTo(const std::string& channel, const Notification& notification);

  /// Waits until every queue is empty and no attempt is in progress, or `timeout` passes.
  /// Returns true when idle. For tests and clean shutdown.
  bool WaitIdle(std::chrono::milliseconds timeout);

  /// Stops every worker (see the class comment). Idempotent; later Dispatch calls are ignored.
  void Stop();

 private:
  struct Channel;
  void Enqueue(Channel& channel, const Notification& notification);
  void Run(Channel& channel);

  const DispatcherOptions options_;
  const DeliveryObserver observer_;
  Clock& clock_;
  std::vector<std::unique_ptr<Channel>> channels_;  // set once in the constructor
};

}  // namespace etcdmon::alerter
