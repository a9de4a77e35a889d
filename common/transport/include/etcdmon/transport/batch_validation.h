#pragma once

// Checks one SampleBatch on its own, before anything of it is staged: a bad batch is refused
// alone with its reason, and never takes other collectors' batches down with it (a group commit
// that fails on one bad row would). Pure function; safe for concurrent use.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::transport {

/// What a batch may hold. The defaults fit the collector's own output with a wide margin.
struct BatchLimits {
  /// Collector ids: 1..max bytes of [A-Za-z0-9._:-].
  std::size_t max_collector_id_bytes = 128;
  /// A sample dated later than the aggregator's clock plus this is refused (a forger's
  /// far-future sample would otherwise outrank every genuine one).
  std::chrono::milliseconds max_clock_skew{std::chrono::minutes(5)};
  /// A sample older than this is refused (negative or ancient timestamps). Resent batches after
  /// an outage are legitimately old, so this is the raw history retention, not the skew.
  std::chrono::milliseconds max_sample_age{std::chrono::hours(24)};
  /// Samples in one batch, and the size of names inside a sample (endpoint, member name, metric
  /// and label names and values).
  std::size_t max_samples = 256;
  std::size_t max_name_bytes = 256;
  /// Entries of a sample's repeated fields (metrics, members, probes, alarms, errors).
  std::size_t max_entries_per_sample = 4096;
};

/// Why a well-formed batch is refused. kNone: valid.
enum class BatchProblem {
  kNone = 0,
  kBadCollectorId,  // empty, too long or a character outside the allowed set
  kSequenceRange,   // 0 or >= 2^63 (SQLite stores sequences as signed 64-bit)
  kClockSkew,       // a sample dated beyond max_clock_skew in the future
  kTooOld,          // a sample older than max_sample_age, or with a negative timestamp
  kTooManySamples,  // more than max_samples samples, or a repeated field over its bound
  kBadName,         // an endpoint, member or metric name empty (where required) or too long
};
inline constexpr std::size_t kBatchProblemCount = 7;

/// Stable snake_case name for metric labels and logs ("bad_collector_id", "clock_skew", ...).
std::string_view BatchProblemName(BatchProblem problem);

struct BatchVerdict {
  BatchProblem problem = BatchProblem::kNone;
  std::string detail;  // for the log: which field, which value (never a secret)
  bool ok() const { return problem == BatchProblem::kNone; }
};

/// Checks `batch` against `limits` with the aggregator's clock at `now_unix_ms`.
BatchVerdict ValidateBatch(const etcdmonitor::v1::SampleBatch& batch, const BatchLimits& limits,
                           int64_t now_unix_ms);

}  // namespace etcdmon::transport
