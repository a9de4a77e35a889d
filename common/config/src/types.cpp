#include "etcdmon/config/types.h"

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "etcdmon/strings/strings.h"
#include "parse.h"

namespace etcdmon::config {

namespace detail {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Host names and IPv4 addresses: RFC 1123 letters, digits, '-' and '.', plus '_' which
// Docker Compose service names use.
bool IsHostNameChar(char c) { return IsAlnum(c) || c == '-' || c == '.' || c == '_'; }

// The inside of "[...]": an IPv6 address, optionally with a "%zone".
bool IsIpv6Char(char c) { return IsAlnum(c) || c == ':' || c == '.' || c == '%' || c == '-'; }

Result<uint16_t> ParsePort(std::string_view text) {
  if (text.empty()) {
    return Status::InvalidArgument("missing port");
  }
  uint32_t port = 0;
  for (char c : text) {
    if (!IsDigit(c)) {
      return Status::InvalidArgument("invalid port " + Quote(text));
    }
    port = port * 10 + static_cast<uint32_t>(c - '0');
    if (port > 65535) {
      return Status::InvalidArgument("port " + std::string(text) + " out of range 1..65535");
    }
  }
  if (port == 0) {
    return Status::InvalidArgument("port 0 out of range 1..65535");
  }
  return static_cast<uint16_t>(port);
}

struct DurationUnit {
  std::string_view name;
  uint64_t nanos;
};

constexpr DurationUnit kDurationUnits[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xC2\xB5s", 1000},  // U+00B5 MICRO SIGN, as Go accepts
    {"\xCE\xBCs", 1000},  // U+03BC GREEK SMALL LETTER MU, as Go accepts
    {"ms", 1000 * 1000},
    {"s", 1000 * 1000 * 1000},
    {"m", 60ULL * 1000 * 1000 * 1000},
    {"h", 3600ULL * 1000 * 1000 * 1000},
};

constexpr uint64_t kMaxNanos = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

}  // namespace

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

Result<Endpoint> ParseEndpointReason(std::string_view text) {
  if (text.empty()) {
    return Status::InvalidArgument("empty endpoint");
  }
  Endpoint endpoint;
  std::string_view rest = text;
  if (const auto sep = rest.find("://"); sep != std::string_view::npos) {
    const std::string scheme = strings::AsciiToLower(rest.substr(0, sep));
    if (scheme != "http" && scheme != "https") {
      return Status::InvalidArgument("unknown scheme " + Quote(rest.substr(0, sep)) +
                                     " (want http or https)");
    }
    endpoint.scheme = scheme;
    rest.remove_prefix(sep + 3);
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (rest.empty()) {
    return Status::InvalidArgument("empty host");
  }
  if (const auto bad = rest.find_first_of("/?#"); bad != std::string_view::npos) {
    return Status::InvalidArgument("paths are not allowed");
  }
  if (rest.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("user names are not allowed; use --user");
  }

  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("missing ']' after IPv6 address");
    }
    host = rest.substr(1, close - 1);
    const std::string_view after = rest.substr(close + 1);
    if (after.empty()) {
      return Status::InvalidArgument("missing port");
    }
    if (after.front() != ':') {
      return Status::InvalidArgument("unexpected " + Quote(after) + " after ']'");
    }
    port = after.substr(1);
    if (host.empty()) {
      return Status::InvalidArgument("empty host");
    }
    for (char c : host) {
      if (!IsIpv6Char(c)) {
        return Status::InvalidArgument("invalid IPv6 address " + Quote(host));
      }
    }
    if (host.find(':') == std::string_view::npos) {
      return Status::InvalidArgument("invalid IPv6 address " + Quote(host));
    }
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("missing port");
    }
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument("IPv6 addresses need brackets, as in [::1]:2379");
    }
    if (host.empty()) {
      return Status::InvalidArgument("empty host");
    }
    for (char c : host) {
      if (!IsHostNameChar(c)) {
        return Status::InvalidArgument("invalid host " + Quote(host));
      }
    }
  }
  Result<uint16_t> parsed_port = ParsePort(port);
  if (!parsed_port.ok()) {
    return parsed_port.status();
  }
  endpoint.host = std::string(host);
  endpoint.port = *parsed_port;
  return endpoint;
}

Result<std::chrono::nanoseconds> ParseDurationReason(std::string_view text) {
  // Follows Go's time.ParseDuration, minus negative values.
  std::string_view s = text;
  if (s.empty()) {
    return Status::InvalidArgument("empty duration");
  }
  if (s.front() == '-') {
    return Status::InvalidArgument("negative durations are not allowed");
  }
  if (s.front() == '+') {
    s.remove_prefix(1);
  }
  if (s == "0") {
    return std::chrono::nanoseconds(0);
  }
  if (s.empty()) {
    return Status::InvalidArgument("expected a number");
  }
  const Status too_large = Status::InvalidArgument("too large (the limit is about 292 years)");
  uint64_t total = 0;
  while (!s.empty()) {
    size_t i = 0;
    uint64_t whole = 0;
    while (i < s.size() && IsDigit(s[i])) {
      if (whole > kMaxNanos / 10) {
        return too_large;
      }
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      if (whole > kMaxNanos) {
        return too_large;
      }
      ++i;
    }
    const bool has_whole = i > 0;
    uint64_t fraction = 0;
    uint64_t scale = 1;
    bool has_fraction = false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && IsDigit(s[i])) {
        has_fraction = true;
        // Digits past 10^18 cannot change a nanosecond count; drop them as Go does.
        if (scale < 1000ULL * 1000 * 1000 * 1000 * 1000 * 1000) {
          fraction = fraction * 10 + static_cast<uint64_t>(s[i] - '0');
          scale *= 10;
        }
        ++i;
      }
    }
    if (!has_whole && !has_fraction) {
      return Status::InvalidArgument("expected a number at " + Quote(s));
    }
    size_t unit_end = i;
    while (unit_end < s.size() && !IsDigit(s[unit_end]) && s[unit_end] != '.') {
      ++unit_end;
    }
    const std::string_view unit_name = s.substr(i, unit_end - i);
    if (unit_name.empty()) {
      return Status::InvalidArgument("missing unit after " + Quote(s.substr(0, i)) +
                                     " (use ns, us, ms, s, m or h)");
    }
    uint64_t unit = 0;
    for (const DurationUnit& u : kDurationUnits) {
      if (u.name == unit_name) {
        unit = u.nanos;
      }
    }
    if (unit == 0) {
      return Status::InvalidArgument("unknown unit " + Quote(unit_name) +
                                     " (use ns, us, ms, s, m or h)");
    }
    if (whole > kMaxNanos / unit) {
      return too_large;
    }
    uint64_t value = whole * unit;
    if (fraction > 0) {
      value += static_cast<uint64_t>(static_cast<long double>(fraction) *
                                     (static_cast<long double>(unit) / scale));
      if (value > kMaxNanos) {
        return too_large;
      }
    }
    total += value;
    if (total > kMaxNanos) {
      return too_large;
    }
    s.remove_prefix(unit_end);
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

}  // namespace detail

std::string Endpoint::Authority() const {
  const std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + port_text;
  }
  return host + ":" + port_text;
}

std::string Endpoint::Url(std::string_view default_scheme) const {
  const std::string_view used = scheme.empty() ? default_scheme : std::string_view(scheme);
  return std::string(used) + "://" + Authority();
}

Result<Endpoint> ParseEndpoint(std::string_view text) {
  Result<Endpoint> endpoint = detail::ParseEndpointReason(text);
  if (!endpoint.ok()) {
    return Status::InvalidArgument("invalid endpoint " + detail::Quote(text) + ": " +
                                   endpoint.status().message());
  }
  return endpoint;
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  Result<std::chrono::nanoseconds> nanos = detail::ParseDurationReason(text);
  if (!nanos.ok()) {
    return Status::InvalidArgument("invalid duration " + detail::Quote(text) + ": " +
                                   nanos.status().message());
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*nanos);
}

std::string_view BenchmarkTypeName(BenchmarkType type) {
  switch (type) {
    case BenchmarkType::kWrite:
      return "write";
    case BenchmarkType::kRead:
      return "read";
    case BenchmarkType::kMixed:
      return "mixed";
  }
  return "unknown";
}

}  // namespace etcdmon::config
