#pragma once

// The notification channels: console, webhook, Slack, PagerDuty and email. Each is a Notifier
// (notifier.h) made by a factory below from a plain config struct; MakeNotifiers() makes every
// channel a ChannelConfig (channel_flags.h builds one from flags and environment) asks for.
//
// Every channel's requests have a timeout. Secrets (tokens, keys, passwords, and the webhook and
// Slack URLs, which carry tokens) are config::Secret and never appear in logs or in errors:
// messages name a URL by its scheme and host only.
//
// HTTP outcomes: 2xx is delivered; 4xx other than 408 and 429 is permanent (InvalidArgument, or
// FailedPrecondition for 401/403 and other non-2xx codes such as redirects, which are not
// followed); 5xx, 408, 429, timeouts and connection errors are retryable (Unavailable or
// DeadlineExceeded).

#include <spdlog/fwd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "etcdmon/alerter/notifier.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::alerter {

/// A JSON POST per notification (the format is in README.md §Notification channels).
struct WebhookConfig {
  config::Secret url;           // http:// or https://
  config::Secret bearer_token;  // empty: no Authorization header
  config::Secret hmac_secret;   // empty: no X-Etcd-Monitor-Signature header
};

/// A Slack incoming webhook.
struct SlackConfig {
  config::Secret webhook_url;  // https://hooks.slack.com/services/...
};

/// PagerDuty Events API v2.
struct PagerDutyConfig {
  config::Secret routing_key;
  std::string url = "https://events.pagerduty.com/v2/enqueue";
};

/// Email over SMTP (libcurl).
struct EmailConfig {
  /// smtp://host:port (STARTTLS, required unless allow_plaintext) or smtps://host:port (TLS
  /// from the first byte).
  std::string url;
  std::string from;             // an address: alerts@example.com
  std::vector<std::string> to;  // at least one address
  std::string username;         // empty: no AUTH
  config::Secret password;      // set exactly when username is
  std::string ca_file;          // empty: the system trust store; verification is always on
  /// smtp:// to a server without STARTTLS is allowed (--smtp-allow-plaintext): mail then goes
  /// unencrypted. Never together with a password. STARTTLS is still used when offered.
  bool allow_plaintext = false;
};

/// Which channels to create, with their settings.
struct ChannelConfig {
  bool console = true;
  std::optional<WebhookConfig> webhook;
  std::optional<SlackConfig> slack;
  std::optional<PagerDutyConfig> pagerduty;
  std::optional<EmailConfig> email;
  /// Deadline of one delivery attempt (connecting, sending, reading the answer).
  std::chrono::milliseconds timeout{10000};
};

/// Writes one line per notification on `logger` (named "alerts" by convention, made with
/// logging::MakeLogger so that it follows --log-format):
///   alert kind=firing rule=NoLeader severity=critical cluster=prod member=- summary="..."
///   values="leaders=0" fingerprint=0123456789abcdef notification_id=7
/// Firing and repeat notifications log at warn, resolved ones at info. Never fails.
std::unique_ptr<Notifier> NewConsoleNotifier(std::shared_ptr<spdlog::logger> logger);

/// `clock` stamps "sent_at" and must outlive the notifier. InvalidArgument for a URL that is
/// not http(s); Internal when the HTTP library cannot start.
Result<std::unique_ptr<Notifier>> NewWebhookNotifier(WebhookConfig config,
                                                     std::chrono::milliseconds timeout,
                                                     Clock& clock);
Result<std::unique_ptr<Notifier>> NewSlackNotifier(SlackConfig config,
                                                   std::chrono::milliseconds timeout);
Result<std::unique_ptr<Notifier>> NewPagerDutyNotifier(PagerDutyConfig config,
                                                       std::chrono::milliseconds timeout);
/// `clock` stamps the Date header. An SMTP 5xx reply or a refused login is FailedPrecondition
/// (permanent); a 4xx reply, a timeout or a connection or TLS failure is retryable. On smtp://
/// without allow_plaintext the server is asked once (NOOP, within `timeout`): one that answers
/// without offering STARTTLS is FailedPrecondition here; an unreachable one is not (the sends
/// require TLS anyway). Control characters in every text of a message are replaced, and
/// addresses must be bare local@domain: no field can add a header or an SMTP command.
Result<std::unique_ptr<Notifier>> NewEmailNotifier(EmailConfig config,
                                                   std::chrono::milliseconds timeout, Clock& clock);

/// Every channel `config` asks for, console first, then webhook, slack, pagerduty, email.
/// `console_logger` is used only when config.console is true (and must then be non-null).
/// `clock` must outlive the notifiers.
Result<std::vector<std::unique_ptr<Notifier>>> MakeNotifiers(
    const ChannelConfig& config, std::shared_ptr<spdlog::logger> console_logger, Clock& clock);

}  // namespace etcdmon::alerter
