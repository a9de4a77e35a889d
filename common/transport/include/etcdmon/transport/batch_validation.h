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
  /// Collector ids: 1..max bytes of [A-Za-z0-9_.:-] (hostnames, "collector-etcd1:2379").
  std::size_t max_collector_id_bytes = 128;
  /// A sample dated later than the aggregator's clock plus this is refused (a forger's
  /// far-future sample would otherwise outrank every genuine one). Also bounds sent_at and the
  /// sequence (see kSequenceRange).
  std::chrono::milliseconds max_clock_skew{std::chrono::minutes(5)};
  /// A sample older than this is refused (negative or ancient timestamps). Resent batches after
  /// an outage are legitimately old, so this is the raw history retention, not the skew.
  std::chrono::milliseconds max_sample_age{std::chrono::hours(24)};
  /// Samples in one batch (a collector sends one per batch).
  std::size_t max_samples = 256;
  /// Names inside a batch: endpoint, member name, metric and label names and values, member
  /// list names and URLs, alarm types, error sources, stats keys. 200: what the history store
  /// takes as a series' member name. Names also refuse control characters.
  std::size_t max_name_bytes = 200;
  /// Free texts: error messages, health reasons, certificate subjects. Collectors pass error
  /// messages on untruncated, and a batch refused for a long one would lose a sample exactly
  /// when something is wrong, so this is generous.
  std::size_t max_text_bytes = 64 * 1024;
  /// Entries of a sample's repeated fields (scalars, histograms, their labels and buckets,
  /// probes, alarms, URLs) and of the collector's stats map.
  std::size_t max_entries_per_sample = 4096;
  /// Entries of a sample's error lists (errors, status.errors): one per source at most.
  std::size_t max_errors_per_sample = 64;
  /// Entries of one sample's member list (etcd clusters have a handful of members).
  std::size_t max_members_per_sample = 128;
};

/// Why a well-formed batch is refused. kNone: valid.
enum class BatchProblem {
  kNone = 0,
  kBadCollectorId,  // empty, too long or a character outside the allowed set
  kSequenceRange,   // 0, >= 2^63 (SQLite stores sequences as signed 64-bit), or above the
                    // aggregator's clock in microseconds plus max_clock_skew: collectors start
                    // numbering at their wall clock in microseconds (batch_sender.h), so a
                    // higher sequence is a forgery that would make every later genuine batch
                    // of that collector look like a duplicate
  kClockSkew,       // a sample (or sent_at) dated beyond max_clock_skew in the future
  kTooOld,          // a sample older than max_sample_age, or a negative timestamp
  kTooManySamples,  // more than max_samples samples, or a repeated field over its bound
  kBadName,         // a name empty (endpoint, metric names), too long or with a control
                    // character, or a free text over max_text_bytes
};
inline constexpr std::size_t kBatchProblemCount = 7;

/// Stable snake_case name for metric labels and logs ("bad_collector_id", "clock_skew", ...).
std::string_view BatchProblemName(BatchProblem problem);

struct BatchVerdict {
  BatchProblem problem = BatchProblem::kNone;
  std::string detail;  // for the log: which field, which value (never a secret)
  bool ok() const { return problem == BatchProblem::kNone; }
};

/// Checks `batch` against `limits` with the aggregator's clock at `now_unix_ms`. Does not look
/// at schema_version (the receiver checks it first). Cost: one pass over the batch's strings.
BatchVerdict ValidateBatch(const etcdmonitor::v1::SampleBatch& batch, const BatchLimits& limits,
                           int64_t now_unix_ms);

}  // namespace etcdmon::transport
