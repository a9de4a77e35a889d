#include <algorithm>
#include <condition_variable>
#include <deque>
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

struct Dispatcher::Channel {
  std::unique_ptr<Notifier> notifier;
  std::thread worker;

  std::mutex mu;
  std::condition_variable cv;  // queue, stopping or busy changed; notified under mu
  // Guarded by mu:
  std::deque<Notification> queue;
  bool busy = false;  // the worker holds a notification (sending or backing off)
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

void Dispatcher::Enqueue(Channel& channel, const Notification& notification) {
  std::optional<Notification> dropped;
  {
    std::lock_guard<std::mutex> lock(channel.mu);
    if (channel.stopping) {
      return;
    }
    if (options_.max_queue == 0) {
      dropped = notification;
    } else {
      if (channel.queue.size() >= options_.max_queue) {
        dropped = std::move(channel.queue.front());
        channel.queue.pop_front();
      }
      channel.queue.push_back(notification);
    }
    channel.cv.notify_all();
  }
  if (dropped && observer_) {
    DeliveryAttempt attempt;
    attempt.notification_id = dropped->id;
    attempt.channel = channel.notifier->name();
    attempt.attempt = 0;
    attempt.status = Status::ResourceExhausted(attempt.channel + ": queue full (" +
                                               std::to_string(options_.max_queue) +
                                               " notifications): dropped the oldest");
    attempt.final = true;
    attempt.unix_ms = UnixMs(clock_.Now());
    observer_(*dropped, attempt);
  }
}

void Dispatcher::Run(Channel& channel) {
  const uint32_t max_attempts = std::max<uint32_t>(options_.max_attempts, 1);
  std::unique_lock<std::mutex> lock(channel.mu);
  for (;;) {
    channel.busy = false;
    channel.cv.notify_all();  // WaitIdle may be waiting for this
    channel.cv.wait(lock, [&] { return channel.stopping || !channel.queue.empty(); });
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
          return channel->stopping || (channel->queue.empty() && !channel->busy);
        })) {
      return false;
    }
  }
  // A later channel's wait may have let an earlier one take new work; callers that dispatch
  // concurrently with WaitIdle get no stronger promise than "was idle at some point".
  return true;
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
