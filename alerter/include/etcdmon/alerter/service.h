#pragma once

// The alerter service: reads the aggregator's snapshots (one per cluster per tick), runs each
// cluster's alert engine on its cluster's snapshots, stores what changed, hands notifications to
// the channels, and serves AlertService over gRPC.

#include <spdlog/fwd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/alerter/alert_store.h"
#include "etcdmon/alerter/notifier.h"
#include "etcdmon/alerter/rules.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/config/types.h"
#include "etcdmon/rpc/security.h"
#include "etcdmon/status/status.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace etcdmon::transport {
class SharedContext;  // etcdmon/transport/context.h
}  // namespace etcdmon::transport

namespace etcdmonitor::v1 {
class ClusterSnapshot;
}  // namespace etcdmonitor::v1

namespace etcdmon::alerter {

/// Where snapshots come from: waits up to `timeout`; true with `out` filled when one came,
/// false when none did; an error for a frame that is not a snapshot (counted, then skipped).
/// Called from the service's evaluation thread only.
using SnapshotSource = std::function<Result<bool>(etcdmonitor::v1::ClusterSnapshot& out,
                                                  std::chrono::milliseconds timeout)>;

/// Everything `etcd-monitor-alerter` is configured with (alerter/flags.h or the all-in-one).
struct AlerterConfig {
  /// The aggregator's snapshot stream (ZeroMQ SUB), used unless a SnapshotSource is given.
  std::string snapshot_endpoint = "tcp://127.0.0.1:5556";
  std::string curve_server_key;  // the aggregator's CURVE public key (Z85); empty: no CURVE
  /// Shared with an in-process aggregator (inproc:// snapshot endpoint); null: its own.
  std::shared_ptr<transport::SharedContext> zmq_context;
  std::string grpc_address = "127.0.0.1:5558";  // AlertService; port 0 picks one; empty: none
  rpc::ServerSecurity grpc_security;  // TLS, mTLS, token; needed beyond loopback (security.h)
  std::string db_path = "etcd-monitor-data/alerts.db";
  AlertStoreOptions store;
  RuleSet rules = RuleSet::Defaults(config::AlertThresholds{});
  /// A cluster named here is evaluated with its own RuleSet instead of `rules` (a rules file's
  /// `clusters:` section: RuleSet::Defaults + ApplyFile(path, name)).
  std::map<std::string, RuleSet> cluster_rules;
  /// The rules file `rules` and `cluster_rules` were read from; empty: none. The all-in-one
  /// applies it again over each cluster's own thresholds.
  std::string rules_file;
  std::chrono::milliseconds repeat_interval{std::chrono::hours(4)};
  DispatcherOptions dispatcher;
  /// Bearer token CreateSilence and ExpireSilence require; empty: silences cannot be created or
  /// expired over gRPC.
  config::Secret api_token;
  /// No snapshot for this long: the alerter reports itself unhealthy and logs it.
  std::chrono::milliseconds snapshot_timeout{std::chrono::seconds(10)};
};

struct AlerterStats {
  uint64_t snapshots = 0;          // evaluated
  uint64_t bad_frames = 0;         // frames that were not snapshots
  uint64_t notifications = 0;      // queued for delivery (per notification, not per channel)
  uint64_t silenced = 0;           // held back by a silence
  uint64_t deliveries_ok = 0;      // successful attempts
  uint64_t deliveries_failed = 0;  // failed attempts (retried or final)
  uint64_t store_failures = 0;
  int64_t last_snapshot_unix_ms = 0;  // tick time of the newest snapshot evaluated
  std::size_t clusters = 0;           // clusters with an engine (at most kMaxClusters)
  uint64_t dropped_snapshots = 0;     // of clusters beyond kMaxClusters, not evaluated
};

/// One alerter. Threads: the evaluation loop, one per channel (the dispatcher), gRPC's own.
/// Create() opens the store and binds gRPC (so a port in use fails before Start()); Start()
/// restores the open alerts, resumes deliveries a previous run left pending and starts the loop;
/// Stop() stops it, waits a short while for deliveries in progress, and closes everything
/// (idempotent, also from the destructor).
class AlerterService final {
 public:
  /// `channels` are the configured notifiers (channel names must be unique). `source` replaces
  /// the ZeroMQ subscription (the all-in-one binary passes its in-process snapshots).
  static Result<std::unique_ptr<AlerterService>> Create(
      AlerterConfig config, std::vector<std::unique_ptr<Notifier>> channels,
      std::shared_ptr<spdlog::logger> logger, Clock& clock = SystemClock::Instance(),
      SnapshotSource source = nullptr);
  ~AlerterService();
  AlerterService(const AlerterService&) = delete;
  AlerterService& operator=(const AlerterService&) = delete;

  Status Start();
  void Stop();

  /// Waits until no delivery is queued or in progress, or `timeout` passes; true when idle.
  bool WaitDeliveriesIdle(std::chrono::milliseconds timeout);

  AlerterStats Stats() const;
  /// "host:port" of the gRPC server; empty when grpc_address was empty.
  std::string grpc_address() const;
  /// A channel to AlertService that never leaves the process (the all-in-one gateway's).
  std::shared_ptr<grpc::Channel> InProcessChannel();

 private:
  struct Impl;
  explicit AlerterService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::alerter
