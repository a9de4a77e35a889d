#pragma once

// The aggregator's durable metric history: one SQLite file in WAL mode holding raw points, their
// 1 min and 1 h roll-ups, and the per-collector ingest watermark that makes delivery idempotent.
// Each level keeps its own retention; Maintain rolls up and prunes in bounded steps, and Query
// answers from the coarsest level that serves the asked step.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::aggregator {

struct HistoryConfig {
  /// The SQLite file; created when missing (its directory must exist).
  std::string path;
  /// How long each level keeps its points. A level never drops points that the next coarser
  /// level has not rolled up yet.
  std::chrono::milliseconds raw_retention{std::chrono::hours(24)};
  std::chrono::milliseconds minute_retention{std::chrono::hours(14 * 24)};
  std::chrono::milliseconds hour_retention{std::chrono::hours(365 * 24)};
  /// Upper bound on the points one query returns (at least 2).
  uint32_t max_points = 11000;
  /// Upper bound on the (cluster, metric, member) series in use; Series() beyond it is
  /// ResourceExhausted. A series without a point for raw_retention is forgotten in memory by
  /// Maintain (within a minute) and no longer counts; its rows stay, and it gets its old id back
  /// when it is used again.
  uint32_t max_series = 100000;
  /// A bucket is rolled up once `now` is this far past its end, so points that arrive a little
  /// late land before the roll-up. Later points still count: their bucket is recomputed.
  std::chrono::milliseconds rollup_delay{std::chrono::seconds(10)};
  /// The cluster the series of a file written before series had a cluster (schema 1 and 2)
  /// belong to: the one cluster that aggregator served (its --cluster).
  std::string legacy_cluster = "default";
};

/// Identifies one (cluster, metric, member) series in a history file; dense, starting at 1,
/// never reused.
using SeriesId = uint32_t;

/// One raw point. `unix_ms` is milliseconds since the Unix epoch, in [0, 253402300799999].
struct PointRecord {
  SeriesId series;
  int64_t unix_ms;
  double value;
};

/// What one Write stores atomically.
struct WriteBatch {
  std::vector<PointRecord> points;
  /// Batches of collectors this write commits, for idempotent ingest; stored in the same
  /// transaction as the points.
  struct Committed {
    std::string collector_id;  // 1..200 bytes
    uint64_t sequence;         // 1..INT64_MAX
  };
  std::vector<Committed> committed;
};

struct HistoryQuery {
  std::string metric;
  std::string member;  // "" = the cluster-wide series of the metric
  int64_t from_unix_ms = 0;
  int64_t to_unix_ms = 0;           // inclusive
  int64_t step_ms = 0;              // 0: the finest resolution that fits max_points
  std::string cluster = "default";  // a query never returns another cluster's points
};

/// One point of a query answer. A raw point has min == max == value and count 1; an aggregated
/// point covers [unix_ms, unix_ms + step_ms) and has value = the average of what it covers.
struct HistoryPoint {
  int64_t unix_ms;
  double value;
  double min;
  double max;
  uint64_t count;  // raw points the value summarizes
};

struct HistoryResult {
  /// The stored level the answer was read from: "raw", "1m" or "1h".
  std::string resolution;
  /// Width of each point's bucket; 0 when the points are raw points as stored.
  int64_t step_ms = 0;
  /// In increasing unix_ms order; at most max_points.
  std::vector<HistoryPoint> points;
};

/// Counters of one open store, for the owner's metrics and health.
struct HistoryStats {
  uint64_t series = 0;                 // series known to the file
  uint64_t live_series = 0;            // series in use (held in memory): max_series bounds it
  uint64_t points_written = 0;         // points stored by Write since Open
  uint64_t points_skipped = 0;         // non-finite values Write left out (a gap, not a failure)
  int64_t minute_rolled_until_ms = 0;  // raw points before this are in the 1 min level
  int64_t hour_rolled_until_ms = 0;    // 1 min points before this are in the 1 h level
};

/// The history file of one aggregator.
///
/// Thread-safety: safe for concurrent use. Series, Write and Maintain are serialized by one
/// internal mutex (they share the writer connection). HighestCommitted reads an in-memory map
/// under its own lock and never waits for a write in progress. Query, Metrics and Members run on
/// their own read connections (WAL: they see the last committed state and neither block nor
/// are blocked by a write).
///
/// Durability: a Write that returned OK survives a crash of the process (SIGKILL); after a power
/// loss the last writes may be missing (synchronous=NORMAL) but the file is never corrupt.
class HistoryStore final {
 public:
  /// Opens or creates the file at `config.path`. InvalidArgument for a bad config;
  /// FailedPrecondition for a file that is not a history file or has another schema version
  /// (PRAGMA user_version; never migrated by guess); Unavailable when it cannot be opened.
  static Result<std::unique_ptr<HistoryStore>> Open(HistoryConfig config);

  ~HistoryStore();
  HistoryStore(const HistoryStore&) = delete;
  HistoryStore& operator=(const HistoryStore&) = delete;
  HistoryStore(HistoryStore&&) = delete;
  HistoryStore& operator=(HistoryStore&&) = delete;

  /// The id of (cluster, metric, member), created on first use and stable for the file's life.
  /// Cached in memory: after the first call for a series no SQL runs. InvalidArgument for an
  /// empty cluster or metric, a name over 200 bytes or one containing NUL; ResourceExhausted
  /// beyond max_series.
  Result<SeriesId> Series(std::string_view cluster, std::string_view metric,
                          std::string_view member);

  /// Stores every point and every committed marker in one transaction, or nothing. Points are
  /// keyed by (series, unix_ms): rewriting a point keeps one row holding the latest value.
  /// Non-finite values are skipped (counted in Stats). A committed marker raises the collector's
  /// HighestCommitted, never lowers it. InvalidArgument (nothing stored) for an unknown series
  /// id, a timestamp out of range or a bad marker; Unavailable/ResourceExhausted for I/O.
  /// An empty batch does nothing.
  Status Write(const WriteBatch& batch);

  /// The highest sequence committed for `collector_id` (0: none), as stored: loaded at Open and
  /// kept current by Write. A batch with a sequence at or below it is a duplicate to acknowledge
  /// without storing again.
  uint64_t HighestCommitted(std::string_view collector_id) const;

  /// Forgets every collector's watermark above `max_sequence` (a forged sequence committed
  /// before batches were checked would otherwise make every later genuine batch of that
  /// collector a duplicate, for good). Its next batches are stored again; a resent one rewrites
  /// the same points. Returns the collectors whose watermark was forgotten.
  Result<std::vector<std::string>> ForgetCommittedAbove(uint64_t max_sequence);

  /// Incremental maintenance, to call every tick: dirty buckets (late points) first, then roll-ups
  /// raw → 1 min → 1 h (min, max, sum and count for the average, last) of buckets completed
  /// before `now - rollup_delay`, then retention deletes. Does about `budget` rows of work (one
  /// series' window more at most, plus one index seek per series when it skips a gap without
  /// data) in one transaction, so a tick never stalls. Returns whether work is left (call again
  /// soon to catch up).
  Result<bool> Maintain(std::chrono::system_clock::time_point now, size_t budget = 20000);

  /// Points of one series in [from, to]. The answer comes from the coarsest level whose
  /// resolution still answers at the effective step, max(step_ms, (to - from) / (max_points - 1)),
  /// and that still holds data back to `from` (raw data exists for raw_retention only); points
  /// are merged into step-wide buckets so the answer never exceeds max_points. With step_ms 0
  /// and few enough raw points, the raw points come back as stored. Not yet rolled-up recent data
  /// is read from the finer levels, so the answer reaches up to the latest write.
  /// NotFound for an unknown metric, or a cluster and member the metric has no series for;
  /// InvalidArgument
  /// for from > to or a negative step.
  Result<HistoryResult> Query(const HistoryQuery& query) const;

  /// Metric names that have a series, sorted (for the REST listing).
  Result<std::vector<std::string>> Metrics() const;

  /// The members `metric` has series for in `cluster`, sorted ("" is the cluster-wide series).
  /// NotFound for an unknown metric; empty for a cluster without series of it.
  Result<std::vector<std::string>> Members(std::string_view cluster, std::string_view metric) const;

  /// The clusters that have series, sorted.
  Result<std::vector<std::string>> Clusters() const;

  HistoryStats Stats() const;

 private:
  struct Impl;
  explicit HistoryStore(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;  // set once in the constructor
};

}  // namespace etcdmon::aggregator
