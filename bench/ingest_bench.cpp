// Ingest throughput of the aggregator: N simulated collectors send SampleBatches over real
// ZeroMQ (loopback TCP) into a real AggregatorService writing SQLite; points/s is what the
// aggregator stored and acknowledged. Beside it, in the same run, the plain batched SQLite insert
// of the same rows (the same series and points per batch, into the store's own schema and
// pragmas, one prepared statement): one transaction per batch, and one per group of as many
// batches as the aggregator's group commit achieved with the same number of collectors.
//   ingest_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/aggregator/cluster_model.h"
#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/aggregator/service.h"
#include "etcdmon/transport/batch_sender.h"

namespace {

using namespace std::chrono_literals;
using etcdmon::aggregator::AggregatorConfig;
using etcdmon::aggregator::AggregatorService;
using etcdmon::aggregator::ClusterModel;
using etcdmon::aggregator::DerivedPoint;
using etcdmon::aggregator::HistoryConfig;
using etcdmon::aggregator::HistoryStore;
using etcdmon::aggregator::SeriesId;

constexpr int64_t kFirstSampleMs = 1700000000000;
// Batches per run, whatever the number of collectors.
constexpr int kBatchesPerRun = 2000;

// What BM_AggregatorIngest achieved per number of collectors, for the plain insert run after it:
// batches per ingest transaction, and points/s.
std::map<int, double> g_batches_per_commit;
std::map<int, double> g_aggregator_points_per_s;

// A sample the size of a real one: status, probes, the scalars collectors keep, two histograms.
etcdmonitor::v1::MemberSample MakeSample(int member, int64_t unix_ms) {
  etcdmonitor::v1::MemberSample s;
  s.set_endpoint("10.0.0." + std::to_string(member) + ":2379");
  s.set_member_name("etcd" + std::to_string(member));
  s.set_member_id(1000 + member);
  s.set_collected_at_unix_ms(unix_ms);
  s.set_reachable(true);
  auto* st = s.mutable_status();
  st->set_version("3.4.23");
  st->set_member_id(1000 + member);
  st->set_leader_id(1001);
  st->set_raft_term(5);
  st->set_raft_index(100000 + unix_ms / 1000);
  st->set_raft_applied_index(100000 + unix_ms / 1000);
  st->set_db_size(1 << 24);
  st->set_db_size_in_use(1 << 23);
  st->set_revision(50000);
  for (int kind = 1; kind <= 3; ++kind) {
    auto* p = s.add_probes();
    p->set_kind(static_cast<etcdmonitor::v1::Probe::Kind>(kind));
    p->set_ok(true);
    p->set_latency_us(800 + kind * 100);
  }
  const char* names[] = {"etcd_server_has_leader",
                         "etcd_server_leader_changes_seen_total",
                         "etcd_server_proposals_committed_total",
                         "etcd_server_proposals_applied_total",
                         "etcd_server_proposals_failed_total",
                         "etcd_server_proposals_pending",
                         "etcd_mvcc_db_total_size_in_bytes",
                         "etcd_mvcc_db_total_size_in_use_in_bytes",
                         "etcd_server_quota_backend_bytes",
                         "process_resident_memory_bytes",
                         "process_cpu_seconds_total",
                         "etcd_server_is_leader"};
  for (const char* name : names) {
    auto* m = s.add_scalars();
    m->set_name(name);
    m->set_value(static_cast<double>(unix_ms % 1000));
  }
  for (const char* method : {"Range", "Put", "Txn", "LeaseGrant"}) {
    for (const char* code : {"OK", "Unavailable"}) {
      auto* m = s.add_scalars();
      m->set_name("grpc_server_handled_total");
      auto* l1 = m->add_labels();
      l1->set_name("grpc_method");
      l1->set_value(method);
      auto* l2 = m->add_labels();
      l2->set_name("grpc_code");
      l2->set_value(code);
      m->set_value(static_cast<double>(unix_ms));
    }
  }
  for (const char* name :
       {"etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds"}) {
    auto* h = s.add_histograms();
    h->set_name(name);
    double bound = 0.001;
    uint64_t count = 0;
    for (int b = 0; b < 14; ++b, bound *= 2) {
      auto* bucket = h->add_buckets();
      bucket->set_upper_bound(bound);
      count += 10;
      bucket->set_cumulative_count(count);
    }
    auto* inf = h->add_buckets();
    inf->set_upper_bound(std::numeric_limits<double>::infinity());
    inf->set_cumulative_count(count);
    h->set_count(count);
    h->set_sum(1.5);
  }
  s.mutable_host()->set_memory_total_bytes(1ULL << 34);
  s.mutable_host()->set_memory_available_bytes(1ULL << 33);
  s.mutable_host()->set_disk_total_bytes(1ULL << 36);
  s.mutable_host()->set_disk_used_bytes(1ULL << 35);
  return s;
}

size_t PointsPerSample() {
  std::vector<DerivedPoint> points;
  ClusterModel::SamplePoints(MakeSample(1, 1700000000000), points);
  return points.size();
}

std::string TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ingest-bench-XXXXXX").string();
  return mkdtemp(pattern.data());
}

// N collectors each send `batches` batches as fast as the aggregator acknowledges them.
void BM_AggregatorIngest(benchmark::State& state) {
  const int collectors = static_cast<int>(state.range(0));
  const int batches = kBatchesPerRun / collectors;
  spdlog::set_level(spdlog::level::warn);
  const size_t points_per_batch = PointsPerSample();
  uint64_t stored = 0;
  uint64_t commits = 0;
  double seconds = 0;
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
    std::vector<std::unique_ptr<etcdmon::transport::BatchSender>> senders;
    for (int c = 0; c < collectors; ++c) {
      etcdmon::transport::BatchSenderOptions o;
      o.aggregator_endpoint = (*aggregator)->ingest_endpoint();
      o.collector_id = "bench-" + std::to_string(c);
      o.sequence_state_path = dir + "/" + o.collector_id + ".seq";
      auto sender = etcdmon::transport::BatchSender::Create(o);
      if (!sender.ok() || !(*sender)->Start().ok()) {
        state.SkipWithError("sender did not start");
        return;
      }
      senders.push_back(std::move(sender).value());
    }
    // Built outside the timed part: only serialization, delivery and storage are measured.
    std::vector<etcdmonitor::v1::SampleBatch> prepared(static_cast<size_t>(batches) * collectors);
    for (int b = 0; b < batches; ++b) {
      for (int c = 0; c < collectors; ++c) {
        *prepared[static_cast<size_t>(b) * collectors + c].add_samples() =
            MakeSample(c, kFirstSampleMs + b * 1000);
      }
    }
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    const uint64_t before = (*aggregator)->Stats().batches_stored;
    const uint64_t commits_before = (*aggregator)->Stats().ingest_commits;
    for (int b = 0; b < batches; ++b) {
      for (int c = 0; c < collectors; ++c) {
        (void)senders[c]->Enqueue(prepared[static_cast<size_t>(b) * collectors + c]);
      }
    }
    const uint64_t want = before + static_cast<uint64_t>(batches) * collectors;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while ((*aggregator)->Stats().batches_stored < want &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stored += (*aggregator)->Stats().batches_stored - before;
    commits += (*aggregator)->Stats().ingest_commits - commits_before;
    state.PauseTiming();
    senders.clear();
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
    ClusterModel::SamplePoints(MakeSample(c, kFirstSampleMs), points);
    for (const DerivedPoint& p : points) {
      auto series = store.Series(p.metric, p.member);
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

// The same rows as BM_AggregatorIngest (`collectors` collectors, batches interleaved as they
// send them) into a file created by HistoryStore::Open, through one prepared statement (the
// store's own upsert) on a connection with the store's pragmas. A transaction covers one batch,
// or `group` batches when `per_group` (the aggregator's measured batches per commit).
void PlainInsert(benchmark::State& state, bool per_group) {
  const int collectors = static_cast<int>(state.range(0));
  const int batches = kBatchesPerRun / collectors;
  int group = 1;
  if (per_group) {
    auto measured = g_batches_per_commit.find(collectors);
    group = measured == g_batches_per_commit.end()
                ? 1
                : std::max(1, static_cast<int>(std::lround(measured->second)));
  }
  uint64_t rows_written = 0;
  double seconds = 0;
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
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    int in_transaction = 0;
    for (int b = 0; b < batches; ++b) {
      for (int c = 0; c < collectors; ++c) {
        if (in_transaction == 0) {
          sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
        }
        for (const Row& row : rows[c]) {
          sqlite3_bind_int64(insert, 1, row.series);
          sqlite3_bind_int64(insert, 2, kFirstSampleMs + b * 1000);
          sqlite3_bind_double(insert, 3, row.value);
          if (sqlite3_step(insert) != SQLITE_DONE) {
            std::abort();
          }
          sqlite3_reset(insert);
        }
        rows_written += rows[c].size();
        if (++in_transaction == group) {
          sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
          in_transaction = 0;
        }
      }
    }
    if (in_transaction > 0) {
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
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
}

void BM_PlainInsertPerBatch(benchmark::State& state) { PlainInsert(state, false); }
void BM_PlainInsertPerGroup(benchmark::State& state) { PlainInsert(state, true); }

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

}  // namespace

BENCHMARK_MAIN();
