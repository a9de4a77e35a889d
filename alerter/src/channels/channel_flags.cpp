#include "etcdmon/alerter/channel_flags.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <utility>

#include "channel_util.h"
#include "etcdmon/strings/strings.h"

namespace etcdmon::alerter {
namespace {

using config::FlagErrors;
using config::FlagValue;

// Unset and empty are the same, as for every variable CLI11 reads.
std::optional<std::string> GetEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    return std::nullopt;
  }
  return std::string(value);
}

// A secret from `file_flag` (a path) or else from the variable `env`, which holds the secret
// itself. Empty when neither is given.
config::Secret SecretFrom(const FlagValue& file_flag, const char* env, FlagErrors& errors) {
  if (file_flag.given()) {
    const std::string path = file_flag.AsReadableFile(errors);
    if (path.empty()) {
      return {};
    }
    Result<std::string> secret = config::ReadSecretFile(path);
    if (!secret.ok()) {
      errors.Add(file_flag.Source() + " \"" + path + "\": " + secret.status().message());
      return {};
    }
    return config::Secret(std::move(secret).value());
  }
  std::optional<std::string> value = GetEnv(env);
  if (value && value->find_first_of("\r\n") != std::string::npos) {
    errors.Add(std::string("env ") + env + ": holds a line break");
    return {};
  }
  return value ? config::Secret(std::move(*value)) : config::Secret();
}

// True when `url` looks like it carries a credential: user info, a query, or a path segment of
// 16 characters or more (Slack's and most services' webhook tokens are path segments).
bool UrlMayHoldToken(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return false;
  }
  const std::string_view rest = url.substr(scheme_end + 3);
  const std::size_t path_begin = std::min(rest.find_first_of("/?#"), rest.size());
  if (rest.substr(0, path_begin).find('@') != std::string_view::npos ||
      rest.find_first_of("?#") != std::string_view::npos) {
    return true;
  }
  std::size_t segment = 0;
  for (std::size_t i = path_begin; i < rest.size(); ++i) {
    segment = rest[i] == '/' ? 0 : segment + 1;
    if (segment >= 16) {
      return true;
    }
  }
  return false;
}

// A URL that may hold a token, from `file_flag` (a file holding the URL), else from `url_flag`
// (the flag or its variable). A token-bearing URL typed on the command line is used, with a
// warning pointing to the file and variable forms. Errors never print the URL.
std::optional<config::Secret> SecretUrlFrom(const FlagValue& url_flag, const FlagValue& file_flag,
                                            bool always_holds_token, FlagErrors& errors) {
  std::string url;
  std::string source;
  if (file_flag.given()) {
    if (url_flag.given()) {
      errors.Add(file_flag.Source() + ": give the URL once (" + url_flag.Source() +
                 " is given too)");
      return std::nullopt;
    }
    const std::string path = file_flag.AsReadableFile(errors);
    if (path.empty()) {
      return std::nullopt;
    }
    Result<std::string> content = config::ReadSecretFile(path);
    if (!content.ok()) {
      errors.Add(file_flag.Source() + " \"" + path + "\": " + content.status().message());
      return std::nullopt;
    }
    url = std::move(content).value();
    source = file_flag.Source() + " \"" + path + "\"";
  } else if (url_flag.given()) {
    url = url_flag.raw();
    source = url_flag.Source();
    if (source == url_flag.flag() && (always_holds_token || UrlMayHoldToken(url))) {
      config::WarnAboutCommandLine(
          url_flag.flag() + ": the URL may hold a token and is on the command line, where ps " +
          "shows it to every local user; give " + file_flag.flag() + " FILE or env " +
          url_flag.env());
    }
  } else {
    return std::nullopt;
  }
  if (!detail::IsHttpUrl(url)) {
    errors.Add(source + ": not an http:// or https:// URL (the value is not shown: it may hold " +
               "a token)");
  }
  return config::Secret(std::move(url));
}

std::vector<std::string> SplitAddresses(const std::string& text) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find(',', begin);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string_view item =
        strings::TrimAsciiWhitespace(std::string_view(text).substr(begin, end - begin));
    if (!item.empty()) {
      out.emplace_back(item);
    }
    begin = end + 1;
  }
  return out;
}

}  // namespace

ChannelFlags::ChannelFlags(CLI::App& app)
    : console_(FlagValue::AddSwitch(app, "console-notifications", "", true,
                                    "log every notification on the \"alerts\" logger")),
      timeout_(FlagValue::AddOption(app, "notify-timeout", "", "10s",
                                    "deadline of one delivery attempt to a channel", "DURATION")),
      webhook_url_(FlagValue::AddOption(app, "webhook-url", "WEBHOOK_URL", "",
                                        "POST a JSON document per notification to this URL",
                                        "URL")),
      webhook_url_file_(FlagValue::AddOption(
          app, "webhook-url-file", "", "",
          "file holding the webhook URL, for a URL that carries a token (instead of "
          "--webhook-url)",
          "FILE")),
      webhook_token_file_(FlagValue::AddOption(
          app, "webhook-token-file", "", "",
          "file holding a bearer token for the webhook (WEBHOOK_TOKEN may hold it instead)",
          "FILE")),
      webhook_hmac_secret_file_(FlagValue::AddOption(
          app, "webhook-hmac-secret-file", "", "",
          "file holding a key to sign webhook bodies with HMAC-SHA256 (WEBHOOK_HMAC_SECRET may "
          "hold it instead)",
          "FILE")),
      slack_webhook_url_(FlagValue::AddOption(app, "slack-webhook-url", "SLACK_WEBHOOK_URL", "",
                                              "Slack incoming-webhook URL (it holds a token: "
                                              "prefer --slack-webhook-url-file)",
                                              "URL")),
      slack_webhook_url_file_(FlagValue::AddOption(app, "slack-webhook-url-file", "", "",
                                                   "file holding the Slack incoming-webhook URL",
                                                   "FILE")),
      pagerduty_routing_key_file_(FlagValue::AddOption(
          app, "pagerduty-routing-key-file", "", "",
          "file holding a PagerDuty Events API v2 routing key (PAGERDUTY_ROUTING_KEY may hold "
          "it instead)",
          "FILE")),
      pagerduty_url_(FlagValue::AddOption(app, "pagerduty-url", "", PagerDutyConfig{}.url,
                                          "PagerDuty Events API v2 endpoint", "URL")),
      smtp_url_(FlagValue::AddOption(app, "smtp-url", "SMTP_URL", "",
                                     "mail server: smtp://host:port (STARTTLS) or "
                                     "smtps://host:port (TLS)",
                                     "URL")),
      smtp_from_(FlagValue::AddOption(app, "smtp-from", "", "", "sender address of alert mail",
                                      "ADDRESS")),
      smtp_to_(FlagValue::AddOption(app, "smtp-to", "", "",
                                    "recipients of alert mail, comma-separated", "ADDRESSES")),
      smtp_user_(FlagValue::AddOption(app, "smtp-user", "", "", "SMTP AUTH user", "NAME")),
      smtp_password_file_(FlagValue::AddOption(
          app, "smtp-password-file", "", "",
          "file holding the SMTP password (SMTP_PASSWORD may hold it instead); sent only over "
          "TLS",
          "FILE")),
      smtp_ca_file_(FlagValue::AddOption(app, "smtp-ca-file", "", "",
                                         "CA certificates for the mail server (default: the "
                                         "system trust store)",
                                         "FILE")),
      smtp_allow_plaintext_(FlagValue::AddSwitch(
          app, "smtp-allow-plaintext", "", false,
          "send alert mail over smtp:// without TLS when the server offers no STARTTLS (by "
          "default such a server is refused at start); never together with --smtp-user")) {}

Result<ChannelConfig> ChannelFlags::Build() const {
  FlagErrors errors;
  ChannelConfig config = Build(errors);
  ETCDMON_RETURN_IF_ERROR(errors.ToStatus());
  return config;
}

ChannelConfig ChannelFlags::Build(FlagErrors& errors) const {
  ChannelConfig config;
  config.console = console_.AsBool(errors);
  config.timeout = timeout_.AsPositiveDuration(errors);

  // Webhook.
  config::Secret token = SecretFrom(webhook_token_file_, "WEBHOOK_TOKEN", errors);
  config::Secret hmac = SecretFrom(webhook_hmac_secret_file_, "WEBHOOK_HMAC_SECRET", errors);
  std::optional<config::Secret> webhook_url =
      SecretUrlFrom(webhook_url_, webhook_url_file_, /*always_holds_token=*/false, errors);
  if (webhook_url) {
    config.webhook = WebhookConfig{std::move(*webhook_url), std::move(token), std::move(hmac)};
  } else {
    if (!token.empty()) {
      errors.Add((webhook_token_file_.given() ? webhook_token_file_.Source()
                                              : std::string("env WEBHOOK_TOKEN")) +
                 ": a webhook token without --webhook-url");
    }
    if (!hmac.empty()) {
      errors.Add((webhook_hmac_secret_file_.given() ? webhook_hmac_secret_file_.Source()
                                                    : std::string("env WEBHOOK_HMAC_SECRET")) +
                 ": an HMAC secret without --webhook-url");
    }
  }

  // Slack.
  std::optional<config::Secret> slack_url = SecretUrlFrom(
      slack_webhook_url_, slack_webhook_url_file_, /*always_holds_token=*/true, errors);
  if (slack_url) {
    config.slack = SlackConfig{std::move(*slack_url)};
  }

  // PagerDuty.
  config::Secret routing_key =
      SecretFrom(pagerduty_routing_key_file_, "PAGERDUTY_ROUTING_KEY", errors);
  if (!detail::IsHttpUrl(pagerduty_url_.raw())) {
    errors.Add(pagerduty_url_.Error("not an http:// or https:// URL"));
  }
  if (!routing_key.empty()) {
    config.pagerduty = PagerDutyConfig{std::move(routing_key), pagerduty_url_.raw()};
  } else if (pagerduty_url_.given()) {
    errors.Add(pagerduty_url_.Source() +
               ": needs a routing key (--pagerduty-routing-key-file or PAGERDUTY_ROUTING_KEY)");
  }

  // Email.
  config::Secret password = SecretFrom(smtp_password_file_, "SMTP_PASSWORD", errors);
  const std::string ca_file = smtp_ca_file_.AsReadableFile(errors);
  if (smtp_url_.given()) {
    EmailConfig email;
    email.url = smtp_url_.raw();
    const bool scheme_ok =
        email.url.rfind("smtp://", 0) == 0 || email.url.rfind("smtps://", 0) == 0;
    const std::string safe = detail::SafeUrl(email.url);
    if (!scheme_ok || safe.size() <= email.url.find("://") + 3) {
      errors.Add(smtp_url_.Source() + " \"" + safe +
                 "\": want smtp://host:port or smtps://host:port");
    } else if (email.url.find('@') != std::string::npos) {
      errors.Add(smtp_url_.Source() + " \"" + safe +
                 "\": no credentials in the URL; use --smtp-user and --smtp-password-file");
    }
    email.from = smtp_from_.raw();
    if (email.from.empty()) {
      errors.Add(smtp_url_.Source() + ": needs --smtp-from");
    } else if (!detail::IsPlainAddress(email.from)) {
      errors.Add(smtp_from_.Error("not a plain address like alerts@example.com"));
    }
    email.to = SplitAddresses(smtp_to_.raw());
    if (email.to.empty()) {
      errors.Add(smtp_url_.Source() + ": needs --smtp-to");
    }
    for (const std::string& to : email.to) {
      if (!detail::IsPlainAddress(to)) {
        errors.Add(smtp_to_.Source() + " \"" + to +
                   "\": not a plain address like oncall@example.com");
      }
    }
    email.username = smtp_user_.raw();
    if (!password.empty() && email.username.empty()) {
      errors.Add((smtp_password_file_.given() ? smtp_password_file_.Source()
                                              : std::string("env SMTP_PASSWORD")) +
                 ": a password without --smtp-user");
    }
    if (!email.username.empty() && password.empty()) {
      errors.Add(smtp_user_.Source() + ": no password (--smtp-password-file or SMTP_PASSWORD)");
    }
    email.password = std::move(password);
    email.ca_file = ca_file;
    email.allow_plaintext = smtp_allow_plaintext_.AsBool(errors);
    if (email.allow_plaintext && !email.username.empty()) {
      errors.Add(smtp_allow_plaintext_.Source() +
                 ": not with --smtp-user (a password is never sent without TLS)");
    }
    config.email = std::move(email);
  } else {
    for (const FlagValue* flag : {&smtp_from_, &smtp_to_, &smtp_user_, &smtp_password_file_,
                                  &smtp_ca_file_, &smtp_allow_plaintext_}) {
      if (flag->given()) {
        errors.Add(flag->Source() + ": needs --smtp-url");
      }
    }
    if (!smtp_password_file_.given() && !password.empty()) {
      errors.Add("env SMTP_PASSWORD: needs --smtp-url");
    }
  }
  return config;
}

}  // namespace etcdmon::alerter
