// Throughput of the collector → aggregator link: BatchSender → BatchReceiver over loopback TCP,
// acks included, with batches shaped like a collector's (one MemberSample with a few hundred
// labelled scalars). One benchmark iteration enqueues a chunk of batches and waits until the
// last one is acked, so the time covers serialization, the wire, parsing on the receiver and the
// ack back. Also: the cost of Enqueue() alone, which runs on the collection loop.

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "etcdmon/transport/batch_receiver.h"
#include "etcdmon/transport/batch_sender.h"
#include "etcdmon/transport/collector_keys.h"
#include "etcdmon/transport/curve.h"

namespace {

using etcdmon::Result;
using etcdmon::Status;
using etcdmon::transport::BatchReceiver;
using etcdmon::transport::BatchReceiverOptions;
using etcdmon::transport::BatchSender;
using etcdmon::transport::BatchSenderOptions;
using etcdmonitor::v1::SampleBatch;

constexpr int kBatchesPerIteration = 1000;

// A batch like the collector's: one member, `scalars` series with two labels each.
SampleBatch CollectorLikeBatch(int scalars) {
  SampleBatch batch;
  etcdmonitor::v1::MemberSample* sample = batch.add_samples();
  sample->set_endpoint("https://10.0.0.11:2379");
  sample->set_member_name("etcd-1");
  sample->set_member_id(0x8e9e05c52164694dULL);
  // Now: the receiver refuses samples dated outside its clock's window (batch_validation.h).
  sample->set_collected_at_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  sample->set_reachable(true);
  sample->mutable_status()->set_version("3.5.12");
  sample->mutable_status()->set_raft_index(123456789);
  for (int i = 0; i < scalars; ++i) {
    etcdmonitor::v1::ScalarMetric* scalar = sample->add_scalars();
    scalar->set_name(i % 3 == 0 ? "grpc_server_handled_total"
                                : "etcd_server_proposals_committed_total");
    etcdmonitor::v1::Label* method = scalar->add_labels();
    method->set_name("grpc_method");
    method->set_value("Method" + std::to_string(i % 40));
    etcdmonitor::v1::Label* code = scalar->add_labels();
    code->set_name("grpc_code");
    code->set_value(i % 2 == 0 ? "OK" : "Unavailable");
    scalar->set_value(1000.0 + i * 17.5);
  }
  return batch;
}

// A directory for the sequence state file, removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcdmon_transport_bench.XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    }
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Second argument 1: CURVE with the collector's key on the receiver's allow-list (what every
// message then costs: decryption and the check of its key against its collector id).
void BM_SenderToReceiver(benchmark::State& state) {
  const int scalars = static_cast<int>(state.range(0));
  const bool authenticated = state.range(1) != 0;
  ScratchDir dir;
  std::atomic<uint64_t> points{0};
  BatchReceiverOptions receiver_options;
  receiver_options.endpoint = "tcp://127.0.0.1:0";
  etcdmon::transport::CurveKeyPair server, collector;
  if (authenticated) {
    Result<etcdmon::transport::CurveKeyPair> s = etcdmon::transport::GenerateCurveKeyPair();
    Result<etcdmon::transport::CurveKeyPair> c = etcdmon::transport::GenerateCurveKeyPair();
    Result<etcdmon::transport::CollectorKeys> keys =
        c.ok() ? etcdmon::transport::CollectorKeys::Parse("bench " + c->public_key, "bench")
               : Result<etcdmon::transport::CollectorKeys>(c.status());
    if (!s.ok() || !keys.ok()) {
      state.SkipWithError("no CURVE");
      return;
    }
    server = *s;
    collector = *c;
    receiver_options.curve_secret_key = server.secret_key;
    receiver_options.collector_keys =
        std::make_shared<const etcdmon::transport::CollectorKeys>(std::move(*keys));
  }
  Result<std::unique_ptr<BatchReceiver>> receiver =
      BatchReceiver::Create(receiver_options, [&points](const SampleBatch& batch) {
        points.fetch_add(static_cast<uint64_t>(batch.samples(0).scalars_size()),
                         std::memory_order_relaxed);
        return Status::Ok();
      });
  if (!receiver.ok() || !(*receiver)->Start().ok()) {
    state.SkipWithError("receiver did not start");
    return;
  }
  BatchSenderOptions sender_options;
  sender_options.aggregator_endpoint = (*receiver)->endpoint();
  sender_options.collector_id = "bench";
  sender_options.sequence_state_path = dir.path() + "/sequence";
  if (authenticated) {
    sender_options.curve_server_key = server.public_key;
    sender_options.curve_public_key = collector.public_key;
    sender_options.curve_secret_key = collector.secret_key;
  }
  Result<std::unique_ptr<BatchSender>> sender = BatchSender::Create(sender_options);
  if (!sender.ok() || !(*sender)->Start().ok()) {
    state.SkipWithError("sender did not start");
    return;
  }
  const SampleBatch prototype = CollectorLikeBatch(scalars);
  const auto frame_bytes = static_cast<double>(prototype.ByteSizeLong());

  for (auto _ : state) {
    uint64_t last = 0;
    for (int i = 0; i < kBatchesPerIteration; ++i) {
      SampleBatch batch = prototype;  // the collector builds a fresh batch every interval
      Result<uint64_t> sequence = (*sender)->Enqueue(std::move(batch));
      if (!sequence.ok()) {
        state.SkipWithError("enqueue failed");
        return;
      }
      last = *sequence;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while ((*sender)->Stats().acked_sequence < last) {
      if (std::chrono::steady_clock::now() > deadline) {
        state.SkipWithError("batches were not acked within 30 s");
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  const double batches = static_cast<double>(state.iterations()) * kBatchesPerIteration;
  state.SetItemsProcessed(static_cast<int64_t>(batches));
  state.SetBytesProcessed(static_cast<int64_t>(batches * frame_bytes));
  state.counters["points_per_s"] =
      benchmark::Counter(batches * scalars, benchmark::Counter::kIsRate);
  state.counters["frame_bytes"] = frame_bytes;
  const auto stats = (*sender)->Stats();
  state.counters["resent"] = static_cast<double>(stats.resent);
  state.counters["dropped"] = static_cast<double>(stats.dropped);
}
BENCHMARK(BM_SenderToReceiver)
    ->Args({300, 0})
    ->Args({300, 1})
    ->Args({30, 0})
    ->Args({30, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Enqueue() alone (stamping, serializing, queueing) as the collection loop pays it. Nobody
// listens, so batches pile up to the queue bound and the oldest are dropped.
void BM_Enqueue(benchmark::State& state) {
  const int scalars = static_cast<int>(state.range(0));
  ScratchDir dir;
  BatchSenderOptions sender_options;
  sender_options.aggregator_endpoint = "tcp://127.0.0.1:1";
  sender_options.collector_id = "bench";
  sender_options.sequence_state_path = dir.path() + "/sequence";
  sender_options.sequence_block = 1u << 20;  // keep the occasional fsync out of the figure
  Result<std::unique_ptr<BatchSender>> sender = BatchSender::Create(sender_options);
  if (!sender.ok()) {
    state.SkipWithError("sender did not start");
    return;
  }
  const SampleBatch prototype = CollectorLikeBatch(scalars);
  SampleBatch batch;
  for (auto _ : state) {
    state.PauseTiming();
    batch = prototype;
    state.ResumeTiming();
    benchmark::DoNotOptimize((*sender)->Enqueue(std::move(batch)).ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Enqueue)->Arg(300)->Unit(benchmark::kMicrosecond);

}  // namespace
