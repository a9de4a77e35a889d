// A stand-in aggregator for benchmarks: receives SampleBatches on a ZeroMQ ROUTER, acknowledges
// every valid one, and prints a count per second line when asked to.
//   ack_sink tcp://127.0.0.1:5555
#include <chrono>
#include <iostream>
#include <thread>

#include "etcdmon/runtime/signals.h"
#include "etcdmon/transport/batch_receiver.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ack_sink tcp://HOST:PORT\n";
    return 2;
  }
  etcdmon::runtime::BlockTerminationSignals();
  etcdmon::transport::BatchReceiverOptions options;
  options.endpoint = argv[1];
  auto receiver = etcdmon::transport::BatchReceiver::Create(
      options, [](const etcdmonitor::v1::SampleBatch&) { return etcdmon::Status::Ok(); });
  if (!receiver.ok()) {
    std::cerr << "error: " << receiver.status().ToString() << "\n";
    return 1;
  }
  if (auto s = (*receiver)->Start(); !s.ok()) {
    std::cerr << "error: " << s.ToString() << "\n";
    return 1;
  }
  std::cout << "ack_sink listening on " << (*receiver)->endpoint() << std::endl;
  etcdmon::runtime::WaitForTerminationSignal();
  auto stats = (*receiver)->Stats();
  std::cout << "ack_sink frames=" << stats.frames << " acked=" << stats.acked
            << " rejected=" << stats.rejected_total() << std::endl;
  (*receiver)->Stop();
  return 0;
}
