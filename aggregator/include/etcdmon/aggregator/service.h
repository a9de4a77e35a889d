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
#include "etcdmon/aggregator/remote_write_sender.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/rpc/security.h"
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
  // ZeroMQ ROUTER for collectors, and PUB of ClusterSnapshot. Loopback by default: without CURVE
  // anyone who reaches the ingest port can send as any collector (the flags bind every
  // interface by default only with CURVE).
  std::string ingest_endpoint = "tcp://127.0.0.1:5555";
  std::string publish_endpoint = "tcp://127.0.0.1:5556";
  std::string grpc_address = "127.0.0.1:5557";  // MonitorService; port 0 picks one; empty:
                                                // none (in-process channel only)
  rpc::ServerSecurity grpc_security;  // TLS, mTLS, token; needed beyond loopback (security.h)
  std::chrono::milliseconds tick{std::chrono::seconds(1)};
  ModelConfig model;
  HistoryConfig history;  // history.path: the SQLite file; history.max_series bounds
                          // the series (refused beyond it, counted as series_limit)
  /// A batch with a sample dated later than the aggregator's clock plus this is refused
  /// (transport::BatchLimits); samples older than history.raw_retention are refused too.
  std::chrono::milliseconds max_clock_skew{std::chrono::minutes(5)};
  std::string curve_secret_key;  // Z85; non-empty: CURVE on ingest and on the PUB socket
  /// The allow-list of collector keys (transport/collector_keys.h); needs curve_secret_key.
  /// Read at Create() and by ReloadCollectorKeys(). Empty: with CURVE, any client key may send
  /// as any collector (a warning at start).
  std::string collector_keys_file;
  /// Collector connections at once; further ones are refused (too_many_peers).
  std::size_t max_ingest_peers = 1024;
  /// Shared with in-process collectors and subscribers (the all-in-one binary, with inproc://
  /// endpoints); null: a context of its own.
  std::shared_ptr<transport::SharedContext> zmq_context;
  /// Ships the history's raw points to a remote_write receiver (remote_write_sender.h); off
  /// while remote_write.url is empty.
  RemoteWriteConfig remote_write;
};

/// Counters and state of a running aggregator, for tests and for its own health.
struct AggregatorStats {
  uint64_t batches_stored = 0;      // batches written (duplicates excluded)
  uint64_t batches_duplicate = 0;   // resent batches acknowledged without storing again
  uint64_t store_failures = 0;      // batches whose write failed (not acknowledged)
  uint64_t ingest_commits = 0;      // ingest transactions (groups of batches) committed
  uint64_t frames_rejected = 0;     // garbage frames on the ingest socket
  uint64_t batches_invalid = 0;     // well-formed batches refused by the per-batch checks
  uint64_t series_refused = 0;      // points dropped because their new series was refused
                                    // (the series limit, or a bad name): `series_limit`
  uint64_t series_cached = 0;       // (member, metric) entries of the ingest path's id cache
  uint64_t clusters = 0;            // clusters modelled now
  uint64_t clusters_refused = 0;    // samples of new clusters beyond kMaxClusters
  uint64_t identity_conflicts = 0;  // samples refused for their identity (every cluster)
  uint64_t ticks = 0;
  uint64_t tick_store_failures = 0;
  // The cost of the latest 512 ticks (every cluster's model, publish, history writes,
  // maintenance), on the real clock: median, 99th percentile and most, in µs.
  int64_t tick_p50_us = 0;
  int64_t tick_p99_us = 0;
  int64_t tick_max_us = 0;
  std::chrono::system_clock::time_point last_tick;
  RemoteWriteStats remote_write;  // all zero when remote_write is off
};

/// The most clusters one aggregator models; samples of more are refused (counted).
inline constexpr std::size_t kMaxClusters = 1000;

/// One aggregator, one model per cluster (the batches' `cluster`; empty: config.model.cluster,
/// the default cluster, which exists from the start). Threads: the ingest receiver's I/O thread
/// (validates and stages batches, stores what each read round brought in one transaction, then acks
/// those batches), the tick thread (model → snapshot → PUB, derived points → history, incremental
/// maintenance) and gRPC's own. Start() once; Stop() stops accepting (ingest, gRPC), finishes the
/// current tick and closes the store; idempotent, safe without Start(), called by the destructor.
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

  /// Reads collector_keys_file again and puts it in force for new connections and every
  /// batch from now on (what SIGHUP does). On error (a bad file) the list in force stays and
  /// the error is returned (and logged). FailedPrecondition when no file was configured.
  /// Thread-safe.
  Status ReloadCollectorKeys();

  /// A benchmark run against `cluster` finished: it goes into that cluster's snapshots from the
  /// next tick on (`last_benchmark`) and its figures into its history. Ignored for a cluster the
  /// aggregator has no model of. Thread-safe.
  void RecordBenchmark(const std::string& cluster,
                       const etcdmonitor::v1::BenchmarkSummary& summary);
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
