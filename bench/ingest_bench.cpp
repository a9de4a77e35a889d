// Ingest throughput of the aggregator: N simulated collectors send SampleBatches over real
// ZeroMQ (loopback TCP) into a real AggregatorService writing SQLite; points/s is what the
// aggregator stored and acknowledged. The collectors run in another process (ingest_sender, next
// to this binary), with one acknowledged warm-up batch each and every other batch serialized
// and queued before the clock starts, so the figure is the aggregator's own work: receiving,
// parsing, deriving points, storing, acking and the model.
// Beside it, in the same run, the plain batched SQLite insert of the same rows (the same series
// and points per batch, into the store's own schema and pragmas, one prepared statement): one
// transaction per batch; one per group of as many batches as the aggregator's group commit
// achieved with the same number of collectors; and the same groups with their rows in key
// order, as the store writes them. aggregator_share is the aggregator's points/s over each;
// aggregator_cpu_share the same per CPU second of each process (steadier on a shared machine).
// BM_ValidateBatch: the per-batch checks the receiver runs on every batch before staging it
// (transport::ValidateBatch), on a typical batch of 3 member samples.
//   ingest_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/aggregator/cluster_model.h"
#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/aggregator/service.h"
#include "etcdmon/transport/batch_validation.h"
#include "ingest_sample.h"

namespace {

using namespace std::chrono_literals;
using etcdmon::aggregator::AggregatorConfig;
using etcdmon::aggregator::AggregatorService;
using etcdmon::aggregator::ClusterModel;
using etcdmon::aggregator::DerivedPoint;
using etcdmon::aggregator::HistoryConfig;
using etcdmon::aggregator::HistoryStore;
using etcdmon::aggregator::SeriesId;

using etcdmon::bench::FirstSampleMs;
using etcdmon::bench::MakeSample;

// Batches per run, whatever the number of collectors.
constexpr int kBatchesPerRun = 6000;

// What BM_AggregatorIngest achieved per number of collectors, for the plain insert run after it:
// batches per ingest transaction, and points/s.
std::map<int, double> g_batches_per_commit;
std::map<int, double> g_aggregator_points_per_s;
std::map<int, double> g_aggregator_points_per_cpu_s;

size_t PointsPerSample() {
  std::vector<DerivedPoint> points;
  ClusterModel::SamplePoints(MakeSample(1, FirstSampleMs()), points);
  return points.size();
}

// CPU seconds of this whole process (every thread): the aggregator's work whatever else the
// machine runs, so a share in CPU stays meaningful on a busy machine, where wall time is not.
double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::string TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ingest-bench-XXXXXX").string();
  return mkdtemp(pattern.data());
}

// The simulated collectors' process (ingest_sender): started with pipes on its stdin and stdout.
// Closing its stdin ends it.
class SenderProcess {
 public:
  SenderProcess() = default;
  SenderProcess(const SenderProcess&) = delete;
  SenderProcess& operator=(const SenderProcess&) = delete;
  ~SenderProcess() { Finish(); }

  // Starts ingest_sender (next to this binary) and waits for its "ready": every batch is queued.
  bool Start(const std::string& endpoint, int collectors, int batches, int64_t first_ms,
             const std::string& dir) {
    const std::string binary =
        (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "ingest_sender").string();
    int to_child[2];
    int from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
      return false;
    }
    const std::string collectors_arg = std::to_string(collectors);
    const std::string batches_arg = std::to_string(batches);
    const std::string first_ms_arg = std::to_string(first_ms);
    pid_ = fork();
    if (pid_ < 0) {
      return false;
    }
    if (pid_ == 0) {
      dup2(to_child[0], STDIN_FILENO);
      dup2(from_child[1], STDOUT_FILENO);
      close(to_child[0]);
      close(to_child[1]);
      close(from_child[0]);
      close(from_child[1]);
      execl(binary.c_str(), binary.c_str(), endpoint.c_str(), collectors_arg.c_str(),
            batches_arg.c_str(), first_ms_arg.c_str(), dir.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    to_child_ = fdopen(to_child[1], "w");
    from_child_ = fdopen(from_child[0], "r");
    char line[64] = {};
    return to_child_ != nullptr && from_child_ != nullptr &&
           fgets(line, sizeof(line), from_child_) != nullptr && std::string(line) == "ready\n";
  }

  // The senders start sending.
  bool Go() { return fputs("go\n", to_child_) >= 0 && fflush(to_child_) == 0; }

  // Ends the process (closing its stdin) and reaps it; true when it exited with 0.
  bool Finish() {
    if (to_child_ != nullptr) {
      fclose(to_child_);
      to_child_ = nullptr;
    }
    if (from_child_ != nullptr) {
      fclose(from_child_);
      from_child_ = nullptr;
    }
    if (pid_ <= 0) {
      return true;
    }
    int status = 0;
    const bool reaped = waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    return reaped && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  pid_t pid_ = -1;
  FILE* to_child_ = nullptr;
  FILE* from_child_ = nullptr;
};

// N collectors each send `batches` batches as fast as the aggregator acknowledges them.
void BM_AggregatorIngest(benchmark::State& state) {
  const int collectors = static_cast<int>(state.range(0));
  const int batches = kBatchesPerRun / collectors;
  spdlog::set_level(spdlog::level::warn);
  const size_t points_per_batch = PointsPerSample();
  uint64_t stored = 0;
  uint64_t commits = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // the aggregator's threads, not the senders' process
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = TempDir();
    AggregatorConfig config;
    config.ingest_endpoint = "tcp://127.0.0.1:0";
    config.publish_endpoint = "tcp://127.0.0.1:0";
    config.grpc_address = "127.0.0.1:0";
    config.history.path = dir + "/history.db";
    auto aggregator = AggregatorService::Create(config, nullptr);
    if (!aggregator.ok() || !(*aggregator)->Start().ok()) {
      state.SkipWithError("aggregator did not start");
      return;
    }
    SenderProcess senders;
    // The samples are one second apart and must all be in the past: the ingest refuses samples
    // dated beyond its clock-skew bound (5 min), and a run holds more than 5 min of them.
    const int64_t first_ms = FirstSampleMs() - (int64_t{batches} + 2) * 1000;
    if (!senders.Start((*aggregator)->ingest_endpoint(), collectors, batches, first_ms, dir)) {
      state.SkipWithError("ingest_sender did not start");
      return;
    }
    const uint64_t before = (*aggregator)->Stats().batches_stored;
    const uint64_t commits_before = (*aggregator)->Stats().ingest_commits;
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = ProcessCpuSeconds();
    if (!senders.Go()) {
      state.SkipWithError("ingest_sender did not take \"go\"");
      return;
    }
    const uint64_t want = before + static_cast<uint64_t>(batches) * collectors;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while ((*aggregator)->Stats().batches_stored < want &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cpu_seconds += ProcessCpuSeconds() - cpu_start;
    if ((*aggregator)->Stats().batches_stored < want) {
      state.SkipWithError("the aggregator did not store every batch within 120 s");
      return;
    }
    stored += (*aggregator)->Stats().batches_stored - before;
    commits += (*aggregator)->Stats().ingest_commits - commits_before;
    state.PauseTiming();
    if (!senders.Finish()) {
      state.SkipWithError("ingest_sender failed");
      return;
    }
    (*aggregator)->Stop();
    aggregator->reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["points_per_s"] = benchmark::Counter(
      static_cast<double>(stored * points_per_batch), benchmark::Counter::kIsRate);
  state.counters["batches_per_s"] =
      benchmark::Counter(static_cast<double>(stored), benchmark::Counter::kIsRate);
  state.counters["points_per_batch"] = static_cast<double>(points_per_batch);
  const double per_commit = commits == 0 ? 1.0 : static_cast<double>(stored) / commits;
  state.counters["batches_per_commit"] = per_commit;
  g_batches_per_commit[collectors] = per_commit;
  g_aggregator_points_per_s[collectors] =
      seconds > 0 ? static_cast<double>(stored * points_per_batch) / seconds : 0;
  const double per_cpu_s =
      cpu_seconds > 0 ? static_cast<double>(stored * points_per_batch) / cpu_seconds : 0;
  state.counters["points_per_cpu_s"] = per_cpu_s;
  g_aggregator_points_per_cpu_s[collectors] = per_cpu_s;
}
BENCHMARK(BM_AggregatorIngest)
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

// One stored row of a batch; the timestamp is the batch's.
struct Row {
  SeriesId series;
  double value;
};

// Per collector, the rows the aggregator stores for one of its batches: the points derived from
// the sample, with the series ids the store assigned (created through the store).
std::vector<std::vector<Row>> CollectorRows(HistoryStore& store, int collectors) {
  std::vector<std::vector<Row>> rows(collectors);
  std::vector<DerivedPoint> points;
  for (int c = 0; c < collectors; ++c) {
    points.clear();
    ClusterModel::SamplePoints(MakeSample(c, FirstSampleMs()), points);
    for (const DerivedPoint& p : points) {
      auto series = store.Series("default", p.metric, p.member);
      if (!series.ok()) {
        std::abort();
      }
      if (std::isfinite(p.value)) {  // the store skips the others too
        rows[c].push_back({*series, p.value});
      }
    }
  }
  return rows;
}

// How the plain insert groups and orders its rows.
enum class Grouping {
  kPerBatch,          // one transaction per batch
  kPerGroup,          // one per group of the aggregator's measured batches per commit
  kPerGroupKeyOrder,  // the same groups, each group's rows sorted by key first (as the store
                      // writes them)
};

// The same rows as BM_AggregatorIngest (`collectors` collectors, batches interleaved as they
// send them) into a file created by HistoryStore::Open, through one prepared statement (the
// store's own upsert) on a connection with the store's pragmas, grouped per `grouping`.
void PlainInsert(benchmark::State& state, Grouping grouping) {
  const int collectors = static_cast<int>(state.range(0));
  const int batches = kBatchesPerRun / collectors;
  int group = 1;
  if (grouping != Grouping::kPerBatch) {
    auto measured = g_batches_per_commit.find(collectors);
    group = measured == g_batches_per_commit.end()
                ? 1
                : std::max(1, static_cast<int>(std::lround(measured->second)));
  }
  struct KeyedRow {
    SeriesId series;
    int64_t ts;
    double value;
  };
  std::vector<KeyedRow> group_rows;  // kPerGroupKeyOrder: the open group's rows
  auto insert_row = [](sqlite3_stmt* insert, SeriesId series, int64_t ts, double value) {
    sqlite3_bind_int64(insert, 1, series);
    sqlite3_bind_int64(insert, 2, ts);
    sqlite3_bind_double(insert, 3, value);
    if (sqlite3_step(insert) != SQLITE_DONE) {
      std::abort();
    }
    sqlite3_reset(insert);
  };
  auto insert_group_rows = [&](sqlite3_stmt* insert) {
    std::sort(group_rows.begin(), group_rows.end(), [](const KeyedRow& a, const KeyedRow& b) {
      return a.series != b.series ? a.series < b.series : a.ts < b.ts;
    });
    for (const KeyedRow& row : group_rows) {
      insert_row(insert, row.series, row.ts, row.value);
    }
    group_rows.clear();
  };
  uint64_t rows_written = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = TempDir();
    HistoryConfig config;
    config.path = dir + "/history.db";
    std::vector<std::vector<Row>> rows;
    {
      auto store = HistoryStore::Open(config);
      if (!store.ok()) {
        state.SkipWithError("cannot open the history store");
        return;
      }
      rows = CollectorRows(**store, collectors);
    }
    sqlite3* db = nullptr;
    if (sqlite3_open(config.path.c_str(), &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA synchronous=NORMAL; PRAGMA secure_delete=OFF;"
                     "PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-65536;"
                     "PRAGMA wal_autocheckpoint=10000; PRAGMA journal_mode=WAL;",
                     nullptr, nullptr, nullptr) != SQLITE_OK) {
      state.SkipWithError("cannot open the file");
      return;
    }
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT INTO points_raw (series, ts, value) VALUES (?1, ?2, ?3)"
                       " ON CONFLICT (series, ts) DO UPDATE SET value = excluded.value",
                       -1, &insert, nullptr);
    const int64_t first_ms = FirstSampleMs();
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = ProcessCpuSeconds();
    int in_transaction = 0;
    for (int b = 0; b < batches; ++b) {
      for (int c = 0; c < collectors; ++c) {
        if (in_transaction == 0) {
          sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        }
        const int64_t ts = first_ms + int64_t{b} * 1000;
        for (const Row& row : rows[c]) {
          if (grouping == Grouping::kPerGroupKeyOrder) {
            group_rows.push_back({row.series, ts, row.value});
          } else {
            insert_row(insert, row.series, ts, row.value);
          }
        }
        rows_written += rows[c].size();
        if (++in_transaction == group) {
          insert_group_rows(insert);
          sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
          in_transaction = 0;
        }
      }
    }
    if (in_transaction > 0) {
      insert_group_rows(insert);
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    cpu_seconds += ProcessCpuSeconds() - cpu_start;
    state.PauseTiming();
    sqlite3_finalize(insert);
    sqlite3_close(db);
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["points_per_s"] =
      benchmark::Counter(static_cast<double>(rows_written), benchmark::Counter::kIsRate);
  state.counters["batches_per_txn"] = group;
  // The aggregator's points/s as a share of this run's (1 = as fast as the plain insert).
  auto aggregator = g_aggregator_points_per_s.find(collectors);
  if (aggregator != g_aggregator_points_per_s.end() && rows_written > 0) {
    state.counters["aggregator_share"] =
        aggregator->second / (static_cast<double>(rows_written) / seconds);
  }
  // The same in CPU: points per CPU second of the aggregator's process (receiving, parsing,
  // the model, storing, maintenance) over this insert's points per CPU second.
  const double per_cpu_s = cpu_seconds > 0 ? static_cast<double>(rows_written) / cpu_seconds : 0;
  state.counters["points_per_cpu_s"] = per_cpu_s;
  auto aggregator_cpu = g_aggregator_points_per_cpu_s.find(collectors);
  if (aggregator_cpu != g_aggregator_points_per_cpu_s.end() && per_cpu_s > 0) {
    state.counters["aggregator_cpu_share"] = aggregator_cpu->second / per_cpu_s;
  }
}

void BM_PlainInsertPerBatch(benchmark::State& state) { PlainInsert(state, Grouping::kPerBatch); }
void BM_PlainInsertPerGroup(benchmark::State& state) { PlainInsert(state, Grouping::kPerGroup); }
void BM_PlainInsertPerGroupKeyOrder(benchmark::State& state) {
  PlainInsert(state, Grouping::kPerGroupKeyOrder);
}

void BM_ValidateBatch(benchmark::State& state) {
  const int64_t now = etcdmon::bench::FirstSampleMs();
  etcdmonitor::v1::SampleBatch batch;
  batch.set_schema_version(1);
  batch.set_collector_id("collector-etcd1.example.com");
  batch.set_sequence(static_cast<uint64_t>(now) * 1000);
  batch.set_sent_at_unix_ms(now);
  for (int member = 0; member < 3; ++member) {
    *batch.add_samples() = etcdmon::bench::MakeSample(member, now - 1000);
  }
  const etcdmon::transport::BatchLimits limits;
  for (auto _ : state) {
    etcdmon::transport::BatchVerdict verdict =
        etcdmon::transport::ValidateBatch(batch, limits, now);
    benchmark::DoNotOptimize(verdict);
    if (!verdict.ok()) {
      state.SkipWithError(verdict.detail.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch.ByteSizeLong()));
}
BENCHMARK(BM_ValidateBatch);

// After BM_AggregatorIngest (registration order), so the group size is the measured one.
BENCHMARK(BM_PlainInsertPerBatch)
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK(BM_PlainInsertPerGroup)
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK(BM_PlainInsertPerGroupKeyOrder)
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
