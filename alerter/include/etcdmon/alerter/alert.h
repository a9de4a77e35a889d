#pragma once

// The alerter's vocabulary, shared by the rules engine, the notification channels, the store and
// the gRPC service: what an alert is, and what a notification about it carries.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::alerter {

/// The most clusters the alerter keeps apart (one engine each; sections of a rules file), as
/// the aggregator keeps at most this many cluster models.
inline constexpr std::size_t kMaxClusters = 1000;

enum class Severity { kWarning, kCritical };

/// "warning" / "critical": the spelling of rules files, JSON payloads and the gRPC API.
std::string_view SeverityName(Severity severity);
/// Parses "warning" or "critical" (any case).
Result<Severity> ParseSeverity(std::string_view text);

/// What identifies one alert: alerts are deduplicated on it. `member` is empty for a
/// cluster-wide alert (NoLeader, QuorumLost, ...).
struct AlertKey {
  std::string rule;     // "NoLeader", "MemberUnavailable", ...
  std::string cluster;  // the cluster label
  std::string member;   // member name; empty: the whole cluster

  friend bool operator==(const AlertKey& a, const AlertKey& b) {
    return a.rule == b.rule && a.cluster == b.cluster && a.member == b.member;
  }
  friend bool operator<(const AlertKey& a, const AlertKey& b) {
    if (a.rule != b.rule) return a.rule < b.rule;
    if (a.cluster != b.cluster) return a.cluster < b.cluster;
    return a.member < b.member;
  }
};

/// A stable fingerprint of a key: 16 lowercase hex digits of SHA-256 over the rule, cluster and
/// member (NUL-separated). The same key gives the same fingerprint in every process and version,
/// so receivers can deduplicate on it (webhook `fingerprint`, PagerDuty `dedup_key`).
std::string Fingerprint(const AlertKey& key);

enum class AlertState { kPending, kFiring, kResolved };

/// "pending" / "firing" / "resolved".
std::string_view AlertStateName(AlertState state);
Result<AlertState> ParseAlertState(std::string_view text);

/// A value as people read it in summaries, console lines, Slack and email: "142.5", "0.35",
/// "1200" (two decimals below 10, one above, trailing zeros dropped). Machine-readable payloads
/// (webhook JSON, PagerDuty details) carry the number itself.
std::string FormatValue(double value);

/// One named number behind an alert, e.g. {"fsync_p99_ms", 142.5}.
struct AlertValue {
  std::string name;
  double value = 0;
};

/// One alert instance, from the moment its condition first held until it resolved.
struct Alert {
  AlertKey key;
  std::string fingerprint;  // Fingerprint(key)
  Severity severity = Severity::kWarning;
  AlertState state = AlertState::kPending;
  /// One line, with the member and the values: "member etcd-2 unreachable: connection refused".
  std::string summary;
  /// The values the condition was evaluated on at the latest evaluation.
  std::vector<AlertValue> values;
  /// The channels to notify by name ("console", "webhook", "slack", "pagerduty", "email");
  /// empty: every configured channel.
  std::vector<std::string> channels;

  int64_t pending_since_unix_ms = 0;  // the condition first held
  int64_t firing_since_unix_ms = 0;   // the `for` duration passed; 0 while pending
  int64_t resolved_unix_ms = 0;       // 0 until resolved
  int64_t last_notified_unix_ms = 0;  // latest firing/repeat notification queued; 0: never
};

enum class NotificationKind {
  kFiring,    // the alert started firing
  kRepeat,    // still firing, --repeat-interval after the last notification
  kResolved,  // it resolved after having fired
};

/// "firing" / "repeat" / "resolved".
std::string_view NotificationKindName(NotificationKind kind);

/// One message about one alert, to be delivered to each of the alert's channels.
struct Notification {
  /// Unique per notification and stable across a restart (the store assigns it), so a retried
  /// delivery can be recognised; 0 until assigned.
  int64_t id = 0;
  NotificationKind kind = NotificationKind::kFiring;
  Alert alert;  // the alert as it was when the notification was made
  int64_t created_unix_ms = 0;
};

}  // namespace etcdmon::alerter
