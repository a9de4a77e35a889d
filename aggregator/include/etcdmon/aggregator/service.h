#pragma once

// The aggregator: receives every collector's batches, stores them, keeps the live cluster model,
// publishes a snapshot every tick and serves MonitorService over gRPC.

#include <spdlog/fwd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "etcdmon/aggregator/cluster_model.h"
#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/status/status.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace etcdmonitor::v1 {
class BenchmarkSummary;
}  // namespace etcdmonitor::v1

namespace etcdmon::transport {
class SharedContext;  // etcdmon/transport/context.h
}  // namespace etcdmon::transport

namespace etcdmon::aggregator {

/// Everything `etcd-monitor-aggregator` is configured with (built by aggregator/flags.h or by
/// the all-in-one binary).
struct AggregatorConfig {
  std::string ingest_endpoint = "tcp://0.0.0.0:5555";   // ZeroMQ ROUTER for collectors
  std::string publish_endpoint = "tcp://0.0.0.0:5556";  // ZeroMQ PUB of ClusterSnapshot
  std::string grpc_address = "0.0.0.0:5557";  // MonitorService; port 0 picks one; empty: none
                                              // (in-process channel only)
  std::chrono::milliseconds tick{std::chrono::seconds(1)};
  ModelConfig model;
  HistoryConfig history;         // history.path: the SQLite file
  std::string curve_secret_key;  // Z85; non-empty: CURVE on ingest and on the PUB socket
  /// Shared with in-process collectors and subscribers (the all-in-one binary, with inproc://
  /// endpoints); null: a context of its own.
  std::shared_ptr<transport::SharedContext> zmq_context;
};

/// Counters and state of a running aggregator, for tests and for its own health.
struct AggregatorStats {
  uint64_t batches_stored = 0;     // batches written (duplicates excluded)
  uint64_t batches_duplicate = 0;  // resent batches acknowledged without storing again
  uint64_t store_failures = 0;     // batches whose write failed (not acknowledged)
  uint64_t ingest_commits = 0;     // ingest transactions (groups of batches) committed
  uint64_t frames_rejected = 0;    // garbage frames on the ingest socket
  uint64_t ticks = 0;
  uint64_t tick_store_failures = 0;
  std::chrono::system_clock::time_point last_tick;
};

/// One aggregator. Threads: the ingest receiver's I/O thread (validates and stages batches,
/// stores what each read round brought in one transaction, then acks those batches), the tick
/// thread (model → snapshot → PUB, derived points → history, incremental maintenance) and
/// gRPC's own. Start() once; Stop() stops accepting (ingest, gRPC), finishes the current tick and
/// closes the store; idempotent, safe without Start(), called by the destructor.
class AggregatorService final {
 public:
  /// Opens the store and binds the sockets (so a port in use fails here, before Start()).
  static Result<std::unique_ptr<AggregatorService>> Create(AggregatorConfig config,
                                                           std::shared_ptr<spdlog::logger> logger,
                                                           Clock& clock = SystemClock::Instance());
  ~AggregatorService();
  AggregatorService(const AggregatorService&) = delete;
  AggregatorService& operator=(const AggregatorService&) = delete;
  AggregatorService(AggregatorService&&) = delete;
  AggregatorService& operator=(AggregatorService&&) = delete;

  Status Start();
  void Stop();

  AggregatorStats Stats() const;

  /// A benchmark run against the cluster finished: it goes into every snapshot from the next
  /// tick on (`last_benchmark`) and its figures into the history. Thread-safe.
  void RecordBenchmark(const etcdmonitor::v1::BenchmarkSummary& summary);
  /// The bound endpoints (useful with port 0).
  std::string ingest_endpoint() const;
  std::string publish_endpoint() const;
  /// "host:port" of the gRPC server; valid after Start(). Empty when grpc_address was empty.
  std::string grpc_address() const;
  /// A channel to MonitorService that never leaves the process (the all-in-one gateway's).
  std::shared_ptr<grpc::Channel> InProcessChannel();

 private:
  struct Impl;
  explicit AggregatorService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::aggregator
