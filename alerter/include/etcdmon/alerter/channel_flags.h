#pragma once

// The notification channels' flags, shared by the alerter binary and the all-in-one
// `etcd-monitor`: register them on the CLI::App, parse, then Build() a ChannelConfig.
//
//   --console-notifications (default true)   --notify-timeout (default 10s)
//   --webhook-url (WEBHOOK_URL) or --webhook-url-file   --webhook-token-file (or WEBHOOK_TOKEN)
//   --webhook-hmac-secret-file (or WEBHOOK_HMAC_SECRET)
//   --slack-webhook-url (SLACK_WEBHOOK_URL) or --slack-webhook-url-file
//   --pagerduty-routing-key-file (or PAGERDUTY_ROUTING_KEY)  --pagerduty-url
//   --smtp-url (SMTP_URL)  --smtp-from  --smtp-to (comma list)  --smtp-user
//   --smtp-password-file (or SMTP_PASSWORD)  --smtp-ca-file  --smtp-allow-plaintext
//
// A flag beats its variable; for secrets, the *-file flag beats the variable holding the secret
// itself. Secret files are read by Build() (at most 4096 bytes; one trailing line break is
// dropped). No error line ever contains a secret or a webhook URL. A Slack URL, or a webhook URL
// that looks like it holds a token (user info, a query, a path segment of 16+ characters), typed
// on the command line is accepted with a warning (config::WarnAboutCommandLine) that points to
// the *-url-file flag and the variable.
//
// Single-threaded, like config::FlagValue: used once on main()'s thread. Build() reads the
// environment.

#include "etcdmon/alerter/channels.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/status/status.h"

namespace etcdmon::alerter {

class ChannelFlags {
 public:
  /// Registers the flags on `app`, which must outlive this object.
  explicit ChannelFlags(CLI::App& app);

  /// Every problem, one line each, as InvalidArgument.
  Result<ChannelConfig> Build() const;

  /// Same, adding the problems to `errors` (for a binary's own Build() that collects the lines
  /// of several flag groups); the returned config is meaningful only when no line was added.
  ChannelConfig Build(config::FlagErrors& errors) const;

 private:
  config::FlagValue console_;
  config::FlagValue timeout_;
  config::FlagValue webhook_url_;
  config::FlagValue webhook_url_file_;
  config::FlagValue webhook_token_file_;
  config::FlagValue webhook_hmac_secret_file_;
  config::FlagValue slack_webhook_url_;
  config::FlagValue slack_webhook_url_file_;
  config::FlagValue pagerduty_routing_key_file_;
  config::FlagValue pagerduty_url_;
  config::FlagValue smtp_url_;
  config::FlagValue smtp_from_;
  config::FlagValue smtp_to_;
  config::FlagValue smtp_user_;
  config::FlagValue smtp_password_file_;
  config::FlagValue smtp_ca_file_;
  config::FlagValue smtp_allow_plaintext_;
};

}  // namespace etcdmon::alerter
