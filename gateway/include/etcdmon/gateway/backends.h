#pragma once

// What the gateway reads from: the aggregator (MonitorBackend, and the live SnapshotFeed), the
// alerter (AlertBackend) and the benchmark runner (BenchmarkBackend). The gateway binary talks to
// the services over gRPC and ZeroMQ (grpc_backends.h); the all-in-one binary and the tests plug
// in-process implementations instead.
//
// Thread-safety: every backend is called from the gateway's HTTP threads concurrently; an
// implementation must be safe for concurrent use. Calls must be bounded in time (a deadline):
// an HTTP thread waits for them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"
#include "etcdmonitor/v1/services.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::gateway {

/// The aggregator's MonitorService. Errors: Unavailable when the aggregator cannot be reached
/// (or has not ticked yet, for GetSnapshot), DeadlineExceeded, NotFound for an unknown metric
/// or cluster, InvalidArgument for a bad range.
class MonitorBackend {
 public:
  virtual ~MonitorBackend() = default;
  /// The newest snapshot of `cluster`; empty: of the only cluster (FailedPrecondition naming
  /// them when the aggregator has several).
  virtual Result<etcdmonitor::v1::ClusterSnapshot> GetSnapshot(const std::string& cluster) = 0;
  /// The newest snapshot of every cluster the aggregator has a model of.
  virtual Result<std::vector<etcdmonitor::v1::ClusterSnapshot>> ListClusters() = 0;
  virtual Result<etcdmonitor::v1::HistoryResponse> QueryHistory(
      const etcdmonitor::v1::HistoryQuery& query) = 0;
  virtual Result<std::vector<std::string>> ListMetrics() = 0;
  virtual Result<etcdmonitor::v1::ServiceHealth> GetHealth() = 0;
};

/// The live snapshot stream. Called from one thread only (the gateway's refresher).
class SnapshotFeed {
 public:
  virtual ~SnapshotFeed() = default;
  /// Waits up to `timeout`. true: `out` holds the next snapshot (of the cluster it names; one
  /// per cluster per tick, in order); false: none came. A non-OK status is a bad frame: the
  /// gateway counts it and goes on.
  virtual Result<bool> Next(etcdmonitor::v1::ClusterSnapshot& out,
                            std::chrono::milliseconds timeout) = 0;
};

/// The alerter's AlertService. Errors as MonitorBackend's; InvalidArgument for a bad filter or
/// page token.
class AlertBackend {
 public:
  virtual ~AlertBackend() = default;
  /// The active alerts of `cluster`; empty: of every cluster.
  virtual Result<etcdmonitor::v1::ListAlertsResponse> ListActiveAlerts(
      const std::string& cluster) = 0;
  virtual Result<etcdmonitor::v1::AlertHistoryResponse> QueryHistory(
      const etcdmonitor::v1::AlertHistoryRequest& request) = 0;
  /// The active silences, soonest expiry first; with `include_expired`, expired ones too,
  /// newest created first (the alerter bounds the list). A non-empty `cluster`: only the
  /// silences that apply to it (its own and the every-cluster ones).
  virtual Result<etcdmonitor::v1::ListSilencesResponse> ListSilences(
      bool include_expired, const std::string& cluster) = 0;
  /// Creates a silence, authorizing with `bearer_token` (the alerter's API token).
  virtual Result<etcdmonitor::v1::Silence> CreateSilence(const etcdmonitor::v1::Silence& silence,
                                                         const config::Secret& bearer_token) = 0;
  /// Ends silence `id` now (its expiry becomes the alerter's current time) and returns it;
  /// authorizes as CreateSilence. NotFound for an unknown id; an already expired silence is
  /// returned as it is.
  virtual Result<etcdmonitor::v1::Silence> ExpireSilence(const std::string& id,
                                                         const config::Secret& bearer_token) = 0;
};

/// One benchmark as POST /api/v1/performance/benchmark asks for it (validated by the gateway:
/// ops within its bound, sizes within limits).
struct BenchmarkSpec {
  config::BenchmarkType type = config::BenchmarkType::kWrite;
  uint64_t ops = 10000;
  uint32_t clients = 10;
  // Bytes; the benchmark runner's default, with room for the key index of any run the gateway
  // allows (a run's keys are its prefix, its id and a zero-padded index).
  uint32_t key_size = 64;
  uint32_t value_size = 256;  // bytes
  /// Run for this long instead of `ops` operations (0: run `ops`). Such a run is capped at
  /// `rate` operations per second, so that it can do at most `ops` operations in all.
  std::chrono::milliseconds duration{0};
  uint64_t rate = 0;  // operations per second, 0 = unlimited
};

/// The benchmark runner.
class BenchmarkBackend {
 public:
  virtual ~BenchmarkBackend() = default;
  /// Starts a run in the background and returns its id at once. FailedPrecondition while
  /// another run is in progress (one at a time); Unavailable when etcd cannot be reached.
  virtual Result<std::string> Start(const BenchmarkSpec& spec) = 0;
  /// The run's progress or result as a JSON object (snake_case keys; at least "id" and
  /// "state"). NotFound for an unknown id.
  virtual Result<std::string> Get(const std::string& id) = 0;
  /// The runs the backend keeps (finished and in progress), newest first, as a JSON object
  /// {"runs": [...]}, each run a compact summary (snake_case keys; at least "id" and "state").
  virtual Result<std::string> List() = 0;
  /// The summary of the newest run that finished (not cancelled), if any: /metrics shows its
  /// figures (etcd_benchmark_*) when the aggregator's snapshot has no newer one.
  virtual std::optional<etcdmonitor::v1::BenchmarkSummary> LastFinished() = 0;
};

}  // namespace etcdmon::gateway
