#include "query.h"

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>

#include "etcdmon/config/types.h"

namespace etcdmon::gateway::detail {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Whole decimal digits of text[pos..pos+n); -1 when any is not a digit.
int Digits(std::string_view text, size_t pos, size_t n) {
  if (pos + n > text.size()) {
    return -1;
  }
  int value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return -1;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM); 't'/'z' and a space for 'T' are accepted.
std::optional<int64_t> ParseRfc3339(std::string_view s) {
  const int year = Digits(s, 0, 4);
  const int month = Digits(s, 5, 2);
  const int day = Digits(s, 8, 2);
  const int hour = Digits(s, 11, 2);
  const int minute = Digits(s, 14, 2);
  const int second = Digits(s, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100;
    const size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) {
      return std::nullopt;
    }
  }
  int64_t offset_seconds = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int oh = Digits(s, pos + 1, 2);
    const int om = Digits(s, pos + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59 || pos + 3 >= s.size() || s[pos + 3] != ':') {
      return std::nullopt;
    }
    offset_seconds = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const int64_t seconds = static_cast<int64_t>(timegm(&tm)) - offset_seconds;
  return seconds * 1000 + millis;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      code_point = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      code_point = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;  // a continuation byte first, an overlong lead (C0, C1) or beyond F4
    }
    if (i + length > text.size()) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        return false;
      }
      code_point = (code_point << 6) | (next & 0x3F);
    }
    const bool overlong =
        (length == 3 && code_point < 0x800) || (length == 4 && code_point < 0x10000);
    const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
    if (overlong || surrogate || code_point > 0x10FFFF) {
      return false;
    }
    i += length;
  }
  return true;
}

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument(
            "bad percent-encoding: '%' must be followed by two hex digits");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  // The values end up in C strings, protobuf strings and JSON, none of which take these.
  if (out.find('\0') != std::string::npos) {
    return Status::InvalidArgument("a NUL byte (%00) is not allowed in the request target");
  }
  if (!IsValidUtf8(out)) {
    return Status::InvalidArgument("the request target decodes to bytes that are not UTF-8");
  }
  return out;
}

Result<QueryParams> QueryParams::Parse(std::string_view query) {
  QueryParams params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    if (params.params_.size() == kMaxQueryParams) {
      return Status::InvalidArgument("too many query parameters (at most " +
                                     std::to_string(kMaxQueryParams) + ")");
    }
    const size_t eq = pair.find('=');
    Result<std::string> name = PercentDecode(pair.substr(0, eq));
    if (!name.ok()) {
      return name.status();
    }
    Result<std::string> value =
        PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value.ok()) {
      return value.status();
    }
    if (name->size() > 64 || value->size() > kMaxQueryValueBytes) {
      return Status::InvalidArgument("query parameter too long (at most " +
                                     std::to_string(kMaxQueryValueBytes) + " bytes)");
    }
    if (params.Get(*name).has_value()) {
      return Status::InvalidArgument("query parameter \"" + *name + "\" is given twice");
    }
    params.params_.emplace_back(std::move(name).value(), std::move(value).value());
  }
  return params;
}

std::optional<std::string> QueryParams::Get(std::string_view name) const {
  for (const auto& [n, v] : params_) {
    if (n == name) {
      return v;
    }
  }
  return std::nullopt;
}

Status QueryParams::OnlyKnown(std::initializer_list<std::string_view> known) const {
  for (const auto& [n, v] : params_) {
    bool found = false;
    for (std::string_view k : known) {
      found = found || k == n;
    }
    if (!found) {
      std::string list;
      for (std::string_view k : known) {
        list += list.empty() ? "" : ", ";
        list += k;
      }
      return Status::InvalidArgument(
          "unknown query parameter \"" + n + "\"" +
          (list.empty() ? " (this endpoint takes none)" : " (known: " + list + ")"));
    }
  }
  return Status::Ok();
}

Result<int64_t> ParseTime(std::string_view name, std::string_view text, int64_t now_unix_ms) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(name) + " \"" + std::string(text) +
                                   "\": " + std::string(why));
  };
  if (text.empty()) {
    return bad("empty (use RFC 3339, Unix seconds, \"now\" or a relative time like -1h)");
  }
  if (text == "now") {
    return now_unix_ms;
  }
  if (text[0] == '-') {
    Result<std::chrono::milliseconds> ago = config::ParseDuration(text.substr(1));
    if (!ago.ok()) {
      return bad("not a relative time like -1h, -30m or -90s");
    }
    return now_unix_ms - ago->count();
  }
  if (std::optional<int64_t> t = ParseRfc3339(text)) {
    return *t;
  }
  // Unix seconds, optionally with a fraction.
  bool digits_only = true;
  int dots = 0;
  for (char c : text) {
    dots += c == '.' ? 1 : 0;
    digits_only = digits_only && (std::isdigit(static_cast<unsigned char>(c)) || c == '.');
  }
  if (digits_only && dots <= 1 && text.size() <= 20 && text.front() != '.' && text.back() != '.') {
    const double seconds = std::strtod(std::string(text).c_str(), nullptr);
    if (std::isfinite(seconds) && seconds < 1e13) {
      return static_cast<int64_t>(std::llround(seconds * 1000.0));
    }
  }
  return bad("not a time (use RFC 3339, Unix seconds, \"now\" or a relative time like -1h)");
}

Result<int64_t> ParseStepMs(std::string_view text) {
  Result<uint64_t> seconds = ParseBoundedUint("step", text, 1, 366ULL * 24 * 3600);
  if (seconds.ok()) {
    return static_cast<int64_t>(*seconds) * 1000;
  }
  Result<std::chrono::milliseconds> d = config::ParseDuration(text);
  if (!d.ok() || d->count() <= 0) {
    return Status::InvalidArgument("step \"" + std::string(text) +
                                   "\": not a positive duration (\"30s\", \"5m\") or seconds");
  }
  return static_cast<int64_t>(d->count());
}

Result<uint64_t> ParseBoundedUint(std::string_view name, std::string_view text, uint64_t min,
                                  uint64_t max) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return Status::InvalidArgument(std::string(name) + " \"" + std::string(text) +
                                   "\": want an integer in " + std::to_string(min) + ".." +
                                   std::to_string(max));
  }
  return value;
}

}  // namespace etcdmon::gateway::detail
