// The email channel: one plain-text message per notification, sent with libcurl's SMTP
// client. TLS: implicit on smtps://; STARTTLS required on smtp:// (a server that does not offer
// it is refused when the channel is made) unless allow_plaintext, and then still used when
// offered. Certificates are always verified.
//
// Every text that reaches the message comes from outside (rule, cluster and member names,
// summaries, values, the configured addresses): control characters in it are replaced, so that
// none can end a header line and start another, or end the DATA and start an SMTP command.

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>
#include <utility>

#include "channel_util.h"
#include "etcdmon/alerter/channels.h"

namespace etcdmon::alerter {
namespace {

constexpr std::size_t kMaxSummaryBytes = 900;  // SMTP lines stop at 998 bytes
constexpr std::size_t kMaxHeaderValueBytes = 900;

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

CURLcode GlobalInit() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

// One line of text (a header value, a name in the body): every control character, line breaks
// included, becomes a space, so that nothing can start a header or a command of its own; the
// length is capped below SMTP's line limit.
std::string OneLineSafe(std::string_view text) {
  std::string out(text.substr(0, kMaxHeaderValueBytes));
  for (char& c : out) {
    if (IsControl(c)) {
      c = ' ';
    }
  }
  return out;
}

// Text for the body (a summary): line breaks become CRLF, other control characters spaces,
// length capped. A line of a lone "." is dot-stuffed by libcurl, so it cannot end the DATA.
std::string BodySafe(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < kMaxSummaryBytes; ++i) {
    if (text[i] == '\r') {
      continue;
    }
    if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += IsControl(text[i]) && text[i] != '\t' ? ' ' : text[i];
    }
  }
  return out;
}

// The fingerprint is ours (hex), but it goes into a header: keep hex digits only.
std::string HexOnly(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      out += c;
    }
  }
  return out;
}

// "Thu, 26 Nov 2026 00:24:33 +0000" (RFC 5322 date-time), in UTC.
std::string Rfc5322Date(std::chrono::system_clock::time_point now) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

class EmailNotifier final : public Notifier {
 public:
  EmailNotifier(EmailConfig config, std::chrono::milliseconds timeout, Clock& clock, CURL* curl)
      : config_(std::move(config)),
        timeout_(timeout),
        clock_(clock),
        curl_(curl),
        safe_url_(detail::SafeUrl(config_.url)) {}

  ~EmailNotifier() override { curl_easy_cleanup(curl_); }

  const std::string& name() const override { return name_; }

  Status Send(const Notification& n) override {
    message_ = Render(n);
    read_offset_ = 0;

    curl_slist* recipients = nullptr;
    for (const std::string& to : config_.to) {
      curl_slist* appended = curl_slist_append(recipients, ("<" + to + ">").c_str());
      if (appended == nullptr) {
        curl_slist_free_all(recipients);
        return Status::ResourceExhausted("email: out of memory");
      }
      recipients = appended;
    }
    error_[0] = '\0';
    const std::string mail_from = "<" + config_.from + ">";
    const bool implicit_tls = config_.url.rfind("smtps://", 0) == 0;
    // Nothing crosses the network in the clear unless allow_plaintext (and never a password):
    // the session fails unless it is encrypted.
    const long use_ssl = implicit_tls || !config_.password.empty() || !config_.allow_plaintext
                             ? CURLUSESSL_ALL
                             : CURLUSESSL_TRY;
    CURLcode code = CURLE_OK;
    const auto set = [&](CURLoption option, auto value) {
      if (code == CURLE_OK) {
        code = curl_easy_setopt(curl_, option, value);
      }
    };
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_ERRORBUFFER, error_);
    set(CURLOPT_URL, config_.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85.0
    set(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
    set(CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
    set(CURLOPT_USE_SSL, use_ssl);
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!config_.ca_file.empty()) {
      set(CURLOPT_CAINFO, config_.ca_file.c_str());
    }
    if (!config_.username.empty()) {
      set(CURLOPT_USERNAME, config_.username.c_str());
      set(CURLOPT_PASSWORD, config_.password.Reveal().c_str());
    }
    set(CURLOPT_MAIL_FROM, mail_from.c_str());
    set(CURLOPT_MAIL_RCPT, recipients);
    set(CURLOPT_UPLOAD, 1L);
    set(CURLOPT_READFUNCTION, &EmailNotifier::Read);
    set(CURLOPT_READDATA, this);
    set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message_.size()));
    if (code == CURLE_OK) {
      code = curl_easy_perform(curl_);
    }
    // The list is freed below; the handle must not keep a pointer to it.
    curl_easy_setopt(curl_, CURLOPT_MAIL_RCPT, nullptr);
    curl_slist_free_all(recipients);
    if (code == CURLE_OK) {
      return Status::Ok();
    }
    long reply = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &reply);
    std::string message =
        "email " + safe_url_ + ": " + (error_[0] != '\0' ? error_ : curl_easy_strerror(code));
    if (reply != 0) {
      message += " (SMTP reply " + std::to_string(reply) + ")";
    }
    message = detail::Scrub(std::move(message), {&config_.password.Reveal()});
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return Status::DeadlineExceeded(std::move(message));
    }
    if (code == CURLE_LOGIN_DENIED || code == CURLE_USE_SSL_FAILED || reply >= 500) {
      // The server refused us, or cannot give the encryption a password needs: retrying the
      // same message will not help.
      return Status::FailedPrecondition(std::move(message));
    }
    return Status::Unavailable(std::move(message));
  }

 private:
  static std::size_t Read(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<EmailNotifier*>(user);
    const std::size_t n = std::min(size * count, self->message_.size() - self->read_offset_);
    std::memcpy(buffer, self->message_.data() + self->read_offset_, n);
    self->read_offset_ += n;
    return n;
  }

  std::string Render(const Notification& n) const {
    const Alert& alert = n.alert;
    const bool resolved = n.kind == NotificationKind::kResolved;
    const std::string severity(SeverityName(alert.severity));
    const std::string rule = OneLineSafe(alert.key.rule);
    const std::string cluster = OneLineSafe(alert.key.cluster);
    const std::string member = OneLineSafe(alert.key.member);
    std::string subject = "[" + std::string(resolved ? "RESOLVED " : "FIRING ") + severity + "] " +
                          rule + " cluster=" + cluster;
    if (!member.empty()) {
      subject += " member=" + member;
    }
    std::string to;
    for (const std::string& address : config_.to) {
      to += (to.empty() ? "" : ", ") + address;
    }
    const auto now = clock_.Now();
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::string out;
    out += "Date: " + Rfc5322Date(now) + "\r\n";
    out += "Message-ID: <etcd-monitor." + std::to_string(n.id) + "." + HexOnly(alert.fingerprint) +
           "." + std::to_string(now_ms) + "@etcd-monitor>\r\n";
    out += "From: " + OneLineSafe(config_.from) + "\r\n";
    out += "To: " + OneLineSafe(to) + "\r\n";
    out += "Subject: " + OneLineSafe(subject) + "\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    out += "Content-Transfer-Encoding: 8bit\r\n";
    out += "\r\n";
    out +=
        std::string(resolved ? "RESOLVED" : "FIRING") + " " + severity + ": " + rule + "\r\n\r\n";
    out += "cluster:     " + cluster + "\r\n";
    out += "member:      " + (member.empty() ? "-" : member) + "\r\n";
    out += "since:       " + detail::Rfc3339(detail::StartsAtUnixMs(alert)) + "\r\n";
    if (resolved) {
      out += "resolved:    " +
             detail::Rfc3339(alert.resolved_unix_ms != 0 ? alert.resolved_unix_ms
                                                         : n.created_unix_ms) +
             "\r\n";
    }
    out += "summary:     " + BodySafe(alert.summary) + "\r\n";
    if (!alert.values.empty()) {
      out += "\r\nvalues:\r\n";
      for (const AlertValue& v : alert.values) {
        out += "  " + OneLineSafe(v.name) + " = " + FormatValue(v.value) + "\r\n";
      }
    }
    out += "\r\nfingerprint: " + HexOnly(alert.fingerprint) + "\r\n";
    out += "notification " + std::to_string(n.id) + " (" +
           std::string(NotificationKindName(n.kind)) + ") from etcd-monitor\r\n";
    return out;
  }

  const std::string name_ = "email";
  const EmailConfig config_;
  const std::chrono::milliseconds timeout_;
  Clock& clock_;
  CURL* const curl_;  // owned; keeps the connection cache between sends
  const std::string safe_url_;
  char error_[CURL_ERROR_SIZE] = {};
  std::string message_;  // the message being sent
  std::size_t read_offset_ = 0;
};

// Sends NOOP with STARTTLS required: FailedPrecondition when the server answers but does not
// offer STARTTLS. Any other failure (the server is down at start, say) is left to the sends,
// which require TLS as well.
Status ProbeStartTls(const EmailConfig& config, std::chrono::milliseconds timeout) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return Status::Internal("curl_easy_init failed");
  }
  const auto discard =
      +[](char*, std::size_t size, std::size_t count, void*) { return size * count; };
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_URL, config.url.c_str());
#if LIBCURL_VERSION_NUM >= 0x075500  // 7.85.0
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp");
#else
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_SMTP));
#endif
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!config.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, config.ca_file.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "NOOP");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  if (code == CURLE_USE_SSL_FAILED) {
    return Status::FailedPrecondition(
        "email: the mail server " + detail::SafeUrl(config.url) +
        " does not offer STARTTLS, so alert mail would cross the network unencrypted; use "
        "smtps://, a server with STARTTLS, or --smtp-allow-plaintext");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Notifier>> NewEmailNotifier(EmailConfig config,
                                                   std::chrono::milliseconds timeout,
                                                   Clock& clock) {
  const bool smtp = config.url.rfind("smtp://", 0) == 0;
  const bool smtps = config.url.rfind("smtps://", 0) == 0;
  if (!smtp && !smtps) {
    return Status::InvalidArgument("email: the SMTP URL " + detail::SafeUrl(config.url) +
                                   " is not smtp:// or smtps://");
  }
  if (!detail::IsPlainAddress(config.from)) {
    return Status::InvalidArgument("email: invalid sender address \"" + config.from + "\"");
  }
  if (config.to.empty()) {
    return Status::InvalidArgument("email: no recipient");
  }
  for (const std::string& to : config.to) {
    if (!detail::IsPlainAddress(to)) {
      return Status::InvalidArgument("email: invalid recipient address \"" + to + "\"");
    }
  }
  if (config.username.empty() != config.password.empty()) {
    return Status::InvalidArgument("email: a user and a password go together");
  }
  if (config.allow_plaintext && !config.username.empty()) {
    return Status::InvalidArgument("email: plaintext is never allowed with a password");
  }
  if (timeout.count() <= 0) {
    return Status::InvalidArgument("email: the timeout must be positive");
  }
  const CURLcode init = GlobalInit();
  if (init != CURLE_OK) {
    return Status::Internal(std::string("curl_global_init failed: ") + curl_easy_strerror(init));
  }
  if (smtp && !config.allow_plaintext) {
    ETCDMON_RETURN_IF_ERROR(ProbeStartTls(config, timeout));
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return Status::Internal("curl_easy_init failed");
  }
  return std::unique_ptr<Notifier>(new EmailNotifier(std::move(config), timeout, clock, curl));
}

}  // namespace etcdmon::alerter
