#pragma once

// Helpers shared by the transport tests: a temp dir per test, bounded waits on conditions, a
// recording batch handler and batch builders.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/status/status.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::transport::testing {

using etcdmon::testing::TempDir;
using etcdmon::testing::WaitFor;

/// A batch with one member sample holding `scalars` scalar metrics, collected now (the
/// receiver's per-batch checks refuse samples dated far from its clock).
inline etcdmonitor::v1::SampleBatch MakeBatch(int scalars = 3) {
  etcdmonitor::v1::SampleBatch batch;
  etcdmonitor::v1::MemberSample* sample = batch.add_samples();
  sample->set_collected_at_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
  sample->set_endpoint("https://127.0.0.1:2379");
  sample->set_member_name("etcd-1");
  sample->set_member_id(0x8e9e05c52164694dULL);
  sample->set_reachable(true);
  for (int i = 0; i < scalars; ++i) {
    etcdmonitor::v1::ScalarMetric* scalar = sample->add_scalars();
    scalar->set_name("grpc_server_handled_total");
    etcdmonitor::v1::Label* label = scalar->add_labels();
    label->set_name("grpc_method");
    label->set_value("Method" + std::to_string(i));
    scalar->set_value(1000.0 + i);
  }
  return batch;
}

/// A batch handler that records what it stored, and can be told to fail chosen sequences once.
/// Safe for concurrent use (the receiver calls it on its thread, the test reads it).
class Recorder {
 public:
  /// The handler to give a BatchReceiver. The Recorder must outlive the receiver.
  std::function<Status(const etcdmonitor::v1::SampleBatch&)> Handler() {
    return [this](const etcdmonitor::v1::SampleBatch& batch) { return Handle(batch); };
  }

  /// The next delivery of `sequence` fails (once).
  void FailOnce(uint64_t sequence) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_once_.insert(sequence);
  }

  /// Sequences stored, in the order the handler saw them, duplicates included.
  std::vector<uint64_t> Stored() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_;
  }
  std::size_t StoredCount() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_.size();
  }
  bool HasStored(uint64_t sequence) const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::find(stored_.begin(), stored_.end(), sequence) != stored_.end();
  }
  std::string LastCollector() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_collector_;
  }
  int64_t LastSentAt() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_sent_at_;
  }

 private:
  Status Handle(const etcdmonitor::v1::SampleBatch& batch) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_once_.erase(batch.sequence()) > 0) {
      return Status::Unavailable("injected storage failure");
    }
    stored_.push_back(batch.sequence());
    last_collector_ = batch.collector_id();
    last_sent_at_ = batch.sent_at_unix_ms();
    return Status::Ok();
  }

  mutable std::mutex mu_;
  std::set<uint64_t> fail_once_;  // guarded by mu_
  std::vector<uint64_t> stored_;  // guarded by mu_
  std::string last_collector_;    // guarded by mu_
  int64_t last_sent_at_ = 0;      // guarded by mu_
};

/// `stored` with every repeat of an already seen sequence removed: the order of first arrival.
inline std::vector<uint64_t> FirstArrivals(const std::vector<uint64_t>& stored) {
  std::set<uint64_t> seen;
  std::vector<uint64_t> first;
  for (uint64_t sequence : stored) {
    if (seen.insert(sequence).second) {
      first.push_back(sequence);
    }
  }
  return first;
}

/// first, first+1, ..., last.
inline std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) {
    out.push_back(s);
  }
  return out;
}

}  // namespace etcdmon::transport::testing
