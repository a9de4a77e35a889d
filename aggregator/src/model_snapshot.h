#pragma once

// The cluster model's snapshot builder: on each tick, the members' latency windows and every
// figure of the snapshot that is read rather than judged (each member's state, the cluster-wide
// rates, database, latency and certificate figures, the divergence, the collectors). Private to
// the aggregator.
//
// Single-threaded: owned by ClusterModel and used under its mutex.

#include <cstdint>
#include <vector>

#include "etcdmon/histogram/quantile.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "model_judge.h"
#include "model_member.h"
#include "model_registry.h"

namespace etcdmon::aggregator::detail {

class SnapshotBuilder final {
 public:
  // `registry` and `judge` must outlive the builder; `window_ms` (at least 1) is the latency
  // window.
  SnapshotBuilder(MemberRegistry& registry, const ClusterJudge& judge, int64_t window_ms);

  SnapshotBuilder(const SnapshotBuilder&) = delete;
  SnapshotBuilder& operator=(const SnapshotBuilder&) = delete;

  // The steps of a tick, in this order, after the judge's JudgeMembers and CountLeaderChanges.

  // Each member's read, write and gRPC latency percentiles over the window, and the cluster's.
  void LatencyWindows(int64_t now, etcdmonitor::v1::ClusterSnapshot& out);
  // Every member into the snapshot, and the cluster-wide rates, database, disk and certificate
  // figures over the fresh, reachable, counted members.
  void FillMembers(int64_t now, etcdmonitor::v1::ClusterSnapshot& out);
  // Revision, raft index and applied index spread and lag over the counted voting members.
  void FillDivergence(etcdmonitor::v1::Divergence& out) const;
  void FillCollectors(int64_t now, etcdmonitor::v1::ClusterSnapshot& out) const;

 private:
  void GrpcWindow(MemberRecord& r, int64_t window_start);
  void FillMember(const MemberRecord& r, int64_t now, etcdmonitor::v1::MemberState& m) const;

  MemberRegistry& registry_;
  const ClusterJudge& judge_;
  const int64_t window_ms_;

  // Tick scratch, kept for its capacity.
  std::vector<double> values_;
  std::vector<double> cluster_read_;
  std::vector<double> cluster_write_;
  std::vector<histogram::Bucket> delta_;
  std::vector<histogram::Bucket> cluster_grpc_read_;
  std::vector<histogram::Bucket> cluster_grpc_write_;
};

}  // namespace etcdmon::aggregator::detail
