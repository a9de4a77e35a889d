#include "etcdmon/alerter/alert.h"

#include <openssl/sha.h>

#include <array>
#include <cmath>
#include <cstdio>

#include "etcdmon/strings/strings.h"

namespace etcdmon::alerter {

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kWarning:
      return "warning";
    case Severity::kCritical:
      return "critical";
  }
  return "warning";
}

Result<Severity> ParseSeverity(std::string_view text) {
  const std::string lower = strings::AsciiToLower(text);
  if (lower == "warning") return Severity::kWarning;
  if (lower == "critical") return Severity::kCritical;
  return Status::InvalidArgument("invalid severity \"" + std::string(text) +
                                 "\": want warning or critical");
}

std::string Fingerprint(const AlertKey& key) {
  std::string input;
  input.reserve(key.rule.size() + key.cluster.size() + key.member.size() + 2);
  input.append(key.rule).push_back('\0');
  input.append(key.cluster).push_back('\0');
  input.append(key.member);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (std::size_t i = 0; i < 8; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return out;
}

std::string FormatValue(double value) {
  char text[48];
  const double magnitude = std::fabs(value);
  std::snprintf(text, sizeof(text), magnitude != 0 && magnitude < 10 ? "%.2f" : "%.1f", value);
  std::string out = text;
  // "142.50" → "142.5", "100.0" → "100": trailing zeros carry no information.
  if (out.find('.') != std::string::npos) {
    while (!out.empty() && out.back() == '0') {
      out.pop_back();
    }
    if (!out.empty() && out.back() == '.') {
      out.pop_back();
    }
  }
  return out;
}

std::string_view AlertStateName(AlertState state) {
  switch (state) {
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "pending";
}

Result<AlertState> ParseAlertState(std::string_view text) {
  const std::string lower = strings::AsciiToLower(text);
  if (lower == "pending") return AlertState::kPending;
  if (lower == "firing") return AlertState::kFiring;
  if (lower == "resolved") return AlertState::kResolved;
  return Status::InvalidArgument("invalid alert state \"" + std::string(text) +
                                 "\": want pending, firing or resolved");
}

std::string_view NotificationKindName(NotificationKind kind) {
  switch (kind) {
    case NotificationKind::kFiring:
      return "firing";
    case NotificationKind::kRepeat:
      return "repeat";
    case NotificationKind::kResolved:
      return "resolved";
  }
  return "firing";
}

}  // namespace etcdmon::alerter
