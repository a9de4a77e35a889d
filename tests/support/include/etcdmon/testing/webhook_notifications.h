// The alerter's webhook notifications as a test's receiver (an HttpServer on 127.0.0.1) got
// them. Header-only: link etcdmon::test_http_server, etcdmon::test_support and nlohmann_json.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "etcdmon/testing/http_server.h"
#include "etcdmon/testing/process.h"

namespace etcdmon::testing {

/// One webhook notification.
struct WebhookNotification {
  std::string kind;  // firing, repeat, resolved
  std::string alert;
  std::string severity;
  std::string member;
  std::string fingerprint;
  int64_t notification_id = 0;
  std::string summary;
};

/// The notifications among `requests[first..]`, in the order they arrived; requests that are not
/// a POST of a JSON object are left out.
inline std::vector<WebhookNotification> WebhookNotificationsIn(
    const std::vector<RecordedRequest>& requests, size_t first = 0) {
  std::vector<WebhookNotification> out;
  for (size_t i = first; i < requests.size(); ++i) {
    const RecordedRequest& r = requests[i];
    if (r.method != "POST") continue;
    const nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_object()) continue;
    out.push_back({j.value("kind", ""), j.value("alert", ""), j.value("severity", ""),
                   j.value("member", ""), j.value("fingerprint", ""),
                   j.value("notification_id", int64_t{0}), j.value("summary", "")});
  }
  return out;
}

/// Every notification `receiver` got so far.
inline std::vector<WebhookNotification> WebhookNotifications(const HttpServer& receiver) {
  return WebhookNotificationsIn(receiver.requests());
}

/// Whether `got` holds a notification of `kind` for `alert` (and `member`; "*": any).
inline bool HasNotification(const std::vector<WebhookNotification>& got, const std::string& kind,
                            const std::string& alert, const std::string& member = "*") {
  for (const WebhookNotification& n : got) {
    if (n.kind == kind && n.alert == alert && (member == "*" || n.member == member)) return true;
  }
  return false;
}

/// One line a notification, for failure messages.
inline std::string DescribeNotifications(const std::vector<WebhookNotification>& got) {
  std::string out;
  for (const WebhookNotification& n : got) {
    out += "#" + std::to_string(n.notification_id) + " " + n.kind + " " + n.alert + " " +
           n.severity + " [" + n.member + "] " + n.summary + "\n";
  }
  return out.empty() ? "(no notification)\n" : out;
}

/// Whether the alerter's log at `log_path` records as many deliveries (`notification_delivered`
/// lines) as `receiver` got notifications. Tests that SIGKILL the alerter wait for this first: a
/// notification delivered but not yet recorded is sent again by design (at least once).
inline bool EveryDeliveryIsRecorded(const std::string& log_path, const HttpServer& receiver) {
  const std::string log = ReadWholeFile(log_path);
  size_t recorded = 0;
  for (size_t at = log.find("notification_delivered"); at != std::string::npos;
       at = log.find("notification_delivered", at + 1)) {
    ++recorded;
  }
  return recorded >= WebhookNotifications(receiver).size();
}

}  // namespace etcdmon::testing
