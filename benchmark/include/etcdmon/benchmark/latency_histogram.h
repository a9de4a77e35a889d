#pragma once

// A latency histogram with log-linear buckets (the HdrHistogram layout): values below 256 ns are
// counted exactly; above, every power of two is split into 128 equal buckets, so any recorded
// value is known to within 1/128 (< 0.8%) of itself. Memory is fixed (about 36 KiB) whatever
// the number of values; recording is a few integer operations and never allocates.

#include <array>
#include <chrono>
#include <cstdint>

namespace etcdmon::benchmark {

/// Count, exact min / max / mean / standard deviation, and percentiles within 1% of any value
/// up to kMaxTrackable (larger values count in the top bucket; min and max stay exact).
/// A value type; not safe for concurrent use: give each thread its own and Merge() them.
class LatencyHistogram {
 public:
  /// The largest value the buckets resolve: 2^40 ns, about 18 minutes.
  static constexpr uint64_t kMaxTrackableNanos = 1ULL << 40;

  void Record(std::chrono::nanoseconds latency);
  void RecordNanos(uint64_t nanos);
  /// Adds every value recorded in `other`.
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  /// 0 when empty.
  std::chrono::nanoseconds min() const;
  std::chrono::nanoseconds max() const;
  std::chrono::nanoseconds mean() const;
  /// Population standard deviation (as etcd's benchmark prints); 0 with fewer than two values.
  std::chrono::nanoseconds stddev() const;

  /// The value at or below which `percent` (0..100) of the values lie: the recorded value of
  /// rank ceil(percent/100 * count) ("nearest rank"), as its bucket's midpoint, clamped to
  /// [min, max]. percent <= 0 gives min, >= 100 gives max; 0 when empty.
  std::chrono::nanoseconds Percentile(double percent) const;

 private:
  static constexpr int kSubBucketBits = 7;                         // 128 buckets per power of two
  static constexpr uint64_t kExactLimit = 2ULL << kSubBucketBits;  // 256: counted one by one
  static constexpr int kMaxExponent = 40;
  static constexpr size_t kBucketCount =
      kExactLimit + (kMaxExponent - kSubBucketBits - 1) * (1ULL << kSubBucketBits);

  static size_t BucketIndex(uint64_t nanos);
  // The smallest value and the width of bucket `index`.
  static uint64_t BucketLow(size_t index);
  static uint64_t BucketWidth(size_t index);

  std::array<uint64_t, kBucketCount> buckets_{};
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // Welford's running mean and sum of squared deviations, in nanoseconds; merged with Chan's
  // formula, so the standard deviation is exact and does not lose precision on long runs.
  double mean_ = 0;
  double m2_ = 0;
};

}  // namespace etcdmon::benchmark
