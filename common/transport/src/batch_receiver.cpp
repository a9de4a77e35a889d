#include "etcdmon/transport/batch_receiver.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <condition_variable>
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
#include "zap_authenticator.h"
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
// Background group commit: batches, and bytes of their frames, staged while a commit is in
// flight, at most. Beyond, the I/O thread stops reading until the commit ends, and ZMQ_RCVHWM
// pushes back on the senders: a stalled disk cannot make the group grow without bound, nor can
// large batches (typical ones are a few KiB: the batch count binds first).
constexpr std::size_t kMaxStagedBatches = 4 * kMaxMessagesPerIteration;
constexpr std::size_t kMaxStagedBytes = std::size_t{32} << 20;
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
    case RejectReason::kUnknownKey:
      return "unknown_key";
    case RejectReason::kCollectorNotAllowed:
      return "collector_not_allowed";
    case RejectReason::kTooManyPeers:
      return "too_many_peers";
    case RejectReason::kHandshakeFailed:
      return "handshake_failed";
  }
  return "unknown";
}

uint64_t BatchReceiverStats::rejected_total() const {
  return std::accumulate(rejected.begin(), rejected.end(), uint64_t{0}) +
         std::accumulate(invalid.begin(), invalid.end(), uint64_t{0});
}

std::vector<std::pair<std::string_view, uint64_t>> BatchReceiverStats::RejectedByReason() const {
  std::vector<std::pair<std::string_view, uint64_t>> out;
  out.reserve(kRejectReasonCount + kBatchProblemCount);
  for (std::size_t i = 0; i < kRejectReasonCount; ++i) {
    out.emplace_back(RejectReasonName(static_cast<RejectReason>(i)), rejected[i]);
  }
  for (std::size_t i = 0; i < kBatchProblemCount; ++i) {
    const auto problem = static_cast<BatchProblem>(i);
    if (problem != BatchProblem::kNone) {
      out.emplace_back(BatchProblemName(problem), invalid[i]);
    }
  }
  return out;
}

struct BatchReceiver::Impl {
  Impl(BatchReceiverOptions opts, BatchHandler h)
      : options(std::move(opts)), handler(std::move(h)) {}

  Status Setup();
  void Run();

  // I/O thread helpers.
  bool ReadOne();  // false when no message was waiting
  // Counts and logs a refusal; safe from any thread (the ZAP handler's refusals come from its).
  void Reject(RejectReason reason, std::size_t size);
  // The allow-list check of the parsed batch, from the key of the connection `payload` came on.
  bool Authorized(detail::Message& payload, std::size_t size);
  // The per-batch checks of the parsed batch (batch_validation.h).
  bool Valid(std::size_t size);
  void Handle(std::string_view peer, std::size_t size);
  void Stage(std::string_view peer, const std::string& collector_id, uint64_t sequence);
  struct StagedBatch;
  // options.commit(), with an exception turned into an error.
  Status RunCommit();
  // Group mode on the I/O thread: commits the staged group, then acks it or holds it back.
  void CommitGroup();
  // The outcome of a group's commit: its acks, or its collectors held back (newest first, so
  // call it for a newer group before an older one).
  void Committed(const std::vector<StagedBatch>& group, std::size_t count);
  void NotCommitted(const std::vector<StagedBatch>& group, std::size_t count);
  void CountCommit(const Status& status, std::size_t batches);
  // Background group commit (options.seal set), on the I/O thread: seal the staged group and
  // hand it to the committer; take the committer's outcome; before stopping, wait for every
  // commit in flight and commit what is staged.
  bool background() const { return static_cast<bool>(options.seal); }
  void StartCommit();
  void TakeCommitOutcome(bool wait);
  void FinishCommits();
  void CommitterRun();
  void SendAck(std::string_view peer, const std::string& collector_id, uint64_t sequence);

  // Set once in Create().
  BatchReceiverOptions options;
  BatchHandler handler;
  std::string endpoint;
  uint16_t port = 0;
  std::string curve_public_key;
  std::unique_ptr<detail::Waker> waker;
  Clock* clock = nullptr;         // options.clock, or the system clock
  detail::ContextHolder context;  // declared before the sockets: they must close first
  // The ZAP handler: bound before the ROUTER binds; stopped (its sockets closed) after the
  // ROUTER closes. Set once in Create(), never reset.
  std::unique_ptr<detail::ZapAuthenticator> zap;
  detail::SocketPtr socket;  // the ROUTER; used only by the I/O thread while it runs

  std::mutex lifecycle_mu;  // serializes Start() and Stop()
  std::thread thread;       // guarded by lifecycle_mu
  bool started = false;     // guarded by lifecycle_mu
  bool stopped = false;     // guarded by lifecycle_mu

  mutable std::mutex mu;
  BatchReceiverStats stats;                               // guarded by mu
  bool stop_requested = false;                            // guarded by mu
  std::array<bool, kRejectReasonCount> reject_logged{};   // guarded by mu
  std::array<bool, kBatchProblemCount> invalid_logged{};  // guarded by mu

  // A collector whose batch `failed_sequence` the handler failed: its later batches are held
  // back until that batch comes again, or a new resend round on the same connection starts
  // above it (the sender no longer holds it). `peer` and `last_sequence` are the routing id
  // and the sequence of the collector's latest batch.
  struct HeldBack {
    uint64_t failed_sequence = 0;
    std::string peer;
    uint64_t last_sequence = 0;
    uint64_t since = 0;  // held_back_clock when held back: the oldest is evicted when full
  };
  // Owned by the I/O thread.
  std::unordered_map<std::string, HeldBack> held_back;  // by collector id
  // Adds (or, for a collector held back already, keeps) the entry of `collector_id`, evicting
  // the oldest entry when the set is full.
  void HoldBack(const std::string& collector_id, HeldBack entry);
  uint64_t held_back_clock = 0;  // counts HoldBack() calls, orders the entries by age
  // Group mode: the batches staged since the last commit, in arrival order. Only the first
  // `staged_count` entries are live; the rest keep their string storage for the next group.
  struct StagedBatch {
    std::string peer;
    std::string collector_id;
    uint64_t sequence = 0;
  };
  std::vector<StagedBatch> staged;
  std::size_t staged_count = 0;
  std::size_t staged_bytes = 0;  // the staged batches' frames
  bool StagingFull() const {
    return staged_count >= kMaxStagedBatches || staged_bytes >= kMaxStagedBytes;
  }
  bool last_commit_failed = false;  // logs a run of commit failures once at warn
  // Background group commit. The sealed group is the one the committer writes; owned by the
  // I/O thread, like commit_in_flight.
  std::vector<StagedBatch> sealed;
  std::size_t sealed_count = 0;
  bool commit_in_flight = false;
  std::thread committer;  // started by Start(), joined by Stop() after the I/O thread
  std::mutex commit_mu;
  std::condition_variable commit_cv;
  bool commit_requested = false;  // guarded by commit_mu: the sealed group waits to be written
  bool commit_done = false;       // guarded by commit_mu: commit_status is its outcome
  bool committer_stop = false;    // guarded by commit_mu
  Status commit_status;           // guarded by commit_mu
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
  if (options.receive_hwm <= 0 || options.max_peers == 0 || options.max_held_back == 0) {
    return Status::InvalidArgument(
        "batch receiver: receive HWM, max peers and max held back must be positive");
  }
  if (static_cast<bool>(options.seal) != static_cast<bool>(options.discard) ||
      (options.seal && !options.commit)) {
    return Status::InvalidArgument(
        "batch receiver: background commit needs seal, discard and commit together");
  }
  if (options.collector_keys != nullptr && options.curve_secret_key.empty()) {
    return Status::InvalidArgument(
        "batch receiver: an allow-list of collector keys needs CURVE (a server secret key)");
  }
  clock = options.clock != nullptr ? options.clock : &SystemClock::Instance();
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
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(s, ZMQ_RCVHWM, options.receive_hwm, "ZMQ_RCVHWM"));
  // With a domain, libzmq asks the ZAP handler about NULL handshakes too (the peer limit), and
  // the handler tells this socket's requests from those of other sockets of the context.
  ETCDMON_RETURN_IF_ERROR(
      detail::SetStringOption(s, ZMQ_ZAP_DOMAIN, detail::kIngestZapDomain, "ZMQ_ZAP_DOMAIN"));
  if (!options.curve_secret_key.empty()) {
    ETCDMON_RETURN_IF_ERROR(detail::SetCurveServer(s, options.curve_secret_key));
  }
  // The handler must be bound before the socket accepts a connection: a handshake that finds no
  // handler is accepted without one.
  detail::ZapAuthenticator::Options zap_options;
  zap_options.context = context.get();
  zap_options.max_peers = options.max_peers;
  zap_options.refused = [this](RejectReason reason) { Reject(reason, 0); };
  zap_options.logger = options.logger;
  Result<std::unique_ptr<detail::ZapAuthenticator>> new_zap =
      detail::ZapAuthenticator::Create(std::move(zap_options), s, options.collector_keys);
  if (!new_zap.ok()) {
    return new_zap.status().WithContext("batch receiver");
  }
  zap = std::move(*new_zap);
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
  bool logged_before = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.rejected[index];
    logged_before = reject_logged[index];
    reject_logged[index] = true;
  }
  if (options.logger) {
    // Garbage can arrive at any rate: warn once per reason, the rest at debug.
    const auto level = logged_before ? spdlog::level::debug : spdlog::level::warn;
    options.logger->log(level, "frame_rejected reason={} bytes={}", RejectReasonName(reason), size);
  }
}

bool BatchReceiver::Impl::Authorized(detail::Message& payload, std::size_t size) {
  const std::shared_ptr<const CollectorKeys> keys = zap->keys();
  if (keys == nullptr) {
    return true;
  }
  // The ZAP handler made the connection's User-Id its CURVE public key. The list is checked
  // again per message: a key removed by a reload stops counting at once, not at reconnect.
  const char* user_id = zmq_msg_gets(payload.get(), "User-Id");
  const std::string_view key = user_id == nullptr ? std::string_view() : user_id;
  if (!keys->Knows(key)) {
    Reject(RejectReason::kUnknownKey, size);
    return false;
  }
  if (!keys->Allows(key, batch.collector_id())) {
    Reject(RejectReason::kCollectorNotAllowed, size);
    return false;
  }
  return true;
}

bool BatchReceiver::Impl::Valid(std::size_t size) {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock->Now().time_since_epoch())
          .count();
  const BatchVerdict verdict = ValidateBatch(batch, options.limits, now_ms);
  if (verdict.ok()) {
    return true;
  }
  const auto index = static_cast<std::size_t>(verdict.problem);
  bool logged_before = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    ++stats.invalid[index];
    logged_before = invalid_logged[index];
    invalid_logged[index] = true;
  }
  if (options.logger) {
    const auto level = logged_before ? spdlog::level::debug : spdlog::level::warn;
    // The id is logged as received but bounded: it may be anything an attacker sent.
    options.logger->log(
        level, "batch_rejected reason={} collector={} seq={} bytes={} detail=\"{}\"",
        BatchProblemName(verdict.problem), std::string_view(batch.collector_id()).substr(0, 64),
        batch.sequence(), size, verdict.detail);
  }
  return false;
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
  // Refused batches never reach Handle(): no ack, no hold-back, no effect on other batches.
  if (!Authorized(payload, size) || !Valid(size)) {
    return true;
  }
  Handle(routing_id.view(), size);
  return true;
}

void BatchReceiver::Impl::Handle(std::string_view peer, std::size_t size) {
  // A copy (into reused storage): the handler may take the batch's contents.
  collector_scratch.assign(batch.collector_id());
  const std::string& collector_id = collector_scratch;
  const uint64_t sequence = batch.sequence();
  if (options.observe) {
    try {
      options.observe(batch);
    } catch (const std::exception& e) {
      if (options.logger) {
        options.logger->error("batch_observer_threw collector={} seq={} error=\"{}\"", collector_id,
                              sequence, e.what());
      }
    }
  }
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
      HoldBack(collector_id,
               HeldBack{sequence, std::string(peer.data(), peer.size()), sequence, 0});
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
    staged_bytes += size;
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

Status BatchReceiver::Impl::RunCommit() {
  try {
    return options.commit();
  } catch (const std::exception& e) {
    return Status::Internal(std::string("commit threw: ") + e.what());
  } catch (...) {
    return Status::Internal("commit threw a non-standard exception");
  }
}

void BatchReceiver::Impl::CommitGroup() {
  const Status status = RunCommit();
  const std::size_t count = staged_count;
  staged_count = 0;
  staged_bytes = 0;
  CountCommit(status, count);
  if (status.ok()) {
    Committed(staged, count);
  } else {
    NotCommitted(staged, count);
  }
}

void BatchReceiver::Impl::CountCommit(const Status& status, std::size_t batches) {
  {
    std::lock_guard<std::mutex> lock(mu);
    ++(status.ok() ? stats.commits : stats.commit_failures);
  }
  if (!status.ok() && options.logger) {
    const auto level = last_commit_failed ? spdlog::level::debug : spdlog::level::warn;
    options.logger->log(level, "group_not_stored batches={} error=\"{}\"", batches,
                        status.ToString());
  }
  last_commit_failed = !status.ok();
}

void BatchReceiver::Impl::Committed(const std::vector<StagedBatch>& group, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    SendAck(group[i].peer, group[i].collector_id, group[i].sequence);
  }
}

void BatchReceiver::Impl::NotCommitted(const std::vector<StagedBatch>& group, std::size_t count) {
  // Newest first: a collector not held back yet gets its entry from its latest batch (the
  // connection and sequence a new resend round is recognized against, as after a handler
  // failure); older batches only lower the sequence it is held back from. A collector already
  // held back (a handler failure later in the group) keeps its newer connection data.
  for (std::size_t i = count; i-- > 0;) {
    const StagedBatch& entry = group[i];
    auto held = held_back.find(entry.collector_id);
    if (held == held_back.end()) {
      HoldBack(entry.collector_id, HeldBack{entry.sequence, entry.peer, entry.sequence, 0});
    } else if (entry.sequence < held->second.failed_sequence) {
      held->second.failed_sequence = entry.sequence;
    }
  }
}

void BatchReceiver::Impl::StartCommit() {
  options.seal();
  std::swap(sealed, staged);
  sealed_count = staged_count;
  staged_count = 0;
  staged_bytes = 0;
  commit_in_flight = true;
  {
    std::lock_guard<std::mutex> lock(commit_mu);
    commit_requested = true;
  }
  commit_cv.notify_all();
}

void BatchReceiver::Impl::TakeCommitOutcome(bool wait) {
  Status status;
  {
    std::unique_lock<std::mutex> lock(commit_mu);
    if (wait) {
      commit_cv.wait(lock, [this] { return commit_done; });
    } else if (!commit_done) {
      return;
    }
    commit_done = false;
    status = std::move(commit_status);
  }
  commit_in_flight = false;
  if (status.ok()) {
    CountCommit(status, sealed_count);
    Committed(sealed, sealed_count);
  } else {
    // The group staged meanwhile goes too: the newer batches of the failed group's collectors
    // must not be committed ahead of the failed ones.
    options.discard();
    CountCommit(status, sealed_count + staged_count);
    NotCommitted(staged, staged_count);
    NotCommitted(sealed, sealed_count);
    staged_count = 0;
    staged_bytes = 0;
  }
  sealed_count = 0;
}

void BatchReceiver::Impl::FinishCommits() {
  while (commit_in_flight || staged_count > 0) {
    if (!commit_in_flight) {
      StartCommit();
    }
    TakeCommitOutcome(/*wait=*/true);
  }
}

void BatchReceiver::Impl::CommitterRun() {
  pthread_setname_np(pthread_self(), "batch-committer");
  std::unique_lock<std::mutex> lock(commit_mu);
  while (true) {
    commit_cv.wait(lock, [this] { return commit_requested || committer_stop; });
    if (!commit_requested) {
      return;  // stopping, and nothing waits to be written
    }
    commit_requested = false;
    lock.unlock();
    Status status = RunCommit();
    lock.lock();
    commit_status = std::move(status);
    commit_done = true;
    commit_cv.notify_all();  // FinishCommits() may be waiting
    waker->Notify();         // the I/O thread may be in zmq_poll
  }
}

void BatchReceiver::Impl::HoldBack(const std::string& collector_id, HeldBack entry) {
  // Bounded, because collector ids come from the network. Evicting the oldest entry is safe: an
  // entry lasts only until its collector resends the failed batch, which a sender does within
  // its ack timeout (seconds) by restarting its round at its oldest unacknowledged batch. When
  // the set is full, the oldest entry is one whose sender has not come back for longer than
  // thousands of newer failures took: a collector that is gone, or an id nobody really sends
  // as. Should it come back, its resend round starts at the failed batch, which Handle() takes
  // without an entry too; the entry only guards batches sent after the failed one in the same
  // round, and those were in flight at the time of the failure, long since arrived.
  if (held_back.size() >= options.max_held_back) {
    auto oldest = held_back.begin();
    for (auto it = held_back.begin(); it != held_back.end(); ++it) {
      if (it->second.since < oldest->second.since) {
        oldest = it;
      }
    }
    held_back.erase(oldest);
    std::lock_guard<std::mutex> lock(mu);
    ++stats.held_back_evicted;
  }
  entry.since = ++held_back_clock;
  held_back.emplace(collector_id, std::move(entry));
}

void BatchReceiver::Impl::SendAck(std::string_view peer, const std::string& collector_id,
                                  uint64_t sequence) {
  ack.set_schema_version(proto::kSchemaVersion);
  ack.set_collector_id(collector_id);
  ack.set_sequence(sequence);
  ack_frame.clear();
  // Sent and counted under one lock (the sends never block: ZMQ_DONTWAIT), so that whoever holds
  // an ack finds it in Stats() already.
  std::lock_guard<std::mutex> lock(mu);
  const bool sent = ack.SerializeToString(&ack_frame) &&
                    detail::SendFrame(socket.get(), peer.data(), peer.size(), true) &&
                    detail::SendFrame(socket.get(), ack_frame.data(), ack_frame.size(), false);
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
    while (handled < kMaxMessagesPerIteration && !StagingFull() && ReadOne()) {
      ++handled;
    }
    if (background()) {
      if (commit_in_flight) {
        TakeCommitOutcome(/*wait=*/false);
      }
      if (!commit_in_flight && staged_count > 0) {
        StartCommit();
      }
    } else if (staged_count > 0) {
      CommitGroup();  // the group is what this round read: the stop flag never strands it
    }
    // Staging is full while a commit is in flight: only the committer's outcome is awaited.
    const bool can_read = !StagingFull();
    if (handled == kMaxMessagesPerIteration && can_read) {
      continue;  // more may be waiting; look at the stop flag, then read on without polling
    }
    zmq_pollitem_t items[2] = {
        {nullptr, waker->fd(), ZMQ_POLLIN, 0},
        {socket.get(), 0, ZMQ_POLLIN, 0},
    };
    if (detail::Poll(items, can_read ? 2 : 1, kMaxPollWait) < 0) {
      if (options.logger) {
        options.logger->error("batch_receiver_poll_failed error=\"{}\"", zmq_strerror(errno));
      }
      break;
    }
    if ((items[0].revents & ZMQ_POLLIN) != 0) {
      waker->Drain();
    }
  }
  if (background()) {
    FinishCommits();  // what was read is committed and acked, or held back: never stranded
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
    const std::shared_ptr<const CollectorKeys>& keys = impl->options.collector_keys;
    impl->options.logger->info(
        "batch_receiver_listening endpoint={} curve={} collector_keys={} max_peers={}",
        impl->endpoint, impl->curve_public_key.empty() ? "off" : "on",
        keys == nullptr ? std::string("none") : std::to_string(keys->key_count()),
        impl->options.max_peers);
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
  impl_->zap->Start();
  if (impl_->background()) {
    impl_->committer = std::thread([impl = impl_.get()] { impl->CommitterRun(); });
  }
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
    impl_->thread.join();  // with background commit, after every group read is committed
  }
  if (impl_->committer.joinable()) {
    {
      std::lock_guard<std::mutex> commit_lock(impl_->commit_mu);
      impl_->committer_stop = true;
    }
    impl_->commit_cv.notify_all();
    impl_->committer.join();
  }
  // Terminating the context waits until libzmq has closed the listener, so the port is free
  // for a successor as soon as Stop() returns. The ZAP handler goes after the ROUTER, whose
  // handshakes it may still be answering.
  impl_->socket.reset();
  impl_->zap->Stop();
  impl_->context.reset();
  if (impl_->options.logger) {
    impl_->options.logger->info("batch_receiver_stopped endpoint={}", impl_->endpoint);
  }
}

const std::string& BatchReceiver::endpoint() const { return impl_->endpoint; }

uint16_t BatchReceiver::port() const { return impl_->port; }

const std::string& BatchReceiver::curve_public_key() const { return impl_->curve_public_key; }

Status BatchReceiver::SetCollectorKeys(std::shared_ptr<const CollectorKeys> keys) {
  if (impl_->curve_public_key.empty()) {
    return Status::FailedPrecondition("an allow-list of collector keys needs CURVE");
  }
  impl_->zap->SetKeys(std::move(keys));
  return Status::Ok();
}

BatchReceiverStats BatchReceiver::Stats() const {
  BatchReceiverStats out;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    out = impl_->stats;
  }
  out.peers = impl_->zap->peers();
  return out;
}

}  // namespace etcdmon::transport
