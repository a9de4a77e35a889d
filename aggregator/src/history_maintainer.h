#pragma once

// Roll-ups (raw → 1 min → 1 h) and retention of a history file, done in bounded steps.
//
// Progress lives in the level_state table, one row per level, and is written in the same
// transaction as the rows it describes, so a crash resumes where the last commit left off:
// - rolled_below: every bucket of the level that starts before it is rolled up from the finer
//   level. A window [rolled_below, window_end) is rolled up series by series; series ids below
//   window_cursor are done for it.
// - pruned_below: the retention cutoff of the running (or last) pass; prune_cursor is the next
//   series id to prune, 0 when no pass runs. Queries treat the level as holding nothing older.
// Points written into an already rolled-up bucket (late or rewritten) mark that bucket in
// rollup_dirty; it is recomputed from the finer level before any new roll-up work.

#include <cstdint>
#include <memory>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/sqlite/connection.h"
#include "etcdmon/sqlite/statement.h"
#include "history_schema.h"

namespace etcdmon::aggregator::detail {

/// One row of level_state.
struct LevelState {
  int64_t rolled_below = 0;
  int64_t window_end = 0;
  int64_t window_cursor = 0;
  int64_t pruned_below = 0;
  int64_t prune_cursor = 0;

  /// True when the bucket of `series` at `unix_ms` has been rolled up into this level.
  bool IsRolled(SeriesId series, int64_t unix_ms) const {
    return unix_ms < rolled_below ||
           (window_end > rolled_below && series < window_cursor && unix_ms < window_end);
  }

  friend bool operator==(const LevelState& a, const LevelState& b) {
    return a.rolled_below == b.rolled_below && a.window_end == b.window_end &&
           a.window_cursor == b.window_cursor && a.pruned_below == b.pruned_below &&
           a.prune_cursor == b.prune_cursor;
  }
};

/// Not thread-safe: used under the store's writer mutex, on the writer connection.
class Maintainer final {
 public:
  /// Prepares the statements and loads the progress. `db` must outlive the Maintainer.
  static Result<std::unique_ptr<Maintainer>> Create(sqlite::Connection& db,
                                                    const HistoryConfig& config);

  Maintainer(const Maintainer&) = delete;
  Maintainer& operator=(const Maintainer&) = delete;

  /// At the start of each Write transaction: forgets the bucket the previous one marked.
  void BeginWrite() { marked_series_ = 0; }

  /// Inside a Write transaction, after storing a raw point: marks its minute bucket dirty when
  /// that bucket is already rolled up. Points come in key order, so a run of late points of one
  /// minute marks it once: the later ones skip the statement (a backlog of late points cost an
  /// INSERT each, about a quarter of ingest's time).
  Status NoteWrite(SeriesId series, int64_t unix_ms);

  /// One maintenance step in its own transaction; series ids are 1..max_series. Returns whether
  /// work is left.
  Result<bool> Run(int64_t now_ms, size_t budget, SeriesId max_series);

  /// The committed progress of `level`.
  const LevelState& state(int level) const { return state_[level]; }

 private:
  struct Budget;

  Maintainer(sqlite::Connection& db, const HistoryConfig& config) : db_(db), config_(config) {}

  Status Prepare();
  Status LoadState();
  Result<bool> ProcessDirty(LevelState* next, Budget& budget);
  Result<bool> RollUp(int level, int64_t now_ms, LevelState* next, Budget& budget,
                      SeriesId max_series);
  Result<bool> Prune(int level, int64_t now_ms, LevelState* next, Budget& budget,
                     SeriesId max_series);
  /// Recomputes the buckets of `level` in [from, to) for one series from the finer level.
  /// Returns the finer rows read.
  Result<size_t> RollUpSeries(int level, SeriesId series, int64_t from, int64_t to);
  Status MarkDirty(int level, SeriesId series, int64_t bucket);

  sqlite::Connection& db_;
  const HistoryConfig& config_;  // the store's; outlives this

  // Indexed by level; [kRaw] of the roll-up statements is unused.
  sqlite::Statement select_source_[kLevelCount];  // the finer level's rows of a series in a range
  sqlite::Statement first_source_[kLevelCount];   // the finer level's first ts at or after
  sqlite::Statement upsert_[kLevelCount];
  sqlite::Statement prune_[kLevelCount];
  sqlite::Statement save_state_;
  sqlite::Statement mark_dirty_;
  sqlite::Statement select_dirty_;
  sqlite::Statement delete_dirty_;

  LevelState state_[kLevelCount];  // as committed
  // The minute bucket the current Write transaction marked last (series 0: none). Only within
  // one transaction: the mark commits or rolls back with the points, and Run, which clears
  // marks, never runs inside a Write.
  SeriesId marked_series_ = 0;
  int64_t marked_bucket_ = 0;
};

}  // namespace etcdmon::aggregator::detail
