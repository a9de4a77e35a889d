#include "etcdmon/histogram/quantile.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

namespace etcdmon::histogram {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Relative difference between neighbouring bucket counts below which PromQL treats the
// difference as floating point noise (promql/quantile.go, correctPrecisionErrors).
constexpr double kSmallDeltaTolerance = 1e-12;

bool ByUpperBound(const Bucket& a, const Bucket& b) { return a.upper_bound < b.upper_bound; }

// Walks sorted buckets the way PromQL sees them after coalescing equal upper bounds,
// correcting precision noise and forcing monotonic counts. Both corrections only look
// backwards, so they run in one streaming pass without a copy.
class EffectiveBuckets {
 public:
  EffectiveBuckets(const Bucket* begin, const Bucket* end) : it_(begin), end_(end) {}

  // Produces the next effective bucket; false at the end.
  bool Next(Bucket& out) {
    if (it_ == end_) {
      return false;
    }
    out = *it_++;
    while (it_ != end_ && it_->upper_bound == out.upper_bound) {
      out.cumulative_count += it_->cumulative_count;
      ++it_;
    }
    if (first_) {
      first_ = false;
      precision_prev_ = out.cumulative_count;
      monotonic_max_ = out.cumulative_count;
      return true;
    }
    // Precision correction, against the last count that was kept as significant.
    const double delta = std::fabs(out.cumulative_count - precision_prev_);
    if (delta != 0) {
      if (delta / out.cumulative_count <= kSmallDeltaTolerance) {
        out.cumulative_count = precision_prev_;
      } else {
        precision_prev_ = out.cumulative_count;
      }
    }
    // Envelope: lift any decrease to the running maximum.
    if (out.cumulative_count > monotonic_max_) {
      monotonic_max_ = out.cumulative_count;
    } else if (out.cumulative_count < monotonic_max_) {
      out.cumulative_count = monotonic_max_;
    }
    return true;
  }

 private:
  const Bucket* it_;
  const Bucket* end_;
  bool first_ = true;
  double precision_prev_ = 0;
  double monotonic_max_ = 0;
};

double SortedQuantile(double q, const Bucket* begin, const Bucket* end) {
  if (begin == end || !std::isinf(end[-1].upper_bound) || end[-1].upper_bound < 0) {
    return kNaN;
  }
  // First pass: the number of effective buckets and the total observation count.
  std::size_t n = 0;
  Bucket b;
  {
    EffectiveBuckets walk(begin, end);
    while (walk.Next(b)) {
      ++n;
    }
  }
  if (n < 2) {
    return kNaN;
  }
  const double observations = b.cumulative_count;
  if (observations == 0) {
    return kNaN;
  }
  double rank = q * observations;

  // Second pass: the first of the n-1 finite buckets whose count reaches the rank (counts are
  // monotonic now, so a linear scan finds what PromQL's binary search finds).
  EffectiveBuckets walk(begin, end);
  Bucket prev;
  Bucket cur;
  std::size_t index = 0;
  for (; index < n - 1; ++index) {
    walk.Next(cur);
    if (cur.cumulative_count >= rank) {
      break;
    }
    prev = cur;
  }
  if (index == n - 1) {
    // The rank lies in the +Inf bucket: `prev` is the second-highest bucket.
    return prev.upper_bound;
  }
  if (index == 0 && cur.upper_bound <= 0) {
    return cur.upper_bound;
  }
  double bucket_start = 0;
  double count = cur.cumulative_count;
  if (index > 0) {
    bucket_start = prev.upper_bound;
    count -= prev.cumulative_count;
    rank -= prev.cumulative_count;
  }
  return bucket_start + (cur.upper_bound - bucket_start) * (rank / count);
}

bool SameBound(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

}  // namespace

double HistogramQuantile(double q, const std::vector<Bucket>& buckets) {
  if (std::isnan(q)) {
    return kNaN;
  }
  if (q < 0) {
    return -kInf;
  }
  if (q > 1) {
    return kInf;
  }
  for (const Bucket& b : buckets) {
    if (std::isnan(b.upper_bound)) {
      return kNaN;  // also keeps std::sort below away from a NaN comparison
    }
  }
  if (std::is_sorted(buckets.begin(), buckets.end(), ByUpperBound)) {
    return SortedQuantile(q, buckets.data(), buckets.data() + buckets.size());
  }
  std::vector<Bucket> sorted(buckets);
  std::sort(sorted.begin(), sorted.end(), ByUpperBound);
  return SortedQuantile(q, sorted.data(), sorted.data() + sorted.size());
}

Status BucketDeltas(const std::vector<Bucket>& prev, const std::vector<Bucket>& cur,
                    std::vector<Bucket>& out) {
  if (prev.size() != cur.size()) {
    return Status::InvalidArgument(
        "histogram bucket layouts differ: " + std::to_string(prev.size()) + " buckets before, " +
        std::to_string(cur.size()) + " now");
  }
  bool reset = false;
  for (std::size_t i = 0; i < cur.size(); ++i) {
    if (!SameBound(prev[i].upper_bound, cur[i].upper_bound)) {
      return Status::InvalidArgument("histogram bucket layouts differ at bucket " +
                                     std::to_string(i) +
                                     ": le=" + std::to_string(prev[i].upper_bound) +
                                     " before, le=" + std::to_string(cur[i].upper_bound) + " now");
    }
    if (cur[i].cumulative_count < prev[i].cumulative_count) {
      reset = true;
    }
  }
  // Element-wise, reading index i of both inputs before writing index i of `out`, so `out`
  // may be either input.
  out.resize(cur.size());
  for (std::size_t i = 0; i < cur.size(); ++i) {
    const double count =
        reset ? cur[i].cumulative_count : cur[i].cumulative_count - prev[i].cumulative_count;
    out[i] = Bucket{cur[i].upper_bound, count};
  }
  return Status::Ok();
}

Result<std::vector<Bucket>> BucketDeltas(const std::vector<Bucket>& prev,
                                         const std::vector<Bucket>& cur) {
  std::vector<Bucket> out;
  ETCDMON_RETURN_IF_ERROR(BucketDeltas(prev, cur, out));
  return out;
}

}  // namespace etcdmon::histogram
