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
  uint32_t attempt = 0;          // 1 for the first
  Status status;                 // OK: delivered
  bool final = false;            // no further attempt follows (delivered, permanent, or gave up)
  int64_t unix_ms = 0;           // when the attempt ended
  std::chrono::milliseconds took{0};
};

/// Called on the channel's thread after every attempt; must be quick and thread-safe.
using DeliveryObserver = std::function<void(const Notification&, const DeliveryAttempt&)>;

struct DispatcherOptions {
  uint32_t max_attempts = 5;                       // per notification and channel
  std::chrono::milliseconds initial_backoff{500};  // doubled after each failure
  std::chrono::milliseconds max_backoff{30000};
  std::size_t max_queue = 1000;  // per channel; when full the oldest queued notification is
                                 // dropped and reported as a final failed attempt
};



/// Fans notifications out to the channels, one worker thread per channel.
/// Thread-safe; Stop() (or the destructor) finishes the attempt in progress and returns.
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

  void Stop();

 private:
  struct Channel;
  std::vector<std::unique_ptr<Channel>> channels_;
};

}  // namespace etcdmon::alerter
