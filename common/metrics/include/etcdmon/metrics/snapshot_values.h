#pragma once

// The one walk over a ClusterSnapshot's values: which catalogue metric each figure of the
// snapshot is, for the cluster and for each member. The gateway's /metrics and
// /api/v1/metrics/current serve what it yields; the aggregator's history writes it. Adding a
// metric to a snapshot is a line in the catalogue and a line in snapshot_values.cpp.
//
// A value that is unknown is not visited (no rates yet, no latency window, a member never
// sampled): unknown is absent, never 0. Pure functions; safe for concurrent use.

#include "etcdmon/metrics/catalogue.h"

namespace etcdmonitor::v1 {
class ClusterSnapshot;
class MemberState;
}  // namespace etcdmonitor::v1

namespace etcdmon::metrics {

/// Where a snapshot value comes from, which says when it was measured. The gateway serves every
/// current value; the history writes each value once, at its own time.
enum class ValueSource {
  kTick,       ///< the model's verdict at the snapshot's tick (health, the cluster's figures)
  kInSample,   ///< what the member's newest sample says (the history has it from the sample)
  kRates,      ///< computed between the member's two newest samples, at the newer one's time
  kTrend,      ///< a trend kept from the member's samples (db growth, time to quota)
  kWindow,     ///< a percentile over the member's recent samples, at the tick
  kBenchmark,  ///< the latest benchmark run (the history has it when the run finishes)
};

/// Receives the values of a snapshot: the cluster's first, then each member's after
/// BeginMember. Arguments are valid for the call only; no value is copied on the way.
class SnapshotVisitor {
 public:
  virtual ~SnapshotVisitor() = default;
  /// Before the values of `member` (not called for the cluster's values).
  virtual void BeginMember(const etcdmonitor::v1::MemberState& /*member*/) {}
  /// One value of `metric` (a catalogue entry, static storage). `current` is false for a
  /// figure the snapshot still shows from older samples of a member that does not answer now
  /// (figures_stale): it is known, but it is not the member's state now.
  virtual void Value(const MetricInfo& metric, double value, ValueSource source, bool current) = 0;
};

/// The cluster's values, then every member's.
void VisitSnapshot(const etcdmonitor::v1::ClusterSnapshot& snapshot, SnapshotVisitor& visitor);
/// The cluster-wide values only (BeginMember is not called).
void VisitClusterValues(const etcdmonitor::v1::ClusterSnapshot& snapshot, SnapshotVisitor& visitor);
/// One member's values only (BeginMember is not called).
void VisitMemberValues(const etcdmonitor::v1::MemberState& member, SnapshotVisitor& visitor);

}  // namespace etcdmon::metrics
