#pragma once

// The aggregator's side of the collector → aggregator link: a ZeroMQ ROUTER that validates
// SampleBatch frames, hands valid ones to the owner's handler, and acknowledges what the
// owner committed.
//
// Ack contract. An Ack carries the sequence of a batch the owner has durably committed, and
// senders treat it as cumulative (everything <= it is released). So that a failed batch is never
// covered by the ack of a later one, the receiver holds a collector back after a failure:
// later batches of that collector are not handed to the handler and not acked ("deferred") until
// the sender resends the failed batch (its resend rounds always restart at its oldest
// unacknowledged batch), or until a resend round from the same connection shows that the sender
// no longer holds the failed batch (it dropped it because its queue was full).
//
// Two modes, chosen by BatchReceiverOptions::commit:
//  - Per batch (no commit callback): the handler commits each batch; OK makes the receiver ack
//    it at once. A handler error is a failure of that batch.
//  - Group commit (a commit callback): the handler only stages a batch; OK means "staged". At the
//    end of each read round (what was readable, at most a bounded number of messages) the
//    receiver calls commit once, which makes every batch staged since the previous call durable
//    together, or none of them. Only after commit returned OK does the receiver send the acks
//    of the staged batches, in arrival order. When commit fails nothing of the group is acked,
//    and every collector with a batch in the group is held back from its lowest staged sequence,
//    exactly as if the handler had failed that batch. A handler error fails that batch alone
//    (it was not staged). Either way, an ack never covers a batch that is not committed.
//    With BatchReceiverOptions::seal and discard as well, the commit runs in the background:
//    the receiver seals the staged group and commits it on a thread of its own while the I/O
//    thread reads, checks, observes and stages the next group (one commit at a time). The acks
//    still wait for the commit. Should it fail, the group staged meanwhile is given up too
//    (discard): nothing of either is acked, and every collector with a batch in either is held
//    back from its lowest sequence. Committing that later group alone would record its
//    collectors' newer sequences ahead of the failed ones, which would then look like
//    duplicates when resent, and be lost.
//
// Who may send. A ZAP handler (zap_authenticator.h) answers every handshake: with an allow-list
// of collector keys (BatchReceiverOptions::collector_keys, CURVE only) an unknown client key is
// refused, and every batch whose collector_id is not one of its connection's key's ids is
// refused; beyond max_peers connections new ones are refused. Then each batch goes through
// ValidateBatch (batch_validation.h). A refused frame, connection or batch is counted by reason
// (BatchReceiverStats::RejectedByReason), never handed to the handler, never acked, and never
// holds its collector back.
//
// Idempotency on (collector_id, sequence) is the handler's job: after reconnects and ack
// timeouts the same batch arrives more than once, in group mode possibly twice in one group.
// CommittedSequences (committed_sequences.h) is a small helper for that.

#include <spdlog/fwd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/status/status.h"
#include "etcdmon/transport/batch_validation.h"
#include "etcdmon/transport/collector_keys.h"
#include "etcdmon/transport/context.h"
#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::transport {

/// Why a frame (or a connection) was refused before reaching the handler. A batch that is
/// well-formed but fails the per-batch checks is counted under its BatchProblem instead.
enum class RejectReason {
  kOversized = 0,        // larger than max_frame_bytes
  kMultipart,            // more than one payload frame
  kMalformed,            // not a parseable SampleBatch
  kSchemaVersion,        // schema_version is not proto::kSchemaVersion
  kNoCollectorId,        // empty collector_id
  kUnknownKey,           // a CURVE client key not on the allow-list (handshake or message)
  kCollectorNotAllowed,  // a batch whose collector_id is not one of its key's ids
  kTooManyPeers,         // a connection beyond max_peers (refused at the handshake)
  kHandshakeFailed,      // a connection that failed the handshake (wrong server key, no CURVE)
};
inline constexpr std::size_t kRejectReasonCount = 9;

/// Stable snake_case name, for metric labels and logs ("oversized", "schema_version", ...).
std::string_view RejectReasonName(RejectReason reason);

struct BatchReceiverOptions {
  /// Shared with other sockets of this process for inproc:// endpoints; null: a private one.
  std::shared_ptr<SharedContext> context;
  /// Where to listen, e.g. "tcp://0.0.0.0:5555"; "tcp://127.0.0.1:0" picks a free port (read it
  /// back with endpoint() / port()). Loopback by default: beyond it, use CURVE and an allow-list.
  std::string endpoint = "tcp://127.0.0.1:5555";
  /// Larger frames are rejected (kOversized). Frames over four times this size make libzmq
  /// drop the connection before the frame is even buffered whole.
  std::size_t max_frame_bytes = 16u << 20;
  /// CURVE: this server's secret key (Z85). Empty: no encryption (the default), and so no
  /// client authentication: anyone who reaches the endpoint can send as any collector.
  std::string curve_secret_key;
  /// The allow-list of collector keys (collector_keys.h); needs CURVE. Set: a client key not on
  /// it is refused at the handshake, and a batch is refused unless its collector_id is one of
  /// its key's ids. Null: any client key is accepted (CURVE then only encrypts). Replace it
  /// while running with SetCollectorKeys().
  std::shared_ptr<const CollectorKeys> collector_keys;
  /// Messages queued per connection before libzmq stops reading that connection (ZMQ_RCVHWM):
  /// with max_peers and max_frame_bytes, what bounds the receive buffers.
  int receive_hwm = 100;
  /// Connections (TCP, handshaking or established) accepted at once; further ones are refused
  /// at the handshake (kTooManyPeers) until others close.
  std::size_t max_peers = 1024;
  /// Collectors held back after a failure (see the file comment) that are remembered at once;
  /// beyond, the oldest entry is forgotten (see batch_receiver.cpp for why that is safe).
  std::size_t max_held_back = 4096;
  /// ZMTP heartbeats, so connections of collectors that vanished are closed.
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds heartbeat_timeout{5000};
  /// Group commit (see the file comment). Null: per-batch mode, the handler commits. Set: the
  /// handler only stages, and this makes every batch staged since its previous call durable at
  /// once, returning OK only when all of them are committed; an error means none of them may be
  /// taken as stored (they are resent). It runs on the I/O thread, only when at least one batch
  /// is staged; whatever it returns, the next handler call starts a new, empty group. Must not
  /// call Stop() or destroy the receiver.
  std::function<Status()> commit;
  /// Background group commit (see the file comment): both set, or neither. `seal` runs on the
  /// I/O thread and closes the staged group: commit() then writes that sealed group on the
  /// receiver's committer thread, while the handler stages the next group. `discard` runs on
  /// the I/O thread after a failed commit: it drops the group staged since the seal, which will
  /// not be committed either. Neither may throw, call Stop() or destroy the receiver.
  std::function<void()> seal;
  std::function<void()> discard;
  /// Optional: sees every batch that passed the checks, as it arrives and before the handler,
  /// including a batch held back behind a failed one (which the handler does not get until the
  /// failed one is resent): what the owner must learn whether or not it can store (its live
  /// model). It may see a batch again (resends) and must not keep a reference to it. Runs on
  /// the I/O thread; an exception is caught and logged.
  std::function<void(const etcdmonitor::v1::SampleBatch& batch)> observe;
  /// Per-batch checks (batch_validation.h), applied to every parsed batch before the handler: a
  /// refused batch is counted under its BatchProblemName, not handed to the handler and not
  /// acked, and has no effect on any other batch.
  BatchLimits limits;
  /// The clock whose Now() those checks compare sample times with. Null: SystemClock. Must
  /// outlive the receiver.
  Clock* clock = nullptr;
  /// Logs the first rejection of each reason at warn (the rest at debug) and lifecycle events.
  /// Optional: null logs nothing.
  std::shared_ptr<spdlog::logger> logger;
};

/// A point-in-time copy of the receiver's counters.
struct BatchReceiverStats {
  uint64_t frames = 0;             // messages received, valid or not
  uint64_t accepted = 0;           // valid batches handed to the handler
  uint64_t acked = 0;              // acks sent (batch committed)
  uint64_t handler_failures = 0;   // handler returned an error (or threw): no ack
  uint64_t commits = 0;            // group mode: groups committed (commit returned OK)
  uint64_t commit_failures = 0;    // group mode: commit returned an error (or threw): no ack
  uint64_t deferred = 0;           // valid batches held back after a failure (see file comment)
  uint64_t ack_send_failures = 0;  // the peer's connection was gone or full; it will resend
  uint64_t held_back_evicted = 0;  // held-back entries forgotten because the set was full
  uint64_t peers = 0;              // TCP connections open now
  std::array<uint64_t, kRejectReasonCount> rejected{};  // indexed by RejectReason
  std::array<uint64_t, kBatchProblemCount> invalid{};   // indexed by BatchProblem (kNone: 0)

  /// Every refusal: rejected frames and connections plus invalid batches.
  uint64_t rejected_total() const;
  uint64_t rejected_for(RejectReason reason) const {
    return rejected[static_cast<std::size_t>(reason)];
  }
  uint64_t invalid_for(BatchProblem problem) const {
    return invalid[static_cast<std::size_t>(problem)];
  }
  /// Every reason's name (RejectReasonName, then BatchProblemName but "none") with its count,
  /// zeros included: the `reason` label of etcd_monitor_ingest_rejected_total.
  std::vector<std::pair<std::string_view, uint64_t>> RejectedByReason() const;
};

/// Called on the receiver's I/O thread, one batch at a time, in arrival order. Per-batch mode:
/// return OK only once the batch is durably committed; OK makes the receiver ack it. Group
/// mode: return OK once the batch is staged for the next commit (see
/// BatchReceiverOptions::commit); it is acked after that commit succeeds. An error means "not
/// stored" (and, in group mode, not staged); the sender will resend. Must not call Stop() or
/// destroy the receiver. The handler may take the batch's contents (`Swap` them into a message of
/// its own, without copying): the receiver does not look at the batch after the handler returns
/// and parses the next frame into it.
using BatchHandler = std::function<Status(etcdmonitor::v1::SampleBatch& batch)>;

/// Receives SampleBatches from any number of BatchSenders (see the file comment).
///
/// Owns one I/O thread (Start() to Stop()); the handler and the commit callback run on it (with
/// background group commit, the commit callback runs on a second thread the receiver owns).
/// Stats(), endpoint() and port() are safe from any thread; Start() and Stop() are for the owner
/// and serialized.
class BatchReceiver final {
 public:
  /// Validates `options` and binds. Frames that arrive before Start() wait in the socket.
  /// @return InvalidArgument for a bad option or key; Unavailable when the endpoint cannot be
  ///         bound (address in use, unknown interface); the message names the endpoint.
  static Result<std::unique_ptr<BatchReceiver>> Create(BatchReceiverOptions options,
                                                       BatchHandler handler);

  /// Stops (see Stop()).
  ~BatchReceiver();
  BatchReceiver(const BatchReceiver&) = delete;
  BatchReceiver& operator=(const BatchReceiver&) = delete;
  BatchReceiver(BatchReceiver&&) = delete;
  BatchReceiver& operator=(BatchReceiver&&) = delete;

  /// Starts the I/O thread. FailedPrecondition when already started or stopped.
  Status Start();

  /// Stops the I/O thread after the batch in hand (in group mode: after the group in hand is
  /// committed and acked), then closes the socket and frees the port. Frames not yet read are
  /// dropped unacknowledged. Idempotent; safe without Start().
  void Stop();

  /// The bound endpoint with the real port, e.g. "tcp://127.0.0.1:41234".
  const std::string& endpoint() const;
  /// The bound TCP port.
  uint16_t port() const;
  /// This server's CURVE public key (Z85); empty when CURVE is off.
  const std::string& curve_public_key() const;

  /// Replaces the allow-list (see BatchReceiverOptions::collector_keys): new handshakes and
  /// every message from now on, including those of connections made under the old list.
  /// FailedPrecondition when CURVE is off. Safe from any thread.
  Status SetCollectorKeys(std::shared_ptr<const CollectorKeys> keys);

  BatchReceiverStats Stats() const;

 private:
  struct Impl;
  explicit BatchReceiver(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::transport
