#pragma once

// Which /metrics families a sample keeps, and how they are copied into it. Private to the
// collector; tested through Sampler.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/promtext/parser.h"

namespace etcdmonitor::v1 {
class MemberSample;
}  // namespace etcdmonitor::v1

namespace etcdmon::collector::detail {

/// A family the collector ships.
struct FamilySpec {
  std::string_view name;
  bool histogram;  // shipped as HistogramMetric (raw cumulative buckets); else ScalarMetric
  // Series whose value (histograms: count) is 0 are left out. For the grpc_* families only:
  // etcd pre-registers every method x code (~700 series, nearly all zero), and a missing grpc
  // series means zero to the aggregator.
  bool drop_zero;
};

/// The shipped families, in the order they are copied.
const std::vector<FamilySpec>& ShippedFamilies();

/// Bounds the series copied per family, so that a hostile page cannot blow up a sample.
inline constexpr int kMaxSeriesPerFamily = 1024;

/// Copies the shipped families of `page` into `out`'s scalars and histograms (appending), and
/// sets `open_fds` to process_open_fds (-1 when absent).
/// A family of an unexpected type, a histogram series without a +Inf bucket or with a repeated
/// or non-numeric bound or a bad count, and series beyond kMaxSeriesPerFamily are left out and
/// described in `problems` ("; "-separated, appended). Everything else is kept.
/// `scratch` is reused working storage. Allocates only for problems, or when `out` has fewer
/// reusable elements than this page needs.
void ExtractFamilies(const promtext::ParseResult& page, etcdmonitor::v1::MemberSample& out,
                     std::vector<uint8_t>& scratch, int64_t& open_fds, std::string& problems);

}  // namespace etcdmon::collector::detail
