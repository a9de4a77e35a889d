#pragma once

// The collector agent: samples one etcd member every interval and hands each sample to the
// transport towards the aggregator.

#include <spdlog/fwd.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "etcdmon/clock/clock.h"
#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::transport {
class SharedContext;  // etcdmon/transport/context.h
}  // namespace etcdmon::transport

namespace etcdmon::collector {

/// Everything `etcd-monitor-collector` is configured with. Plain data, built by the flags
/// (collector/flags.h) or by the all-in-one binary.
struct CollectorConfig {
  /// Exactly one endpoint: a collector samples one member.
  config::EtcdConnectionConfig etcd;
  std::string aggregator = "tcp://127.0.0.1:5555";  // ZeroMQ endpoint of the aggregator
  std::string collector_id;                         // unique per collector; default host name
  /// The cluster this member belongs to, sent in every batch (SampleBatch.cluster). Empty: the
  /// aggregator's default cluster (its own --cluster), so deployments that name the cluster on
  /// the aggregator only keep working. Otherwise config::ValidateClusterName holds.
  std::string cluster;
  std::chrono::milliseconds metrics_interval{std::chrono::seconds(10)};
  std::chrono::milliseconds health_check_interval{std::chrono::seconds(30)};
  bool write_probe = true;
  std::string metrics_url;  // empty: the member's client URL + /metrics
  std::string member_name;  // empty: learned from the member list
  /// The member's data dir, for disk usage; empty: discovered from /proc when the member runs
  /// on this host (SamplerConfig::discover_data_dir), else none.
  std::string data_dir;
  /// How the user can make disk usage known, in the samples' disk_unknown_reason; empty:
  /// "give --data-dir" (the agent's flag).
  std::string data_dir_hint;
  std::string sequence_state_file = "etcd-monitor-collector.seq";
  std::size_t max_buffered_batches = 10000;
  std::string curve_server_key;  // Z85; empty: no CURVE
  /// This collector's CURVE key pair (Z85), which the aggregator's allow-list names. Both empty:
  /// a fresh pair per start (accepted only by an aggregator without an allow-list).
  std::string curve_public_key;
  std::string curve_secret_key;
  /// Shared with an in-process aggregator (the all-in-one binary: `aggregator` is then an
  /// inproc:// endpoint); null: a context of its own.
  std::shared_ptr<transport::SharedContext> zmq_context;
};

/// Counters of a running collector, for tests and the service's own reporting.
struct CollectorStats {
  uint64_t samples = 0;           // samples taken
  uint64_t enqueue_failures = 0;  // samples the transport refused (it was stopping)
  uint64_t queue_depth = 0;       // batches waiting for the aggregator's ack
  uint64_t dropped_batches = 0;   // unacknowledged batches dropped because the queue was full
  uint64_t resent_batches = 0;
  uint64_t acked_sequence = 0;
  bool connected = false;
};

/// One collector: a sampling thread plus the transport's I/O thread.
///
/// The sampling thread takes a sample at a fixed rate (every metrics interval, measured from the
/// start of the previous sample, so a slow member does not make the schedule drift); every
/// health-check interval the sample is a full one (member list, /health, certificate). Each
/// sample becomes one SampleBatch carrying the collector's own counters, and is enqueued without
/// waiting for the network.
///
/// Start() once; Stop() stops sampling, joins the sampling thread and gives the transport what is
/// left of `flush_timeout` to deliver what is queued. A sample in progress gets at most half of
/// `flush_timeout` to finish (none when `flush_timeout` is 0); one that is still waiting for an
/// unresponsive member then is abandoned: its requests are aborted, and Stop returns false (an
/// HTTP connection still being set up ends at the dial timeout). Stop is idempotent and safe
/// without Start; the destructor stops with no flush.
/// Stats() is safe from any thread.
class CollectorService final {
 public:
  /// Validates `config`, connects nothing yet. Errors: InvalidArgument naming the problem
  /// (no or several endpoints, non-positive intervals, a bad cluster name, an unreadable state
  /// file, a bad key).
  static Result<std::unique_ptr<CollectorService>> Create(CollectorConfig config,
                                                          std::shared_ptr<spdlog::logger> logger,
                                                          Clock& clock = SystemClock::Instance());
  ~CollectorService();
  CollectorService(const CollectorService&) = delete;
  CollectorService& operator=(const CollectorService&) = delete;
  CollectorService(CollectorService&&) = delete;
  CollectorService& operator=(CollectorService&&) = delete;

  Status Start();
  bool Stop(std::chrono::milliseconds flush_timeout = std::chrono::milliseconds(0));
  CollectorStats Stats() const;

 private:
  struct Impl;
  explicit CollectorService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::collector
