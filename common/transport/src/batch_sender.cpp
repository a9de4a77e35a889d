#include "etcdmon/transport/batch_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "etcdmon/proto/schema.h"
#include "etcdmon/transport/curve.h"
#include "sequence_state.h"
#include "zmq_util.h"

namespace etcdmon::transport {
namespace {

using etcdmonitor::v1::Ack;
using etcdmonitor::v1::SampleBatch;
using SteadyTime = std::chrono::steady_clock::time_point;

// The longest the I/O loop sleeps in zmq_poll. Deadlines are measured on the injected clock,
// which need not be the real one, so the loop looks at it at least this often.
constexpr std::chrono::milliseconds kMaxPollWait{100};
// Frames sent (or acks read) per loop iteration before the loop looks at everything else.
constexpr int kMaxSendsPerIteration = 256;
constexpr int kMaxAcksPerIteration = 1024;
// Acks are tiny; anything bigger from the peer is not an ack and is refused by libzmq.
constexpr int64_t kMaxAckFrameBytes = 64 * 1024;
// inproc names are per context, and senders may share one (SharedContext): each monitor gets a
// name of its own.
std::string NewMonitorEndpoint() {
  static std::atomic<uint64_t> next{0};
  return "inproc://batch-sender-monitor-" + std::to_string(next.fetch_add(1));
}
constexpr int kMonitorEvents =
    ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

// One batch waiting for its ack. The frame is shared so the I/O thread can send it without
// holding the queue's mutex while Enqueue() may drop it from the queue.
struct Entry {
  uint64_t sequence = 0;
  std::shared_ptr<const std::string> frame;
};

bool SequenceLess(const Entry& entry, uint64_t sequence) { return entry.sequence < sequence; }

std::chrono::milliseconds Until(SteadyTime deadline, SteadyTime now) {
  if (deadline <= now) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
}

Status ValidateOptions(const BatchSenderOptions& options) {
  if (options.aggregator_endpoint.empty()) {
    return Status::InvalidArgument("batch sender: aggregator endpoint is empty");
  }
  if (options.collector_id.empty()) {
    return Status::InvalidArgument("batch sender: collector id is empty");
  }
  if (options.sequence_state_path.empty()) {
    return Status::InvalidArgument("batch sender: sequence state file path is empty");
  }
  if (options.max_buffered_batches == 0) {
    return Status::InvalidArgument("batch sender: max buffered batches must be at least 1");
  }
  if (options.max_in_flight_batches == 0 ||
      options.max_in_flight_batches > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return Status::InvalidArgument("batch sender: max in-flight batches out of range");
  }
  if (options.sequence_block == 0) {
    return Status::InvalidArgument("batch sender: sequence block must be at least 1");
  }
  const std::pair<std::chrono::milliseconds, const char*> durations[] = {
      {options.ack_timeout, "ack timeout"},
      {options.heartbeat_interval, "heartbeat interval"},
      {options.heartbeat_timeout, "heartbeat timeout"},
      {options.reconnect_interval, "reconnect interval"},
      {options.connect_timeout, "connect timeout"},
  };
  for (const auto& [value, name] : durations) {
    if (value.count() <= 0) {
      return Status::InvalidArgument(std::string("batch sender: ") + name + " must be positive");
    }
  }
  if (options.reconnect_interval_max < options.reconnect_interval) {
    return Status::InvalidArgument(
        "batch sender: reconnect interval max is below the reconnect interval");
  }
  return Status::Ok();
}

// Fills in and checks the client key pair when CURVE is on.
Status PrepareCurveKeys(BatchSenderOptions& options) {
  if (options.curve_server_key.empty()) {
    if (!options.curve_public_key.empty() || !options.curve_secret_key.empty()) {
      return Status::InvalidArgument(
          "batch sender: a client CURVE key pair was given without the server's public key");
    }
    return Status::Ok();
  }
  if (!IsValidCurveKey(options.curve_server_key)) {
    return Status::InvalidArgument("batch sender: CURVE server key is not 40 Z85 characters");
  }
  if (options.curve_public_key.empty() && options.curve_secret_key.empty()) {
    Result<CurveKeyPair> pair = GenerateCurveKeyPair();
    if (!pair.ok()) {
      return pair.status();
    }
    options.curve_public_key = std::move(pair->public_key);
    options.curve_secret_key = std::move(pair->secret_key);
    return Status::Ok();
  }
  Result<std::string> derived = CurvePublicKeyFromSecret(options.curve_secret_key);
  if (!derived.ok()) {
    return derived.status().WithContext("batch sender: client key");
  }
  if (*derived != options.curve_public_key) {
    return Status::InvalidArgument(
        "batch sender: CURVE client public key does not belong to the secret key");
  }
  return Status::Ok();
}

}  // namespace

struct BatchSender::Impl {
  Impl(BatchSenderOptions opts, Clock& clk) : options(std::move(opts)), clock(clk) {}

  Status Setup(uint64_t first_sequence);
  Result<uint64_t> Enqueue(SampleBatch& batch);
  void Run();

  // I/O thread helpers.
  enum class SendState { kIdle, kBlocked, kMore };
  void HandleMonitorEvents();
  void HandleAcks(SteadyTime now);
  SendState SendPending(SteadyTime now);
  std::size_t InFlight() const;
  void Rewind();
  void SetConnected(bool connected);

  // Set once in Create().
  BatchSenderOptions options;
  Clock& clock;
  std::unique_ptr<detail::Waker> waker;
  detail::ContextHolder context;  // declared before the sockets: they must close first
  detail::SocketPtr socket;       // the DEALER; used only by the I/O thread while it runs
  detail::SocketPtr monitor;      // connection events of `socket`; same ownership

  std::mutex lifecycle_mu;  // serializes Start() and Stop()
  std::thread thread;       // guarded by lifecycle_mu
  bool started = false;     // guarded by lifecycle_mu
  bool stopped = false;     // guarded by lifecycle_mu

  // Enqueue() holds enqueue_mu throughout, so that queue order is sequence order, while the
  // serialization and the occasional fsync of the state file happen outside `mu` (the I/O
  // thread never waits for them).
  std::mutex enqueue_mu;
  uint64_t next_sequence = 1;   // guarded by enqueue_mu
  uint64_t reserved_until = 1;  // guarded by enqueue_mu; the value in the state file

  mutable std::mutex mu;
  std::deque<Entry> queue;      // guarded by mu; ascending sequence, unacknowledged batches
  bool accepting = true;        // guarded by mu
  bool stop_requested = false;  // guarded by mu
  SteadyTime flush_deadline;    // guarded by mu; set with stop_requested; real steady time
  BatchSenderStats stats;       // guarded by mu; queue_depth is filled in by Stats()
  bool dropping = false;        // guarded by mu; a drop was logged and no ack has come since

  // Owned by the I/O thread.
  uint64_t cursor = 0;        // next sequence to send in this round; all queued below it were sent
  uint64_t highest_sent = 0;  // highest sequence ever sent, to count resends
  bool link_up = false;       // the monitor reported a finished handshake and no loss since
  std::optional<SteadyTime> ack_deadline;  // while batches are in flight
  // After a refused handshake (the aggregator does not accept this key yet, or has no room for
  // another peer) libzmq gives the connection up for good; the sender dials again at this time,
  // so that a key listed later, or a freed slot, lets it in without a restart.
  std::optional<SteadyTime> redial_at;
  Ack ack;  // parse buffer
};

Status BatchSender::Impl::Setup(uint64_t first_sequence) {
  next_sequence = first_sequence;
  if (first_sequence > std::numeric_limits<uint64_t>::max() - options.sequence_block) {
    return Status::InvalidArgument("sequence state file " + options.sequence_state_path +
                                   ": sequence space exhausted");
  }
  reserved_until = first_sequence + options.sequence_block;
  ETCDMON_RETURN_IF_ERROR(detail::WriteSequenceState(options.sequence_state_path, reserved_until));

  Result<std::unique_ptr<detail::Waker>> new_waker = detail::Waker::Create();
  if (!new_waker.ok()) {
    return new_waker.status();
  }
  waker = std::move(*new_waker);
  Result<detail::ContextAndSocket> dealer =
      detail::NewContextAndSocket(ZMQ_DEALER, options.context);
  if (!dealer.ok()) {
    return dealer.status();
  }
  context = std::move(dealer->context);
  socket = std::move(dealer->socket);
  void* s = socket.get();
  // IMMEDIATE: no frames are queued for a peer that is not connected (they would be lost with
  // the pipe anyway); sends fail with EAGAIN instead and the batch stays at the cursor.
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(s, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE"));
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(s, ZMQ_LINGER, 0, "ZMQ_LINGER"));
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(
      s, ZMQ_SNDHWM, static_cast<int>(options.max_in_flight_batches), "ZMQ_SNDHWM"));
  const int64_t max_ack = kMaxAckFrameBytes;
  if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_ack, sizeof(max_ack)) != 0) {
    return detail::ZmqError("setting ZMQ_MAXMSGSIZE");
  }
  ETCDMON_RETURN_IF_ERROR(detail::SetMillisOption(s, ZMQ_HEARTBEAT_IVL, options.heartbeat_interval,
                                                  "heartbeat interval"));
  ETCDMON_RETURN_IF_ERROR(detail::SetMillisOption(s, ZMQ_HEARTBEAT_TIMEOUT,
                                                  options.heartbeat_timeout, "heartbeat timeout"));
  // Tells the aggregator to drop this connection when the collector goes silent as long.
  ETCDMON_RETURN_IF_ERROR(detail::SetMillisOption(
      s, ZMQ_HEARTBEAT_TTL, std::min(options.heartbeat_timeout, std::chrono::milliseconds(6553599)),
      "heartbeat TTL"));
  ETCDMON_RETURN_IF_ERROR(detail::SetMillisOption(s, ZMQ_RECONNECT_IVL, options.reconnect_interval,
                                                  "reconnect interval"));
  ETCDMON_RETURN_IF_ERROR(detail::SetMillisOption(
      s, ZMQ_RECONNECT_IVL_MAX, options.reconnect_interval_max, "reconnect interval max"));
  ETCDMON_RETURN_IF_ERROR(
      detail::SetMillisOption(s, ZMQ_CONNECT_TIMEOUT, options.connect_timeout, "connect timeout"));
  if (!options.curve_server_key.empty()) {
    if (zmq_has("curve") == 0) {
      return Status::FailedPrecondition("CURVE asked for, but libzmq was built without it");
    }
    ETCDMON_RETURN_IF_ERROR(detail::SetCurveClient(
        s, options.curve_server_key, options.curve_public_key, options.curve_secret_key));
  }

  // The monitor must exist before connect() so that no connection event is missed.
  const std::string monitor_endpoint = NewMonitorEndpoint();
  if (zmq_socket_monitor(s, monitor_endpoint.c_str(), kMonitorEvents) != 0) {
    return detail::ZmqError("zmq_socket_monitor");
  }
  Result<detail::SocketPtr> pair = detail::NewSocket(context.get(), ZMQ_PAIR);
  if (!pair.ok()) {
    return pair.status();
  }
  monitor = std::move(*pair);
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(monitor.get(), ZMQ_LINGER, 0, "ZMQ_LINGER"));
  if (zmq_connect(monitor.get(), monitor_endpoint.c_str()) != 0) {
    return detail::ZmqError("connecting the socket monitor");
  }
  if (zmq_connect(s, options.aggregator_endpoint.c_str()) != 0) {
    return detail::ZmqError("aggregator endpoint " + options.aggregator_endpoint);
  }
  // inproc:// has no handshake and libzmq reports no events for it: the link is up once
  // connected (inside one process it cannot break; a lost ack is still resent on ack timeout).
  if (options.aggregator_endpoint.rfind("inproc://", 0) == 0) {
    link_up = true;
    SetConnected(true);
  }
  return Status::Ok();
}

Result<uint64_t> BatchSender::Impl::Enqueue(SampleBatch& batch) {
  std::lock_guard<std::mutex> enqueue_lock(enqueue_mu);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!accepting) {
      return Status::FailedPrecondition("batch sender is stopped");
    }
  }
  if (next_sequence >= reserved_until) {
    if (next_sequence > std::numeric_limits<uint64_t>::max() - options.sequence_block) {
      return Status::Internal("batch sender: sequence space exhausted");
    }
    const uint64_t new_reserved = next_sequence + options.sequence_block;
    ETCDMON_RETURN_IF_ERROR(detail::WriteSequenceState(options.sequence_state_path, new_reserved));
    reserved_until = new_reserved;
  }
  const uint64_t sequence = next_sequence++;
  batch.set_schema_version(proto::kSchemaVersion);
  batch.set_collector_id(options.collector_id);
  batch.set_sequence(sequence);
  batch.set_sent_at_unix_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
          .count());
  auto frame = std::make_shared<std::string>();
  if (!batch.SerializeToString(frame.get())) {
    return Status::Internal("batch sender: serializing SampleBatch " + std::to_string(sequence) +
                            " failed");
  }

  bool log_drop = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!accepting) {
      return Status::FailedPrecondition("batch sender is stopped");
    }
    if (queue.size() >= options.max_buffered_batches) {
      queue.pop_front();
      ++stats.dropped;
      log_drop = !dropping;
      dropping = true;
    }
    queue.push_back(Entry{sequence, std::move(frame)});
    ++stats.enqueued;
  }
  waker->Notify();
  if (log_drop && options.logger) {
    options.logger->warn("batch_queue_full action=drop_oldest max_buffered={} sequence={}",
                         options.max_buffered_batches, sequence);
  }
  return sequence;
}

void BatchSender::Impl::SetConnected(bool connected) {
  std::size_t unacked = 0;
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    changed = stats.connected != connected;
    stats.connected = connected;
    unacked = queue.size();
  }
  if (changed && options.logger) {
    if (connected) {
      options.logger->info("aggregator_connected endpoint={} unacked={}",
                           options.aggregator_endpoint, unacked);
    } else {
      options.logger->warn("aggregator_disconnected endpoint={} unacked={}",
                           options.aggregator_endpoint, unacked);
    }
  }
}

void BatchSender::Impl::Rewind() {
  cursor = 0;  // the next send picks the oldest queued batch
  ack_deadline.reset();
}

std::size_t BatchSender::Impl::InFlight() const {
  std::lock_guard<std::mutex> lock(mu);
  auto it = std::lower_bound(queue.begin(), queue.end(), cursor, SequenceLess);
  return static_cast<std::size_t>(it - queue.begin());
}

void BatchSender::Impl::HandleMonitorEvents() {
  while (std::optional<detail::MonitorEvent> event = detail::ReadMonitorEvent(monitor.get())) {
    // Every change of connection restarts the round. Frames written into a connection that died
    // may be lost, and acks are cumulative: the new connection must see every unacknowledged
    // batch again, oldest first, before anything newer. The DISCONNECTED event of the old
    // connection is queued before the reconnect interval even starts, and events are read
    // before every send, so no frame goes to a new connection ahead of this rewind.
    switch (event->event) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        link_up = true;
        Rewind();
        SetConnected(true);
        break;
      case ZMQ_EVENT_DISCONNECTED:
        link_up = false;
        Rewind();
        SetConnected(false);
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: {
        if (event->event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL && !redial_at) {
          // A protocol or authentication failure ends the connection without a reconnect
          // (unlike a connection error, which libzmq retries itself).
          redial_at = clock.SteadyNow() + options.reconnect_interval_max;
        }
        link_up = false;
        Rewind();
        uint64_t failures = 0;
        {
          std::lock_guard<std::mutex> lock(mu);
          failures = ++stats.handshake_failures;
        }
        // Repeats at the reconnect interval: log the first one and then rarely.
        if (options.logger && (failures & (failures - 1)) == 0) {
          options.logger->warn("aggregator_handshake_failed endpoint={} failures={} errno={}",
                               options.aggregator_endpoint, failures, event->value);
        }
        SetConnected(false);
        break;
      }
      default:
        break;
    }
  }
}

void BatchSender::Impl::HandleAcks(SteadyTime now) {
  for (int i = 0; i < kMaxAcksPerIteration; ++i) {
    detail::Message message;
    if (!detail::ReceiveFrame(socket.get(), message)) {
      return;
    }
    bool valid = !message.more();
    if (!valid) {
      detail::DiscardRest(socket.get(), message);
    }
    valid = valid && ack.ParseFromArray(message.data(), static_cast<int>(message.size())) &&
            proto::CheckSchemaVersion(ack.schema_version()).ok() &&
            ack.collector_id() == options.collector_id && ack.sequence() != 0 &&
            ack.sequence() <= highest_sent;
    if (!valid) {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.bad_acks;
      continue;
    }
    bool released = false;
    bool in_flight = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      while (!queue.empty() && queue.front().sequence <= ack.sequence()) {
        queue.pop_front();
        released = true;
      }
      stats.acked_sequence = std::max(stats.acked_sequence, ack.sequence());
      stats.last_ack_time = clock.Now();
      if (released) {
        dropping = false;
      }
      in_flight = !queue.empty() && queue.front().sequence < cursor;
    }
    if (released) {
      if (in_flight) {
        ack_deadline = now + options.ack_timeout;
      } else {
        ack_deadline.reset();
      }
    }
  }
}

BatchSender::Impl::SendState BatchSender::Impl::SendPending(SteadyTime now) {
  if (!link_up) {
    return SendState::kIdle;
  }
  for (int i = 0; i < kMaxSendsPerIteration; ++i) {
    Entry entry;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = std::lower_bound(queue.begin(), queue.end(), cursor, SequenceLess);
      if (it == queue.end() ||
          static_cast<std::size_t>(it - queue.begin()) >= options.max_in_flight_batches) {
        return SendState::kIdle;  // nothing new, or the window is full: wait for acks
      }
      entry = *it;
    }
    if (!detail::SendFrame(socket.get(), entry.frame->data(), entry.frame->size(), false)) {
      // EAGAIN: no connection right now or its queue is full. The batch stays at the cursor.
      return SendState::kBlocked;
    }
    const bool resend = entry.sequence <= highest_sent;
    highest_sent = std::max(highest_sent, entry.sequence);
    cursor = entry.sequence + 1;
    if (!ack_deadline) {
      ack_deadline = now + options.ack_timeout;
    }
    std::lock_guard<std::mutex> lock(mu);
    ++stats.sent;
    if (resend) {
      ++stats.resent;
    }
  }
  return SendState::kMore;
}

void BatchSender::Impl::Run() {
  while (true) {
    HandleMonitorEvents();
    const SteadyTime now = clock.SteadyNow();
    if (redial_at && now >= *redial_at) {
      redial_at.reset();
      // The old connection is gone already; disconnect only forgets the endpoint.
      zmq_disconnect(socket.get(), options.aggregator_endpoint.c_str());
      if (zmq_connect(socket.get(), options.aggregator_endpoint.c_str()) != 0 && options.logger) {
        options.logger->error("aggregator_redial_failed endpoint={} error=\"{}\"",
                              options.aggregator_endpoint, zmq_strerror(errno));
      }
    }
    HandleAcks(now);
    if (ack_deadline && now >= *ack_deadline) {
      const std::size_t in_flight = InFlight();
      Rewind();
      if (in_flight > 0 && options.logger) {
        options.logger->debug("ack_timeout action=resend in_flight={}", in_flight);
      }
    }
    const SendState send_state = SendPending(now);

    std::chrono::milliseconds wait = kMaxPollWait;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stop_requested) {
        const SteadyTime real_now = std::chrono::steady_clock::now();
        if (queue.empty() || real_now >= flush_deadline) {
          break;
        }
        wait = std::min(wait, Until(flush_deadline, real_now));
      }
    }
    if (ack_deadline) {
      wait = std::min(wait, Until(*ack_deadline, now));
    }
    if (redial_at) {
      wait = std::min(wait, Until(*redial_at, now));
    }
    if (send_state == SendState::kMore) {
      wait = std::chrono::milliseconds(0);
    }
    zmq_pollitem_t items[3] = {
        {socket.get(), 0,
         static_cast<short>(ZMQ_POLLIN | (send_state == SendState::kBlocked ? ZMQ_POLLOUT : 0)), 0},
        {monitor.get(), 0, ZMQ_POLLIN, 0},
        {nullptr, waker->fd(), ZMQ_POLLIN, 0},
    };
    if (detail::Poll(items, 3, wait) < 0) {
      // Only a programming error gets here (a closed socket); stopping beats spinning.
      if (options.logger) {
        options.logger->error("batch_sender_poll_failed error=\"{}\"", zmq_strerror(errno));
      }
      break;
    }
    if ((items[2].revents & ZMQ_POLLIN) != 0) {
      waker->Drain();
    }
  }
  std::size_t unacked = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    unacked = queue.size();
  }
  if (options.logger) {
    options.logger->info("batch_sender_stopped unacked={}", unacked);
  }
}

Result<std::unique_ptr<BatchSender>> BatchSender::Create(BatchSenderOptions options, Clock& clock) {
  ETCDMON_RETURN_IF_ERROR(ValidateOptions(options));
  ETCDMON_RETURN_IF_ERROR(PrepareCurveKeys(options));
  Result<uint64_t> first_sequence = detail::ReadSequenceState(options.sequence_state_path);
  if (!first_sequence.ok()) {
    return first_sequence.status();
  }
  if (*first_sequence == 0) {
    // No state file: a new collector, or one whose state was wiped. Starting at 1 would make an
    // aggregator that deduplicates on (collector, sequence) discard the new batches as old
    // ones; the wall clock in microseconds is above every sequence an earlier incarnation
    // could have used (blocks of a few thousand per batch interval), unless the clock went back.
    const auto now_us =
        std::chrono::duration_cast<std::chrono::microseconds>(clock.Now().time_since_epoch())
            .count();
    first_sequence = std::max<uint64_t>(1, static_cast<uint64_t>(std::max<int64_t>(0, now_us)));
  }
  auto impl = std::make_unique<Impl>(std::move(options), clock);
  ETCDMON_RETURN_IF_ERROR(impl->Setup(*first_sequence));
  if (impl->options.logger) {
    impl->options.logger->info(
        "batch_sender_created endpoint={} collector={} first_sequence={} curve={}",
        impl->options.aggregator_endpoint, impl->options.collector_id, *first_sequence,
        impl->options.curve_server_key.empty() ? "off" : "on");
  }
  return std::unique_ptr<BatchSender>(new BatchSender(std::move(impl)));
}

BatchSender::BatchSender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BatchSender::~BatchSender() { Stop(); }

Status BatchSender::Start() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mu);
  if (impl_->started || impl_->stopped) {
    return Status::FailedPrecondition("batch sender already started or stopped");
  }
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
  return Status::Ok();
}

void BatchSender::Stop(std::chrono::milliseconds flush_timeout) {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mu);
  if (impl_->stopped) {
    return;
  }
  impl_->stopped = true;
  {
    std::lock_guard<std::mutex> state_lock(impl_->mu);
    impl_->accepting = false;
    impl_->stop_requested = true;
    impl_->flush_deadline = std::chrono::steady_clock::now() + flush_timeout;
  }
  impl_->waker->Notify();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
  // Close now, so the aggregator sees the connection go at Stop() rather than at destruction.
  impl_->monitor.reset();
  impl_->socket.reset();
  impl_->context.reset();
  std::lock_guard<std::mutex> state_lock(impl_->mu);
  impl_->stats.connected = false;
}

Result<uint64_t> BatchSender::Enqueue(SampleBatch& batch) { return impl_->Enqueue(batch); }

BatchSenderStats BatchSender::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  BatchSenderStats stats = impl_->stats;
  stats.queue_depth = impl_->queue.size();
  return stats;
}

const std::string& BatchSender::curve_public_key() const { return impl_->options.curve_public_key; }

}  // namespace etcdmon::transport
