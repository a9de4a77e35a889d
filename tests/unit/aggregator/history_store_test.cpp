// HistoryStore: the aggregator's SQLite history (points, roll-ups, retention, queries, ingest
// markers). The file is inspected through a second, read-only SQLite connection where the
// public API does not show a property (row counts, the stored `last`, page counts).

#include "etcdmon/aggregator/history_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/sqlite/connection.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::aggregator {
namespace {

using namespace std::chrono_literals;

// An hour boundary, so minute and hour buckets start at T0.
constexpr int64_t kT0 = 1699999200000;
constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 3'600'000;

// How many of the points first + k * period (0 <= k < n) lie in [from, to].
uint64_t StoredIn(int64_t from, int64_t to, int64_t first, int64_t period, int64_t n) {
  const int64_t lo = from <= first ? 0 : (from - first + period - 1) / period;
  const int64_t hi = to < first ? -1 : std::min(n - 1, (to - first) / period);
  return hi < lo ? 0 : static_cast<uint64_t>(hi - lo + 1);
}

std::chrono::system_clock::time_point At(int64_t unix_ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms));
}

using etcdmon::testing::TempDir;

class HistoryStoreTest : public ::testing::Test {
 protected:
  HistoryStoreTest() { config_.path = dir_.File("history.db"); }

  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    auto store = HistoryStore::Open(config_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  SeriesId MustSeries(const std::string& metric, const std::string& member) {
    auto id = store_->Series("default", metric, member);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }

  void MustWrite(const WriteBatch& batch) {
    Status status = store_->Write(batch);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  // Maintains until no work is left (bounded, so a bug cannot loop forever).
  void MaintainAll(int64_t now_ms, size_t budget = 20000) {
    for (int i = 0; i < 100000; ++i) {
      auto more = store_->Maintain(At(now_ms), budget);
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      if (!*more) {
        return;
      }
    }
    FAIL() << "maintenance never finished";
  }

  HistoryResult MustQuery(const std::string& metric, const std::string& member, int64_t from,
                          int64_t to, int64_t step = 0) {
    auto result = store_->Query({metric, member, from, to, step});
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : HistoryResult{};
  }

  // A read-only look at the file, beside the store's own connections.
  int64_t Sql(const std::string& sql) {
    sqlite::ConnectionOptions options;
    options.create = false;
    options.query_only = true;
    options.wal = false;
    auto db = sqlite::Connection::Open(config_.path, options);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) {
      return -1;
    }
    auto value = (*db)->QueryInt64(sql);
    EXPECT_TRUE(value.ok()) << sql << ": " << value.status().ToString();
    return value.ok() ? *value : -1;
  }

  TempDir dir_;
  HistoryConfig config_;
  std::unique_ptr<HistoryStore> store_;
};

// Written points come back as stored when they fit max_points and no step is asked.
TEST_F(HistoryStoreTest, WritesAndReadsBack) {
  SeriesId a = MustSeries("etcd_server_has_leader", "etcd-1");
  SeriesId b = MustSeries("etcd_server_has_leader", "etcd-2");
  WriteBatch batch;
  for (int i = 0; i < 10; ++i) {
    batch.points.push_back({a, kT0 + i * 1000, static_cast<double>(i)});
    batch.points.push_back({b, kT0 + i * 1000, 100.0 + i});
  }
  MustWrite(batch);

  HistoryResult result = MustQuery("etcd_server_has_leader", "etcd-1", kT0 + 2000, kT0 + 5000);
  EXPECT_EQ(result.resolution, "raw");
  EXPECT_EQ(result.step_ms, 0);
  ASSERT_EQ(result.points.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const HistoryPoint& p = result.points[i];
    EXPECT_EQ(p.unix_ms, kT0 + (i + 2) * 1000);
    EXPECT_EQ(p.value, i + 2.0);
    EXPECT_EQ(p.min, i + 2.0);
    EXPECT_EQ(p.max, i + 2.0);
    EXPECT_EQ(p.count, 1u);
  }
  EXPECT_EQ(MustQuery("etcd_server_has_leader", "etcd-2", kT0, kT0 + 9000).points.back().value,
            109.0);
  EXPECT_EQ(store_->Stats().points_written, 20u);
}

// Series ids are dense, stable, cached, survive a reopen; the listings show metrics and members.
TEST_F(HistoryStoreTest, SeriesIdsAreStableAcrossReopen) {
  SeriesId a = MustSeries("m1", "etcd-1");
  SeriesId b = MustSeries("m1", "etcd-2");
  SeriesId c = MustSeries("m2", "");
  EXPECT_EQ(a, 1u);
  EXPECT_EQ(b, 2u);
  EXPECT_EQ(c, 3u);
  EXPECT_EQ(MustSeries("m1", "etcd-1"), a);
  Reopen();
  EXPECT_EQ(MustSeries("m2", ""), c);
  EXPECT_EQ(MustSeries("m1", "etcd-2"), b);
  EXPECT_EQ(MustSeries("m3", "etcd-1"), 4u);
  EXPECT_EQ(store_->Stats().series, 4u);

  auto metrics = store_->Metrics();
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(*metrics, (std::vector<std::string>{"m1", "m2", "m3"}));
  auto members = store_->Members("default", "m1");
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(*members, (std::vector<std::string>{"etcd-1", "etcd-2"}));
  EXPECT_EQ(*store_->Members("default", "m2"), (std::vector<std::string>{""}));
  EXPECT_EQ(store_->Members("default", "nope").status().code(), StatusCode::kNotFound);
}

// Names are bounded and validated; the number of series is bounded.
TEST_F(HistoryStoreTest, SeriesRejectsBadNamesAndTooManySeries) {
  struct Case {
    const char* name;
    std::string metric;
    std::string member;
    StatusCode code;
  };
  const Case cases[] = {
      {"empty metric", "", "etcd-1", StatusCode::kInvalidArgument},
      {"long metric", std::string(201, 'm'), "etcd-1", StatusCode::kInvalidArgument},
      {"long member", "m", std::string(201, 'x'), StatusCode::kInvalidArgument},
      {"NUL in metric", std::string("a\0b", 3), "etcd-1", StatusCode::kInvalidArgument},
      {"200 bytes is fine", std::string(200, 'm'), std::string(200, 'x'), StatusCode::kOk},
      {"empty member is the cluster series", "m", "", StatusCode::kOk},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(store_->Series("default", c.metric, c.member).status().code(), c.code) << c.name;
  }

  config_.path = dir_.File("small.db");
  config_.max_series = 3;
  Reopen();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(store_->Series("default", "m", "e" + std::to_string(i)).ok());
  }
  auto over = store_->Series("default", "m", "e3");
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted) << over.status().ToString();
  EXPECT_TRUE(store_->Series("default", "m", "e1").ok());  // known pairs still resolve
}

// Bounded series in memory: a series without a point for the raw retention is forgotten by
// Maintain and no longer counts towards max_series; when it comes back it gets its old id, and
// its points stay queryable meanwhile. A series still written is never forgotten.
TEST_F(HistoryStoreTest, SeriesUnusedForTheRawRetentionAreEvictedFromTheLimit) {
  config_.path = dir_.File("evict.db");
  config_.max_series = 3;
  config_.raw_retention = std::chrono::hours(1);
  Reopen();
  using std::chrono::milliseconds;
  const auto at = [](int64_t ms) {
    return std::chrono::system_clock::time_point(milliseconds(ms));
  };
  SeriesId ids[3];
  WriteBatch batch;
  for (int i = 0; i < 3; ++i) {
    ids[i] = MustSeries("m", "e" + std::to_string(i));
    batch.points.push_back({ids[i], kT0, 1.0});
  }
  MustWrite(batch);
  ASSERT_TRUE(store_->Maintain(at(kT0)).ok());
  EXPECT_EQ(store_->Series("default", "m", "e3").status().code(), StatusCode::kResourceExhausted);

  // e2 keeps being written; e0 and e1 are not.
  const int64_t later = kT0 + 3600 * 1000 + 60 * 1000;
  MustWrite(WriteBatch{{{ids[2], later - 1000, 2.0}}, {}});
  ASSERT_TRUE(store_->Maintain(at(later)).ok());
  EXPECT_EQ(store_->Stats().live_series, 1u);
  Result<SeriesId> e3 = store_->Series("default", "m", "e3");
  ASSERT_TRUE(e3.ok()) << e3.status().ToString();
  EXPECT_EQ(*e3, 4u);
  // e0 comes back with its id; the file still knows every series.
  Result<SeriesId> e0 = store_->Series("default", "m", "e0");
  ASSERT_TRUE(e0.ok()) << e0.status().ToString();
  EXPECT_EQ(*e0, ids[0]);
  EXPECT_EQ(store_->Series("default", "m", "e2").value(), ids[2]);
  EXPECT_EQ(store_->Stats().live_series, 3u);
  EXPECT_EQ(store_->Stats().series, 4u);
  // Full again: e1 is refused until something else goes unused.
  EXPECT_EQ(store_->Series("default", "m", "e1").status().code(), StatusCode::kResourceExhausted);
  auto old = store_->Query({"m", "e1", kT0, kT0, 0});
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->points.size(), 1u);
  // After a restart every series counts as in use until it has been unused for the retention.
  Reopen();
  EXPECT_EQ(store_->Stats().live_series, 4u);
  ASSERT_TRUE(store_->Maintain(at(later)).ok());
  EXPECT_EQ(store_->Stats().live_series, 4u);
  ASSERT_TRUE(store_->Maintain(at(later + 3600 * 1000 + 120 * 1000)).ok());
  EXPECT_EQ(store_->Stats().live_series, 0u);
  EXPECT_EQ(store_->Series("default", "m", "e1").value(), ids[1]);
}

// A watermark above a bound is forgotten, in memory and in the file; the others stay.
TEST_F(HistoryStoreTest, ForgetCommittedAboveDropsOnlyTheForgedWatermarks) {
  WriteBatch batch;
  batch.committed = {{"forged", static_cast<uint64_t>(std::numeric_limits<int64_t>::max())},
                     {"genuine", 1000},
                     {"edge", 2000}};
  MustWrite(batch);
  Result<std::vector<std::string>> forgotten = store_->ForgetCommittedAbove(2000);
  ASSERT_TRUE(forgotten.ok()) << forgotten.status().ToString();
  EXPECT_EQ(*forgotten, std::vector<std::string>{"forged"});
  EXPECT_EQ(store_->HighestCommitted("forged"), 0u);
  EXPECT_EQ(store_->HighestCommitted("genuine"), 1000u);
  EXPECT_EQ(store_->HighestCommitted("edge"), 2000u);
  Reopen();
  EXPECT_EQ(store_->HighestCommitted("forged"), 0u);
  EXPECT_EQ(store_->HighestCommitted("edge"), 2000u);
  forgotten = store_->ForgetCommittedAbove(2000);
  ASSERT_TRUE(forgotten.ok());
  EXPECT_TRUE(forgotten->empty());
  // Its next batch is stored again.
  batch.committed = {{"forged", 5}};
  MustWrite(batch);
  EXPECT_EQ(store_->HighestCommitted("forged"), 5u);
}

// Rewriting a point keeps one row, holding the latest value.
TEST_F(HistoryStoreTest, RewriteIsIdempotent) {
  SeriesId s = MustSeries("m", "etcd-1");
  WriteBatch batch;
  batch.points = {{s, kT0, 1.0}, {s, kT0 + 1000, 2.0}};
  MustWrite(batch);
  MustWrite(batch);
  batch.points = {{s, kT0, 5.0}};
  MustWrite(batch);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM points_raw"), 2);
  HistoryResult result = MustQuery("m", "etcd-1", kT0, kT0 + 1000);
  ASSERT_EQ(result.points.size(), 2u);
  EXPECT_EQ(result.points[0].value, 5.0);
  EXPECT_EQ(result.points[1].value, 2.0);
}

// Write inserts in key order, not in batch order; of several points with one key in a batch
// (many, so that a sort which does not keep their order would shuffle them) the last one wins.
TEST_F(HistoryStoreTest, LastPointOfAKeyWinsWithinABatch) {
  const SeriesId series[] = {MustSeries("m", "etcd-3"), MustSeries("m", "etcd-1"),
                             MustSeries("m", "etcd-2")};
  WriteBatch batch;
  for (int i = 0; i < 300; ++i) {
    batch.points.push_back({series[i % 3], kT0 + (i % 2) * 1000, static_cast<double>(i)});
  }
  MustWrite(batch);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM points_raw"), 6);
  EXPECT_EQ(store_->Stats().points_written, 300u);
  const char* members[] = {"etcd-3", "etcd-1", "etcd-2"};
  for (int s = 0; s < 3; ++s) {
    HistoryResult result = MustQuery("m", members[s], kT0, kT0 + 1000);
    ASSERT_EQ(result.points.size(), 2u) << members[s];
    for (int t = 0; t < 2; ++t) {
      // The last i < 300 with i % 3 == s and i % 2 == t.
      int last = -1;
      for (int i = 0; i < 300; ++i) {
        if (i % 3 == s && i % 2 == t) {
          last = i;
        }
      }
      EXPECT_EQ(result.points[t].value, static_cast<double>(last)) << members[s] << " t=" << t;
    }
  }
}

// Committed markers: the highest sequence per collector, never lowered, kept across reopen.
TEST_F(HistoryStoreTest, CommittedMarkersSurviveReopen) {
  EXPECT_EQ(store_->HighestCommitted("c1"), 0u);
  SeriesId s = MustSeries("m", "etcd-1");
  WriteBatch batch;
  batch.points = {{s, kT0, 1.0}};
  batch.committed = {{"c1", 10}, {"c2", 3}};
  MustWrite(batch);
  batch.points.clear();
  batch.committed = {{"c1", 7}};  // a late duplicate does not lower the mark
  MustWrite(batch);
  batch.committed = {{"c2", 4}};  // a marker alone is a valid write
  MustWrite(batch);
  EXPECT_EQ(store_->HighestCommitted("c1"), 10u);
  EXPECT_EQ(store_->HighestCommitted("c2"), 4u);
  Reopen();
  EXPECT_EQ(store_->HighestCommitted("c1"), 10u);
  EXPECT_EQ(store_->HighestCommitted("c2"), 4u);
  EXPECT_EQ(store_->HighestCommitted("c3"), 0u);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM committed"), 2);
}

// A batch with one bad element stores nothing: neither its points nor its markers.
TEST_F(HistoryStoreTest, BadBatchStoresNothing) {
  SeriesId s = MustSeries("m", "etcd-1");
  struct Case {
    const char* name;
    PointRecord bad_point;
    WriteBatch::Committed marker;
  };
  const Case cases[] = {
      {"unknown series", {s + 1, kT0, 1.0}, {"c1", 1}},
      {"series 0", {0, kT0, 1.0}, {"c1", 1}},
      {"negative time", {s, -1, 1.0}, {"c1", 1}},
      {"time after year 9999", {s, int64_t{1} << 60, 1.0}, {"c1", 1}},
      {"sequence 0", {s, kT0, 1.0}, {"c1", 0}},
      {"sequence over int64", {s, kT0, 1.0}, {"c1", uint64_t{1} << 63}},
      {"empty collector", {s, kT0, 1.0}, {"", 1}},
  };
  for (const Case& c : cases) {
    WriteBatch batch;
    batch.points = {{s, kT0 + 5000, 1.0}, c.bad_point};
    batch.committed = {c.marker};
    EXPECT_EQ(store_->Write(batch).code(), StatusCode::kInvalidArgument) << c.name;
  }
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM points_raw"), 0);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM committed"), 0);
  EXPECT_EQ(store_->HighestCommitted("c1"), 0u);
}

// NaN and infinities are left out (a gap), the rest of the batch is stored.
TEST_F(HistoryStoreTest, NonFiniteValuesAreSkipped) {
  SeriesId s = MustSeries("m", "etcd-1");
  WriteBatch batch;
  batch.points = {{s, kT0, std::numeric_limits<double>::quiet_NaN()},
                  {s, kT0 + 1000, std::numeric_limits<double>::infinity()},
                  {s, kT0 + 2000, 3.0}};
  MustWrite(batch);
  HistoryResult result = MustQuery("m", "etcd-1", kT0, kT0 + 2000);
  ASSERT_EQ(result.points.size(), 1u);
  EXPECT_EQ(result.points[0].value, 3.0);
  EXPECT_EQ(store_->Stats().points_written, 1u);
  EXPECT_EQ(store_->Stats().points_skipped, 2u);
}

// Roll-ups compute min, max, average (sum/count), last and count per minute and per hour.
TEST_F(HistoryStoreTest, RollUpsComputeAggregates) {
  struct Bucket {
    int64_t start_ms;
    double min, max, avg, last;
    int64_t count;
  };
  struct Case {
    const char* name;
    std::vector<std::pair<int64_t, double>> points;  // (offset from kT0 in ms, value), in order
    std::vector<Bucket> minutes;
    Bucket hour;
  };
  const Case cases[] = {
      {"single point", {{10'000, 5.0}}, {{0, 5, 5, 5, 5, 1}}, {0, 5, 5, 5, 5, 1}},
      {"three in a minute",
       {{0, 3.0}, {20'000, -1.0}, {40'000, 8.0}},
       {{0, -1, 8, 10.0 / 3, 8, 3}},
       {0, -1, 8, 10.0 / 3, 8, 3}},
      {"across two minutes",
       {{50'000, 1.0}, {70'000, 2.0}, {110'000, 4.0}},
       {{0, 1, 1, 1, 1, 1}, {kMinute, 2, 4, 3, 4, 2}},
       {0, 1, 4, 7.0 / 3, 4, 3}},
      {"written out of order: last is the latest time",
       {{40'000, 1.0}, {10'000, 9.0}},
       {{0, 1, 9, 5, 1, 2}},
       {0, 1, 9, 5, 1, 2}},
      {"rewritten point counts once",
       {{10'000, 1.0}, {10'000, 7.0}, {20'000, 3.0}},
       {{0, 3, 7, 5, 3, 2}},
       {0, 3, 7, 5, 3, 2}},
      {"minutes apart in the hour",
       {{0, 10.0}, {30 * kMinute, 20.0}, {59 * kMinute + 59'999, 60.0}},
       {{0, 10, 10, 10, 10, 1},
        {30 * kMinute, 20, 20, 20, 20, 1},
        {59 * kMinute, 60, 60, 60, 60, 1}},
       {0, 10, 60, 30, 60, 3}},
  };
  std::vector<SeriesId> ids;
  for (const Case& c : cases) {
    SeriesId id = MustSeries(c.name, "etcd-1");
    ids.push_back(id);
    for (const auto& [offset, value] : c.points) {
      WriteBatch batch;  // one batch per point keeps the written order
      batch.points = {{id, kT0 + offset, value}};
      MustWrite(batch);
    }
  }
  MaintainAll(kT0 + 2 * kHour);
  // Minutes end rollup_delay (10 s) before `now`; hours once all their minutes are rolled up.
  EXPECT_EQ(store_->Stats().minute_rolled_until_ms, kT0 + 2 * kHour - kMinute);
  EXPECT_EQ(store_->Stats().hour_rolled_until_ms, kT0 + kHour);

  for (size_t i = 0; i < std::size(cases); ++i) {
    const Case& c = cases[i];
    sqlite::ConnectionOptions options;
    options.query_only = true;
    options.wal = false;
    auto db = sqlite::Connection::Open(config_.path, options);
    ASSERT_TRUE(db.ok());
    for (const char* table : {"points_1m", "points_1h"}) {
      auto select = (*db)->Prepare(std::string("SELECT ts, min_value, max_value, sum_value, count,"
                                               " last_value FROM ") +
                                   table + " WHERE series = ?1 ORDER BY ts");
      ASSERT_TRUE(select.ok());
      ASSERT_TRUE(select->BindAll(ids[i]).ok());
      const std::vector<Bucket> expected =
          std::string(table) == "points_1m" ? c.minutes : std::vector<Bucket>{c.hour};
      size_t row = 0;
      while (*select->Step()) {
        ASSERT_LT(row, expected.size()) << c.name << " " << table;
        const Bucket& e = expected[row];
        EXPECT_EQ(select->ColumnInt64(0), kT0 + e.start_ms) << c.name << " " << table;
        EXPECT_EQ(select->ColumnDouble(1), e.min) << c.name << " " << table;
        EXPECT_EQ(select->ColumnDouble(2), e.max) << c.name << " " << table;
        EXPECT_DOUBLE_EQ(select->ColumnDouble(3) / select->ColumnInt64(4), e.avg)
            << c.name << " " << table;
        EXPECT_EQ(select->ColumnInt64(4), e.count) << c.name << " " << table;
        EXPECT_EQ(select->ColumnDouble(5), e.last) << c.name << " " << table;
        ++row;
      }
      EXPECT_EQ(row, expected.size()) << c.name << " " << table;
    }

    // The same buckets through Query: the 1 min level at a 1 min step.
    HistoryResult minutes = MustQuery(c.name, "etcd-1", kT0, kT0 + kHour - 1, kMinute);
    EXPECT_EQ(minutes.resolution, "1m") << c.name;
    EXPECT_EQ(minutes.step_ms, kMinute) << c.name;
    ASSERT_EQ(minutes.points.size(), c.minutes.size()) << c.name;
    for (size_t b = 0; b < c.minutes.size(); ++b) {
      EXPECT_EQ(minutes.points[b].unix_ms, kT0 + c.minutes[b].start_ms) << c.name;
      EXPECT_DOUBLE_EQ(minutes.points[b].value, c.minutes[b].avg) << c.name;
      EXPECT_EQ(minutes.points[b].min, c.minutes[b].min) << c.name;
      EXPECT_EQ(minutes.points[b].max, c.minutes[b].max) << c.name;
      EXPECT_EQ(minutes.points[b].count, static_cast<uint64_t>(c.minutes[b].count)) << c.name;
    }
    HistoryResult hours = MustQuery(c.name, "etcd-1", kT0, kT0 + kHour - 1, kHour);
    EXPECT_EQ(hours.resolution, "1h") << c.name;
    ASSERT_EQ(hours.points.size(), 1u) << c.name;
    EXPECT_DOUBLE_EQ(hours.points[0].value, c.hour.avg) << c.name;
    EXPECT_EQ(hours.points[0].count, static_cast<uint64_t>(c.hour.count)) << c.name;
  }
}

// A backlog of late points (a collector catching up) in one write: each rolled minute of each
// series is marked once, every point counts in the recomputed roll-ups, and a minute recomputed
// once is marked again by the next write's late point into it.
TEST_F(HistoryStoreTest, LateBacklogMarksEachMinuteAndEveryPointCounts) {
  SeriesId a = MustSeries("m", "etcd-1");
  SeriesId b = MustSeries("m", "etcd-2");
  WriteBatch batch;
  batch.points = {{a, kT0, 1.0}, {b, kT0, 1.0}, {a, kT0 + 3 * kMinute, 1.0}};
  MustWrite(batch);
  MaintainAll(kT0 + 2 * kHour);

  // 20 s of late points of both series, interleaved as a group of batches arrives, over minutes
  // 0..2: 3 rolled minutes per series.
  batch.points.clear();
  for (int64_t ts = 2 * kMinute - 10'000; ts < 2 * kMinute + 10'000; ts += 1000) {
    batch.points.push_back({a, kT0 + ts - kMinute, 2.0});
    batch.points.push_back({b, kT0 + ts, 3.0});
  }
  MustWrite(batch);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM rollup_dirty"), 4);  // a: minutes 0, 1; b: 1, 2
  MaintainAll(kT0 + 2 * kHour);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM rollup_dirty"), 0);
  auto count_in = [&](const std::string& member, int64_t from, int64_t to) {
    uint64_t covered = 0;
    for (const HistoryPoint& p : MustQuery("m", member, from, to, kMinute).points) {
      covered += p.count;
    }
    return covered;
  };
  EXPECT_EQ(count_in("etcd-1", kT0, kT0 + kHour - 1), 2u + 20u);
  EXPECT_EQ(count_in("etcd-2", kT0, kT0 + kHour - 1), 1u + 20u);

  // The next write's late point into the minute the previous write marked last (just
  // recomputed) marks it again.
  batch.points = {{b, kT0 + 2 * kMinute + 30'000, 5.0}};
  MustWrite(batch);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM rollup_dirty"), 1);
  MaintainAll(kT0 + 2 * kHour);
  EXPECT_EQ(count_in("etcd-2", kT0 + 2 * kMinute, kT0 + 3 * kMinute - 1), 10u + 1u);
  EXPECT_EQ(MustQuery("m", "etcd-2", kT0, kT0 + kHour - 1, kHour).points.at(0).count, 22u);
}

// A point that arrives after its minute was rolled up is not lost from the roll-ups: its minute
// and then its hour are recomputed.
TEST_F(HistoryStoreTest, LatePointRecomputesRolledBuckets) {
  SeriesId s = MustSeries("m", "etcd-1");
  WriteBatch batch;
  batch.points = {{s, kT0 + 1000, 2.0}, {s, kT0 + 2 * kMinute, 4.0}};
  MustWrite(batch);
  MaintainAll(kT0 + 2 * kHour);
  ASSERT_EQ(MustQuery("m", "etcd-1", kT0, kT0 + kHour - 1, kHour).points.at(0).count, 2u);

  batch.points = {{s, kT0 + 5000, 12.0}};  // late, into the first minute
  MustWrite(batch);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM rollup_dirty"), 1);
  MaintainAll(kT0 + 2 * kHour);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM rollup_dirty"), 0);

  HistoryResult minutes = MustQuery("m", "etcd-1", kT0, kT0 + kMinute - 1, kMinute);
  ASSERT_EQ(minutes.points.size(), 1u);
  EXPECT_EQ(minutes.points[0].count, 2u);
  EXPECT_EQ(minutes.points[0].value, 7.0);
  EXPECT_EQ(minutes.points[0].max, 12.0);
  HistoryResult hour = MustQuery("m", "etcd-1", kT0, kT0 + kHour - 1, kHour);
  ASSERT_EQ(hour.points.size(), 1u);
  EXPECT_EQ(hour.points[0].count, 3u);
  EXPECT_EQ(hour.points[0].value, 6.0);
}

// Retention drops what each level no longer keeps, so row counts stay bounded and the file
// stops growing: SQLite reuses the pages the deletes free.
TEST_F(HistoryStoreTest, RetentionKeepsTheFileBounded) {
  config_.path = dir_.File("retention.db");
  config_.raw_retention = 1h;
  config_.minute_retention = 6h;
  config_.hour_retention = 48h;
  Reopen();
  constexpr int kSeries = 10;
  std::vector<SeriesId> ids;
  for (int i = 0; i < kSeries; ++i) {
    ids.push_back(MustSeries("m" + std::to_string(i), "etcd-1"));
  }
  // Four days, one point per series every 30 s, written and maintained every 10 minutes.
  int64_t pages_after_day3 = 0;
  for (int64_t t = 0; t < 4 * 24 * kHour; t += 10 * kMinute) {
    WriteBatch batch;
    for (int64_t ts = t; ts < t + 10 * kMinute; ts += 30'000) {
      for (SeriesId id : ids) {
        batch.points.push_back({id, kT0 + ts, static_cast<double>(ts % 977)});
      }
    }
    MustWrite(batch);
    MaintainAll(kT0 + t + 10 * kMinute);
    if (t + 10 * kMinute == 3 * 24 * kHour) {
      pages_after_day3 = Sql("PRAGMA page_count");
    }
  }
  // Each level holds its retention plus what has not been pruned yet (a pass per granule).
  EXPECT_LE(Sql("SELECT COUNT(*) FROM points_raw"), kSeries * (60 + 2 + 20) * 2);
  EXPECT_LE(Sql("SELECT COUNT(*) FROM points_1m"), kSeries * (6 * 60 + 60 + 10));
  EXPECT_LE(Sql("SELECT COUNT(*) FROM points_1h"), kSeries * (48 + 2));
  EXPECT_GE(Sql("SELECT COUNT(*) FROM points_1h"), kSeries * 47);
  const int64_t pages_after_day4 = Sql("PRAGMA page_count");
  EXPECT_LE(pages_after_day4, pages_after_day3 + pages_after_day3 / 20)
      << "day 3: " << pages_after_day3 << " pages, day 4: " << pages_after_day4;

  // Old data is still answered, by the coarsest level.
  HistoryResult old =
      MustQuery("m0", "etcd-1", kT0 + 2 * 24 * kHour + kHour, kT0 + 2 * 24 * kHour + 2 * kHour - 1);
  EXPECT_EQ(old.resolution, "1h");
  ASSERT_EQ(old.points.size(), 1u);
  EXPECT_EQ(old.points[0].count, 120u);
}

// The level a query reads: the coarsest one fine enough for the step that still holds the
// whole range; the step grows to keep max_points.
TEST_F(HistoryStoreTest, QueryChoosesTheLevel) {
  config_.path = dir_.File("levels.db");
  config_.raw_retention = 24h;
  config_.max_points = 1000;
  Reopen();
  SeriesId s = MustSeries("m", "etcd-1");
  // Three days at one point per 10 s; maintained at the end (raw keeps the last day).
  const int64_t end = kT0 + 3 * 24 * kHour;
  for (int64_t t = 0; t < 3 * 24 * kHour; t += kHour) {
    WriteBatch batch;
    for (int64_t ts = t; ts < t + kHour; ts += 10'000) {
      batch.points.push_back({s, kT0 + ts, 1.0});
    }
    MustWrite(batch);
  }
  MaintainAll(end);

  struct Case {
    const char* name;
    int64_t from, to, step;
    const char* resolution;
    int64_t step_ms;  // of the answer
    size_t points;
  };
  const int64_t day = 24 * kHour;
  constexpr size_t kEveryBucket = std::numeric_limits<size_t>::max();  // data in every bucket
  const Case cases[] = {
      {"an hour, no step: raw as stored", end - kHour, end - 1, 0, "raw", 0, 360},
      {"an hour at 30 s: raw in buckets", end - kHour, end - 1, 30'000, "raw", 30'000, 120},
      {"an hour at 1 min: the minute level", end - kHour, end - 1, kMinute, "1m", kMinute, 60},
      {"an hour at 90 s: minutes, in 2 min buckets", end - kHour, end - 1, 90'000, "1m",
       2 * kMinute, 30},
      {"6 hours, no step: raw merged to fit", end - 6 * kHour, end - 1, 0, "raw", 21'622,
       kEveryBucket},
      {"a day, no step: minutes merged to fit", end - day, end - 1, 0, "1m", 2 * kMinute, 720},
      {"a day at 1 h: the hour level", end - day, end - 1, kHour, "1h", kHour, 24},
      {"two days back, no step: raw is gone, minutes", end - 2 * day, end - day - 1, 0, "1m",
       2 * kMinute, 720},
      {"three days at 1 min: more than max_points", kT0, end - 1, kMinute, "1m", 5 * kMinute, 864},
      {"a single instant", end - kHour, end - kHour, 0, "raw", 0, 1},
      {"before the first point, older than raw keeps", kT0 - kHour, kT0 - 1, 0, "1m", kMinute, 0},
  };
  for (const Case& c : cases) {
    HistoryResult r = MustQuery("m", "etcd-1", c.from, c.to, c.step);
    EXPECT_EQ(r.resolution, c.resolution) << c.name;
    EXPECT_EQ(r.step_ms, c.step_ms) << c.name;
    // Every aligned bucket of the range holds data: one point per bucket.
    const size_t buckets = c.points != kEveryBucket
                               ? c.points
                               : static_cast<size_t>(c.to / c.step_ms - c.from / c.step_ms + 1);
    EXPECT_EQ(r.points.size(), buckets) << c.name;
    EXPECT_LE(r.points.size(), config_.max_points) << c.name;
    uint64_t covered = 0;
    for (const HistoryPoint& p : r.points) {
      covered += p.count;
      EXPECT_EQ(p.value, 1.0) << c.name;
    }
    // Ranges here start on bucket boundaries, so buckets hold exactly the range's points.
    EXPECT_EQ(covered, StoredIn(c.from, c.to, kT0, 10'000, 3 * 8640)) << c.name;
  }
}

// Whatever the range and step, an answer never exceeds max_points, and buckets cover every
// stored point of the range exactly once.
TEST_F(HistoryStoreTest, QueryNeverExceedsMaxPoints) {
  config_.path = dir_.File("bound.db");
  config_.max_points = 7;
  Reopen();
  SeriesId s = MustSeries("m", "etcd-1");
  WriteBatch batch;
  for (int64_t ts = 0; ts < 2 * kHour; ts += 1000) {
    batch.points.push_back({s, kT0 + ts, static_cast<double>(ts / 1000)});
  }
  MustWrite(batch);
  const int64_t ranges[][3] = {
      {kT0, kT0 + 2 * kHour - 1, 0},
      {kT0 + 1, kT0 + 7, 0},
      {kT0 + 999, kT0 + 7001, 0},
      {kT0 + 13, kT0 + 6013, 0},
      {kT0 + 500, kT0 + 59'500, 1},
      {kT0, kT0 + 2 * kHour, 1000},
      {kT0 - 5000, kT0 + 123'457, 0},
      {0, std::numeric_limits<int64_t>::max(), 0},
      {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
       std::numeric_limits<int64_t>::max()},
  };
  for (const auto& r : ranges) {
    HistoryResult result = MustQuery("m", "etcd-1", r[0], r[1], r[2]);
    EXPECT_LE(result.points.size(), 7u) << r[0] << ".." << r[1] << " step " << r[2];
    uint64_t covered = 0;
    for (const HistoryPoint& p : result.points) {
      covered += p.count;
    }
    // Raw buckets start at the first point inside the range: they hold exactly its points.
    EXPECT_EQ(covered, StoredIn(r[0], r[1], kT0, 1000, 2 * 3600))
        << r[0] << ".." << r[1] << " step " << r[2];
  }
}

// Raw points merged into buckets (no step asked, more points than max_points, so the points
// read as stored are merged when they overflow; and an asked step): every bucket's average, min,
// max and count are those of the points it covers, computed here point by point.
TEST_F(HistoryStoreTest, RawBucketsHoldExactlyTheirPoints) {
  config_.path = dir_.File("buckets.db");
  config_.max_points = 50;
  Reopen();
  SeriesId s = MustSeries("m", "etcd-1");
  std::vector<std::pair<int64_t, double>> written;
  WriteBatch batch;
  for (int64_t i = 0; i < 1000; ++i) {
    // Irregular spacing and values, so buckets hold different numbers of points.
    const int64_t ts = kT0 + i * 1000 + (i * 7919) % 700;
    const double value = static_cast<double>((i * 104729) % 1013) / 7.0;
    batch.points.push_back({s, ts, value});
    written.emplace_back(ts, value);
  }
  MustWrite(batch);
  const int64_t ranges[][3] = {
      {kT0, kT0 + 1000 * 1000, 0},          // overflows max_points while read as stored
      {kT0 + 12'345, kT0 + 600'000, 0},     // starts mid-bucket
      {kT0 + 5000, kT0 + 800'000, 30'000},  // an asked step
      {kT0, kT0 + 40'000, 0},               // fits: as stored
  };
  for (const auto& r : ranges) {
    HistoryResult result = MustQuery("m", "etcd-1", r[0], r[1], r[2]);
    ASSERT_EQ(result.resolution, "raw");
    ASSERT_LE(result.points.size(), config_.max_points);
    std::vector<HistoryPoint> expected;
    for (const auto& [ts, value] : written) {
      if (ts < r[0] || ts > r[1]) {
        continue;
      }
      const int64_t start = result.step_ms == 0 ? ts : ts - ts % result.step_ms;
      if (expected.empty() || expected.back().unix_ms != start) {
        expected.push_back({start, 0.0, value, value, 0});
      }
      HistoryPoint& b = expected.back();
      b.value += value;
      b.min = std::min(b.min, value);
      b.max = std::max(b.max, value);
      ++b.count;
    }
    ASSERT_EQ(result.points.size(), expected.size()) << r[0] << ".." << r[1];
    for (size_t i = 0; i < expected.size(); ++i) {
      const HistoryPoint& got = result.points[i];
      const HistoryPoint& want = expected[i];
      EXPECT_EQ(got.unix_ms, want.unix_ms) << i;
      EXPECT_DOUBLE_EQ(got.value, want.value / static_cast<double>(want.count)) << i;
      EXPECT_EQ(got.min, want.min) << i;
      EXPECT_EQ(got.max, want.max) << i;
      EXPECT_EQ(got.count, want.count) << i;
    }
  }
}

// Bad queries get clear errors.
TEST_F(HistoryStoreTest, QueryErrors) {
  SeriesId s = MustSeries("m", "etcd-1");
  WriteBatch batch;
  batch.points = {{s, kT0, 1.0}};
  MustWrite(batch);
  struct Case {
    const char* name;
    HistoryQuery query;
    StatusCode code;
  };
  const Case cases[] = {
      {"unknown metric", {"nope", "etcd-1", kT0, kT0 + 1, 0}, StatusCode::kNotFound},
      {"unknown member", {"m", "etcd-9", kT0, kT0 + 1, 0}, StatusCode::kNotFound},
      {"no cluster-wide series", {"m", "", kT0, kT0 + 1, 0}, StatusCode::kNotFound},
      {"inverted range", {"m", "etcd-1", kT0 + 1, kT0, 0}, StatusCode::kInvalidArgument},
      {"negative step", {"m", "etcd-1", kT0, kT0 + 1, -5}, StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    auto result = store_->Query(c.query);
    EXPECT_EQ(result.status().code(), c.code) << c.name << ": " << result.status().ToString();
  }
  auto unknown = store_->Query({"nope", "", 0, 1, 0});
  EXPECT_NE(unknown.status().message().find("nope"), std::string::npos);
}

// Files of versions 1 (before the remote_write cursor) and 2 (before series had a cluster)
// are migrated in place to version 3: their series keep their ids and points and belong to the
// cluster the file served (HistoryConfig::legacy_cluster); a query for another cluster finds
// none of them.
TEST_F(HistoryStoreTest, MigratesOlderVersionsInPlace) {
  for (const int version : {1, 2}) {
    SCOPED_TRACE("version " + std::to_string(version));
    HistoryConfig config = config_;
    config.path = dir_.File("v" + std::to_string(version) + ".db");
    {
      auto store = HistoryStore::Open(config);
      ASSERT_TRUE(store.ok());
      auto a = (*store)->Series("default", "m", "etcd-1");
      auto b = (*store)->Series("default", "m", "");
      ASSERT_TRUE(a.ok() && b.ok());
      ASSERT_TRUE((*store)->Write({{{*a, kT0, 4}, {*b, kT0, 5}}, {}}).ok());
    }
    {
      // Back to the older layout: series without a cluster, no clusters table.
      auto db = sqlite::Connection::Open(config.path, sqlite::ConnectionOptions{});
      ASSERT_TRUE(db.ok());
      ASSERT_TRUE((*db)
                      ->Exec("CREATE TABLE series_old (id INTEGER PRIMARY KEY, metric_id INTEGER "
                             "NOT NULL, member_id INTEGER NOT NULL, UNIQUE (metric_id, "
                             "member_id));"
                             "INSERT INTO series_old SELECT id, metric_id, member_id FROM series;"
                             "DROP TABLE series; DROP TABLE clusters;"
                             "ALTER TABLE series_old RENAME TO series;")
                      .ok());
      if (version == 1) {
        ASSERT_TRUE((*db)->Exec("DROP TABLE remote_write_cursor").ok());
      } else {
        ASSERT_TRUE((*db)->Exec("INSERT INTO remote_write_cursor VALUES (1, 7)").ok());
      }
      ASSERT_TRUE((*db)->Exec("PRAGMA user_version=" + std::to_string(version)).ok());
    }
    config.legacy_cluster = "prod";
    auto reopened = HistoryStore::Open(config);
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    HistoryQuery query{"m", "etcd-1", kT0, kT0, 0, "prod"};
    auto result = (*reopened)->Query(query);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    ASSERT_EQ(result->points.size(), 1u);
    EXPECT_EQ(result->points[0].value, 4);
    query.cluster = "default";
    EXPECT_EQ((*reopened)->Query(query).status().code(), StatusCode::kNotFound);
    EXPECT_EQ(*(*reopened)->Clusters(), (std::vector<std::string>{"prod"}));
    EXPECT_EQ(*(*reopened)->Members("prod", "m"), (std::vector<std::string>{"", "etcd-1"}));
    // The same ids: a new series of the migrated cluster reuses nothing.
    EXPECT_EQ((*reopened)->Series("prod", "m", "etcd-1").value(), 1u);
    EXPECT_EQ((*reopened)->Series("prod", "m", "etcd-2").value(), 3u);
    reopened->reset();
    auto db = sqlite::Connection::Open(config.path, sqlite::ConnectionOptions{});
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(*(*db)->QueryInt64("PRAGMA user_version"), 3);
    EXPECT_EQ(*(*db)->QueryInt64("SELECT COUNT(*) FROM remote_write_cursor"), version == 1 ? 0 : 1);
    EXPECT_EQ(*(*db)->QueryInt64("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'series_v2'"), 0);
  }
}

// One file, two clusters with the same member and metric names: each query answers with its
// own cluster's points only, and the listings keep them apart.
TEST_F(HistoryStoreTest, ClustersNeverShareSeries) {
  const SeriesId prod = store_->Series("prod", "m", "etcd-1").value();
  const SeriesId staging = store_->Series("staging", "m", "etcd-1").value();
  const SeriesId staging_only = store_->Series("staging", "m", "etcd-9").value();
  ASSERT_NE(prod, staging);
  EXPECT_EQ(store_->Series("prod", "m", "etcd-1").value(), prod);
  ASSERT_TRUE(
      store_->Write({{{prod, kT0, 1}, {staging, kT0, 2}, {staging_only, kT0, 3}}, {}}).ok());
  for (const auto& [cluster, want] :
       {std::pair<std::string, double>{"prod", 1}, std::pair<std::string, double>{"staging", 2}}) {
    auto result = store_->Query({"m", "etcd-1", kT0 - 1000, kT0 + 1000, 0, cluster});
    ASSERT_TRUE(result.ok()) << cluster;
    ASSERT_EQ(result->points.size(), 1u) << cluster;
    EXPECT_EQ(result->points[0].value, want) << cluster;
  }
  EXPECT_EQ(store_->Query({"m", "etcd-9", kT0, kT0, 0, "prod"}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->Query({"m", "etcd-1", kT0, kT0, 0, "other"}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(*store_->Members("prod", "m"), (std::vector<std::string>{"etcd-1"}));
  EXPECT_EQ(*store_->Members("staging", "m"), (std::vector<std::string>{"etcd-1", "etcd-9"}));
  EXPECT_TRUE(store_->Members("other", "m")->empty());
  EXPECT_EQ(*store_->Clusters(), (std::vector<std::string>{"prod", "staging"}));
  EXPECT_EQ(store_->Series("", "m", "etcd-1").status().code(), StatusCode::kInvalidArgument);

  // After a reopen the ids come back from the file.
  store_.reset();
  auto reopened = HistoryStore::Open(config_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Series("staging", "m", "etcd-1").value(), staging);
  EXPECT_EQ((*reopened)->Series("prod", "m", "etcd-1").value(), prod);
}

// A file with a newer (or older) schema version, or one that is not a history file, is refused
// with a clear error instead of being guessed at.
TEST_F(HistoryStoreTest, OpenRefusesOtherSchemasAndFiles) {
  store_.reset();
  {
    auto db = sqlite::Connection::Open(config_.path, sqlite::ConnectionOptions{});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version=4").ok());
  }
  auto newer = HistoryStore::Open(config_);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("schema version 4, newer than"), std::string::npos)
      << newer.status().message();

  HistoryConfig other = config_;
  other.path = dir_.File("other.db");
  {
    auto db = sqlite::Connection::Open(other.path, sqlite::ConnectionOptions{});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE alerts(id INTEGER)").ok());
  }
  auto foreign = HistoryStore::Open(other);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(foreign.status().message().find("not an etcd-monitor history file"), std::string::npos)
      << foreign.status().message();

  other.path = dir_.File("missing-dir/history.db");
  EXPECT_EQ(HistoryStore::Open(other).status().code(), StatusCode::kUnavailable);

  struct Case {
    const char* name;
    HistoryConfig config;
  };
  HistoryConfig bad = config_;
  bad.max_points = 1;
  HistoryConfig no_path = config_;
  no_path.path = "";
  HistoryConfig zero_retention = config_;
  zero_retention.raw_retention = 0ms;
  for (const Case& c : {Case{"max_points 1", bad}, Case{"no path", no_path},
                        Case{"zero retention", zero_retention}}) {
    EXPECT_EQ(HistoryStore::Open(c.config).status().code(), StatusCode::kInvalidArgument) << c.name;
  }
}

// Reopening a file keeps points, series, markers and the maintenance progress.
TEST_F(HistoryStoreTest, ReopenKeepsEverything) {
  SeriesId s = MustSeries("m", "etcd-1");
  WriteBatch batch;
  for (int64_t ts = 0; ts < 10 * kMinute; ts += 1000) {
    batch.points.push_back({s, kT0 + ts, 2.0});
  }
  batch.committed = {{"c1", 42}};
  MustWrite(batch);
  MaintainAll(kT0 + 10 * kMinute + 10'000);
  const HistoryStats before = store_->Stats();
  Reopen();
  const HistoryStats after = store_->Stats();
  EXPECT_EQ(after.minute_rolled_until_ms, before.minute_rolled_until_ms);
  EXPECT_EQ(after.minute_rolled_until_ms, kT0 + 10 * kMinute);
  EXPECT_EQ(after.series, 1u);
  EXPECT_EQ(store_->HighestCommitted("c1"), 42u);
  EXPECT_EQ(MustQuery("m", "etcd-1", kT0, kT0 + 10 * kMinute - 1).points.size(), 600u);
  EXPECT_EQ(MustQuery("m", "etcd-1", kT0, kT0 + 10 * kMinute - 1, kMinute).points.size(), 10u);
  // Nothing left to do after the reopen.
  auto more = store_->Maintain(At(kT0 + 10 * kMinute + 10'000));
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
}

// A small budget spreads the work over several calls and gives the same result as one big call.
TEST_F(HistoryStoreTest, MaintainHonoursTheBudget) {
  constexpr int kSeries = 20;
  std::vector<SeriesId> ids;
  for (int i = 0; i < kSeries; ++i) {
    ids.push_back(MustSeries("m", "etcd-" + std::to_string(i)));
  }
  WriteBatch batch;
  for (int64_t ts = 0; ts < 3 * kHour; ts += 5000) {
    for (SeriesId id : ids) {
      batch.points.push_back({id, kT0 + ts, static_cast<double>(id)});
    }
  }
  MustWrite(batch);
  const int64_t now = kT0 + 3 * kHour + kMinute;
  int calls = 0;
  for (;; ++calls) {
    auto more = store_->Maintain(At(now), 500);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) {
      break;
    }
    ASSERT_LT(calls, 10000);
  }
  // 43,200 raw rows to roll up at about 500 rows per call.
  EXPECT_GT(calls, 80);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM points_1m"), kSeries * 180);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM points_1h"), kSeries * 3);
  EXPECT_EQ(Sql("SELECT SUM(count) FROM points_1h"), kSeries * 3 * 720);
}

// Queries run while another thread writes and a third maintains: no errors, and every answer
// is a consistent snapshot (the points of whole batches only).
TEST_F(HistoryStoreTest, ConcurrentQueriesDuringWrites) {
  constexpr int kBatches = 300;
  constexpr int kPointsPerBatch = 100;
  SeriesId s = MustSeries("m", "etcd-1");
  std::atomic<bool> done{false};
  std::atomic<int> write_errors{0};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      WriteBatch batch;
      for (int i = 0; i < kPointsPerBatch; ++i) {
        batch.points.push_back({s, kT0 + (b * kPointsPerBatch + i) * 100, 1.0});
      }
      batch.committed = {{"c1", static_cast<uint64_t>(b + 1)}};
      if (!store_->Write(batch).ok()) {
        ++write_errors;
      }
      if (b % 50 == 0 && !store_->Maintain(At(kT0 + b * kPointsPerBatch * 100)).ok()) {
        ++write_errors;
      }
    }
    done = true;
  });
  int queries = 0;
  int query_errors = 0;
  int torn = 0;
  while (!done || queries < 5) {
    auto result = store_->Query({"m", "etcd-1", kT0, kT0 + kBatches * kPointsPerBatch * 100, 1});
    ++queries;
    if (!result.ok()) {
      ++query_errors;
      continue;
    }
    uint64_t covered = 0;
    for (const HistoryPoint& p : result->points) {
      covered += p.count;
    }
    torn += covered % kPointsPerBatch != 0 ? 1 : 0;
  }
  writer.join();
  EXPECT_EQ(write_errors, 0);
  EXPECT_EQ(query_errors, 0);
  EXPECT_EQ(torn, 0);
  EXPECT_GT(queries, 5);
  EXPECT_EQ(store_->HighestCommitted("c1"), static_cast<uint64_t>(kBatches));
  HistoryResult all = MustQuery("m", "etcd-1", kT0, kT0 + kBatches * kPointsPerBatch * 100, 1);
  uint64_t covered = 0;
  for (const HistoryPoint& p : all.points) {
    covered += p.count;
  }
  EXPECT_EQ(covered, static_cast<uint64_t>(kBatches * kPointsPerBatch));
}

// A query over a range the roll-ups have only partly reached reads the rest from finer levels.
TEST_F(HistoryStoreTest, QueryReadsNotYetRolledUpDataFromFinerLevels) {
  SeriesId s = MustSeries("m", "etcd-1");
  WriteBatch batch;
  for (int64_t ts = 0; ts < 3 * kHour; ts += 10'000) {
    batch.points.push_back({s, kT0 + ts, 1.0});
  }
  MustWrite(batch);
  MaintainAll(kT0 + 90 * kMinute + 10'000);  // minutes up to 1:30, hours up to 1:00
  HistoryResult hours = MustQuery("m", "etcd-1", kT0, kT0 + 3 * kHour - 1, kHour);
  EXPECT_EQ(hours.resolution, "1h");
  ASSERT_EQ(hours.points.size(), 3u);
  for (const HistoryPoint& p : hours.points) {
    EXPECT_EQ(p.count, 360u);  // from 1h rows, then 1m rows, then raw points
  }
}

}  // namespace
}  // namespace etcdmon::aggregator
