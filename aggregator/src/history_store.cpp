#include "etcdmon/aggregator/history_store.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "etcdmon/sqlite/connection.h"
#include "etcdmon/sqlite/statement.h"
#include "etcdmon/sqlite/transaction.h"
#include "history_maintainer.h"
#include "history_reader.h"
#include "history_schema.h"

namespace etcdmon::aggregator {
namespace {

using detail::kMaxNameBytes;

// Readers kept open between queries (more may be open during a burst).
constexpr size_t kMaxIdleReaders = 4;
// How often Maintain looks for series unused for the raw retention (see EvictUnused).
constexpr int64_t kEvictEveryMs = 60 * 1000;

sqlite::ConnectionOptions WriterOptions() {
  sqlite::ConnectionOptions options;
  options.synchronous = sqlite::Synchronous::kNormal;
  // A write touches the newest page of every series it has points for; the cache holds those
  // pages for many thousands of series.
  options.cache_size_kib = 64 << 10;
  // Fewer, larger checkpoints: a checkpoint writes each changed page once however often it
  // changed, and the hot pages change on every write.
  options.wal_autocheckpoint_pages = 10000;
  options.journal_size_limit_bytes = int64_t{64} << 20;
  return options;
}

Status CheckName(std::string_view what, std::string_view name, bool may_be_empty) {
  if (name.empty() && !may_be_empty) {
    return Status::InvalidArgument(std::string(what) + " name is empty");
  }
  if (name.size() > kMaxNameBytes) {
    return Status::InvalidArgument(std::string(what) + " name is " + std::to_string(name.size()) +
                                   " bytes, over the limit of " + std::to_string(kMaxNameBytes));
  }
  if (name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument(std::string(what) + " name contains a NUL byte");
  }
  return Status::Ok();
}

Status CheckConfig(const HistoryConfig& c) {
  if (c.path.empty()) {
    return Status::InvalidArgument("history: the file path is empty");
  }
  if (c.raw_retention.count() <= 0 || c.minute_retention.count() <= 0 ||
      c.hour_retention.count() <= 0) {
    return Status::InvalidArgument("history: retentions must be positive");
  }
  if (c.rollup_delay.count() < 0) {
    return Status::InvalidArgument("history: the roll-up delay must not be negative");
  }
  if (c.max_points < 2) {
    return Status::InvalidArgument("history: max_points must be at least 2, got " +
                                   std::to_string(c.max_points));
  }
  if (c.max_series < 1) {
    return Status::InvalidArgument("history: max_series must be at least 1");
  }
  return Status::Ok();
}

}  // namespace

struct HistoryStore::Impl {
  explicit Impl(HistoryConfig c) : config(std::move(c)), readers(config.path, kMaxIdleReaders) {}

  Status Load();
  Result<SeriesId> CreateSeries(std::string_view cluster, std::string_view metric,
                                std::string_view member);
  // Forgets (in memory only: rows, ids and points stay) the series without a point newer than
  // the raw retention, and the names no remaining series uses. A forgotten series that comes
  // back gets its old id again. Caller holds mu.
  void EvictUnused(int64_t now_ms);

  const HistoryConfig config;

  // The writer side. mu serializes Series, Write and Maintain: they share the connection, its
  // statements and the caches below.
  std::mutex mu;
  std::unique_ptr<sqlite::Connection> writer;      // guarded by mu; declared before its statements
  sqlite::Statement insert_point;                  // guarded by mu
  sqlite::Statement upsert_committed;              // guarded by mu
  std::unique_ptr<detail::Maintainer> maintainer;  // guarded by mu
  // cluster -> metric -> member -> id; std::less<> finds by string_view without a copy.
  using MemberIds = std::map<std::string, SeriesId, std::less<>>;
  using MetricIds = std::map<std::string, MemberIds, std::less<>>;
  std::map<std::string, MetricIds, std::less<>> series_ids;  // guarded by mu
  std::map<std::string, int64_t, std::less<>> metric_ids;    // guarded by mu
  std::map<std::string, int64_t, std::less<>> member_ids;    // guarded by mu
  std::map<std::string, int64_t, std::less<>> cluster_ids;   // guarded by mu
  SeriesId max_series_id = 0;                                // guarded by mu
  // Per series id: the newest point written (or when the series was made), unix ms; 0: not
  // known yet (loaded at Open: taken as in use until the next EvictUnused). Guarded by mu.
  std::vector<int64_t> last_used_ms;
  std::atomic<uint64_t> live_series{0};  // entries of series_ids, what max_series bounds
  int64_t maintain_now_ms = 0;           // `now` of the latest Maintain; guarded by mu
  int64_t evicted_at_ms = 0;             // the latest EvictUnused; guarded by mu
  // Write's insertion order, reused across writes (guarded by mu): positions in the batch.
  std::vector<uint32_t> write_order;
  // Write's counting sort by series, reused across writes (guarded by mu): per series id, its
  // points' count and then its next slot in write_order (zero between writes), and the ids the
  // batch holds.
  std::vector<uint32_t> series_slot;
  std::vector<SeriesId> write_series;

  // Fills write_order with the positions of `points` in key order (series, then time; equal
  // keys in batch order, so the last one written wins). A group interleaves every series but
  // holds each series' points mostly in time order already, so a counting sort by series and
  // a check of each series' run (sorted only when out of order) do in two linear passes what
  // a comparison sort of the whole group did in about a tenth of the write's time.
  void OrderForWrite(const std::vector<PointRecord>& points);

  // Separate from mu so the ingest path's duplicate check never waits for a write or a
  // maintenance step. Lock order: mu, then committed_mu.
  mutable std::mutex committed_mu;
  std::map<std::string, uint64_t, std::less<>> committed;  // guarded by committed_mu

  std::atomic<uint64_t> series_count{0};
  std::atomic<uint64_t> points_written{0};
  std::atomic<uint64_t> points_skipped{0};
  std::atomic<int64_t> minute_rolled_until{0};
  std::atomic<int64_t> hour_rolled_until{0};

  // Declared after the writer: readers close first, and the writer's close then checkpoints the
  // WAL into the file.
  mutable detail::ReaderPool readers;
};

Status HistoryStore::Impl::Load() {
  Result<std::unique_ptr<sqlite::Connection>> db =
      sqlite::Connection::Open(config.path, WriterOptions());
  if (!db.ok()) {
    return db.status().WithContext("history");
  }
  writer = std::move(*db);
  ETCDMON_RETURN_IF_ERROR(detail::EnsureSchema(*writer, config.legacy_cluster));

  Result<sqlite::Statement> statement = writer->Prepare(
      "INSERT INTO points_raw (series, ts, value) VALUES (?1, ?2, ?3)"
      " ON CONFLICT (series, ts) DO UPDATE SET value = excluded.value");
  if (!statement.ok()) {
    return statement.status();
  }
  insert_point = std::move(*statement);
  statement = writer->Prepare(
      "INSERT INTO committed (collector_id, sequence) VALUES (?1, ?2)"
      " ON CONFLICT (collector_id) DO UPDATE SET sequence = MAX(sequence, excluded.sequence)");
  if (!statement.ok()) {
    return statement.status();
  }
  upsert_committed = std::move(*statement);

  // Every name and id, so Series() runs no SQL for a known pair.
  auto load = [this](const char* sql, auto&& on_row) -> Status {
    Result<sqlite::Statement> select = writer->Prepare(sql);
    if (!select.ok()) {
      return select.status();
    }
    for (;;) {
      Result<bool> row = select->Step();
      if (!row.ok()) {
        return row.status();
      }
      if (!*row) {
        return Status::Ok();
      }
      on_row(*select);
    }
  };
  ETCDMON_RETURN_IF_ERROR(load("SELECT id, name FROM metrics", [this](sqlite::Statement& s) {
    metric_ids.emplace(std::string(s.ColumnText(1)), s.ColumnInt64(0));
  }));
  ETCDMON_RETURN_IF_ERROR(load("SELECT id, name FROM members", [this](sqlite::Statement& s) {
    member_ids.emplace(std::string(s.ColumnText(1)), s.ColumnInt64(0));
  }));
  ETCDMON_RETURN_IF_ERROR(load("SELECT id, name FROM clusters", [this](sqlite::Statement& s) {
    cluster_ids.emplace(std::string(s.ColumnText(1)), s.ColumnInt64(0));
  }));
  ETCDMON_RETURN_IF_ERROR(
      load("SELECT s.id, c.name, m.name, b.name FROM series s JOIN metrics m ON m.id = s.metric_id"
           " JOIN members b ON b.id = s.member_id JOIN clusters c ON c.id = s.cluster_id",
           [this](sqlite::Statement& s) {
             const auto id = static_cast<SeriesId>(s.ColumnInt64(0));
             series_ids[std::string(s.ColumnText(1))][std::string(s.ColumnText(2))].emplace(
                 std::string(s.ColumnText(3)), id);
             max_series_id = std::max(max_series_id, id);
           }));
  uint64_t count = 0;
  for (const auto& [cluster, metrics] : series_ids) {
    for (const auto& [metric, members] : metrics) {
      count += members.size();
    }
  }
  // Ids are handed out densely from 1 and never deleted; Maintain walks 1..max_series_id.
  if (count != max_series_id) {
    return Status::FailedPrecondition("history " + config.path + ": " + std::to_string(count) +
                                      " series but the highest id is " +
                                      std::to_string(max_series_id));
  }
  series_count = count;
  live_series = count;
  last_used_ms.assign(static_cast<std::size_t>(max_series_id) + 1, 0);
  ETCDMON_RETURN_IF_ERROR(
      load("SELECT collector_id, sequence FROM committed", [this](sqlite::Statement& s) {
        committed.emplace(std::string(s.ColumnText(0)), static_cast<uint64_t>(s.ColumnInt64(1)));
      }));

  Result<std::unique_ptr<detail::Maintainer>> m = detail::Maintainer::Create(*writer, config);
  if (!m.ok()) {
    return m.status();
  }
  maintainer = std::move(*m);
  minute_rolled_until = maintainer->state(detail::kMinute).rolled_below;
  hour_rolled_until = maintainer->state(detail::kHour).rolled_below;

  // One reader now, so a file readers cannot open fails at Open rather than at the first query.
  Result<detail::ReaderPool::Lease> lease = readers.Acquire();
  return lease.status();
}

Result<SeriesId> HistoryStore::Impl::CreateSeries(std::string_view cluster, std::string_view metric,
                                                  std::string_view member) {
  if (live_series >= config.max_series && maintain_now_ms > 0) {
    EvictUnused(maintain_now_ms);
  }
  if (live_series >= config.max_series) {
    return Status::ResourceExhausted("history: series limit of " +
                                     std::to_string(config.max_series) + " reached; not adding " +
                                     std::string(metric) + "{cluster=\"" + std::string(cluster) +
                                     "\",member=\"" + std::string(member) + "\"}");
  }
  Result<sqlite::Transaction> txn = sqlite::Transaction::Begin(*writer);
  if (!txn.ok()) {
    return txn.status();
  }
  // Name ids come from the caches when known; new ones are inserted in the same transaction.
  auto name_id = [this](std::map<std::string, int64_t, std::less<>>& cache, const char* table,
                        std::string_view name, bool* inserted) -> Result<int64_t> {
    auto it = cache.find(name);
    if (it != cache.end()) {
      return it->second;
    }
    // Not cached: new, or forgotten by EvictUnused while its row stays.
    Result<sqlite::Statement> select =
        writer->Prepare(std::string("SELECT id FROM ") + table + " WHERE name = ?1");
    if (!select.ok()) {
      return select.status();
    }
    ETCDMON_RETURN_IF_ERROR(select->BindAll(name));
    Result<bool> row = select->Step();
    if (!row.ok()) {
      return row.status();
    }
    if (*row) {
      *inserted = true;  // cache it once committed
      return select->ColumnInt64(0);
    }
    Result<sqlite::Statement> insert =
        writer->Prepare(std::string("INSERT INTO ") + table + " (name) VALUES (?1)");
    if (!insert.ok()) {
      return insert.status();
    }
    ETCDMON_RETURN_IF_ERROR(insert->BindAll(name));
    ETCDMON_RETURN_IF_ERROR(insert->Run());
    *inserted = true;
    return writer->LastInsertRowId();
  };
  bool new_metric = false;
  bool new_member = false;
  bool new_cluster = false;
  Result<int64_t> cluster_id = name_id(cluster_ids, "clusters", cluster, &new_cluster);
  if (!cluster_id.ok()) {
    return cluster_id.status();
  }
  Result<int64_t> metric_id = name_id(metric_ids, "metrics", metric, &new_metric);
  if (!metric_id.ok()) {
    return metric_id.status();
  }
  Result<int64_t> member_id = name_id(member_ids, "members", member, &new_member);
  if (!member_id.ok()) {
    return member_id.status();
  }
  // A series EvictUnused forgot keeps its id.
  Result<sqlite::Statement> existing = writer->Prepare(
      "SELECT id FROM series WHERE metric_id = ?1 AND member_id = ?2"
      " AND cluster_id = ?3");
  if (!existing.ok()) {
    return existing.status();
  }
  ETCDMON_RETURN_IF_ERROR(existing->BindAll(*metric_id, *member_id, *cluster_id));
  Result<bool> found = existing->Step();
  if (!found.ok()) {
    return found.status();
  }
  SeriesId id = 0;
  if (*found) {
    id = static_cast<SeriesId>(existing->ColumnInt64(0));
  } else {
    Result<sqlite::Statement> insert = writer->Prepare(
        "INSERT INTO series (metric_id, member_id, cluster_id) VALUES (?1, ?2, ?3)");
    if (!insert.ok()) {
      return insert.status();
    }
    ETCDMON_RETURN_IF_ERROR(insert->BindAll(*metric_id, *member_id, *cluster_id));
    ETCDMON_RETURN_IF_ERROR(insert->Run());
    id = static_cast<SeriesId>(writer->LastInsertRowId());
  }
  ETCDMON_RETURN_IF_ERROR(txn->Commit());

  // The caches change only once the rows are committed.
  if (new_metric) {
    metric_ids.emplace(std::string(metric), *metric_id);
  }
  if (new_member) {
    member_ids.emplace(std::string(member), *member_id);
  }
  if (new_cluster) {
    cluster_ids.emplace(std::string(cluster), *cluster_id);
  }
  auto cluster_it = series_ids.find(cluster);
  if (cluster_it == series_ids.end()) {
    cluster_it = series_ids.emplace(std::string(cluster), MetricIds()).first;
  }
  auto metric_it = cluster_it->second.find(metric);
  if (metric_it == cluster_it->second.end()) {
    metric_it = cluster_it->second.emplace(std::string(metric), MemberIds()).first;
  }
  metric_it->second.emplace(std::string(member), id);
  ++live_series;
  if (!*found) {
    max_series_id = std::max(max_series_id, id);
    series_count.fetch_add(1);
  }
  if (last_used_ms.size() <= id) {
    last_used_ms.resize(static_cast<std::size_t>(id) + 1, 0);
  }
  last_used_ms[id] = std::max(last_used_ms[id], maintain_now_ms);
  return id;
}

void HistoryStore::Impl::EvictUnused(int64_t now_ms) {
  evicted_at_ms = now_ms;
  const int64_t unused_before = now_ms - config.raw_retention.count();
  std::map<std::string_view, bool> members_in_use;
  std::map<std::string_view, bool> metrics_in_use;
  for (auto cluster_it = series_ids.begin(); cluster_it != series_ids.end();) {
    MetricIds& metrics = cluster_it->second;
    for (auto metric_it = metrics.begin(); metric_it != metrics.end();) {
      auto& members = metric_it->second;
      for (auto it = members.begin(); it != members.end();) {
        int64_t& used = last_used_ms[it->second];
        if (used == 0) {
          used = now_ms;  // loaded at Open: its age counts from now
        }
        if (used < unused_before) {
          it = members.erase(it);
          --live_series;
        } else {
          members_in_use[it->first] = true;
          ++it;
        }
      }
      if (members.empty()) {
        metric_it = metrics.erase(metric_it);
      } else {
        metrics_in_use[metric_it->first] = true;
        ++metric_it;
      }
    }
    cluster_it = metrics.empty() ? series_ids.erase(cluster_it) : std::next(cluster_it);
  }
  for (auto it = metric_ids.begin(); it != metric_ids.end();) {
    it = metrics_in_use.count(it->first) == 0 ? metric_ids.erase(it) : std::next(it);
  }
  for (auto it = cluster_ids.begin(); it != cluster_ids.end();) {
    it = series_ids.count(it->first) == 0 ? cluster_ids.erase(it) : std::next(it);
  }
  for (auto it = member_ids.begin(); it != member_ids.end();) {
    it = members_in_use.count(it->first) == 0 ? member_ids.erase(it) : std::next(it);
  }
}

HistoryStore::HistoryStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HistoryStore::~HistoryStore() = default;

Result<std::unique_ptr<HistoryStore>> HistoryStore::Open(HistoryConfig config) {
  ETCDMON_RETURN_IF_ERROR(CheckConfig(config));
  auto impl = std::make_unique<Impl>(std::move(config));
  ETCDMON_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<HistoryStore>(new HistoryStore(std::move(impl)));
}

Result<SeriesId> HistoryStore::Series(std::string_view cluster, std::string_view metric,
                                      std::string_view member) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto cluster_it = impl_->series_ids.find(cluster);
  if (cluster_it != impl_->series_ids.end()) {
    auto metric_it = cluster_it->second.find(metric);
    if (metric_it != cluster_it->second.end()) {
      auto member_it = metric_it->second.find(member);
      if (member_it != metric_it->second.end()) {
        return member_it->second;
      }
    }
  }
  ETCDMON_RETURN_IF_ERROR(CheckName("cluster", cluster, /*may_be_empty=*/false));
  ETCDMON_RETURN_IF_ERROR(CheckName("metric", metric, /*may_be_empty=*/false));
  ETCDMON_RETURN_IF_ERROR(CheckName("member", member, /*may_be_empty=*/true));
  return impl_->CreateSeries(cluster, metric, member);
}

Status HistoryStore::Write(const WriteBatch& batch) {
  if (batch.points.empty() && batch.committed.empty()) {
    return Status::Ok();
  }
  if (batch.points.size() > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument("history write: " + std::to_string(batch.points.size()) +
                                   " points in one batch");
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  // Everything is checked before anything is written: a bad batch stores nothing.
  for (const PointRecord& p : batch.points) {
    if (p.series == 0 || p.series > impl_->max_series_id) {
      return Status::InvalidArgument("history write: unknown series id " +
                                     std::to_string(p.series));
    }
    if (p.unix_ms < detail::kMinUnixMs || p.unix_ms > detail::kMaxUnixMs) {
      return Status::InvalidArgument("history write: timestamp " + std::to_string(p.unix_ms) +
                                     " ms is out of range");
    }
  }
  for (const WriteBatch::Committed& c : batch.committed) {
    ETCDMON_RETURN_IF_ERROR(CheckName("collector", c.collector_id, /*may_be_empty=*/false));
    if (c.sequence == 0 ||
        c.sequence > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::InvalidArgument("history write: sequence " + std::to_string(c.sequence) +
                                     " of collector " + c.collector_id + " is out of range");
    }
  }

  Result<sqlite::Transaction> txn = sqlite::Transaction::Begin(*impl_->writer);
  if (!txn.ok()) {
    return txn.status();
  }
  impl_->maintainer->BeginWrite();
  // Points go in in key order (series, time), not in arrival order: a group of collectors'
  // batches interleaves every series, and in key order consecutive inserts land on the same
  // b-tree leaf, which made ingest with 16 collectors about a fifth faster. Equal keys keep their
  // order, so the last one written still wins.
  impl_->OrderForWrite(batch.points);
  sqlite::Statement& insert = impl_->insert_point;
  uint64_t written = 0;
  for (const uint32_t position : impl_->write_order) {
    const PointRecord& p = batch.points[position];
    // SQLite stores NaN as NULL, and an infinity would turn every sum it enters into one.
    if (!std::isfinite(p.value)) {
      continue;
    }
    ETCDMON_RETURN_IF_ERROR(insert.BindAll(p.series, p.unix_ms, p.value));
    ETCDMON_RETURN_IF_ERROR(insert.Run());
    ETCDMON_RETURN_IF_ERROR(impl_->maintainer->NoteWrite(p.series, p.unix_ms));
    int64_t& used = impl_->last_used_ms[p.series];
    used = std::max(used, p.unix_ms);
    ++written;
  }
  for (const WriteBatch::Committed& c : batch.committed) {
    ETCDMON_RETURN_IF_ERROR(impl_->upsert_committed.BindAll(c.collector_id, c.sequence));
    ETCDMON_RETURN_IF_ERROR(impl_->upsert_committed.Run());
  }
  ETCDMON_RETURN_IF_ERROR(txn->Commit());

  impl_->points_written.fetch_add(written, std::memory_order_relaxed);
  impl_->points_skipped.fetch_add(batch.points.size() - written, std::memory_order_relaxed);
  if (!batch.committed.empty()) {
    std::lock_guard<std::mutex> committed_lock(impl_->committed_mu);
    for (const WriteBatch::Committed& c : batch.committed) {
      auto it = impl_->committed.find(c.collector_id);
      if (it == impl_->committed.end()) {
        impl_->committed.emplace(c.collector_id, c.sequence);
      } else if (c.sequence > it->second) {
        it->second = c.sequence;
      }
    }
  }
  return Status::Ok();
}

void HistoryStore::Impl::OrderForWrite(const std::vector<PointRecord>& points) {
  // Series ids were checked against max_series_id, which only grows.
  if (series_slot.size() <= max_series_id) {
    series_slot.resize(static_cast<std::size_t>(max_series_id) + 1, 0);
  }
  write_series.clear();
  for (const PointRecord& p : points) {
    if (series_slot[p.series]++ == 0) {
      write_series.push_back(p.series);
    }
  }
  std::sort(write_series.begin(), write_series.end());
  uint32_t next = 0;
  for (const SeriesId id : write_series) {
    next += std::exchange(series_slot[id], next);
  }
  write_order.resize(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    write_order[series_slot[points[i].series]++] = static_cast<uint32_t>(i);
  }
  // Each series' run, in batch order; sorted by time where it is not already (a stable sort
  // keeps equal times in batch order).
  auto run_begin = write_order.begin();
  for (const SeriesId id : write_series) {
    const auto run_end = write_order.begin() + series_slot[id];
    series_slot[id] = 0;
    auto by_time = [&points](uint32_t a, uint32_t b) {
      return points[a].unix_ms < points[b].unix_ms;
    };
    if (!std::is_sorted(run_begin, run_end, by_time)) {
      std::stable_sort(run_begin, run_end, by_time);
    }
    run_begin = run_end;
  }
}

uint64_t HistoryStore::HighestCommitted(std::string_view collector_id) const {
  std::lock_guard<std::mutex> lock(impl_->committed_mu);
  auto it = impl_->committed.find(collector_id);
  return it == impl_->committed.end() ? 0 : it->second;
}

Result<std::vector<std::string>> HistoryStore::ForgetCommittedAbove(uint64_t max_sequence) {
  std::vector<std::string> forgotten;
  std::lock_guard<std::mutex> lock(impl_->mu);
  {
    std::lock_guard<std::mutex> committed_lock(impl_->committed_mu);
    for (const auto& [collector, sequence] : impl_->committed) {
      if (sequence > max_sequence) {
        forgotten.push_back(collector);
      }
    }
  }
  if (forgotten.empty()) {
    return forgotten;
  }
  const auto stored_max =
      static_cast<int64_t>(std::min<uint64_t>(max_sequence, std::numeric_limits<int64_t>::max()));
  Result<sqlite::Statement> forget =
      impl_->writer->Prepare("DELETE FROM committed WHERE sequence > ?1");
  if (!forget.ok()) {
    return forget.status();
  }
  ETCDMON_RETURN_IF_ERROR(forget->BindAll(stored_max));
  ETCDMON_RETURN_IF_ERROR(forget->Run());
  std::lock_guard<std::mutex> committed_lock(impl_->committed_mu);
  for (const std::string& collector : forgotten) {
    impl_->committed.erase(collector);
  }
  return forgotten;
}

Result<bool> HistoryStore::Maintain(std::chrono::system_clock::time_point now, size_t budget) {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->maintain_now_ms = now_ms;
  if (now_ms - impl_->evicted_at_ms >= kEvictEveryMs) {
    impl_->EvictUnused(now_ms);
  }
  Result<bool> more = impl_->maintainer->Run(now_ms, budget, impl_->max_series_id);
  impl_->minute_rolled_until = impl_->maintainer->state(detail::kMinute).rolled_below;
  impl_->hour_rolled_until = impl_->maintainer->state(detail::kHour).rolled_below;
  return more;
}

Result<HistoryResult> HistoryStore::Query(const HistoryQuery& query) const {
  if (query.from_unix_ms > query.to_unix_ms) {
    return Status::InvalidArgument("history query: from (" + std::to_string(query.from_unix_ms) +
                                   ") is after to (" + std::to_string(query.to_unix_ms) + ")");
  }
  if (query.step_ms < 0) {
    return Status::InvalidArgument("history query: negative step " + std::to_string(query.step_ms));
  }
  Result<detail::ReaderPool::Lease> reader = impl_->readers.Acquire();
  if (!reader.ok()) {
    return reader.status();
  }
  return (*reader)->Query(query, impl_->config.max_points);
}

Result<std::vector<std::string>> HistoryStore::Metrics() const {
  Result<detail::ReaderPool::Lease> reader = impl_->readers.Acquire();
  if (!reader.ok()) {
    return reader.status();
  }
  return (*reader)->Metrics();
}

Result<std::vector<std::string>> HistoryStore::Members(std::string_view cluster,
                                                       std::string_view metric) const {
  Result<detail::ReaderPool::Lease> reader = impl_->readers.Acquire();
  if (!reader.ok()) {
    return reader.status();
  }
  return (*reader)->Members(cluster, metric);
}

Result<std::vector<std::string>> HistoryStore::Clusters() const {
  Result<detail::ReaderPool::Lease> reader = impl_->readers.Acquire();
  if (!reader.ok()) {
    return reader.status();
  }
  return (*reader)->Clusters();
}

HistoryStats HistoryStore::Stats() const {
  HistoryStats stats;
  stats.series = impl_->series_count.load();
  stats.live_series = impl_->live_series.load();
  stats.points_written = impl_->points_written.load(std::memory_order_relaxed);
  stats.points_skipped = impl_->points_skipped.load(std::memory_order_relaxed);
  stats.minute_rolled_until_ms = impl_->minute_rolled_until.load();
  stats.hour_rolled_until_ms = impl_->hour_rolled_until.load();
  return stats;
}

}  // namespace etcdmon::aggregator
