#include "etcdmon/benchmark/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace etcdmon::benchmark {

size_t LatencyHistogram::BucketIndex(uint64_t nanos) {
  if (nanos < kExactLimit) {
    return static_cast<size_t>(nanos);
  }
  if (nanos >= kMaxTrackableNanos) {
    return kBucketCount - 1;
  }
  // exponent >= 8: nanos lies in [2^exponent, 2^(exponent+1)), split into 128 buckets.
  const int exponent = 63 - __builtin_clzll(nanos);
  const int shift = exponent - kSubBucketBits;
  const uint64_t sub = (nanos >> shift) - (1ULL << kSubBucketBits);  // 0..127
  return static_cast<size_t>(
      kExactLimit +
      static_cast<uint64_t>(exponent - kSubBucketBits - 1) * (1ULL << kSubBucketBits) + sub);
}

uint64_t LatencyHistogram::BucketLow(size_t index) {
  if (index < kExactLimit) {
    return index;
  }
  const size_t rel = index - kExactLimit;
  const int exponent = static_cast<int>(rel >> kSubBucketBits) + kSubBucketBits + 1;
  const uint64_t sub = (1ULL << kSubBucketBits) + (rel & ((1ULL << kSubBucketBits) - 1));
  return sub << (exponent - kSubBucketBits);
}

uint64_t LatencyHistogram::BucketWidth(size_t index) {
  if (index < kExactLimit) {
    return 1;
  }
  const int exponent =
      static_cast<int>((index - kExactLimit) >> kSubBucketBits) + kSubBucketBits + 1;
  return 1ULL << (exponent - kSubBucketBits);
}

void LatencyHistogram::Record(std::chrono::nanoseconds latency) {
  RecordNanos(latency.count() < 0 ? 0 : static_cast<uint64_t>(latency.count()));
}

void LatencyHistogram::RecordNanos(uint64_t nanos) {
  ++buckets_[BucketIndex(nanos)];
  ++count_;
  min_ = std::min(min_, nanos);
  max_ = std::max(max_, nanos);
  const double x = static_cast<double>(nanos);
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (x - mean_);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) {
    return;
  }
  for (size_t i = 0; i < kBucketCount; ++i) {
    buckets_[i] += other.buckets_[i];
  }
  const double n_a = static_cast<double>(count_);
  const double n_b = static_cast<double>(other.count_);
  const double n = n_a + n_b;
  const double delta = other.mean_ - mean_;
  mean_ += delta * n_b / n;
  m2_ += other.m2_ + delta * delta * n_a * n_b / n;
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::Reset() { *this = LatencyHistogram(); }

std::chrono::nanoseconds LatencyHistogram::min() const {
  return std::chrono::nanoseconds(count_ == 0 ? 0 : static_cast<int64_t>(min_));
}

std::chrono::nanoseconds LatencyHistogram::max() const {
  return std::chrono::nanoseconds(static_cast<int64_t>(max_));
}

std::chrono::nanoseconds LatencyHistogram::mean() const {
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(mean_)));
}

std::chrono::nanoseconds LatencyHistogram::stddev() const {
  if (count_ < 2) {
    return std::chrono::nanoseconds(0);
  }
  return std::chrono::nanoseconds(
      static_cast<int64_t>(std::llround(std::sqrt(m2_ / static_cast<double>(count_)))));
}

std::chrono::nanoseconds LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) {
    return std::chrono::nanoseconds(0);
  }
  if (!(percent > 0)) {
    return min();
  }
  if (percent >= 100) {
    return max();
  }
  uint64_t rank = static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const uint64_t mid = BucketLow(i) + (BucketWidth(i) - 1) / 2;
      return std::chrono::nanoseconds(static_cast<int64_t>(std::clamp(mid, min_, max_)));
    }
  }
  return max();
}

}  // namespace etcdmon::benchmark
