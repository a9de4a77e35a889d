#pragma once

// The collector's side of the collector → aggregator link: at-least-once delivery of
// SampleBatch envelopes over a ZeroMQ DEALER socket to the aggregator's ROUTER.
//
// Delivery contract (ARCHITECTURE.md "Failure semantics"):
//  - Every enqueued batch gets the next per-collector sequence number. Sequence numbers are
//    strictly increasing for the life of the state file, across restarts (gaps are possible,
//    reuse is not).
//  - A batch stays queued until the aggregator acknowledges it. Acks are cumulative: an Ack with
//    sequence N releases every queued batch with a sequence <= N.
//  - Batches are sent in sequence order. After a reconnect, or when no ack arrives within
//    ack_timeout, every unacknowledged batch is sent again, in order. The receiver therefore sees
//    duplicates, never a batch before an unacknowledged older one of the same round.
//  - The queue is bounded: when it is full, the oldest batch is dropped and counted.

#include <spdlog/fwd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "etcdmon/clock/clock.h"
#include "etcdmon/status/status.h"
#include "etcdmon/transport/context.h"
#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::transport {

struct BatchSenderOptions {
  /// Shared with other sockets of this process for inproc:// endpoints; null: a private one.
  std::shared_ptr<SharedContext> context;
  /// The aggregator's ingest endpoint, e.g. "tcp://aggregator:5555". Required.
  std::string aggregator_endpoint;
  /// Stamped into every batch; the aggregator keys storage on (collector_id, sequence). Required.
  std::string collector_id;
  /// Batches kept until acknowledged; when full, the oldest is dropped. At least 1.
  std::size_t max_buffered_batches = 10000;
  /// Batches sent and not yet acknowledged at any time (the send window). At least 1.
  std::size_t max_in_flight_batches = 1000;

  /// File holding the next unreserved sequence number: one line, a decimal number >= 1. Required.
  /// Missing: sequences start at the wall clock in microseconds since the epoch, so a collector
  /// whose state was wiped still numbers above everything it sent before. Unreadable or malformed:
  /// Create() fails (never a silent reset, which would make the aggregator discard new batches as
  /// duplicates).
  std::string sequence_state_path;
  /// Sequence numbers reserved per write of the state file (one fsync per block, not per
  /// batch). After a restart numbering resumes after the last reserved block. At least 1.
  uint64_t sequence_block = 1000;

  /// CURVE: the aggregator's public key (Z85). Empty: no encryption (the default).
  std::string curve_server_key;
  /// CURVE: this collector's key pair (Z85). Both empty: a fresh pair is generated in Create().
  std::string curve_public_key;
  std::string curve_secret_key;

  /// No ack advanced for this long while batches are in flight: resend them all.
  std::chrono::milliseconds ack_timeout{5000};
  /// ZMTP heartbeats: a PING every interval; no traffic for the timeout drops the connection
  /// (and so triggers a reconnect and a resend). Catches peers that vanished without a FIN.
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds heartbeat_timeout{5000};
  /// Reconnect back-off, from the first to the largest interval.
  std::chrono::milliseconds reconnect_interval{100};
  std::chrono::milliseconds reconnect_interval_max{2000};
  /// Give up on one TCP connect attempt after this long (then retry).
  std::chrono::milliseconds connect_timeout{5000};

  /// Logs state changes (connected, disconnected, dropping). Optional: null logs nothing.
  std::shared_ptr<spdlog::logger> logger;
};

/// A point-in-time copy of the sender's counters.
struct BatchSenderStats {
  uint64_t queue_depth = 0;         // batches waiting for an ack (sent or not)
  uint64_t enqueued = 0;            // batches accepted by Enqueue()
  uint64_t sent = 0;                // frames handed to the socket, resends included
  uint64_t resent = 0;              // of `sent`, frames of a batch that had been sent before
  uint64_t dropped = 0;             // batches dropped unacknowledged because the queue was full
  uint64_t acked_sequence = 0;      // highest sequence the aggregator acknowledged; 0 = none yet
  uint64_t bad_acks = 0;            // replies that were not a valid Ack for this collector
  uint64_t handshake_failures = 0;  // e.g. a CURVE key the aggregator does not accept
  bool connected = false;           // a connection to the aggregator is up (handshake done)
  /// Wall-clock time of the last valid ack; the epoch when there was none.
  std::chrono::system_clock::time_point last_ack_time;
};

/// Sends SampleBatches to the aggregator, at least once, in order (see the file comment).
///
/// Owns one background I/O thread (Start() to Stop()). Never blocks the caller on the network:
/// Enqueue() only serializes the batch and queues it.
///
/// Thread-safety: Enqueue() and Stats() are safe to call from any thread, concurrently.
/// Start() and Stop() are meant for the owner; they are serialized internally, so a Stop() from
/// a signal-handling thread racing the destructor is still safe.
class BatchSender final {
 public:
  /// Validates `options`, reads and advances the sequence state file, sets up the socket and
  /// starts connecting (connecting is asynchronous: an aggregator that is down is not an error).
  /// @return InvalidArgument for a bad option, malformed key or malformed state file;
  ///         PermissionDenied/Internal when the state file cannot be read or written;
  ///         FailedPrecondition when CURVE is asked for and libzmq lacks it.
  static Result<std::unique_ptr<BatchSender>> Create(BatchSenderOptions options,
                                                     Clock& clock = SystemClock::Instance());

  /// Stops with no flush (Stop(0)).
  ~BatchSender();
  BatchSender(const BatchSender&) = delete;
  BatchSender& operator=(const BatchSender&) = delete;
  BatchSender(BatchSender&&) = delete;
  BatchSender& operator=(BatchSender&&) = delete;

  /// Starts the I/O thread. FailedPrecondition when already started or stopped.
  Status Start();

  /// Stops accepting batches, keeps sending and waiting for acks until the queue is empty or
  /// `flush_timeout` has passed, then stops the I/O thread and closes the connection.
  /// Unacknowledged batches are lost. The timeout is real time, not the injected clock's: it
  /// bounds how long a process takes to exit on SIGTERM. Idempotent; safe without Start().
  void Stop(std::chrono::milliseconds flush_timeout = std::chrono::milliseconds(0));

  /// Stamps schema_version, collector_id, the next sequence number and sent_at_unix_ms into
  /// `batch`, serializes it and queues the bytes; returns the sequence number. The message
  /// itself is not kept, so a caller may reuse it for the next batch (and keep its storage).
  /// Never waits for the network; it writes the state file once per `sequence_block` batches.
  /// Works before Start() (the batch waits).
  /// @return FailedPrecondition after Stop(); Internal when the state file cannot be advanced
  ///         (the batch is not queued).
  Result<uint64_t> Enqueue(etcdmonitor::v1::SampleBatch& batch);
  Result<uint64_t> Enqueue(etcdmonitor::v1::SampleBatch&& batch) { return Enqueue(batch); }

  /// The counters, consistent with each other.
  BatchSenderStats Stats() const;

  /// This collector's CURVE public key (Z85); empty when CURVE is off.
  const std::string& curve_public_key() const;

 private:
  struct Impl;
  explicit BatchSender(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::transport
