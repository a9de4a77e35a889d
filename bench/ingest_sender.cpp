// The simulated collectors of ingest_bench, in a process of their own so that the benchmark
// measures the aggregator's work apart from the senders' (serialization, their I/O threads).
//   ingest_sender ENDPOINT COLLECTORS BATCHES FIRST_MS STATE_DIR
// Protocol on stdin/stdout, driven by ingest_bench:
//   1. builds BATCHES batches per collector (MakeSample, batch b at FIRST_MS + b s) and enqueues them all (serialized, queued, not sent),
//      then prints "ready";
//   2. on the line "go", starts every sender: the queued batches go out as fast as the
//      aggregator acknowledges them;
//   3. at end of input (the benchmark closed the pipe) stops and exits.
// Exit code 0, or 1 with one line on stderr.

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
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

  std::vector<std::unique_ptr<etcdmon::transport::BatchSender>> senders;
  for (int c = 0; c < collectors; ++c) {
    etcdmon::transport::BatchSenderOptions o;
    o.aggregator_endpoint = endpoint;
    o.collector_id = "bench-" + std::to_string(c);
    o.sequence_state_path = state_dir + "/" + o.collector_id + ".seq";
    o.max_buffered_batches = static_cast<std::size_t>(batches);
    auto sender = etcdmon::transport::BatchSender::Create(o);
    if (!sender.ok()) {
      return Fail(sender.status().ToString());
    }
    senders.push_back(std::move(sender).value());
  }
  // Batches interleaved across collectors, as collectors ticking together would send them.
  etcdmonitor::v1::SampleBatch batch;
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
