#pragma once

// Quantiles of classic (bucketed) Prometheus histograms, and the bucket deltas between two
// cumulative snapshots of one histogram. Pure functions: safe for concurrent use.

#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::histogram {

/// One bucket of a cumulative histogram: the number of observations <= upper_bound.
struct Bucket {
  double upper_bound = 0;       // the `le` label; +Inf for the last bucket
  double cumulative_count = 0;  // a count; a double, as in the exposition format

  friend bool operator==(const Bucket& a, const Bucket& b) {
    return a.upper_bound == b.upper_bound && a.cumulative_count == b.cumulative_count;
  }
  friend bool operator!=(const Bucket& a, const Bucket& b) { return !(a == b); }
};

/// The q-quantile (0 <= q <= 1) of a histogram, with exactly the semantics of PromQL's
/// `histogram_quantile` over classic buckets:
///  - q is NaN: NaN; q < 0: -Inf; q > 1: +Inf.
///  - Buckets may come in any order (they are sorted by upper bound); buckets with the same
///    upper bound are merged by adding their counts.
///  - No +Inf bucket, fewer than two buckets (after merging), or zero observations: NaN.
///  - Counts are made monotonic first: differences within a relative 1e-12 are treated as
///    floating point noise, and any remaining decrease is lifted to the running maximum.
///  - The result is interpolated linearly inside the bucket that holds the rank q * count.
///    The lowest bucket starts at 0, unless its upper bound is <= 0, in which case that upper
///    bound is returned. A rank that falls into the +Inf bucket yields the upper bound of the
///    second-highest bucket.
///  - A NaN upper bound anywhere yields NaN (Prometheus never produces one).
/// Allocates only when `buckets` is not already sorted by upper bound.
double HistogramQuantile(double q, const std::vector<Bucket>& buckets);

/// The observations that happened between two cumulative snapshots `prev` and `cur` of one
/// histogram, as a cumulative histogram with the same layout, written into `out` (its
/// capacity is reused; no allocation once it is large enough). `out` may alias `prev` or `cur`.
/// If any bucket count in `cur` is lower than in `prev`, the counter was reset between the
/// snapshots (the process restarted) and the window is `cur` itself.
/// Returns InvalidArgument, leaving `out` untouched, when the two snapshots do not have the
/// same upper bounds in the same order.
Status BucketDeltas(const std::vector<Bucket>& prev, const std::vector<Bucket>& cur,
                    std::vector<Bucket>& out);

/// As above, returning a new vector.
Result<std::vector<Bucket>> BucketDeltas(const std::vector<Bucket>& prev,
                                         const std::vector<Bucket>& cur);

}  // namespace etcdmon::histogram
