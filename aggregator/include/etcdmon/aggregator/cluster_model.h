#pragma once

// The live model of one etcd cluster, rebuilt from the collectors' samples on every tick:
// member health, leader, quorum, split-brain, divergence, rates and percentiles. Pure logic: no
// I/O, time from the injected Clock. What each output means, and the rule behind it, is
// documented on its field in proto/etcdmonitor/v1/snapshot.proto.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/clock/clock.h"

namespace etcdmonitor::v1 {
class MemberSample;
class CollectorStats;
class ClusterSnapshot;
}  // namespace etcdmonitor::v1

namespace etcdmon::aggregator {

/// The model's settings. Values <= 0 are raised to 1 ms.
struct ModelConfig {
  std::string cluster = "default";  // the `cluster` label
  // The collectors' metrics interval: a member with no sample for 3 of these is STALE. It also
  // sizes the fixed per-member rings: they hold latency_window / expected_interval + 2 samples,
  // so a collector sampling faster than this has its window cut to that many samples.
  std::chrono::milliseconds expected_interval{std::chrono::seconds(10)};
  // The sliding window of the latency percentiles (probes and grpc_server_handling_seconds).
  std::chrono::milliseconds latency_window{std::chrono::minutes(1)};
  // How long after a newer raft term was first seen a member may still follow the older term's
  // leader before that counts as split-brain (DIVERGENT_TERMS). Covers an election in progress
  // between two members' samples; keep it above etcd's --election-timeout.
  std::chrono::milliseconds term_conflict_grace{std::chrono::seconds(10)};
  // A sample dated further ahead of the clock than this is ignored (the aggregator's ingest
  // checks refuse it first): a forged far-future sample would otherwise outrank every genuine
  // sample of its member and decide its health and leader.
  std::chrono::milliseconds max_clock_skew{std::chrono::minutes(5)};
  // A member neither sampled nor named by a member list for this long is forgotten (the
  // aggregator uses its raw history retention), so members that come and go do not add up.
  std::chrono::milliseconds forget_after{std::chrono::hours(24)};
  // Members tracked at once; samples and member-list entries of further members are ignored.
  std::size_t max_members = 1024;
};

/// A value for the history store: `metric` is one of etcdmon/metrics/catalogue.h (static storage),
/// `member` the member's name (its hex id when the name is unknown, its endpoint when both are), ""
/// for a cluster-wide value.
struct DerivedPoint {
  std::string_view metric;
  std::string member;
  int64_t unix_ms = 0;
  double value = 0;
};

/// The model. Safe for concurrent use: Ingest, IngestStats and Tick serialize on one internal
/// mutex and never call out while holding it.
class ClusterModel final {
 public:
  ClusterModel(ModelConfig config, Clock& clock);
  ~ClusterModel();
  ClusterModel(const ClusterModel&) = delete;
  ClusterModel& operator=(const ClusterModel&) = delete;

  /// Folds one sample in. Samples of different members may come in any order; a sample of a
  /// member not newer (by collection time) than the latest one taken for it is ignored, so
  /// resent batches are harmless. Cheap: copies what the model keeps and computes the
  /// per-sample deltas (rates, histogram windows); the cluster-wide work waits for Tick.
  /// Returns true when the sample changed what the member says about leadership: it became
  /// reachable or unreachable, or names another leader or term (the caller may tick early, so
  /// that a lost leader is published without waiting for the next tick).
  bool Ingest(std::string_view collector_id, const etcdmonitor::v1::MemberSample& sample);

  /// Members a previous run of the aggregator was still sampling when it stopped (their labels:
  /// name, hex id or endpoint, from the history), so that the start-up waits for a sample of
  /// each of them. Call before the first Tick; optional.
  ///
  /// The start-up: the model has just been made and does not see the whole cluster yet. It
  /// ends (for good) at the first Tick where every member it knows of (these, and those the
  /// member lists name) has been sampled and some member list is known, or once 3 expected
  /// intervals (the stale threshold) have passed since the model was made, whichever is first.
  /// Snapshots say `starting_up` until then. While it lasts, a member known only from samples
  /// that never reached it (no id, no name: its collector started while it was down) is not
  /// counted as a member: a refused connection alone does not make a one-member cluster.
  void ExpectMembers(std::vector<std::string> labels);

  /// Records a collector's own counters (queue depth, drops, ...) from its latest batch, shown
  /// in ClusterSnapshot.collectors. Optional.
  void IngestStats(std::string_view collector_id, const etcdmonitor::v1::CollectorStats& stats);

  /// The values of one sample worth storing as history at the sample's own time (member up,
  /// raft term/index, apply lag, revision, db size and quota, probe latencies, host usage,
  /// etcd's proposal counters, certificate expiry), appended to `out`. Pure: no model state.
  static void SamplePoints(const etcdmonitor::v1::MemberSample& sample,
                           std::vector<DerivedPoint>& out);

  /// Recomputes the model at clock.Now(): fills `out` (cleared first; pass the same message
  /// every time to reuse its storage) and appends the tick's derived points to `points`:
  /// cluster-wide values every tick, and per-member rates/percentiles/state for members with
  /// a new sample since the previous tick or whose state changed.
  void Tick(etcdmonitor::v1::ClusterSnapshot& out, std::vector<DerivedPoint>& points);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::aggregator
