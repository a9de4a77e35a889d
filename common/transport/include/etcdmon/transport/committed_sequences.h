#pragma once

// Helps a BatchHandler store idempotently on (collector_id, sequence).
//
// Why "sequence <= highest committed" means "already committed": a sender's resend rounds
// restart at its oldest unacknowledged batch and go up in order on one connection, and the
// receiver never hands a collector's later batch to the handler while an earlier one of the
// same round failed (batch_receiver.h). So once the handler committed sequence N of a collector,
// every batch of that collector below N was either committed too or was given up by the sender.
//
// The state is in memory: a handler that stores to a database seeds it at startup with
// MarkCommitted(collector, MAX(sequence)) per collector, and keeps a unique key on
// (collector, sequence) in the store as the last line of defence.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace etcdmon::transport {

/// The highest committed sequence per collector.
/// Not thread-safe: owned by the handler (which runs on the receiver's single I/O thread).
class CommittedSequences final {
 public:
  /// True when `sequence` of `collector_id` is at or below the highest committed one.
  bool IsCommitted(std::string_view collector_id, uint64_t sequence) const;

  /// Records that `sequence` of `collector_id` is committed (lower values are ignored).
  void MarkCommitted(std::string_view collector_id, uint64_t sequence);

  /// The highest committed sequence of `collector_id`; 0 when none.
  uint64_t Highest(std::string_view collector_id) const;

  /// Number of collectors seen.
  std::size_t size() const { return highest_.size(); }

 private:
  std::unordered_map<std::string, uint64_t> highest_;
};

}  // namespace etcdmon::transport
