#pragma once

// Shared by the channel and dispatcher tests: a typical notification, and a fake clock set to a
// known instant.

#include <chrono>
#include <string>

#include "etcdmon/alerter/alert.h"

namespace etcdmon::alerter::testing {

// 2023-11-14T22:13:20Z, FakeClock's default start.
inline constexpr int64_t kNowUnixMs = 1700000000000;

/// A firing critical NoLeader-style alert on member etcd-2 of cluster "prod".
inline Notification MakeNotification(NotificationKind kind = NotificationKind::kFiring,
                                     int64_t id = 7) {
  Notification n;
  n.id = id;
  n.kind = kind;
  n.created_unix_ms = kNowUnixMs;
  Alert& a = n.alert;
  a.key = AlertKey{"MemberUnavailable", "prod", "etcd-2"};
  a.fingerprint = Fingerprint(a.key);
  a.severity = Severity::kCritical;
  a.state = kind == NotificationKind::kResolved ? AlertState::kResolved : AlertState::kFiring;
  a.summary = "member etcd-2 unreachable: connection refused";
  a.values = {{"reachable", 0}, {"fsync_p99_ms", 142.5}};
  a.pending_since_unix_ms = kNowUnixMs - 90000;  // 2023-11-14T22:11:50Z
  a.firing_since_unix_ms = kNowUnixMs - 60000;   // 2023-11-14T22:12:20Z
  if (kind == NotificationKind::kResolved) {
    a.resolved_unix_ms = kNowUnixMs - 1000;  // 2023-11-14T22:13:19Z
  }
  return n;
}

}  // namespace etcdmon::alerter::testing
