#include "model_stats.h"

#include <algorithm>
#include <cmath>

namespace etcdmon::aggregator::detail {

double ExactQuantile(const std::vector<double>& sorted, double q) {
  assert(!sorted.empty());
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const auto lower = static_cast<std::size_t>(std::floor(h));
  if (lower + 1 >= sorted.size()) {
    return sorted.back();
  }
  return sorted[lower] + (h - static_cast<double>(lower)) * (sorted[lower + 1] - sorted[lower]);
}

void ExactPercentiles(std::vector<double>& values, Percentiles& out) {
  out = Percentiles();
  if (values.empty()) {
    return;
  }
  std::sort(values.begin(), values.end());
  out.p50 = ExactQuantile(values, 0.50);
  out.p95 = ExactQuantile(values, 0.95);
  out.p99 = ExactQuantile(values, 0.99);
  out.count = values.size();
}

void HistogramPercentiles(const std::vector<histogram::Bucket>& buckets, Percentiles& out) {
  out = Percentiles();
  if (buckets.empty()) {
    return;
  }
  const double total = buckets.back().cumulative_count;
  if (!(total > 0)) {
    return;
  }
  const double p50 = histogram::HistogramQuantile(0.50, buckets);
  const double p95 = histogram::HistogramQuantile(0.95, buckets);
  const double p99 = histogram::HistogramQuantile(0.99, buckets);
  if (!std::isfinite(p50) || !std::isfinite(p95) || !std::isfinite(p99)) {
    return;
  }
  out.p50 = p50 * 1000.0;
  out.p95 = p95 * 1000.0;
  out.p99 = p99 * 1000.0;
  out.count = static_cast<uint64_t>(std::llround(total));
}

bool SameLayout(const std::vector<histogram::Bucket>& a, const std::vector<histogram::Bucket>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].upper_bound != b[i].upper_bound) {
      return false;
    }
  }
  return true;
}

bool AddHistogram(std::vector<histogram::Bucket>& into,
                  const std::vector<histogram::Bucket>& from) {
  if (into.empty()) {
    into.assign(from.begin(), from.end());
    return true;
  }
  if (!SameLayout(into, from)) {
    return false;
  }
  for (std::size_t i = 0; i < into.size(); ++i) {
    into[i].cumulative_count += from[i].cumulative_count;
  }
  return true;
}

void LagTracker::Record(int64_t at_ms, int64_t value) {
  at_[0] = at_[1];
  value_[0] = value_[1];
  at_[1] = at_ms;
  value_[1] = value;
  count_ = std::min(count_ + 1, 2);
}

bool LagTracker::ValueAt(int64_t at_ms, double& out) const {
  if (count_ == 0) {
    return false;
  }
  if (at_ms >= at_[1]) {
    out = static_cast<double>(value_[1]);
    return true;
  }
  if (count_ < 2 || at_ms < at_[0]) {
    return false;
  }
  const double f = static_cast<double>(at_ms - at_[0]) / static_cast<double>(at_[1] - at_[0]);
  out = static_cast<double>(value_[0]) + f * static_cast<double>(value_[1] - value_[0]);
  return true;
}

void LagTracker::ObserveLag(double reference) {
  const double lag = std::max(0.0, reference - static_cast<double>(value_[1]));
  if (lag > lag_) {
    if (rises_ == 0) {
      rising_since_ms_ = at_[1];
    }
    ++rises_;
  } else {
    rises_ = 0;
    rising_since_ms_ = 0;
  }
  lag_ = lag;
}

}  // namespace etcdmon::aggregator::detail
