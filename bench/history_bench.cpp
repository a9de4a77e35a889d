// The aggregator's SQLite history (HistoryStore).
//
// Write: points/s through HistoryStore::Write with batches shaped like a collector's sample
// (300 points of one member at one timestamp, plus its committed marker; 5 members, so 1,500
// series), beside the baseline in the same run: a plain batched SQLite insert of the same rows
// into the same schema (one transaction per batch, one prepared INSERT, WAL +
// synchronous=NORMAL), once with SQLite's default cache and once with the store's writer
// pragmas. Each at 1 and at 20 samples per transaction.
//
// Query: one metric of 5 members sampled every second, written through the store for 7 days
// with maintenance running as it does in the aggregator (roll-ups, raw kept 24 h). One
// iteration queries all 5 members: over the last 24 h without a step (the REST API without
// `step`: raw, ≈ 430k stored points, merged into ≤ max_points buckets), over the last 24 h at
// the console's step (5 min: the 1 min roll-ups) and over 7 days (the 1 min roll-ups).
// s_per_query is the time of one series' query.
//
// Fleet: 100 clusters of 5 members, each with 2 cluster-wide series and a per-member one,
// a point every 10 min for 7 days, written through the store and rolled up by Maintain (one call
// per simulated hour, until no work is left). One iteration is a fleet overview: per cluster its
// cluster-wide etcd_cluster_healthy over 7 days at step 1 h (the 1 h roll-ups), 100 queries.
//   history_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/aggregator/history_store.h"

namespace {

using etcdmon::Result;
using etcdmon::Status;
using etcdmon::aggregator::HistoryConfig;
using etcdmon::aggregator::HistoryQuery;
using etcdmon::aggregator::HistoryResult;
using etcdmon::aggregator::HistoryStore;
using etcdmon::aggregator::PointRecord;
using etcdmon::aggregator::SeriesId;
using etcdmon::aggregator::WriteBatch;

constexpr int kMembers = 5;
constexpr int kMetricsPerMember = 300;  // a collector's sample: ~300 points of one member
constexpr int kSamplesPerIteration = 2000;
constexpr int64_t kStartMs = 1700000000000;

// A directory removed with its content at the end of the scope.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcdmon_history_bench.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void Check(const Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
    std::abort();
  }
}

template <typename T>
T Unwrap(Result<T> result, const char* what) {
  Check(result.status(), what);
  return std::move(result).value();
}

// A history file with every series created, and the batches to write: sample k is member
// k % kMembers at second k / kMembers, one point per metric of that member; each batch holds
// `group` consecutive samples (1: one collector batch per transaction).
struct WriteWorkload {
  WriteWorkload(const std::string& path, int group) {
    HistoryConfig config;
    config.path = path;
    std::unique_ptr<HistoryStore> store = Unwrap(HistoryStore::Open(config), "open");
    std::vector<SeriesId> ids;
    for (int member = 0; member < kMembers; ++member) {
      for (int metric = 0; metric < kMetricsPerMember; ++metric) {
        ids.push_back(Unwrap(store->Series("default", "etcd_metric_" + std::to_string(metric),
                                           "etcd-" + std::to_string(member)),
                             "series"));
      }
    }
    batches.resize(kSamplesPerIteration / group);
    for (int k = 0; k < kSamplesPerIteration; ++k) {
      WriteBatch& batch = batches[k / group];
      const int member = k % kMembers;
      const int64_t ts = kStartMs + (k / kMembers) * 1000;
      for (int metric = 0; metric < kMetricsPerMember; ++metric) {
        batch.points.push_back(
            {ids[member * kMetricsPerMember + metric], ts, 1000.0 + metric * 0.25 + k});
      }
      batch.committed.push_back(
          {"collector-" + std::to_string(member), static_cast<uint64_t>(k + 1)});
    }
  }

  std::vector<WriteBatch> batches;
};

void BM_HistoryStoreWrite(benchmark::State& state) {
  int64_t points = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      ScratchDir dir;
      const std::string path = dir.File("history.db");
      WriteWorkload workload(path, static_cast<int>(state.range(0)));
      HistoryConfig config;
      config.path = path;
      std::unique_ptr<HistoryStore> store = Unwrap(HistoryStore::Open(config), "open");
      state.ResumeTiming();
      for (const WriteBatch& batch : workload.batches) {
        Check(store->Write(batch), "write");
        points += static_cast<int64_t>(batch.points.size());
      }
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  state.counters["points_per_s"] =
      benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}

// The baseline: the same rows into the same table with the bare C API. `store_pragmas` gives
// the connection the store's writer cache and checkpoint settings; otherwise SQLite's defaults.
void PlainInsert(benchmark::State& state, bool store_pragmas) {
  int64_t points = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      ScratchDir dir;
      const std::string path = dir.File("history.db");
      // Creates the schema and the series through the store.
      WriteWorkload workload(path, static_cast<int>(state.range(0)));
      sqlite3* db = nullptr;
      if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
        std::abort();
      }
      std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
      if (store_pragmas) {
        pragmas +=
            "PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=10000;"
            "PRAGMA secure_delete=OFF;";
      }
      sqlite3_exec(db, pragmas.c_str(), nullptr, nullptr, nullptr);
      sqlite3_stmt* insert = nullptr;
      sqlite3_prepare_v2(db, "INSERT INTO points_raw (series, ts, value) VALUES (?1, ?2, ?3)", -1,
                         &insert, nullptr);
      state.ResumeTiming();
      for (const WriteBatch& batch : workload.batches) {
        sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        for (const PointRecord& p : batch.points) {
          sqlite3_bind_int64(insert, 1, p.series);
          sqlite3_bind_int64(insert, 2, p.unix_ms);
          sqlite3_bind_double(insert, 3, p.value);
          if (sqlite3_step(insert) != SQLITE_DONE) {
            std::abort();
          }
          sqlite3_reset(insert);
        }
        if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
          std::abort();
        }
        points += static_cast<int64_t>(batch.points.size());
      }
      state.PauseTiming();
      sqlite3_finalize(insert);
      sqlite3_close(db);
    }
    state.ResumeTiming();
  }
  state.counters["points_per_s"] =
      benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}

void BM_PlainSqliteInsert(benchmark::State& state) { PlainInsert(state, false); }
void BM_PlainSqliteInsertStorePragmas(benchmark::State& state) { PlainInsert(state, true); }

// The argument is the number of collector samples per transaction: 1 as the aggregator writes
// today, 20 for a grouped commit of what queued up meanwhile.
BENCHMARK(BM_HistoryStoreWrite)
    ->Arg(1)
    ->Arg(20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);
BENCHMARK(BM_PlainSqliteInsert)
    ->Arg(1)
    ->Arg(20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);
BENCHMARK(BM_PlainSqliteInsertStorePragmas)
    ->Arg(1)
    ->Arg(20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);

// Seven days of one metric for 5 members at 1 s, built once per process through Write and
// Maintain (one maintenance call per simulated minute, as the tick would).
class QueryFixture {
 public:
  static QueryFixture& Get() {
    static QueryFixture fixture;
    return fixture;
  }

  const HistoryStore& store() const { return *store_; }
  int64_t end_ms() const { return end_ms_; }

 private:
  QueryFixture() {
    HistoryConfig config;
    config.path = dir_.File("history.db");
    store_ = Unwrap(HistoryStore::Open(config), "open");
    std::vector<SeriesId> ids;
    for (int member = 0; member < kMembers; ++member) {
      ids.push_back(
          Unwrap(store_->Series("default", "etcd_disk_wal_fsync_duration_p99_milliseconds",
                                "etcd-" + std::to_string(member)),
                 "series"));
    }
    const auto start = std::chrono::steady_clock::now();
    const int64_t seconds = 7 * 24 * 3600;
    WriteBatch batch;
    for (int64_t minute = 0; minute < seconds / 60; ++minute) {
      batch.points.clear();
      for (int64_t s = minute * 60; s < (minute + 1) * 60; ++s) {
        for (int member = 0; member < kMembers; ++member) {
          const double value = 2.0 + member + static_cast<double>((s * 7919) % 1000) / 250.0;
          batch.points.push_back({ids[member], kStartMs + s * 1000, value});
        }
      }
      Check(store_->Write(batch), "write");
      const auto now = std::chrono::system_clock::time_point(
          std::chrono::milliseconds(kStartMs + (minute + 1) * 60'000));
      while (Unwrap(store_->Maintain(now), "maintain")) {
      }
    }
    // Queries end at the last maintenance time, as "the last 24 h" asked at that moment would.
    end_ms_ = kStartMs + seconds * 1000;
    std::fprintf(stderr, "query fixture: 7 days x %d members at 1 s written in %.1f s\n", kMembers,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  ScratchDir dir_;
  std::unique_ptr<HistoryStore> store_;
  int64_t end_ms_ = 0;
};

void QueryAllMembers(benchmark::State& state, int64_t range_ms, int64_t step_ms) {
  const QueryFixture& fixture = QueryFixture::Get();
  size_t points = 0;
  uint64_t covered = 0;
  std::string resolution;
  for (auto _ : state) {
    points = 0;
    covered = 0;
    for (int member = 0; member < kMembers; ++member) {
      HistoryQuery query;
      query.metric = "etcd_disk_wal_fsync_duration_p99_milliseconds";
      query.member = "etcd-" + std::to_string(member);
      query.from_unix_ms = fixture.end_ms() - range_ms;
      query.to_unix_ms = fixture.end_ms();
      query.step_ms = step_ms;
      HistoryResult result = Unwrap(fixture.store().Query(query), "query");
      points += result.points.size();
      for (const auto& p : result.points) {
        covered += p.count;
      }
      resolution = result.resolution;
      benchmark::DoNotOptimize(result);
    }
  }
  state.counters["points_returned"] = static_cast<double>(points);
  state.counters["stored_points_covered"] = static_cast<double>(covered);
  state.counters["s_per_query"] = benchmark::Counter(
      kMembers, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetLabel("5 queries, resolution " + resolution);
}

constexpr int64_t kHourMs = 3600 * 1000LL;

void BM_Query24hFiveMembers(benchmark::State& state) { QueryAllMembers(state, 24 * kHourMs, 0); }
// gateway/web/app.js asks 24 h at step 5m.
void BM_Query24hFiveMembersStep5m(benchmark::State& state) {
  QueryAllMembers(state, 24 * kHourMs, 5 * 60 * 1000);
}
void BM_Query7dFiveMembers(benchmark::State& state) { QueryAllMembers(state, 7 * 24 * kHourMs, 0); }

BENCHMARK(BM_Query24hFiveMembers)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Query24hFiveMembersStep5m)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Query7dFiveMembers)->Unit(benchmark::kMillisecond)->UseRealTime();

constexpr int kFleetClusters = 100;
constexpr int64_t kFleetIntervalMs = 10 * 60 * 1000;
constexpr const char* kFleetHealthy = "etcd_cluster_healthy";
constexpr const char* kFleetDbSize = "etcd_mvcc_db_total_size_in_bytes";

std::string FleetCluster(int cluster) {
  char name[16];
  std::snprintf(name, sizeof(name), "fleet-%03d", cluster);
  return name;
}

// Seven days of 100 clusters (2 cluster-wide series and one per member each), a point every
// 10 min, built once per process through Write and Maintain.
class FleetFixture {
 public:
  static FleetFixture& Get() {
    static FleetFixture fixture;
    return fixture;
  }

  const HistoryStore& store() const { return *store_; }
  int64_t end_ms() const { return end_ms_; }

 private:
  FleetFixture() {
    HistoryConfig config;
    config.path = dir_.File("history.db");
    store_ = Unwrap(HistoryStore::Open(config), "open");
    struct Series {
      SeriesId id;
      int kind;  // 0: healthy, 1: cluster db size, 2: member db size
    };
    std::vector<Series> series;
    for (int cluster = 0; cluster < kFleetClusters; ++cluster) {
      const std::string name = FleetCluster(cluster);
      series.push_back({Unwrap(store_->Series(name, kFleetHealthy, ""), "series"), 0});
      series.push_back({Unwrap(store_->Series(name, kFleetDbSize, ""), "series"), 1});
      for (int member = 0; member < kMembers; ++member) {
        series.push_back(
            {Unwrap(store_->Series(name, kFleetDbSize, "etcd-" + std::to_string(member)), "series"),
             2});
      }
    }
    const auto start = std::chrono::steady_clock::now();
    const int64_t hours = 7 * 24;
    const int64_t per_hour = kHourMs / kFleetIntervalMs;
    WriteBatch batch;
    for (int64_t hour = 0; hour < hours; ++hour) {
      batch.points.clear();
      for (int64_t i = hour * per_hour; i < (hour + 1) * per_hour; ++i) {
        for (size_t s = 0; s < series.size(); ++s) {
          const double value = series[s].kind == 0
                                   ? ((i + static_cast<int64_t>(s)) % 97 == 0 ? 0.0 : 1.0)
                                   : 1e8 + static_cast<double>(((i + 1) * (s + 13)) % 5000) * 1e4;
          batch.points.push_back({series[s].id, kStartMs + i * kFleetIntervalMs, value});
        }
      }
      Check(store_->Write(batch), "write");
      const auto now = std::chrono::system_clock::time_point(
          std::chrono::milliseconds(kStartMs + (hour + 1) * kHourMs));
      while (Unwrap(store_->Maintain(now), "maintain")) {
      }
    }
    end_ms_ = kStartMs + hours * kHourMs;
    std::fprintf(stderr, "fleet fixture: 7 days x %d clusters (%zu series) written in %.1f s\n",
                 kFleetClusters, series.size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  ScratchDir dir_;
  std::unique_ptr<HistoryStore> store_;
  int64_t end_ms_ = 0;
};

// A fleet overview: every cluster's health over 7 days at step 1 h.
void BM_Fleet7dHealthy100Clusters(benchmark::State& state) {
  const FleetFixture& fixture = FleetFixture::Get();
  size_t points = 0;
  std::string resolution;
  for (auto _ : state) {
    points = 0;
    for (int cluster = 0; cluster < kFleetClusters; ++cluster) {
      HistoryQuery query;
      query.cluster = FleetCluster(cluster);
      query.metric = kFleetHealthy;
      query.member = "";
      query.from_unix_ms = fixture.end_ms() - 7 * 24 * kHourMs;
      query.to_unix_ms = fixture.end_ms();
      query.step_ms = kHourMs;
      HistoryResult result = Unwrap(fixture.store().Query(query), "query");
      points += result.points.size();
      resolution = result.resolution;
      benchmark::DoNotOptimize(result);
    }
  }
  state.counters["points_returned"] = static_cast<double>(points);
  state.counters["s_per_query"] = benchmark::Counter(
      kFleetClusters, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.SetLabel("100 queries, resolution " + resolution);
}

BENCHMARK(BM_Fleet7dHealthy100Clusters)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
