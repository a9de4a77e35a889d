// PagerDuty Events API v2: trigger on firing and repeat, resolve on resolved, deduplicated on
// the alert's fingerprint.

#include <nlohmann/json.hpp>
#include <utility>

#include "channel_util.h"
#include "etcdmon/alerter/channels.h"

namespace etcdmon::alerter {
namespace {

constexpr std::size_t kMaxSummaryBytes = 1024;  // the Events API's limit

class PagerDutyNotifier final : public Notifier {
 public:
  PagerDutyNotifier(PagerDutyConfig config, std::unique_ptr<detail::JsonPoster> poster)
      : config_(std::move(config)), poster_(std::move(poster)) {}

  const std::string& name() const override { return name_; }

  Status Send(const Notification& n) override {
    const Alert& alert = n.alert;
    nlohmann::ordered_json doc;
    doc["routing_key"] = config_.routing_key.Reveal();
    doc["event_action"] = n.kind == NotificationKind::kResolved ? "resolve" : "trigger";
    doc["dedup_key"] = alert.fingerprint;
    if (n.kind != NotificationKind::kResolved) {
      std::string summary = "[" + std::string(SeverityName(alert.severity)) + "] " +
                            alert.key.rule + " cluster=" + alert.key.cluster +
                            (alert.key.member.empty() ? "" : " member=" + alert.key.member) + ": " +
                            alert.summary;
      if (summary.size() > kMaxSummaryBytes) {
        summary.resize(kMaxSummaryBytes);
      }
      nlohmann::ordered_json details = nlohmann::ordered_json::object();
      for (const AlertValue& v : alert.values) {
        details[v.name] = v.value;
      }
      details["fingerprint"] = alert.fingerprint;
      details["notification_kind"] = NotificationKindName(n.kind);
      details["notification_id"] = n.id;
      nlohmann::ordered_json payload;
      payload["summary"] = std::move(summary);
      payload["source"] = alert.key.member.empty() ? alert.key.cluster : alert.key.member;
      payload["severity"] = SeverityName(alert.severity);  // critical | warning
      payload["timestamp"] = detail::Rfc3339(detail::StartsAtUnixMs(alert));
      payload["component"] = "etcd";
      payload["group"] = alert.key.cluster;
      payload["class"] = alert.key.rule;
      payload["custom_details"] = std::move(details);
      doc["payload"] = std::move(payload);
    }
    doc["client"] = "etcd-monitor";
    const std::string body =
        doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    // The Events API answers 202 Accepted; any 2xx counts.
    return poster_->Post(body, {}, {&config_.routing_key.Reveal()});
  }

 private:
  const std::string name_ = "pagerduty";
  const PagerDutyConfig config_;
  std::unique_ptr<detail::JsonPoster> poster_;
};

}  // namespace

Result<std::unique_ptr<Notifier>> NewPagerDutyNotifier(PagerDutyConfig config,
                                                       std::chrono::milliseconds timeout) {
  if (config.routing_key.empty()) {
    return Status::InvalidArgument("pagerduty: the routing key is empty");
  }
  auto poster = detail::JsonPoster::Create("pagerduty", config::Secret(config.url), timeout);
  if (!poster.ok()) {
    return poster.status();
  }
  return std::unique_ptr<Notifier>(
      new PagerDutyNotifier(std::move(config), std::move(poster).value()));
}

}  // namespace etcdmon::alerter
