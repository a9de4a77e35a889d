// The simulated collectors of ingest_bench, in a process of their own so that the benchmark
// measures the aggregator's work apart from the senders' (serialization, their I/O threads).
//   ingest_sender ENDPOINT COLLECTORS BATCHES FIRST_MS STATE_DIR
// Protocol on stdin/stdout, driven by ingest_bench:
//   1. sends one warm-up batch per collector and waits for its ack; then builds BATCHES batches
//      per collector (MakeSample, batch b at FIRST_MS + b s) and enqueues them all (serialized,
//      queued, not sent), then prints "ready";
//   2. on the line "go", starts every sender: the queued batches go out as fast as the
//      aggregator acknowledges them;
//   3. at end of input (the benchmark closed the pipe) stops and exits.
// Exit code 0, or 1 with one line on stderr.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/transport/batch_sender.h"
#include "ingest_sample.h"

namespace {

int Fail(const std::string& what) {
  std::cerr << "ingest_sender: " << what << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    return Fail("usage: ingest_sender ENDPOINT COLLECTORS BATCHES FIRST_MS STATE_DIR");
  }
  const std::string endpoint = argv[1];
  const int collectors = std::atoi(argv[2]);
  const int batches = std::atoi(argv[3]);
  const int64_t first_ms = std::atoll(argv[4]);
  const std::string state_dir = argv[5];
  // Bounded: the senders keep every batch queued until it is acknowledged.
  if (collectors < 1 || collectors > 1000 || batches < 1 || batches > 100000) {
    return Fail("COLLECTORS must be 1..1000 and BATCHES 1..100000");
  }

  // Each collector's sender; a second set with the same ids and sequence files continues the
  // first's numbering (a restarted collector).
  auto make_senders = [&](std::vector<std::unique_ptr<etcdmon::transport::BatchSender>>& out,
                          std::size_t buffered) -> etcdmon::Status {
    for (int c = 0; c < collectors; ++c) {
      etcdmon::transport::BatchSenderOptions o;
      o.aggregator_endpoint = endpoint;
      o.collector_id = "bench-" + std::to_string(c);
      o.sequence_state_path = state_dir + "/" + o.collector_id + ".seq";
      o.max_buffered_batches = buffered;
      auto sender = etcdmon::transport::BatchSender::Create(o);
      if (!sender.ok()) {
        return sender.status();
      }
      out.push_back(std::move(sender).value());
    }
    return etcdmon::Status::Ok();
  };
  etcdmonitor::v1::SampleBatch batch;

  // Warm-up, untimed: one batch per collector, acknowledged, so the aggregator knows the
  // members and has created their series (once in a file's life), as the plain insert it is
  // compared with has too; it also sets the connections up.
  {
    std::vector<std::unique_ptr<etcdmon::transport::BatchSender>> warmup;
    if (auto s = make_senders(warmup, 1); !s.ok()) {
      return Fail(s.ToString());
    }
    std::vector<uint64_t> sequences;
    for (int c = 0; c < collectors; ++c) {
      batch.Clear();
      *batch.add_samples() = etcdmon::bench::MakeSample(c, first_ms - 1000);
      auto sequence = warmup[c]->Enqueue(batch);
      if (!sequence.ok()) {
        return Fail(sequence.status().ToString());
      }
      sequences.push_back(*sequence);
      if (auto s = warmup[c]->Start(); !s.ok()) {
        return Fail(s.ToString());
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int c = 0; c < collectors; ++c) {
      while (warmup[c]->Stats().acked_sequence < sequences[c]) {
        if (std::chrono::steady_clock::now() > deadline) {
          return Fail("the warm-up batches were not acknowledged within 30 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }

  std::vector<std::unique_ptr<etcdmon::transport::BatchSender>> senders;
  if (auto s = make_senders(senders, static_cast<std::size_t>(batches)); !s.ok()) {
    return Fail(s.ToString());
  }
  // Batches interleaved across collectors, as collectors ticking together would send them.
  for (int b = 0; b < batches; ++b) {
    for (int c = 0; c < collectors; ++c) {
      batch.Clear();
      *batch.add_samples() = etcdmon::bench::MakeSample(c, first_ms + int64_t{b} * 1000);
      if (auto sequence = senders[c]->Enqueue(batch); !sequence.ok()) {
        return Fail(sequence.status().ToString());
      }
    }
  }
  std::cout << "ready" << std::endl;

  std::string line;
  if (!std::getline(std::cin, line) || line != "go") {
    return Fail("expected \"go\"");
  }
  for (auto& sender : senders) {
    if (auto s = sender->Start(); !s.ok()) {
      return Fail(s.ToString());
    }
  }
  while (std::getline(std::cin, line)) {
  }
  senders.clear();
  return 0;
}
