#pragma once

// The benchmark runner's load generator: a Worker drives its share of the clients (slots) on
// one gRPC completion queue, on one thread, and measures what they get. The runner
// (runner.cpp) plans the phases, starts one thread per Worker and merges their results.

#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "etcdmon/benchmark/latency_histogram.h"
#include "etcdmon/benchmark/runner.h"
#include "etcdmon/benchmark/spec.h"
#include "etcdmon/config/types.h"

namespace etcdmon::benchmark::detail {

// Latency is measured on the monotonic clock; gRPC deadlines are wall-clock time points.
using SteadyClock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

// gRPC's canonical codes are 0..16.
inline constexpr size_t kGrpcCodeCount = 17;

// One endpoint requests go to.
struct Target {
  config::Endpoint endpoint;
  std::string authority;
  std::string token;  // etcd auth token; empty without auth. Set before workers start.
};

// One gRPC channel (TCP connection) and its stub.
struct Connection {
  const Target* target = nullptr;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<::etcdserverpb::KV::Stub> kv;
};

// What one phase (populate or run) does; shared read-only by its workers.
struct PhasePlan {
  Progress::Phase phase = Progress::Phase::kRunning;
  bool populate = false;  // write keys 0..ops-1 once each, in order
  uint64_t ops = 0;       // operations to issue; 0 = until the deadline
  std::optional<SteadyClock::time_point> deadline;
  uint64_t rate = 0;  // ops/s; 0 = unlimited
  SteadyClock::time_point start;
};

// Counters shared by a phase's workers.
struct PhaseCounters {
  std::atomic<uint64_t> next_op{0};    // claims operation numbers
  std::atomic<uint64_t> completed{0};  // succeeded + failed
  std::atomic<uint64_t> failed{0};
  // Rate limiting: the steady time (ns since epoch) at which the next operation may start.
  std::atomic<int64_t> next_start_ns{0};
};

// Everything one worker thread measured.
struct WorkerResult {
  LatencyHistogram latency;
  uint64_t reads = 0;
  uint64_t writes = 0;
  std::array<uint64_t, kGrpcCodeCount> errors{};
  std::array<std::string, kGrpcCodeCount> error_examples;
  std::vector<uint64_t> per_second;
  SteadyClock::time_point last_completion{};
};

// The shape of a run's keys: `<run prefix>` + zero-padded decimal index, key_size bytes.
struct KeyLayout {
  std::string run_prefix;
  size_t key_size = 0;
  size_t index_digits = 0;

  std::string Template() const {
    std::string key = run_prefix;
    key.resize(key_size, '0');
    return key;
  }
  // Writes `index` into the last index_digits bytes of `key` (a Template() copy).
  void SetIndex(std::string& key, uint64_t index) const {
    char* end = &key[key.size()];
    for (size_t i = 0; i < index_digits; ++i) {
      *--end = static_cast<char>('0' + index % 10);
      index /= 10;
    }
  }
};

// One completion queue and the slots it drives, on one thread.
//
// AddSlot() every client before Run(); Run() is called once, on the worker's thread, and returns
// when no call or alarm is pending: the phase's operations are all claimed, its deadline passed
// or `cancelled` was set. result() belongs to that thread until Run() returns.
// AddSnapshotTo() is safe from any thread. Everything passed to the constructor must outlive
// the Worker.
class Worker final {
 public:
  Worker(const BenchmarkSpec& spec, const PhasePlan& plan, PhaseCounters& counters,
         const KeyLayout& keys, const std::string& value, std::chrono::milliseconds timeout,
         const std::atomic<bool>& cancelled);
  ~Worker();

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Adds one client, which sends on `connection`; `seed` starts its random key choice.
  void AddSlot(Connection* connection, uint64_t seed);

  void Run();

  WorkerResult& result() { return result_; }

  // The latency histogram as of the last publication, added to `into`. Any thread.
  void AddSnapshotTo(LatencyHistogram& into);

 private:
  struct Slot;

  bool StopIssuing(SteadyClock::time_point now) const;
  void StartNext(Slot& slot, SteadyClock::time_point not_before);
  SteadyClock::time_point ClaimRateSlot(SteadyClock::time_point now);
  uint64_t RandomKeyIndex(Slot& slot);
  void Issue(Slot& slot);
  bool Complete(Slot& slot, SteadyClock::time_point now);
  void Publish();

  const BenchmarkSpec& spec_;
  const PhasePlan& plan_;
  PhaseCounters& counters_;
  const KeyLayout& keys_;
  const std::string& value_;
  const std::chrono::milliseconds timeout_;
  const std::atomic<bool>& cancelled_;

  // Declared before the slots: every slot's alarm and call must be gone before the queue.
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Slot>> slots_;
  int64_t pending_ = 0;  // armed alarms + calls in flight; worker thread only
  SteadyClock::time_point next_publish_;
  WorkerResult result_;  // worker thread only, until Run() returns

  std::mutex snapshot_mu_;
  LatencyHistogram snapshot_;  // guarded by snapshot_mu_
};

}  // namespace etcdmon::benchmark::detail
