// The generic webhook channel: one JSON document per notification, optionally with a bearer
// token and an HMAC-SHA256 signature of the exact body.

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>

#include "channel_util.h"
#include "etcdmon/alerter/channels.h"

namespace etcdmon::alerter {
namespace {

using detail::Rfc3339;

constexpr const char* kSignatureHeader = "X-Etcd-Monitor-Signature";

std::string HexHmacSha256(const std::string& key, std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest,
           &length) == nullptr) {
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return hex;
}

class WebhookNotifier final : public Notifier {
 public:
  WebhookNotifier(WebhookConfig config, std::unique_ptr<detail::JsonPoster> poster, Clock& clock)
      : config_(std::move(config)), poster_(std::move(poster)), clock_(clock) {}

  const std::string& name() const override { return name_; }

  Status Send(const Notification& notification) override {
    const std::string body = Render(notification);
    http::HttpHeaders headers;
    if (!config_.bearer_token.empty()) {
      headers.emplace_back("Authorization", "Bearer " + config_.bearer_token.Reveal());
    }
    if (!config_.hmac_secret.empty()) {
      const std::string signature = HexHmacSha256(config_.hmac_secret.Reveal(), body);
      if (signature.empty()) {
        return Status::Internal("webhook: HMAC-SHA256 failed");
      }
      headers.emplace_back(kSignatureHeader, "sha256=" + signature);
    }
    return poster_->Post(body, headers,
                         {&config_.bearer_token.Reveal(), &config_.hmac_secret.Reveal()});
  }

 private:
  std::string Render(const Notification& n) const {
    const Alert& alert = n.alert;
    const bool resolved = n.kind == NotificationKind::kResolved;
    nlohmann::ordered_json labels = nlohmann::ordered_json::object();
    labels["alertname"] = alert.key.rule;
    labels["cluster"] = alert.key.cluster;
    if (!alert.key.member.empty()) {
      labels["member"] = alert.key.member;
    }
    labels["severity"] = SeverityName(alert.severity);
    nlohmann::ordered_json values = nlohmann::ordered_json::object();
    for (const AlertValue& v : alert.values) {
      values[v.name] = v.value;  // NaN and infinities become null
    }
    nlohmann::ordered_json doc;
    doc["version"] = "1";
    doc["status"] = resolved ? "resolved" : "firing";
    doc["kind"] = NotificationKindName(n.kind);
    doc["alert"] = alert.key.rule;
    doc["severity"] = SeverityName(alert.severity);
    doc["cluster"] = alert.key.cluster;
    doc["member"] = alert.key.member;
    doc["summary"] = alert.summary;
    doc["labels"] = std::move(labels);
    doc["values"] = std::move(values);
    doc["fingerprint"] = alert.fingerprint;
    doc["starts_at"] = Rfc3339(detail::StartsAtUnixMs(alert));
    if (resolved) {
      doc["ends_at"] =
          Rfc3339(alert.resolved_unix_ms != 0 ? alert.resolved_unix_ms : n.created_unix_ms);
    }
    doc["notification_id"] = n.id;
    doc["sent_at"] = Rfc3339(
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
            .count());
    // Invalid UTF-8 (from an etcd error text, say) becomes U+FFFD instead of throwing.
    return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }

  const std::string name_ = "webhook";
  const WebhookConfig config_;
  std::unique_ptr<detail::JsonPoster> poster_;
  Clock& clock_;
};

}  // namespace

Result<std::unique_ptr<Notifier>> NewWebhookNotifier(WebhookConfig config,
                                                     std::chrono::milliseconds timeout,
                                                     Clock& clock) {
  auto poster = detail::JsonPoster::Create("webhook", config.url, timeout);
  if (!poster.ok()) {
    return poster.status();
  }
  return std::unique_ptr<Notifier>(
      new WebhookNotifier(std::move(config), std::move(poster).value(), clock));
}

}  // namespace etcdmon::alerter
