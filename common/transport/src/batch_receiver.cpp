#include "etcdmon/transport/batch_receiver.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "etcdmon/proto/schema.h"
#include "etcdmon/transport/curve.h"
#include "zmq_util.h"

namespace etcdmon::transport {
namespace {

using etcdmonitor::v1::Ack;
using etcdmonitor::v1::SampleBatch;

// How long the I/O loop may sleep in zmq_poll; Stop() wakes it earlier through the waker.
constexpr std::chrono::milliseconds kMaxPollWait{100};
// Messages handled per loop iteration before the stop flag is looked at again; in group mode
// also the bound on the batches of one group.
constexpr int kMaxMessagesPerIteration = 256;
// libzmq drops a connection whose frame exceeds this multiple of max_frame_bytes before the
// frame is buffered whole; between 1x and this, the frame is read and rejected as oversized.
constexpr int64_t kHardFrameLimitFactor = 4;

}  // namespace

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kOversized:
      return "oversized";
    case RejectReason::kMultipart:
      return "multipart";
    case RejectReason::kMalformed:
      return "malformed";
    case RejectReason::kSchemaVersion:
      return "schema_version";
    case RejectReason::kNoCollectorId:
      return "no_collector_id";
  }
  return "unknown";
}

uint64_t BatchReceiverStats::rejected_total() const {
  return std::accumulate(rejected.begin(), rejected.end(), uint64_t{0});
}

struct BatchReceiver::Impl {
  Impl(BatchReceiverOptions opts, BatchHandler h)
      : options(std::move(opts)), handler(std::move(h)) {}

  Status Setup();
  void Run();

  // I/O thread helpers.
  bool ReadOne();  // false when no message was waiting
  void Reject(RejectReason reason, std::size_t size);
  void Handle(std::string_view peer);
  void Stage(std::string_view peer, const std::string& collector_id, uint64_t sequence);
  void CommitGroup();
  void SendAck(std::string_view peer, const std::string& collector_id, uint64_t sequence);

  // Set once in Create().
  BatchReceiverOptions options;
  BatchHandler handler;
  std::string endpoint;
  uint16_t port = 0;
  std::string curve_public_key;
  std::unique_ptr<detail::Waker> waker;
  detail::ContextHolder context;  // declared before the socket: it must close first
  detail::SocketPtr socket;       // the ROUTER; used only by the I/O thread while it runs

  std::mutex lifecycle_mu;  // serializes Start() and Stop()
  std::thread thread;       // guarded by lifecycle_mu
  bool started = false;     // guarded by lifecycle_mu
  bool stopped = false;     // guarded by lifecycle_mu

  mutable std::mutex mu;
  BatchReceiverStats stats;     // guarded by mu
  bool stop_requested = false;  // guarded by mu

  // A collector whose batch `failed_sequence` the handler failed: its later batches are held
  // back until that batch comes again, or a new resend round on the same connection starts
  // above it (the sender no longer holds it). `peer` and `last_sequence` are the routing id
  // and the sequence of the collector's latest batch.
  struct HeldBack {
    uint64_t failed_sequence = 0;
    std::string peer;
    uint64_t last_sequence = 0;
  };
  // Owned by the I/O thread.
  std::unordered_map<std::string, HeldBack> held_back;  // by collector id
  // Group mode: the batches staged since the last commit, in arrival order. Only the first
  // `staged_count` entries are live; the rest keep their string storage for the next group.
  struct StagedBatch {
    std::string peer;
    std::string collector_id;
    uint64_t sequence = 0;
  };
  std::vector<StagedBatch> staged;
  std::size_t staged_count = 0;
  bool last_commit_failed = false;  // logs a run of commit failures once at warn
  std::array<bool, kRejectReasonCount> reject_logged{};
  SampleBatch batch;              // parse buffer, reused (the handler may swap its contents out)
  std::string collector_scratch;  // the batch's collector id while it is handled
  Ack ack;
  std::string ack_frame;
};

Status BatchReceiver::Impl::Setup() {
  if (options.max_frame_bytes == 0 ||
      options.max_frame_bytes >
          static_cast<std::size_t>(std::numeric_limits<int>::max() / kHardFrameLimitFactor)) {
    return Status::InvalidArgument("batch receiver: max frame bytes out of range");
  }
  if (options.heartbeat_interval.count() <= 0 || options.heartbeat_timeout.count() <= 0) {
    return Status::InvalidArgument(
        "batch receiver: heartbeat interval and timeout must be positive");
  }
  if (!options.curve_secret_key.empty()) {
    Result<std::string> public_key = CurvePublicKeyFromSecret(options.curve_secret_key);
    if (!public_key.ok()) {
      return public_key.status().WithContext("batch receiver");
    }
    curve_public_key = std::move(*public_key);
  }

  Result<std::unique_ptr<detail::Waker>> new_waker = detail::Waker::Create();
  if (!new_waker.ok()) {
    return new_waker.status();
  }
  waker = std::move(*new_waker);
  Result<detail::ContextAndSocket> router =
      detail::NewContextAndSocket(ZMQ_ROUTER, options.context);
  if (!router.ok()) {
    return router.status();
  }
  context = std::move(router->context);
  socket = std::move(router->socket);
  void* s = socket.get();
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(s, ZMQ_LINGER, 0, "ZMQ_LINGER"));
  // Unroutable acks fail visibly (counted) instead of vanishing.
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(s, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY"));
  const int64_t hard_limit = static_cast<int64_t>(options.max_frame_bytes) * kHardFrameLimitFactor;
  if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &hard_limit, sizeof(hard_limit)) != 0) {
    return detail::ZmqError("setting ZMQ_MAXMSGSIZE");
  }
  ETCDMON_RETURN_IF_ERROR(detail::SetMillisOption(s, ZMQ_HEARTBEAT_IVL, options.heartbeat_interval,
                                                  "heartbeat interval"));
  ETCDMON_RETURN_IF_ERROR(detail::SetMillisOption(s, ZMQ_HEARTBEAT_TIMEOUT,
                                                  options.heartbeat_timeout, "heartbeat timeout"));
  if (!options.curve_secret_key.empty()) {
    ETCDMON_RETURN_IF_ERROR(detail::SetCurveServer(s, options.curve_secret_key));
  }
  Result<std::string> bound = detail::Bind(s, options.endpoint);
  if (!bound.ok()) {
    return bound.status();
  }
  endpoint = std::move(*bound);
  port = detail::PortOfEndpoint(endpoint);
  return Status::Ok();
}

void BatchReceiver::Impl::Reject(RejectReason reason, std::size_t size) {
  const auto index = static_cast<std::size_t>(reason);
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.rejected[index];
  }
  if (options.logger) {
    // Garbage can arrive at any rate: warn once per reason, the rest at debug.
    const auto level = reject_logged[index] ? spdlog::level::debug : spdlog::level::warn;
    reject_logged[index] = true;
    options.logger->log(level, "frame_rejected reason={} bytes={}", RejectReasonName(reason), size);
  }
}

bool BatchReceiver::Impl::ReadOne() {
  detail::Message routing_id;
  if (!detail::ReceiveFrame(socket.get(), routing_id)) {
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.frames;
  }
  if (!routing_id.more()) {
    Reject(RejectReason::kMultipart, 0);  // a ROUTER always prefixes a routing id; defensive
    return true;
  }
  detail::Message payload;
  if (!detail::ReceiveFrame(socket.get(), payload)) {
    return true;  // the frames of a message arrive together; defensive
  }
  if (payload.more()) {
    const std::size_t size = payload.size();
    detail::DiscardRest(socket.get(), payload);
    Reject(RejectReason::kMultipart, size);
    return true;
  }
  const std::size_t size = payload.size();
  if (size > options.max_frame_bytes) {
    Reject(RejectReason::kOversized, size);
    return true;
  }
  if (!batch.ParseFromArray(payload.data(), static_cast<int>(size))) {
    Reject(RejectReason::kMalformed, size);
    return true;
  }
  if (!proto::CheckSchemaVersion(batch.schema_version()).ok()) {
    Reject(RejectReason::kSchemaVersion, size);
    return true;
  }
  if (batch.collector_id().empty()) {
    Reject(RejectReason::kNoCollectorId, size);
    return true;
  }
  Handle(routing_id.view());
  return true;
}

void BatchReceiver::Impl::Handle(std::string_view peer) {
  // A copy (into reused storage): the handler may take the batch's contents.
  collector_scratch.assign(batch.collector_id());
  const std::string& collector_id = collector_scratch;
  const uint64_t sequence = batch.sequence();
  auto held = held_back.find(collector_id);
  if (held != held_back.end()) {
    HeldBack& h = held->second;
    // A sender's round goes up in sequence on one connection, so a sequence at or below the
    // previous one from the same connection starts a new round at the sender's oldest batch.
    const bool new_round = peer == h.peer && sequence <= h.last_sequence;
    h.peer.assign(peer.data(), peer.size());
    h.last_sequence = sequence;
    if (sequence > h.failed_sequence && !new_round) {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.deferred;
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.accepted;
  }
  Status status;
  try {
    status = handler(batch);
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("batch handler threw: ") + e.what());
  } catch (...) {
    status = Status::Internal("batch handler threw a non-standard exception");
  }
  if (!status.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.handler_failures;
    }
    if (held == held_back.end()) {
      held_back.emplace(collector_id,
                        HeldBack{sequence, std::string(peer.data(), peer.size()), sequence});
      if (options.logger) {
        options.logger->warn("batch_not_stored collector={} seq={} error=\"{}\"", collector_id,
                             sequence, status.ToString());
      }
    } else {
      held->second.failed_sequence = sequence;
      if (options.logger) {
        options.logger->debug("batch_not_stored collector={} seq={} error=\"{}\"", collector_id,
                              sequence, status.ToString());
      }
    }
    return;
  }
  // In group mode the batch is not durable yet; should the commit fail, CommitGroup() holds the
  // collector back again from its lowest staged sequence.
  if (held != held_back.end() && sequence >= held->second.failed_sequence) {
    held_back.erase(held);
  }
  if (options.commit) {
    Stage(peer, collector_id, sequence);
  } else {
    SendAck(peer, collector_id, sequence);
  }
}

void BatchReceiver::Impl::Stage(std::string_view peer, const std::string& collector_id,
                                uint64_t sequence) {
  if (staged_count == staged.size()) {
    staged.emplace_back();
  }
  StagedBatch& entry = staged[staged_count++];
  entry.peer.assign(peer.data(), peer.size());
  entry.collector_id = collector_id;
  entry.sequence = sequence;
}

void BatchReceiver::Impl::CommitGroup() {
  Status status;
  try {
    status = options.commit();
  } catch (const std::exception& e) {
    status = Status::Internal(std::string("commit threw: ") + e.what());
  } catch (...) {
    status = Status::Internal("commit threw a non-standard exception");
  }
  const std::size_t count = staged_count;
  staged_count = 0;
  if (status.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++stats.commits;
    }
    last_commit_failed = false;
    for (std::size_t i = 0; i < count; ++i) {
      SendAck(staged[i].peer, staged[i].collector_id, staged[i].sequence);
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.commit_failures;
  }
  if (options.logger) {
    const auto level = last_commit_failed ? spdlog::level::debug : spdlog::level::warn;
    options.logger->log(level, "group_not_stored batches={} error=\"{}\"", count,
                        status.ToString());
  }
  last_commit_failed = true;
  // Newest first: a collector not held back yet gets its entry from its latest batch (the
  // connection and sequence a new resend round is recognized against, as after a handler
  // failure); older staged batches only lower the sequence it is held back from. A collector
  // already held back (a handler failure later in the group) keeps its newer connection data.
  for (std::size_t i = count; i-- > 0;) {
    const StagedBatch& entry = staged[i];
    auto held = held_back.find(entry.collector_id);
    if (held == held_back.end()) {
      held_back.emplace(entry.collector_id, HeldBack{entry.sequence, entry.peer, entry.sequence});
    } else if (entry.sequence < held->second.failed_sequence) {
      held->second.failed_sequence = entry.sequence;
    }
  }
}

void BatchReceiver::Impl::SendAck(std::string_view peer, const std::string& collector_id,
                                  uint64_t sequence) {
  ack.set_schema_version(proto::kSchemaVersion);
  ack.set_collector_id(collector_id);
  ack.set_sequence(sequence);
  ack_frame.clear();
  const bool sent = ack.SerializeToString(&ack_frame) &&
                    detail::SendFrame(socket.get(), peer.data(), peer.size(), true) &&
                    detail::SendFrame(socket.get(), ack_frame.data(), ack_frame.size(), false);
  std::lock_guard<std::mutex> lock(mu);
  if (sent) {
    ++stats.acked;
  } else {
    // EHOSTUNREACH: the connection is gone; EAGAIN: its queue is full. The sender resends.
    ++stats.ack_send_failures;
  }
}

void BatchReceiver::Impl::Run() {
  // Named, so that top -H, perf and gdb tell the ingest thread apart (at most 15 characters).
  pthread_setname_np(pthread_self(), "batch-receiver");
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stop_requested) {
        break;
      }
    }
    int handled = 0;
    while (handled < kMaxMessagesPerIteration && ReadOne()) {
      ++handled;
    }
    if (staged_count > 0) {
      CommitGroup();  // the group is what this round read: the stop flag never strands it
    }
    if (handled == kMaxMessagesPerIteration) {
      continue;  // more may be waiting; look at the stop flag, then read on without polling
    }
    zmq_pollitem_t items[2] = {
        {socket.get(), 0, ZMQ_POLLIN, 0},
        {nullptr, waker->fd(), ZMQ_POLLIN, 0},
    };
    if (detail::Poll(items, 2, kMaxPollWait) < 0) {
      if (options.logger) {
        options.logger->error("batch_receiver_poll_failed error=\"{}\"", zmq_strerror(errno));
      }
      break;
    }
    if ((items[1].revents & ZMQ_POLLIN) != 0) {
      waker->Drain();
    }
  }
}

Result<std::unique_ptr<BatchReceiver>> BatchReceiver::Create(BatchReceiverOptions options,
                                                             BatchHandler handler) {
  if (!handler) {
    return Status::InvalidArgument("batch receiver: no handler");
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  ETCDMON_RETURN_IF_ERROR(impl->Setup());
  if (impl->options.logger) {
    impl->options.logger->info("batch_receiver_listening endpoint={} curve={}", impl->endpoint,
                               impl->curve_public_key.empty() ? "off" : "on");
  }
  return std::unique_ptr<BatchReceiver>(new BatchReceiver(std::move(impl)));
}

BatchReceiver::BatchReceiver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BatchReceiver::~BatchReceiver() { Stop(); }

Status BatchReceiver::Start() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mu);
  if (impl_->started || impl_->stopped) {
    return Status::FailedPrecondition("batch receiver already started or stopped");
  }
  impl_->started = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->Run(); });
  return Status::Ok();
}

void BatchReceiver::Stop() {
  std::lock_guard<std::mutex> lock(impl_->lifecycle_mu);
  if (impl_->stopped) {
    return;
  }
  impl_->stopped = true;
  {
    std::lock_guard<std::mutex> state_lock(impl_->mu);
    impl_->stop_requested = true;
  }
  impl_->waker->Notify();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
  // Terminating the context waits until libzmq has closed the listener, so the port is free
  // for a successor as soon as Stop() returns.
  impl_->socket.reset();
  impl_->context.reset();
  if (impl_->options.logger) {
    impl_->options.logger->info("batch_receiver_stopped endpoint={}", impl_->endpoint);
  }
}

const std::string& BatchReceiver::endpoint() const { return impl_->endpoint; }

uint16_t BatchReceiver::port() const { return impl_->port; }

const std::string& BatchReceiver::curve_public_key() const { return impl_->curve_public_key; }

BatchReceiverStats BatchReceiver::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

}  // namespace etcdmon::transport
