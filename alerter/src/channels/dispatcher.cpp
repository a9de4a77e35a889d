#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "etcdmon/alerter/notifier.h"

namespace etcdmon::alerter {

namespace {

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

bool IsRetryable(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return false;
    default:
      return true;
  }
}

// The per-rule limit of one channel: how many warnings went out in the window, and the latest
// one held back for the summary.
struct Dispatcher::RuleWindow {
  std::chrono::steady_clock::time_point start;
  uint32_t sent = 0;
  uint64_t grouped = 0;  // notifications the held one stands for (itself included)
  std::optional<Notification> held;
};

struct Dispatcher::Channel {
  std::unique_ptr<Notifier> notifier;
  std::thread worker;

  std::mutex mu;
  std::condition_variable cv;  // queue, stopping or busy changed; notified under mu
  // Guarded by mu:
  std::deque<Notification> queue;
  std::map<std::string, RuleWindow> windows;                     // by rule id
  std::map<std::pair<Severity, std::string>, uint64_t> dropped;  // by severity and reason
  uint64_t windows_held = 0;  // counts windows that began holding: the worker re-times its wait
  bool busy = false;          // the worker holds a notification (sending or backing off)
  bool stopping = false;
};

Dispatcher::Dispatcher(std::vector<std::unique_ptr<Notifier>> channels, DispatcherOptions options,
                       DeliveryObserver observer, Clock& clock)
    : options_(std::move(options)), observer_(std::move(observer)), clock_(clock) {
  channels_.reserve(channels.size());
  for (auto& notifier : channels) {
    auto channel = std::make_unique<Channel>();
    channel->notifier = std::move(notifier);
    channels_.push_back(std::move(channel));
  }
  // Threads start once channels_ is complete: workers never look at other channels, but
  // WaitIdle and Stop walk the vector.
  for (auto& channel : channels_) {
    Channel* c = channel.get();
    c->worker = std::thread([this, c] { Run(*c); });
  }
}

Dispatcher::~Dispatcher() { Stop(); }

std::vector<std::string> Dispatcher::channel_names() const {
  std::vector<std::string> names;
  names.reserve(channels_.size());
  for (const auto& channel : channels_) {
    names.push_back(channel->notifier->name());
  }
  return names;
}

void Dispatcher::Dispatch(const Notification& notification) {
  const std::vector<std::string>& wanted = notification.alert.channels;
  for (auto& channel : channels_) {
    if (wanted.empty() ||
        std::find(wanted.begin(), wanted.end(), channel->notifier->name()) != wanted.end()) {
      Enqueue(*channel, notification);
    }
  }
}

void Dispatcher::DispatchTo(const std::string& channel_name, const Notification& notification) {
  for (auto& channel : channels_) {
    if (channel->notifier->name() == channel_name) {
      Enqueue(*channel, notification);
    }
  }
}

std::optional<Notification> Dispatcher::Admit(Channel& channel, Notification notification) {
  if (options_.max_queue == 0) {
    return notification;
  }
  std::deque<Notification>& queue = channel.queue;
  if (queue.size() < options_.max_queue) {
    queue.push_back(std::move(notification));
    return std::nullopt;
  }
  // Full: the lowest severity goes, the oldest among equals; the newcomer is the newest.
  auto lowest = queue.begin();
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (it->alert.severity < lowest->alert.severity) {
      lowest = it;
    }
  }
  const Severity incoming = notification.alert.severity;
  if (incoming < lowest->alert.severity) {
    return notification;
  }
  if (lowest->alert.severity == Severity::kCritical &&
      queue.size() < options_.max_queue + options_.critical_reserve) {
    queue.push_back(std::move(notification));  // only criticals queued: use the reserve
    return std::nullopt;
  }
  std::optional<Notification> dropped = std::move(*lowest);
  queue.erase(lowest);
  queue.push_back(std::move(notification));
  return dropped;
}

void Dispatcher::FlushWindows(Channel& channel, std::chrono::steady_clock::time_point now,
                              std::vector<std::pair<Notification, std::string>>& dropped) {
  for (auto it = channel.windows.begin(); it != channel.windows.end();) {
    RuleWindow& window = it->second;
    if (now < window.start + options_.rule_interval) {
      ++it;
      continue;
    }
    if (window.held) {
      Notification summary = std::move(*window.held);
      summary.alert.summary = "[" + std::to_string(window.grouped) + " notifications of rule " +
                              it->first + " grouped by the rate limit; the latest:] " +
                              summary.alert.summary;
      if (std::optional<Notification> out = Admit(channel, std::move(summary))) {
        dropped.emplace_back(std::move(*out), "queue_full");
      }
      channel.cv.notify_all();
    }
    it = channel.windows.erase(it);
  }
}

void Dispatcher::ReportDropped(Channel& channel,
                               const std::vector<std::pair<Notification, std::string>>& dropped) {
  if (!observer_) {
    return;
  }
  for (const auto& [notification, reason] : dropped) {
    DeliveryAttempt attempt;
    attempt.notification_id = notification.id;
    attempt.channel = channel.notifier->name();
    attempt.attempt = 0;
    attempt.status =
        reason == "grouped"
            ? Status::ResourceExhausted(attempt.channel + ": more than " +
                                        std::to_string(options_.rule_burst) +
                                        " notifications of rule " + notification.alert.key.rule +
                                        " within the interval: grouped into a later summary")
            : Status::ResourceExhausted(attempt.channel + ": queue full (" +
                                        std::to_string(options_.max_queue) +
                                        " notifications): dropped the lowest severity, " +
                                        std::string(SeverityName(notification.alert.severity)));
    attempt.final = true;
    attempt.unix_ms = UnixMs(clock_.Now());
    observer_(notification, attempt);
  }
}

void Dispatcher::Enqueue(Channel& channel, const Notification& notification) {
  std::vector<std::pair<Notification, std::string>> dropped;
  {
    std::lock_guard<std::mutex> lock(channel.mu);
    if (channel.stopping) {
      return;
    }
    bool admit = true;
    if (options_.rule_burst > 0 && notification.alert.severity != Severity::kCritical) {
      const auto now = clock_.SteadyNow();
      FlushWindows(channel, now, dropped);
      RuleWindow& window = channel.windows[notification.alert.key.rule];
      if (window.sent == 0 && window.grouped == 0) {
        window.start = now;
      }
      if (window.sent < options_.rule_burst) {
        ++window.sent;
      } else {
        admit = false;
        if (window.held) {
          dropped.emplace_back(std::move(*window.held), "grouped");
        } else {
          ++channel.windows_held;  // the worker times the window's end
        }
        window.held = notification;
        ++window.grouped;
      }
    }
    if (admit) {
      if (std::optional<Notification> out = Admit(channel, notification)) {
        dropped.emplace_back(std::move(*out), "queue_full");
      }
    }
    for (const auto& [n, reason] : dropped) {
      ++channel.dropped[{n.alert.severity, reason}];
    }
    channel.cv.notify_all();
  }
  ReportDropped(channel, dropped);
}

void Dispatcher::Run(Channel& channel) {
  const uint32_t max_attempts = std::max<uint32_t>(options_.max_attempts, 1);
  std::unique_lock<std::mutex> lock(channel.mu);
  for (;;) {
    channel.busy = false;
    channel.cv.notify_all();  // WaitIdle may be waiting for this
    for (;;) {
      // Summaries are due when their rule's window ends, whether or not anything else comes.
      std::vector<std::pair<Notification, std::string>> dropped;
      FlushWindows(channel, clock_.SteadyNow(), dropped);
      if (!dropped.empty()) {
        for (const auto& [n, reason] : dropped) {
          ++channel.dropped[{n.alert.severity, reason}];
        }
        lock.unlock();
        ReportDropped(channel, dropped);
        lock.lock();
      }
      if (channel.stopping || !channel.queue.empty()) {
        break;
      }
      std::optional<std::chrono::steady_clock::time_point> next_summary;
      for (const auto& [rule, window] : channel.windows) {
        if (window.held) {
          const auto due = window.start + options_.rule_interval;
          next_summary = next_summary ? std::min(*next_summary, due) : due;
        }
      }
      const uint64_t held_before = channel.windows_held;
      const auto woken = [&] {
        return channel.stopping || !channel.queue.empty() || channel.windows_held != held_before;
      };
      if (next_summary) {
        clock_.WaitUntil(lock, channel.cv, *next_summary, woken);
      } else {
        channel.cv.wait(lock, woken);
      }
    }
    if (channel.stopping) {
      return;
    }
    Notification notification = std::move(channel.queue.front());
    channel.queue.pop_front();
    channel.busy = true;

    std::chrono::milliseconds backoff = options_.initial_backoff;
    for (uint32_t attempt_number = 1;; ++attempt_number) {
      lock.unlock();
      const auto started = clock_.SteadyNow();
      Status status = channel.notifier->Send(notification);
      DeliveryAttempt attempt;
      attempt.notification_id = notification.id;
      attempt.channel = channel.notifier->name();
      attempt.attempt = attempt_number;
      attempt.final = status.ok() || !IsRetryable(status) || attempt_number >= max_attempts;
      attempt.status = std::move(status);
      attempt.unix_ms = UnixMs(clock_.Now());
      const auto ended = clock_.SteadyNow();
      attempt.took = std::chrono::duration_cast<std::chrono::milliseconds>(ended - started);
      if (observer_) {
        observer_(notification, attempt);
      }
      lock.lock();
      if (attempt.final || channel.stopping) {
        break;
      }
      // The backoff counts from the attempt's end, not from after the observer returned.
      const auto deadline = ended + backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
      if (clock_.WaitUntil(lock, channel.cv, deadline, [&] { return channel.stopping; })) {
        break;
      }
    }
  }
}

bool Dispatcher::WaitIdle(std::chrono::milliseconds timeout) {
  // Real time: a test drives the fake clock from another thread while this waits.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& channel : channels_) {
    std::unique_lock<std::mutex> lock(channel->mu);
    if (!channel->cv.wait_until(lock, deadline, [&] {
          return channel->stopping ||
                 (channel->queue.empty() && !channel->busy &&
                  std::none_of(channel->windows.begin(), channel->windows.end(),
                               [](const auto& w) { return w.second.held; }));
        })) {
      return false;
    }
  }
  // A later channel's wait may have let an earlier one take new work; callers that dispatch
  // concurrently with WaitIdle get no stronger promise than "was idle at some point".
  return true;
}

std::vector<DroppedCount> Dispatcher::dropped() const {
  std::vector<DroppedCount> out;
  for (const auto& channel : channels_) {
    std::lock_guard<std::mutex> lock(channel->mu);
    for (const auto& [key, count] : channel->dropped) {
      out.push_back(DroppedCount{channel->notifier->name(), key.first, key.second, count});
    }
  }
  return out;
}

void Dispatcher::Stop() {
  for (auto& channel : channels_) {
    std::lock_guard<std::mutex> lock(channel->mu);
    channel->stopping = true;
    channel->queue.clear();
    channel->cv.notify_all();
  }
  for (auto& channel : channels_) {
    if (channel->worker.joinable()) {
      channel->worker.join();
    }
  }
}

}  // namespace etcdmon::alerter
