#include "history_reader.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <string>

#include "etcdmon/sqlite/transaction.h"
#include "history_schema.h"

namespace etcdmon::aggregator::detail {
namespace {

// Readers only read: no journal-mode change, a bigger page cache and mmap so a long scan of
// one series copies little.
sqlite::ConnectionOptions ReaderOptions() {
  sqlite::ConnectionOptions options;
  options.create = false;
  options.query_only = true;
  options.wal = false;
  options.cache_size_kib = 16 << 10;
  options.mmap_size_bytes = int64_t{256} << 20;
  return options;
}

/// Merges rows into step-wide buckets, appended in time order. While a bucket is open its
/// `value` holds the sum; Finish turns sums into averages. Rows come in time order, so the open
/// bucket's end is kept and only a row past it pays for the alignment (a division).
class Downsampler {
 public:
  Downsampler(int64_t step, std::vector<HistoryPoint>& out) : step_(step), out_(out) {}

  void Add(int64_t unix_ms, double min, double max, double sum, uint64_t count) {
    if (open_ && unix_ms < open_end_ && unix_ms >= out_.back().unix_ms) {
      HistoryPoint& p = out_.back();
      p.value += sum;
      p.min = std::min(p.min, min);
      p.max = std::max(p.max, max);
      p.count += count;
      return;
    }
    const int64_t start = AlignDown(unix_ms, step_);
    if (open_ && out_.back().unix_ms == start) {  // only for rows out of time order
      HistoryPoint& p = out_.back();
      p.value += sum;
      p.min = std::min(p.min, min);
      p.max = std::max(p.max, max);
      p.count += count;
      return;
    }
    out_.push_back({start, sum, min, max, count});
    open_ = true;
    // Saturates: the last bucket before kMaxUnixMs + 1 may end beyond int64 for a huge step.
    open_end_ = start > std::numeric_limits<int64_t>::max() - step_
                    ? std::numeric_limits<int64_t>::max()
                    : start + step_;
  }

  /// Merges the raw points out[0, n) (as stored: value = min = max, count 1) into buckets in
  /// place: a bucket never lands after the first point it holds, so writing never overtakes
  /// reading. `out` must hold nothing else.
  void MergeStoredInPlace() {
    const size_t n = out_.size();
    size_t w = 0;
    int64_t end = 0;
    for (size_t r = 0; r < n; ++r) {
      const HistoryPoint p = out_[r];
      if (w > 0 && p.unix_ms < end) {
        HistoryPoint& b = out_[w - 1];
        b.value += p.value;
        b.min = std::min(b.min, p.min);
        b.max = std::max(b.max, p.max);
        b.count += p.count;
        continue;
      }
      const int64_t start = AlignDown(p.unix_ms, step_);
      out_[w++] = {start, p.value, p.min, p.max, p.count};
      end = start > std::numeric_limits<int64_t>::max() - step_
                ? std::numeric_limits<int64_t>::max()
                : start + step_;
    }
    out_.resize(w);
    open_ = w > 0;
    open_end_ = end;
  }

  void Finish() {
    for (HistoryPoint& p : out_) {
      p.value /= static_cast<double>(p.count);
    }
  }

 private:
  const int64_t step_;
  std::vector<HistoryPoint>& out_;
  bool open_ = false;     // out_.back() is a bucket of this downsampler
  int64_t open_end_ = 0;  // the end of out_.back()'s bucket when open_
};

// ceil(a / b) for a >= 0, b > 0, without overflow.
uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

}  // namespace

Result<std::unique_ptr<HistoryReader>> HistoryReader::Open(const std::string& path) {
  Result<std::unique_ptr<sqlite::Connection>> db = sqlite::Connection::Open(path, ReaderOptions());
  if (!db.ok()) {
    return db.status();
  }
  std::unique_ptr<HistoryReader> reader(new HistoryReader());
  reader->db_ = std::move(*db);
  ETCDMON_RETURN_IF_ERROR(reader->Prepare());
  return reader;
}

Status HistoryReader::Prepare() {
  auto prepare = [this](sqlite::Statement& out, const std::string& sql) {
    Result<sqlite::Statement> statement = db_->Prepare(sql);
    if (!statement.ok()) {
      return statement.status();
    }
    out = std::move(*statement);
    return Status::Ok();
  };
  ETCDMON_RETURN_IF_ERROR(prepare(metric_id_, "SELECT id FROM metrics WHERE name = ?1"));
  ETCDMON_RETURN_IF_ERROR(prepare(series_id_,
                                  "SELECT s.id FROM series s JOIN members m ON m.id = s.member_id"
                                  " JOIN clusters c ON c.id = s.cluster_id"
                                  " WHERE s.metric_id = ?1 AND m.name = ?2 AND c.name = ?3"));
  ETCDMON_RETURN_IF_ERROR(
      prepare(level_state_, "SELECT level, rolled_below, pruned_below FROM level_state"));
  ETCDMON_RETURN_IF_ERROR(prepare(select_raw_,
                                  "SELECT ts, value FROM points_raw"
                                  " WHERE series = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts"));
  for (int level = kMinute; level < kLevelCount; ++level) {
    ETCDMON_RETURN_IF_ERROR(
        prepare(select_level_[level],
                std::string("SELECT ts, min_value, max_value, sum_value, count FROM ") +
                    (level == kMinute ? "points_1m" : "points_1h") +
                    " WHERE series = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts"));
  }
  ETCDMON_RETURN_IF_ERROR(prepare(metrics_, "SELECT name FROM metrics ORDER BY name"));
  ETCDMON_RETURN_IF_ERROR(prepare(members_,
                                  "SELECT m.name FROM series s JOIN members m ON m.id = s.member_id"
                                  " JOIN clusters c ON c.id = s.cluster_id"
                                  " WHERE s.metric_id = ?1 AND c.name = ?2 ORDER BY m.name"));
  ETCDMON_RETURN_IF_ERROR(prepare(clusters_,
                                  "SELECT name FROM clusters c WHERE EXISTS"
                                  " (SELECT 1 FROM series s WHERE s.cluster_id = c.id)"
                                  " ORDER BY name"));
  return Status::Ok();
}

Result<int64_t> HistoryReader::MetricId(std::string_view metric) {
  sqlite::ResetGuard reset(metric_id_);
  ETCDMON_RETURN_IF_ERROR(metric_id_.BindAll(metric));
  Result<bool> row = metric_id_.Step();
  if (!row.ok()) {
    return row.status();
  }
  if (!*row) {
    return Status::NotFound("unknown metric \"" + std::string(metric) + "\"");
  }
  return metric_id_.ColumnInt64(0);
}

Result<HistoryResult> HistoryReader::Query(const HistoryQuery& query, uint32_t max_points) {
  assert(query.from_unix_ms <= query.to_unix_ms && query.step_ms >= 0 && max_points >= 2);
  // One snapshot for the ids, the levels' progress and the points.
  Result<sqlite::Transaction> txn =
      sqlite::Transaction::Begin(*db_, sqlite::TransactionMode::kDeferred);
  if (!txn.ok()) {
    return txn.status();
  }
  Result<int64_t> metric = MetricId(query.metric);
  if (!metric.ok()) {
    return metric.status();
  }
  int64_t series = 0;
  {
    sqlite::ResetGuard reset(series_id_);
    ETCDMON_RETURN_IF_ERROR(series_id_.BindAll(*metric, query.member, query.cluster));
    Result<bool> row = series_id_.Step();
    if (!row.ok()) {
      return row.status();
    }
    if (!*row) {
      return Status::NotFound("metric \"" + query.metric + "\" has no series for member \"" +
                              query.member + "\" in cluster \"" + query.cluster + "\"");
    }
    series = series_id_.ColumnInt64(0);
  }
  int64_t rolled_below[kLevelCount] = {0, 0, 0};
  int64_t pruned_below[kLevelCount] = {0, 0, 0};
  {
    sqlite::ResetGuard reset(level_state_);
    for (;;) {
      Result<bool> row = level_state_.Step();
      if (!row.ok()) {
        return row.status();
      }
      if (!*row) {
        break;
      }
      const int64_t level = level_state_.ColumnInt64(0);
      if (level >= 0 && level < kLevelCount) {
        rolled_below[level] = level_state_.ColumnInt64(1);
        pruned_below[level] = level_state_.ColumnInt64(2);
      }
    }
  }

  HistoryResult result;
  if (query.to_unix_ms < kMinUnixMs || query.from_unix_ms > kMaxUnixMs) {
    result.resolution = kLevelName[kRaw];
    return result;  // no point can lie there
  }
  const int64_t from = std::max(query.from_unix_ms, kMinUnixMs);
  const int64_t to = std::min(query.to_unix_ms, kMaxUnixMs);

  // The effective step: what was asked, and at least what keeps the buckets within max_points.
  // Buckets are aligned, so [from, to] touches at most ceil((to - from) / step) + 1 of them.
  // A step wider than every valid timestamp is that width: keeps bucket arithmetic in range.
  const uint64_t span = static_cast<uint64_t>(to - from);
  const int64_t step = std::max<int64_t>({std::min(query.step_ms, kMaxUnixMs + 1),
                                          static_cast<int64_t>(CeilDiv(span, max_points - 1)), 1});

  // The coarsest level fine enough for the step, moved coarser while it no longer holds data
  // back to `from`.
  int level = step >= kBucketMs[kHour] ? kHour : step >= kBucketMs[kMinute] ? kMinute : kRaw;
  while (level < kHour && from < pruned_below[level]) {
    ++level;
  }
  result.resolution = kLevelName[level];
  std::vector<HistoryPoint>& out = result.points;

  // Stored levels, coarse to fine: each holds the span before its roll-up progress, the next
  // finer one continues from there, raw points last.
  const int64_t out_step =
      level == kRaw ? step
                    : static_cast<int64_t>(CeilDiv(step, kBucketMs[level])) * kBucketMs[level];
  Downsampler downsampler(out_step, out);
  bool as_stored = level == kRaw && query.step_ms == 0;
  // The answer's size is bounded (buckets: by the step; raw as stored: by max_points), so one
  // allocation holds it at the default max_points: no regrowth and no copies while rows stream
  // in. Capped, so that a large --max-points does not reserve megabytes for a short answer.
  constexpr uint64_t kReserveCap = 16384;
  out.reserve(std::min<uint64_t>(
      {as_stored ? max_points : CeilDiv(span, out_step) + 1, max_points, kReserveCap}));
  int64_t covered_until = INT64_MIN;  // what lies before is answered by a coarser level
  for (int l = level; l >= kMinute; --l) {
    const int64_t lo = std::max(AlignDown(from, kBucketMs[l]), covered_until);
    const int64_t hi = std::min(to + 1, rolled_below[l]);
    if (lo < hi) {
      sqlite::Statement& select = select_level_[l];
      sqlite::ResetGuard reset(select);
      ETCDMON_RETURN_IF_ERROR(select.BindAll(series, lo, hi));
      for (;;) {
        Result<bool> row = select.Step();
        if (!row.ok()) {
          return row.status();
        }
        if (!*row) {
          break;
        }
        downsampler.Add(select.ColumnInt64(0), select.ColumnDouble(1), select.ColumnDouble(2),
                        select.ColumnDouble(3), static_cast<uint64_t>(select.ColumnInt64(4)));
      }
    }
    covered_until = std::max(covered_until, rolled_below[l]);
  }
  const int64_t raw_from = std::max(from, covered_until);

  // Raw points. With no step asked and few enough of them they come back as stored; past
  // max_points the ones read so far are merged and the rest follow into buckets.
  if (raw_from <= to) {
    sqlite::ResetGuard reset(select_raw_);
    ETCDMON_RETURN_IF_ERROR(select_raw_.BindAll(series, raw_from, to));
    for (;;) {
      Result<bool> row = select_raw_.Step();
      if (!row.ok()) {
        return row.status();
      }
      if (!*row) {
        break;
      }
      const int64_t ts = select_raw_.ColumnInt64(0);
      const double value = select_raw_.ColumnDouble(1);
      if (as_stored) {
        if (out.size() < max_points) {
          out.push_back({ts, value, value, value, 1});
          continue;
        }
        as_stored = false;
        downsampler.MergeStoredInPlace();
      }
      downsampler.Add(ts, value, value, value, 1);
    }
  }
  if (as_stored) {
    result.step_ms = 0;
  } else {
    downsampler.Finish();
    result.step_ms = out_step;
  }
  assert(out.size() <= max_points && "the step bounds the number of buckets");
  return result;
}

namespace {

// The first column of every row of `statement` (bound already), as text; resets it.
Result<std::vector<std::string>> ReadNames(sqlite::Statement& statement) {
  sqlite::ResetGuard reset(statement);
  std::vector<std::string> names;
  for (;;) {
    Result<bool> row = statement.Step();
    if (!row.ok()) {
      return row.status();
    }
    if (!*row) {
      return names;
    }
    names.emplace_back(statement.ColumnText(0));
  }
}

}  // namespace

Result<std::vector<std::string>> HistoryReader::Metrics() { return ReadNames(metrics_); }

Result<std::vector<std::string>> HistoryReader::Clusters() { return ReadNames(clusters_); }

Result<std::vector<std::string>> HistoryReader::Members(std::string_view cluster,
                                                        std::string_view metric) {
  Result<sqlite::Transaction> txn =
      sqlite::Transaction::Begin(*db_, sqlite::TransactionMode::kDeferred);
  if (!txn.ok()) {
    return txn.status();
  }
  Result<int64_t> id = MetricId(metric);
  if (!id.ok()) {
    return id.status();
  }
  sqlite::ResetGuard reset(members_);  // a failed bind leaves it reset too
  ETCDMON_RETURN_IF_ERROR(members_.BindAll(*id, cluster));
  return ReadNames(members_);
}

ReaderPool::Lease::~Lease() {
  if (reader_ != nullptr) {
    pool_->Release(std::move(reader_));
  }
}

Result<ReaderPool::Lease> ReaderPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<HistoryReader> reader = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(reader));
    }
  }
  // Opening happens outside the lock: other queries keep taking idle readers meanwhile.
  Result<std::unique_ptr<HistoryReader>> reader = HistoryReader::Open(path_);
  if (!reader.ok()) {
    return reader.status();
  }
  return Lease(this, std::move(*reader));
}

void ReaderPool::Release(std::unique_ptr<HistoryReader> reader) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < max_idle_) {
    idle_.push_back(std::move(reader));
  }
  // Else `reader` closes here: a burst of concurrent queries leaves at most max_idle_ open.
}

}  // namespace etcdmon::aggregator::detail
