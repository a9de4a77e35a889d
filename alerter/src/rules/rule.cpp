#include "rule.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>

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
  if (last_total_ && now_unix_ms - last_unix_ms_ <= kMaxGapMs) {
    // A decrease is a reset (the aggregator restarted): everything since counts.
    const uint64_t increase = total >= *last_total_ ? total - *last_total_ : total;
    window_.Add(now_unix_ms, static_cast<double>(increase));
  }
  last_total_ = total;
  last_unix_ms_ = now_unix_ms;
}

void StateWriter::Int(int64_t value) {
  if (!out_.empty()) out_ += ' ';
  out_ += std::to_string(value);
}

void StateWriter::Double(double value) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", value);
  if (!out_.empty()) out_ += ' ';
  out_ += buf;
}

void StateWriter::String(std::string_view value) {
  if (!out_.empty()) out_ += ' ';
  out_ += std::to_string(value.size());
  out_ += ':';
  out_.append(value.data(), value.size());
}

bool StateReader::Token(std::string_view& token) {
  if (failed_) {
    return false;
  }
  while (!in_.empty() && in_.front() == ' ') {
    in_.remove_prefix(1);
  }
  const std::size_t end = std::min(in_.find(' '), in_.size());
  token = in_.substr(0, end);
  in_.remove_prefix(end);
  failed_ = token.empty();
  return !failed_;
}

bool StateReader::Int(int64_t& value) {
  std::string_view token;
  if (!Token(token)) {
    return false;
  }
  const std::string text(token);
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(text.c_str(), &end, 10);
  failed_ = errno != 0 || end != text.c_str() + text.size();
  value = parsed;
  return !failed_;
}

bool StateReader::Double(double& value) {
  std::string_view token;
  if (!Token(token)) {
    return false;
  }
  const std::string text(token);
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  failed_ = end != text.c_str() + text.size() || !std::isfinite(value);
  return !failed_;
}

bool StateReader::String(std::string& value) {
  if (failed_) {
    return false;
  }
  while (!in_.empty() && in_.front() == ' ') {
    in_.remove_prefix(1);
  }
  const std::size_t colon = in_.find(':');
  int64_t size = -1;
  if (colon != std::string_view::npos && colon > 0 && colon <= 9) {
    size = 0;
    for (char c : in_.substr(0, colon)) {
      size = c >= '0' && c <= '9' ? size * 10 + (c - '0') : -1;
      if (size < 0) break;
    }
  }
  if (size < 0 || colon + 1 + static_cast<std::size_t>(size) > in_.size()) {
    failed_ = true;
    return false;
  }
  value.assign(in_.substr(colon + 1, static_cast<std::size_t>(size)));
  in_.remove_prefix(colon + 1 + static_cast<std::size_t>(size));
  return true;
}

bool StateReader::Done() const {
  return !failed_ && in_.find_first_not_of(' ') == std::string_view::npos;
}

void MinuteWindow::Save(StateWriter& out) const {
  int64_t used = 0;
  for (const Bucket& bucket : buckets_) {
    used += bucket.minute >= 0 ? 1 : 0;
  }
  out.Int(used);
  for (const Bucket& bucket : buckets_) {
    if (bucket.minute >= 0) {
      out.Int(bucket.minute);
      out.Double(bucket.sum);
      out.Int(bucket.count);
    }
  }
}

bool MinuteWindow::Load(StateReader& in) {
  buckets_ = {};
  int64_t used = 0;
  if (!in.Int(used) || used < 0 || used > kMinutes) {
    return false;
  }
  for (int64_t i = 0; i < used; ++i) {
    int64_t minute = 0, count = 0;
    double sum = 0;
    if (!in.Int(minute) || !in.Double(sum) || !in.Int(count) || minute < 0 || count < 0 ||
        count > UINT32_MAX) {
      return false;
    }
    Bucket& bucket = buckets_[static_cast<std::size_t>(minute % kMinutes)];
    if (minute > bucket.minute) {
      bucket = Bucket{minute, sum, static_cast<uint32_t>(count)};
    }
  }
  return true;
}

void CounterWindow::Save(StateWriter& out) const {
  // A total beyond INT64_MAX is not a count anyone reaches; saved as unknown.
  const bool known = last_total_.has_value() && *last_total_ <= INT64_MAX;
  out.Int(known ? static_cast<int64_t>(*last_total_) : -1);
  out.Int(last_unix_ms_);
  window_.Save(out);
}

bool CounterWindow::Load(StateReader& in) {
  int64_t last = 0;
  if (!in.Int(last) || last < -1 || !in.Int(last_unix_ms_)) {
    return false;
  }
  last_total_.reset();
  if (last >= 0) {
    last_total_ = static_cast<uint64_t>(last);
  }
  return window_.Load(in);
}

}  // namespace etcdmon::alerter::detail
