// The simulated collectors of fleet_bench.sh: CLUSTERS clusters of MEMBERS members each, one
// collector per member, each sending one batch a second (a sample collected now), for SECONDS.
//   fleet_sender ENDPOINT CLUSTERS MEMBERS SECONDS STATE_DIR
// Each cluster has its own etcd cluster id and member ids, as real ones do (the aggregator
// refuses a member id seen under two cluster names). Every 10 s, and at the end, prints one
// line: "sent=N acked_batches=N queue=N dropped=N", summed over the collectors; a queue that
// grows means the aggregator does not keep up. Exit code 0, or 1 with one line on stderr.

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
  std::cerr << "fleet_sender: " << what << std::endl;
  return 1;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    return Fail("usage: fleet_sender ENDPOINT CLUSTERS MEMBERS SECONDS STATE_DIR");
  }
  const std::string endpoint = argv[1];
  const int clusters = std::atoi(argv[2]);
  const int members = std::atoi(argv[3]);
  const int seconds = std::atoi(argv[4]);
  const std::string state_dir = argv[5];
  if (clusters < 1 || clusters > 1000 || members < 1 || members > 9 || seconds < 1 ||
      seconds > 86400) {
    return Fail("CLUSTERS must be 1..1000, MEMBERS 1..9 and SECONDS 1..86400");
  }
  std::vector<std::unique_ptr<etcdmon::transport::BatchSender>> senders;
  for (int k = 0; k < clusters; ++k) {
    for (int m = 0; m < members; ++m) {
      etcdmon::transport::BatchSenderOptions o;
      o.aggregator_endpoint = endpoint;
      o.collector_id = "fleet-" + std::to_string(k) + "-" + std::to_string(m);
      o.sequence_state_path = state_dir + "/" + o.collector_id + ".seq";
      o.max_buffered_batches = 600;
      auto sender = etcdmon::transport::BatchSender::Create(o);
      if (!sender.ok()) {
        return Fail(sender.status().ToString());
      }
      if (auto s = (*sender)->Start(); !s.ok()) {
        return Fail(s.ToString());
      }
      senders.push_back(std::move(sender).value());
    }
  }
  auto report = [&] {
    uint64_t sent = 0, acked = 0, queue = 0, dropped = 0;
    for (const auto& s : senders) {
      const etcdmon::transport::BatchSenderStats st = s->Stats();
      sent += st.enqueued;
      queue += st.queue_depth;
      dropped += st.dropped;
      acked += st.enqueued - st.queue_depth - st.dropped;
    }
    std::cout << "sent=" << sent << " acked_batches=" << acked << " queue=" << queue
              << " dropped=" << dropped << std::endl;
  };
  etcdmonitor::v1::SampleBatch batch;
  auto next = std::chrono::steady_clock::now();
  for (int second = 0; second < seconds; ++second) {
    const int64_t now_ms = NowMs();
    for (int k = 0; k < clusters; ++k) {
      for (int m = 0; m < members; ++m) {
        batch.Clear();
        batch.set_cluster("fleet-" + std::to_string(k));
        etcdmonitor::v1::MemberSample& s = *batch.add_samples();
        s = etcdmon::bench::MakeSample(m, now_ms);
        const uint64_t member_id = 1'000'000ull * (k + 1) + static_cast<uint64_t>(m);
        s.set_member_id(member_id);
        s.mutable_status()->set_member_id(member_id);
        s.mutable_status()->set_leader_id(1'000'000ull * (k + 1));
        s.mutable_status()->set_cluster_id(7'000'000ull + static_cast<uint64_t>(k));
        if (auto sequence = senders[static_cast<std::size_t>(k * members + m)]->Enqueue(batch);
            !sequence.ok()) {
          return Fail(sequence.status().ToString());
        }
      }
    }
    if (second % 10 == 9) {
      report();
    }
    next += std::chrono::seconds(1);
    std::this_thread::sleep_until(next);
  }
  // Up to 10 s for the last batches' acks.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (const auto& s : senders) {
    while (s->Stats().queue_depth > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  report();
  return 0;
}
