#pragma once

// The history points of the model: what a sample, a member's state and the cluster snapshot
// contribute to the history store (names from etcdmon/metrics/catalogue.h; the snapshot's values
// through its visitor). Private to the aggregator. Pure functions; they append to `out`.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/aggregator/cluster_model.h"

namespace etcdmonitor::v1 {
class MemberSample;
class MemberState;
class ClusterSnapshot;
}  // namespace etcdmonitor::v1

namespace etcdmon::aggregator::detail {

/// Receives the values of one sample: the member's label and the time once, then each value.
/// What SamplePoints yields, without a DerivedPoint (and its copy of the label) per value.
class SamplePointVisitor {
 public:
  virtual ~SamplePointVisitor() = default;
  /// First, once. `label` is valid until the visit returns.
  virtual void Member(const std::string& label, int64_t unix_ms) = 0;
  /// Then once per value; `metric` is one of etcdmon/metrics/catalogue.h.
  virtual void Point(std::string_view metric, double value) = 0;
};

/// The values of one sample, at its collection time, for the member it names.
void VisitSamplePoints(const etcdmonitor::v1::MemberSample& sample, SamplePointVisitor& visitor);

/// The same as DerivedPoints appended to `out`.
void AppendSamplePoints(const etcdmonitor::v1::MemberSample& sample,
                        std::vector<DerivedPoint>& out);

/// The cluster-wide values of a snapshot, at its tick time.
void AppendClusterPoints(const etcdmonitor::v1::ClusterSnapshot& snapshot,
                         std::vector<DerivedPoint>& out);

/// One member's values from its state: health always; with `new_sample`, the window
/// percentiles (at `now`), db growth and time to quota (at the sample's time); with
/// `new_rates`, the rates and the fsync/commit percentiles computed at that sample.
void AppendMemberPoints(const etcdmonitor::v1::MemberState& member, const std::string& label,
                        bool new_sample, bool new_rates, int64_t now,
                        std::vector<DerivedPoint>& out);

}  // namespace etcdmon::aggregator::detail
