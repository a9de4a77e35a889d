// Ingest throughput of the aggregator: N simulated collectors send SampleBatches over real
// ZeroMQ (loopback TCP) into a real AggregatorService writing SQLite; points/s is what the
// aggregator stored and acknowledged. Beside it, in the same run, the plain batched SQLite insert
// of the same rows (one transaction per batch, prepared statement), as the ceiling to compare to.
//   ingest_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/aggregator/cluster_model.h"
#include "etcdmon/aggregator/service.h"
#include "etcdmon/transport/batch_sender.h"

namespace {

using namespace std::chrono_literals;
using etcdmon::aggregator::AggregatorConfig;
using etcdmon::aggregator::AggregatorService;
using etcdmon::aggregator::ClusterModel;
using etcdmon::aggregator::DerivedPoint;

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
  const char* names[] = {"etcd_server_has_leader", "etcd_server_leader_changes_seen_total",
                         "etcd_server_proposals_committed_total",
                         "etcd_server_proposals_applied_total",
                         "etcd_server_proposals_failed_total", "etcd_server_proposals_pending",
                         "etcd_mvcc_db_total_size_in_bytes",
                         "etcd_mvcc_db_total_size_in_use_in_bytes",
                         "etcd_server_quota_backend_bytes", "process_resident_memory_bytes",
                         "process_cpu_seconds_total", "etcd_server_is_leader"};
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
  const int batches = 2000 / collectors;
  spdlog::set_level(spdlog::level::warn);
  const size_t points_per_batch = PointsPerSample();
  uint64_t stored = 0;
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
    // Prepared outside the timed part: only delivery and storage are measured.
    std::vector<etcdmonitor::v1::SampleBatch> prepared(batches);
    state.ResumeTiming();
    const uint64_t before = (*aggregator)->Stats().batches_stored;
    for (int b = 0; b < batches; ++b) {
      for (int c = 0; c < collectors; ++c) {
        etcdmonitor::v1::SampleBatch batch;
        *batch.add_samples() = MakeSample(c, 1700000000000 + b * 1000);
        (void)senders[c]->Enqueue(batch);
      }
    }
    const uint64_t want = before + static_cast<uint64_t>(batches) * collectors;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while ((*aggregator)->Stats().batches_stored < want &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    stored += (*aggregator)->Stats().batches_stored - before;
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
}
BENCHMARK(BM_AggregatorIngest)->Arg(1)->Arg(4)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// The ceiling: the same rows (points_per_batch per transaction) through one prepared INSERT into
// a (series, ts) WITHOUT ROWID table, WAL, synchronous=NORMAL.
void BM_PlainSqliteInsert(benchmark::State& state) {
  const size_t points_per_batch = PointsPerSample();
  const int batches = 2000;
  uint64_t rows = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string dir = TempDir();
    sqlite3* db = nullptr;
    sqlite3_open((dir + "/plain.db").c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 "CREATE TABLE p(series INTEGER, ts INTEGER, value REAL,"
                 " PRIMARY KEY(series, ts)) WITHOUT ROWID;",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO p VALUES(?, ?, ?)", -1, &insert, nullptr);
    state.ResumeTiming();
    for (int b = 0; b < batches; ++b) {
      sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
      for (size_t i = 0; i < points_per_batch; ++i) {
        sqlite3_bind_int64(insert, 1, static_cast<int64_t>(i));
        sqlite3_bind_int64(insert, 2, 1700000000000 + b * 1000);
        sqlite3_bind_double(insert, 3, static_cast<double>(b));
        sqlite3_step(insert);
        sqlite3_reset(insert);
      }
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      rows += points_per_batch;
    }
    state.PauseTiming();
    sqlite3_finalize(insert);
    sqlite3_close(db);
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.counters["points_per_s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PlainSqliteInsert)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
