#pragma once

// Query strings and the time values of the REST API. Pure functions, private to the gateway.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::gateway::detail {

/// Most parameters and longest value a query may carry; more is InvalidArgument.
inline constexpr size_t kMaxQueryParams = 32;
inline constexpr size_t kMaxQueryValueBytes = 512;

/// Whether `text` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view text);

/// `text` (a path or a query) percent-decoded, '+' as a space. InvalidArgument for a '%' without
/// two hex digits, a NUL byte, or a result that is not UTF-8.
Result<std::string> PercentDecode(std::string_view text);

/// The parameters of a query string ("a=1&b=x%20y", without '?'), percent-decoded ('+' is a
/// space). A name given twice is InvalidArgument (which one was meant?).
class QueryParams {
 public:
  static Result<QueryParams> Parse(std::string_view query);

  /// The value, or nullopt when absent.
  std::optional<std::string> Get(std::string_view name) const;
  /// InvalidArgument naming the first parameter not in `known`.
  Status OnlyKnown(std::initializer_list<std::string_view> known) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

/// A point in time as the history endpoint accepts it, in Unix milliseconds: RFC 3339
/// ("2024-05-01T10:00:00Z", "2024-05-01T12:00:00.5+02:00"), Unix seconds ("1714557600",
/// "1714557600.25"), "now", or relative to now ("-1h", "-90s", "-1h30m"). InvalidArgument naming
/// `name` and the text otherwise.
Result<int64_t> ParseTime(std::string_view name, std::string_view text, int64_t now_unix_ms);

/// A step: a duration ("30s", "5m") or plain seconds ("60"). InvalidArgument otherwise.
Result<int64_t> ParseStepMs(std::string_view text);

/// An unsigned decimal in [min, max]; InvalidArgument naming `name` otherwise.
Result<uint64_t> ParseBoundedUint(std::string_view name, std::string_view text, uint64_t min,
                                  uint64_t max);

}  // namespace etcdmon::gateway::detail
