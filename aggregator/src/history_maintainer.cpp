#include "history_maintainer.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "etcdmon/sqlite/transaction.h"

namespace etcdmon::aggregator::detail {
namespace {

// A roll-up window spans at most this many buckets: big enough that catching up after a gap
// costs few passes over the series, small enough that one series' window (the unit of work
// that may overshoot the budget) stays a few hundred rows at one point per second.
constexpr int64_t kWindowBuckets[kLevelCount] = {0, 10, 6};

// A retention pass starts once the cutoff has moved this far since the last one.
constexpr int64_t kPruneGranuleMs[kLevelCount] = {60'000, 3'600'000, 3'600'000};

// Dirty buckets are read in chunks of at most this many.
constexpr int64_t kDirtyChunk = 512;

const char* const kTable[kLevelCount] = {"points_raw", "points_1m", "points_1h"};

// The columns of a level read as (ts, min, max, sum, count, last); a raw point is a bucket of
// one, so one merge loop serves both roll-ups.
const char* const kAggregateColumns[kLevelCount] = {
    "ts, value, value, value, 1, value", "ts, min_value, max_value, sum_value, count, last_value",
    "ts, min_value, max_value, sum_value, count, last_value"};

struct Bucket {
  int64_t start = 0;
  double min = 0;
  double max = 0;
  double sum = 0;
  int64_t count = 0;
  double last = 0;
};

}  // namespace

struct Maintainer::Budget {
  size_t left;
  bool Exhausted() const { return left == 0; }
  void Spend(size_t work) { left = work >= left ? 0 : left - work; }
};

Result<std::unique_ptr<Maintainer>> Maintainer::Create(sqlite::Connection& db,
                                                       const HistoryConfig& config) {
  std::unique_ptr<Maintainer> maintainer(new Maintainer(db, config));
  ETCDMON_RETURN_IF_ERROR(maintainer->Prepare());
  ETCDMON_RETURN_IF_ERROR(maintainer->LoadState());
  return maintainer;
}

Status Maintainer::Prepare() {
  auto prepare = [this](sqlite::Statement& out, const std::string& sql) {
    Result<sqlite::Statement> statement = db_.Prepare(sql);
    if (!statement.ok()) {
      return statement.status();
    }
    out = std::move(*statement);
    return Status::Ok();
  };
  for (int level = kMinute; level < kLevelCount; ++level) {
    const std::string source = kTable[level - 1];
    ETCDMON_RETURN_IF_ERROR(prepare(
        select_source_[level], std::string("SELECT ") + kAggregateColumns[level - 1] + " FROM " +
                                   source +
                                   " WHERE series = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts"));
    ETCDMON_RETURN_IF_ERROR(prepare(
        first_source_[level],
        "SELECT ts FROM " + source + " WHERE series = ?1 AND ts >= ?2 ORDER BY ts LIMIT 1"));
    ETCDMON_RETURN_IF_ERROR(
        prepare(upsert_[level],
                std::string("INSERT INTO ") + kTable[level] +
                    " (series, ts, min_value, max_value, sum_value, count, last_value)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (series, ts) DO UPDATE SET"
                    " min_value = excluded.min_value, max_value = excluded.max_value,"
                    " sum_value = excluded.sum_value, count = excluded.count,"
                    " last_value = excluded.last_value"));
  }
  for (int level = kRaw; level < kLevelCount; ++level) {
    // Deletes the oldest ?3 rows before ?2 (the subquery finds the ?3-th one; with fewer, all).
    const std::string table = kTable[level];
    ETCDMON_RETURN_IF_ERROR(prepare(
        prune_[level], "DELETE FROM " + table +
                           " WHERE series = ?1 AND ts < ?2 AND ts <= COALESCE((SELECT ts FROM " +
                           table +
                           " WHERE series = ?1 AND ts < ?2 ORDER BY ts LIMIT 1 OFFSET ?3 - 1),"
                           " ?2)"));
  }
  ETCDMON_RETURN_IF_ERROR(prepare(save_state_,
                                  "UPDATE level_state SET rolled_below = ?2, window_end = ?3,"
                                  " window_cursor = ?4, pruned_below = ?5, prune_cursor = ?6"
                                  " WHERE level = ?1"));
  ETCDMON_RETURN_IF_ERROR(prepare(mark_dirty_,
                                  "INSERT INTO rollup_dirty (level, series, bucket)"
                                  " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING"));
  ETCDMON_RETURN_IF_ERROR(prepare(select_dirty_,
                                  "SELECT level, series, bucket FROM rollup_dirty"
                                  " ORDER BY level, series, bucket LIMIT ?1"));
  ETCDMON_RETURN_IF_ERROR(prepare(
      delete_dirty_, "DELETE FROM rollup_dirty WHERE level = ?1 AND series = ?2 AND bucket = ?3"));
  return Status::Ok();
}

Status Maintainer::LoadState() {
  Result<sqlite::Statement> select = db_.Prepare(
      "SELECT level, rolled_below, window_end, window_cursor, pruned_below,"
      " prune_cursor FROM level_state");
  if (!select.ok()) {
    return select.status();
  }
  int found = 0;
  for (;;) {
    Result<bool> row = select->Step();
    if (!row.ok()) {
      return row.status();
    }
    if (!*row) {
      break;
    }
    int64_t level = select->ColumnInt64(0);
    if (level < 0 || level >= kLevelCount) {
      return Status::FailedPrecondition("history " + db_.path() + ": level_state has level " +
                                        std::to_string(level));
    }
    LevelState& s = state_[level];
    s.rolled_below = select->ColumnInt64(1);
    s.window_end = select->ColumnInt64(2);
    s.window_cursor = select->ColumnInt64(3);
    s.pruned_below = select->ColumnInt64(4);
    s.prune_cursor = select->ColumnInt64(5);
    ++found;
  }
  if (found != kLevelCount) {
    return Status::FailedPrecondition("history " + db_.path() + ": level_state has " +
                                      std::to_string(found) + " rows, want " +
                                      std::to_string(kLevelCount));
  }
  return Status::Ok();
}

Status Maintainer::MarkDirty(int level, SeriesId series, int64_t bucket) {
  ETCDMON_RETURN_IF_ERROR(mark_dirty_.BindAll(level, series, bucket));
  return mark_dirty_.Run();
}

Status Maintainer::NoteWrite(SeriesId series, int64_t unix_ms) {
  if (!state_[kMinute].IsRolled(series, unix_ms)) {
    return Status::Ok();
  }
  const int64_t bucket = AlignDown(unix_ms, kBucketMs[kMinute]);
  if (series == marked_series_ && bucket == marked_bucket_) {
    return Status::Ok();
  }
  ETCDMON_RETURN_IF_ERROR(MarkDirty(kMinute, series, bucket));
  marked_series_ = series;
  marked_bucket_ = bucket;
  return Status::Ok();
}

Result<bool> Maintainer::Run(int64_t now_ms, size_t budget, SeriesId max_series) {
  Result<sqlite::Transaction> txn = sqlite::Transaction::Begin(db_);
  if (!txn.ok()) {
    return txn.status();
  }
  LevelState next[kLevelCount] = {state_[0], state_[1], state_[2]};
  Budget work{std::max<size_t>(budget, 1)};
  bool more = false;

  Result<bool> step = ProcessDirty(next, work);
  if (!step.ok()) {
    return step.status();
  }
  more |= *step;
  for (int level = kMinute; level < kLevelCount; ++level) {
    step = RollUp(level, now_ms, next, work, max_series);
    if (!step.ok()) {
      return step.status();
    }
    more |= *step;
  }
  for (int level = kRaw; level < kLevelCount; ++level) {
    step = Prune(level, now_ms, next, work, max_series);
    if (!step.ok()) {
      return step.status();
    }
    more |= *step;
  }

  for (int level = kRaw; level < kLevelCount; ++level) {
    if (next[level] == state_[level]) {
      continue;
    }
    const LevelState& s = next[level];
    ETCDMON_RETURN_IF_ERROR(save_state_.BindAll(level, s.rolled_below, s.window_end,
                                                s.window_cursor, s.pruned_below, s.prune_cursor));
    ETCDMON_RETURN_IF_ERROR(save_state_.Run());
  }
  ETCDMON_RETURN_IF_ERROR(txn->Commit());
  std::copy(std::begin(next), std::end(next), std::begin(state_));
  return more;
}

Result<bool> Maintainer::ProcessDirty(LevelState* next, Budget& work) {
  struct Dirty {
    int level;
    SeriesId series;
    int64_t bucket;
  };
  std::vector<Dirty> chunk;
  while (!work.Exhausted()) {
    chunk.clear();
    {
      sqlite::ResetGuard reset(select_dirty_);
      ETCDMON_RETURN_IF_ERROR(
          select_dirty_.BindAll(std::min<int64_t>(kDirtyChunk, static_cast<int64_t>(work.left))));
      for (;;) {
        Result<bool> row = select_dirty_.Step();
        if (!row.ok()) {
          return row.status();
        }
        if (!*row) {
          break;
        }
        chunk.push_back({static_cast<int>(select_dirty_.ColumnInt64(0)),
                         static_cast<SeriesId>(select_dirty_.ColumnInt64(1)),
                         select_dirty_.ColumnInt64(2)});
      }
    }
    if (chunk.empty()) {
      return false;
    }
    for (const Dirty& d : chunk) {
      if (work.Exhausted()) {
        return true;
      }
      if (d.level < kMinute || d.level >= kLevelCount) {
        return Status::FailedPrecondition("history " + db_.path() + ": rollup_dirty has level " +
                                          std::to_string(d.level));
      }
      // Below the finer level's retention cutoff its rows are (partly) gone: recomputing would
      // replace a complete bucket with a partial one, so the late point is left out instead.
      if (d.bucket >= next[d.level - 1].pruned_below) {
        Result<size_t> rows =
            RollUpSeries(d.level, d.series, d.bucket, d.bucket + kBucketMs[d.level]);
        if (!rows.ok()) {
          return rows.status();
        }
        work.Spend(*rows + 1);
        if (d.level + 1 < kLevelCount && next[d.level + 1].IsRolled(d.series, d.bucket)) {
          ETCDMON_RETURN_IF_ERROR(
              MarkDirty(d.level + 1, d.series, AlignDown(d.bucket, kBucketMs[d.level + 1])));
        }
      } else {
        work.Spend(1);
      }
      ETCDMON_RETURN_IF_ERROR(delete_dirty_.BindAll(d.level, d.series, d.bucket));
      ETCDMON_RETURN_IF_ERROR(delete_dirty_.Run());
    }
  }
  return true;
}

Result<size_t> Maintainer::RollUpSeries(int level, SeriesId series, int64_t from, int64_t to) {
  const int64_t width = kBucketMs[level];
  sqlite::Statement& select = select_source_[level];
  sqlite::Statement& upsert = upsert_[level];
  auto flush = [&](const Bucket& b) {
    ETCDMON_RETURN_IF_ERROR(upsert.BindAll(series, b.start, b.min, b.max, b.sum, b.count, b.last));
    return upsert.Run();
  };

  sqlite::ResetGuard reset(select);
  ETCDMON_RETURN_IF_ERROR(select.BindAll(series, from, to));
  size_t rows = 0;
  Bucket bucket;
  for (;;) {
    Result<bool> row = select.Step();
    if (!row.ok()) {
      return row.status();
    }
    if (!*row) {
      break;
    }
    ++rows;
    const int64_t start = AlignDown(select.ColumnInt64(0), width);
    const double min = select.ColumnDouble(1);
    const double max = select.ColumnDouble(2);
    const double sum = select.ColumnDouble(3);
    const int64_t count = select.ColumnInt64(4);
    const double last = select.ColumnDouble(5);
    if (bucket.count > 0 && start != bucket.start) {
      ETCDMON_RETURN_IF_ERROR(flush(bucket));
      bucket = Bucket{};
    }
    if (bucket.count == 0) {
      bucket = Bucket{start, min, max, sum, count, last};
    } else {
      bucket.min = std::min(bucket.min, min);
      bucket.max = std::max(bucket.max, max);
      bucket.sum += sum;
      bucket.count += count;
      bucket.last = last;  // rows come in ts order
    }
  }
  if (bucket.count > 0) {
    ETCDMON_RETURN_IF_ERROR(flush(bucket));
  }
  return rows;
}

Result<bool> Maintainer::RollUp(int level, int64_t now_ms, LevelState* next, Budget& work,
                                SeriesId max_series) {
  const int64_t width = kBucketMs[level];
  const int64_t window = kWindowBuckets[level] * width;
  // Complete buckets only: the minute level waits rollup_delay past a bucket's end; the hour
  // level waits for the minute level to have rolled up the whole hour.
  const int64_t target =
      level == kMinute
          ? AlignDown(now_ms - static_cast<int64_t>(config_.rollup_delay.count()), width)
          : AlignDown(next[level - 1].rolled_below, width);
  LevelState& s = next[level];
  while (!work.Exhausted()) {
    if (s.window_end <= s.rolled_below) {  // no window running: start the next one
      if (s.rolled_below >= target) {
        return false;
      }
      if (target - s.rolled_below > window) {
        // Catching up (first run, or after downtime): jump over the span without data, so an
        // empty day costs one pass over the series instead of one per window.
        int64_t first = std::numeric_limits<int64_t>::max();
        sqlite::Statement& seek = first_source_[level];
        for (SeriesId series = 1; series <= max_series; ++series) {
          sqlite::ResetGuard reset(seek);
          ETCDMON_RETURN_IF_ERROR(seek.BindAll(series, s.rolled_below));
          Result<bool> row = seek.Step();
          if (!row.ok()) {
            return row.status();
          }
          if (*row) {
            first = std::min(first, seek.ColumnInt64(0));
          }
        }
        work.Spend(max_series);
        s.rolled_below = std::min(target, std::max(s.rolled_below, AlignDown(first, width)));
        if (s.rolled_below >= target) {
          return false;
        }
      }
      s.window_end = std::min(s.rolled_below + window, target);
      s.window_cursor = 1;
    }
    while (static_cast<SeriesId>(s.window_cursor) <= max_series && !work.Exhausted()) {
      Result<size_t> rows =
          RollUpSeries(level, static_cast<SeriesId>(s.window_cursor), s.rolled_below, s.window_end);
      if (!rows.ok()) {
        return rows.status();
      }
      work.Spend(*rows + 1);
      ++s.window_cursor;
    }
    if (static_cast<SeriesId>(s.window_cursor) > max_series) {
      s.rolled_below = s.window_end;
      s.window_cursor = 0;
    }
  }
  return s.rolled_below < target;
}

Result<bool> Maintainer::Prune(int level, int64_t now_ms, LevelState* next, Budget& work,
                               SeriesId max_series) {
  const std::chrono::milliseconds retention[kLevelCount] = {
      config_.raw_retention, config_.minute_retention, config_.hour_retention};
  int64_t cutoff = now_ms - static_cast<int64_t>(retention[level].count());
  if (level + 1 < kLevelCount) {
    cutoff = std::min(cutoff, next[level + 1].rolled_below);  // never drop what is not rolled up
  }
  LevelState& s = next[level];
  if (s.prune_cursor == 0) {
    if (cutoff - s.pruned_below < kPruneGranuleMs[level]) {
      return false;
    }
    s.pruned_below = cutoff;
    s.prune_cursor = 1;
  }
  sqlite::Statement& prune = prune_[level];
  while (static_cast<SeriesId>(s.prune_cursor) <= max_series && !work.Exhausted()) {
    const int64_t limit = static_cast<int64_t>(std::min<size_t>(work.left, 1 << 30));
    ETCDMON_RETURN_IF_ERROR(prune.BindAll(s.prune_cursor, s.pruned_below, limit));
    ETCDMON_RETURN_IF_ERROR(prune.Run());
    const int64_t deleted = db_.Changes();
    work.Spend(static_cast<size_t>(deleted) + 1);
    if (deleted < limit) {
      ++s.prune_cursor;  // this series is done
    }
  }
  if (static_cast<SeriesId>(s.prune_cursor) > max_series) {
    s.prune_cursor = 0;
    return false;
  }
  return true;
}

}  // namespace etcdmon::aggregator::detail
