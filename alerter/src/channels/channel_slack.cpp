// Slack incoming webhooks: a plain "text" (used by notifications and clients without blocks)
// and one attachment coloured by severity whose blocks carry the details.

#include <nlohmann/json.hpp>
#include <utility>

#include "channel_util.h"
#include "etcdmon/alerter/channels.h"

namespace etcdmon::alerter {
namespace {

constexpr const char* kColorCritical = "#E01E5A";
constexpr const char* kColorWarning = "#ECB22E";
constexpr const char* kColorResolved = "#2EB67D";
constexpr std::size_t kMaxTextBytes = 2900;  // a section's text may hold 3000 characters
constexpr std::size_t kMaxValues = 20;

// Slack's mrkdwn treats &, < and > as markup.
std::string EscapeMrkdwn(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  if (out.size() > kMaxTextBytes) {
    out.resize(kMaxTextBytes);
    out += "...";
  }
  return out;
}

nlohmann::ordered_json Mrkdwn(std::string text) {
  return {{"type", "mrkdwn"}, {"text", std::move(text)}};
}

class SlackNotifier final : public Notifier {
 public:
  SlackNotifier(SlackConfig config, std::unique_ptr<detail::JsonPoster> poster)
      : config_(std::move(config)), poster_(std::move(poster)) {}

  const std::string& name() const override { return name_; }

  Status Send(const Notification& n) override {
    const Alert& alert = n.alert;
    const bool resolved = n.kind == NotificationKind::kResolved;
    const std::string title = "[" + std::string(resolved ? "RESOLVED" : "FIRING") + " " +
                              std::string(SeverityName(alert.severity)) + "] " + alert.key.rule +
                              " cluster=" + alert.key.cluster +
                              (alert.key.member.empty() ? "" : " member=" + alert.key.member);

    nlohmann::ordered_json fields = nlohmann::ordered_json::array();
    fields.push_back(Mrkdwn("*Severity*\n" + std::string(SeverityName(alert.severity))));
    fields.push_back(Mrkdwn("*Cluster*\n" + EscapeMrkdwn(alert.key.cluster)));
    fields.push_back(
        Mrkdwn("*Member*\n" + (alert.key.member.empty() ? "-" : EscapeMrkdwn(alert.key.member))));
    fields.push_back(Mrkdwn("*Since*\n" + detail::Rfc3339(detail::StartsAtUnixMs(alert))));

    nlohmann::ordered_json blocks = nlohmann::ordered_json::array();
    blocks.push_back(
        {{"type", "section"},
         {"text", Mrkdwn("*" + EscapeMrkdwn(title) + "*\n" + EscapeMrkdwn(alert.summary))},
         {"fields", std::move(fields)}});
    if (!alert.values.empty()) {
      std::string values = "*Values*";
      for (std::size_t i = 0; i < alert.values.size() && i < kMaxValues; ++i) {
        values += "\n`" + alert.values[i].name + "` = " + FormatValue(alert.values[i].value);
      }
      blocks.push_back({{"type", "section"}, {"text", Mrkdwn(EscapeMrkdwn(values))}});
    }
    blocks.push_back({{"type", "context"},
                      {"elements", nlohmann::ordered_json::array(
                                       {Mrkdwn("fingerprint " + alert.fingerprint +
                                               " · notification " + std::to_string(n.id) + " · " +
                                               std::string(NotificationKindName(n.kind)))})}});

    nlohmann::ordered_json attachment;
    attachment["color"] =
        resolved ? kColorResolved
                 : (alert.severity == Severity::kCritical ? kColorCritical : kColorWarning);
    attachment["blocks"] = std::move(blocks);
    nlohmann::ordered_json doc;
    doc["text"] = title + ": " + alert.summary;
    doc["attachments"] = nlohmann::ordered_json::array({std::move(attachment)});
    const std::string body =
        doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return poster_->Post(body, {});
  }

 private:
  const std::string name_ = "slack";
  const SlackConfig config_;
  std::unique_ptr<detail::JsonPoster> poster_;
};

}  // namespace

Result<std::unique_ptr<Notifier>> NewSlackNotifier(SlackConfig config,
                                                   std::chrono::milliseconds timeout) {
  auto poster = detail::JsonPoster::Create("slack", config.webhook_url, timeout);
  if (!poster.ok()) {
    return poster.status();
  }
  return std::unique_ptr<Notifier>(new SlackNotifier(std::move(config), std::move(poster).value()));
}

}  // namespace etcdmon::alerter
