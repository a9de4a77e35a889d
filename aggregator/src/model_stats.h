#pragma once

// Small numeric building blocks of the cluster model: a fixed-capacity ring, exact and
// histogram percentiles, counter deltas with reset handling, and the divergence run tracker.
// Private to the aggregator. Not thread-safe; the model's mutex guards them.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "etcdmon/histogram/quantile.h"

namespace etcdmon::aggregator::detail {

/// A ring of at most `capacity` items; pushing onto a full ring overwrites the oldest.
/// Storage is allocated once (Reset), and slots are reused, so items that own buffers
/// (vectors) keep their capacity.
template <typename T>
class Ring {
 public:
  explicit Ring(std::size_t capacity = 1) { Reset(capacity); }

  void Reset(std::size_t capacity) {
    items_.assign(capacity == 0 ? 1 : capacity, T{});
    head_ = 0;
    size_ = 0;
  }
  void Clear() {
    head_ = 0;
    size_ = 0;
  }

  /// The slot of a new newest item (the oldest one's, when full), to be overwritten.
  T& PushSlot() {
    if (size_ < items_.size()) {
      return items_[(head_ + size_++) % items_.size()];
    }
    T& slot = items_[head_];
    head_ = (head_ + 1) % items_.size();
    return slot;
  }
  void Push(const T& item) { PushSlot() = item; }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return items_.size(); }
  bool empty() const { return size_ == 0; }

  /// 0 is the oldest item.
  const T& operator[](std::size_t i) const {
    assert(i < size_);
    return items_[(head_ + i) % items_.size()];
  }
  const T& back() const { return (*this)[size_ - 1]; }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;  // index of the oldest item
  std::size_t size_ = 0;
};

/// p50/p95/p99 of a distribution, in milliseconds; count 0 means "no observations".
struct Percentiles {
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
  uint64_t count = 0;
};

/// The exact q-quantile of sorted values: linear interpolation between the two closest ranks
/// (rank h = (n - 1) * q, as numpy's default and R's type 7). `sorted` must not be empty.
double ExactQuantile(const std::vector<double>& sorted, double q);

/// Sorts `values` in place and fills `out` with their exact percentiles; count 0 when empty.
void ExactPercentiles(std::vector<double>& values, Percentiles& out);

/// Percentiles of a (delta) histogram with upper bounds in seconds, as milliseconds, through
/// HistogramQuantile (PromQL semantics). count = the observations in it; 0 (and no values)
/// when it holds none or cannot be evaluated.
void HistogramPercentiles(const std::vector<histogram::Bucket>& buckets, Percentiles& out);

/// Whether two histograms have the same upper bounds in the same order.
bool SameLayout(const std::vector<histogram::Bucket>& a, const std::vector<histogram::Bucket>& b);

/// Adds `from`'s counts into `into` (same layout), or copies it when `into` is empty. False,
/// leaving `into` alone, when the layouts differ.
bool AddHistogram(std::vector<histogram::Bucket>& into, const std::vector<histogram::Bucket>& from);

/// The increase of a counter from `prev` to `cur`: a lower value means the counter was reset
/// (the process restarted) and the increase is the new value itself.
inline double CounterDelta(double prev, double cur) { return cur >= prev ? cur - prev : cur; }

/// How far one member is behind the others on one progress counter (revision, raft index,
/// applied index), over its own samples. Members are sampled at different moments, so raw
/// values are compared at the same moment: a member's value at its sample time against the
/// others' values at that time (interpolated between their two latest samples, or their latest
/// when it is older: counters only grow, so that is a lower bound). In a healthy cluster the lag
/// is ~0 whatever the write rate; a stuck member's lag grows with every sample.
class LagTracker {
 public:
  /// Samples in a row over which the lag must grow to count as "growing".
  static constexpr uint32_t kGrowingSamples = 3;

  /// Records the member's own value at `at_ms` (a newer sample than the last one recorded).
  void Record(int64_t at_ms, int64_t value);

  /// A lower bound of the member's value at `at_ms` from its two latest samples; false when
  /// it has none at or before `at_ms`.
  bool ValueAt(int64_t at_ms, double& out) const;

  /// Sets the lag at the latest sample against `reference`, the others' best value at that
  /// moment, and follows the run of growth.
  void ObserveLag(double reference);

  bool has_value() const { return count_ > 0; }
  int64_t latest_ms() const { return at_[1]; }
  double lag() const { return lag_; }
  bool growing() const { return rises_ >= kGrowingSamples; }
  uint32_t rises() const { return rises_; }
  int64_t rising_since_ms() const { return rising_since_ms_; }

 private:
  int64_t at_[2] = {0, 0};  // [0] previous, [1] latest
  int64_t value_[2] = {0, 0};
  int count_ = 0;
  double lag_ = 0;
  uint32_t rises_ = 0;           // samples in a row whose lag was larger than the one before
  int64_t rising_since_ms_ = 0;  // the sample where that run began
};

}  // namespace etcdmon::aggregator::detail
