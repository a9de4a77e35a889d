#pragma once

// Number syntax of the text format: values and `le`/`quantile` labels are Go floats
// (strconv.ParseFloat), timestamps Go int64s (strconv.ParseInt). Private to promtext.

#include <charconv>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace etcdmon::promtext::detail {

enum class NumberError { kNone, kSyntax, kRange };

/// Parses all of `text` as a float: an optional sign, then a decimal number with optional
/// exponent, or Inf/Infinity/NaN in any letter case.
inline NumberError ParseFloat(std::string_view text, double& out) {
  const char* p = text.data();
  const char* end = p + text.size();
  bool negative = false;
  if (p != end && (*p == '+' || *p == '-')) {
    negative = *p == '-';
    ++p;
  }
  // from_chars takes no '+' and would accept a second '-'; the sign is handled above.
  if (p == end || *p == '+' || *p == '-') {
    return NumberError::kSyntax;
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(p, end, value);
  if (ec == std::errc::result_out_of_range) {
    return NumberError::kRange;
  }
  if (ec != std::errc() || ptr != end) {
    return NumberError::kSyntax;
  }
  out = negative ? -value : value;
  return NumberError::kNone;
}

/// Parses all of `text` as a signed decimal 64-bit integer with an optional sign.
inline NumberError ParseInt64(std::string_view text, std::int64_t& out) {
  const char* p = text.data();
  const char* end = p + text.size();
  if (p != end && *p == '+') {
    ++p;
    if (p != end && *p == '-') {
      return NumberError::kSyntax;
    }
  }
  std::int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(p, end, value);
  if (ec == std::errc::result_out_of_range) {
    return NumberError::kRange;
  }
  if (ec != std::errc() || ptr != end || p == end) {
    return NumberError::kSyntax;
  }
  out = value;
  return NumberError::kNone;
}

}  // namespace etcdmon::promtext::detail
