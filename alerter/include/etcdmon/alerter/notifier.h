#pragma once

// A notification channel (console, webhook, Slack, PagerDuty, email) is a Notifier. The
// Dispatcher gives every channel its own queue and thread, so a slow or failing channel never
// delays the others, and retries failed deliveries with backoff.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
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
  /// Per channel. When full, the lowest severity goes first (the oldest among equals, the
  /// newcomer counting as the newest): a warning makes room for a critical, never the reverse.
  /// Dropped notifications are reported as final failed attempts and counted (dropped()).
  std::size_t max_queue = 1000;
  /// Extra room that only criticals use once max_queue holds nothing but criticals; past
  /// max_queue + critical_reserve the oldest critical is dropped (memory stays bounded).
  std::size_t critical_reserve = 1000;
  /// At most this many warning notifications per rule and channel within rule_interval are
  /// sent one by one; the rest of the interval's are grouped: the latest is sent once the
  /// interval ends, its summary saying how many it stands for, and the others are reported as
  /// final failed attempts ("grouped"). Criticals are never grouped. 0: no limit.
  uint32_t rule_burst = 10;
  std::chrono::milliseconds rule_interval{60000};
};

/// Notifications a channel did not send one by one, per channel, severity and reason
/// ("queue_full": dropped from a full queue; "grouped": folded into a later summary
/// notification by the per-rule limit).
struct DroppedCount {
  std::string channel;
  Severity severity = Severity::kWarning;
  std::string reason;
  uint64_t count = 0;
};

/// Fans notifications out to the channels, one queue and worker thread per channel, so that a
/// slow, hanging or failing channel never delays another. An alert storm cannot push a critical
/// out: warnings are grouped per rule and channel (rule_burst per rule_interval), and a full
/// queue drops the lowest severity first (see DispatcherOptions). Each channel delivers its queue
/// in order, one notification at a time: a retryable failure (IsRetryable) is retried after a
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

  /// Waits until every queue is empty, no grouped summary is held back (it goes out when its
  /// rule's interval ends) and no attempt is in progress, or `timeout` passes.
  /// Returns true when idle. For tests and clean shutdown.
  bool WaitIdle(std::chrono::milliseconds timeout);

  /// Stops every worker (see the class comment). Idempotent; later Dispatch calls are ignored.
  void Stop();

  /// Every non-zero drop count, by channel (in configuration order), severity and reason.
  std::vector<DroppedCount> dropped() const;

 private:
  struct Channel;
  struct RuleWindow;
  void Enqueue(Channel& channel, const Notification& notification);
  // Puts `notification` in the queue, making room per DispatcherOptions::max_queue; returns the
  // notification dropped for it, if any. Needs channel.mu.
  std::optional<Notification> Admit(Channel& channel, Notification notification);
  // Queues the summaries of rule windows that ended by `now`; forgets idle windows. Needs
  // channel.mu; appends what it drops to `dropped`.
  void FlushWindows(Channel& channel, std::chrono::steady_clock::time_point now,
                    std::vector<std::pair<Notification, std::string>>& dropped);
  void ReportDropped(Channel& channel,
                     const std::vector<std::pair<Notification, std::string>>& dropped);
  void Run(Channel& channel);

  const DispatcherOptions options_;
  const DeliveryObserver observer_;
  Clock& clock_;
  std::vector<std::unique_ptr<Channel>> channels_;  // set once in the constructor
};

}  // namespace etcdmon::alerter
