#include "rule.h"

#include <algorithm>
#include <cmath>

namespace etcdmon::alerter::detail {

std::unique_ptr<Rule> MakeRule(const RuleSpec& spec) {
  if (auto rule = MakeClusterRule(spec)) {
    return rule;
  }
  return MakeMemberRule(spec);
}

Verdict AboveWithHysteresis(double value, double fire, double resolve, bool inclusive) {
  if (inclusive ? value >= fire : value > fire) {
    return Verdict::kFiring;
  }
  return value < resolve ? Verdict::kClear : Verdict::kHolding;
}

Verdict BelowWithHysteresis(double value, double fire, double resolve) {
  if (value < fire) {
    return Verdict::kFiring;
  }
  return value >= resolve ? Verdict::kClear : Verdict::kHolding;
}

std::string FormatSeconds(double seconds) {
  const bool negative = seconds < 0;
  const int64_t total = static_cast<int64_t>(std::llround(std::fabs(seconds)));
  const int64_t days = total / 86400, hours = total % 86400 / 3600, minutes = total % 3600 / 60;
  std::string out = negative ? "-" : "";
  if (days > 0) {
    out += std::to_string(days) + "d " + std::to_string(hours) + "h";
  } else if (hours > 0) {
    out += std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  } else if (minutes > 0) {
    out += std::to_string(minutes) + "m " + std::to_string(total % 60) + "s";
  } else {
    out += std::to_string(total) + "s";
  }
  return out;
}

std::string FormatBytes(double bytes) {
  constexpr double kMiB = 1024.0 * 1024.0;
  if (bytes >= 1024 * kMiB) {
    return FormatValue(bytes / (1024 * kMiB)) + " GiB";
  }
  return FormatValue(bytes / kMiB) + " MiB";
}

void MinuteWindow::Add(int64_t now_unix_ms, double value) {
  const int64_t minute = now_unix_ms / 60000;
  Bucket& bucket = buckets_[static_cast<std::size_t>(minute % kMinutes)];
  if (bucket.minute != minute) {
    bucket = Bucket{minute, 0, 0};
  }
  bucket.sum += value;
  ++bucket.count;
}

double MinuteWindow::Sum(int64_t now_unix_ms, int minutes) const {
  const int64_t current = now_unix_ms / 60000;
  double sum = 0;
  for (const Bucket& bucket : buckets_) {
    if (bucket.minute > current - minutes && bucket.minute <= current) {
      sum += bucket.sum;
    }
  }
  return sum;
}

double MinuteWindow::MedianOfMeans(int64_t now_unix_ms, int minutes, int* minutes_with_data) const {
  const int64_t current = now_unix_ms / 60000;
  std::array<double, kMinutes> means{};
  std::size_t n = 0;
  for (const Bucket& bucket : buckets_) {
    if (bucket.count > 0 && bucket.minute >= current - minutes && bucket.minute < current) {
      means[n++] = bucket.sum / bucket.count;
    }
  }
  *minutes_with_data = static_cast<int>(n);
  if (n == 0) {
    return 0;
  }
  auto middle = means.begin() + static_cast<std::ptrdiff_t>(n / 2);
  std::nth_element(means.begin(), middle, means.begin() + static_cast<std::ptrdiff_t>(n));
  return *middle;
}

void CounterWindow::Observe(int64_t now_unix_ms, uint64_t total) {
  if (last_total_) {
    // A decrease is a reset (the aggregator restarted): everything since counts.
    const uint64_t increase = total >= *last_total_ ? total - *last_total_ : total;
    window_.Add(now_unix_ms, static_cast<double>(increase));
  }
  last_total_ = total;
}

}  // namespace etcdmon::alerter::detail
