#include "channel_util.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

namespace etcdmon::alerter::detail {

namespace {

constexpr std::size_t kQuotedBodyBytes = 200;

}  // namespace

std::string Rfc3339(int64_t unix_ms) {
  const int64_t seconds = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  const int millis = static_cast<int>(unix_ms - seconds * 1000);
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

int64_t StartsAtUnixMs(const Alert& alert) {
  return alert.firing_since_unix_ms != 0 ? alert.firing_since_unix_ms : alert.pending_since_unix_ms;
}

std::string SafeUrl(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    return "(invalid URL)";
  }
  std::size_t authority = scheme_end + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
  const std::size_t at = url.substr(0, authority_end).rfind('@');
  if (at != std::string_view::npos && at >= authority) {
    authority = at + 1;
  }
  return std::string(url.substr(0, scheme_end + 3)) +
         std::string(url.substr(authority, authority_end - authority));
}

// A bare address, local@domain: printable ASCII without spaces, quotes, brackets or separators
// (nothing that could end the MAIL FROM/RCPT TO command or a header), a domain of letters,
// digits, dots and dashes.
bool IsPlainAddress(std::string_view address) {
  constexpr std::size_t kMaxAddressBytes = 254;  // RFC 5321's path limit
  const std::size_t at = address.rfind('@');
  if (address.size() > kMaxAddressBytes || at == std::string_view::npos || at == 0 ||
      at + 1 == address.size()) {
    return false;
  }
  for (std::size_t i = 0; i < address.size(); ++i) {
    const char c = address[i];
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return false;
    }
    if (i < at) {
      if (std::strchr("<>()[]\\,;:\"@", c) != nullptr) {
        return false;
      }
    } else if (i > at && !std::isalnum(u) && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool IsHttpUrl(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.size() > scheme.size() && url.substr(0, scheme.size()) == scheme) {
      const char first = url[scheme.size()];
      return first != '/' && first != '?' && first != '#';
    }
  }
  return false;
}

std::string Scrub(std::string text, std::initializer_list<const std::string*> secrets) {
  for (const std::string* secret : secrets) {
    if (secret == nullptr || secret->empty()) {
      continue;
    }
    for (std::size_t at = text.find(*secret); at != std::string::npos;
         at = text.find(*secret, at + 3)) {
      text.replace(at, secret->size(), "***");
    }
  }
  return text;
}

Status HttpOutcome(std::string_view what, const http::HttpResponse& response) {
  const long code = response.status_code;
  if (code >= 200 && code < 300) {
    return Status::Ok();
  }
  std::string message = std::string(what) + ": HTTP " + std::to_string(code);
  if (!response.body.empty()) {
    message += " \"";
    for (std::size_t i = 0; i < response.body.size() && i < kQuotedBodyBytes; ++i) {
      const char c = response.body[i];
      message += (c >= 0x20 && c < 0x7f && c != '"') ? c : '?';
    }
    message += response.body.size() > kQuotedBodyBytes ? "...\"" : "\"";
  }
  if (code >= 500 || code == 408 || code == 429) {
    return Status::Unavailable(std::move(message));
  }
  if (code == 401 || code == 403 || code < 400 || code >= 600) {
    return Status::FailedPrecondition(std::move(message));
  }
  return Status::InvalidArgument(std::move(message));
}

Result<std::unique_ptr<JsonPoster>> JsonPoster::Create(std::string channel, config::Secret url,
                                                       std::chrono::milliseconds timeout) {
  if (!IsHttpUrl(url.Reveal())) {
    return Status::InvalidArgument(channel + ": the URL " + SafeUrl(url.Reveal()) +
                                   " is not an http:// or https:// URL");
  }
  if (timeout.count() <= 0) {
    return Status::InvalidArgument(channel + ": the timeout must be positive");
  }
  http::FetcherOptions options;
  // Receivers are usually on the internet: honour the proxy environment, as libcurl (which
  // this client replaced) did.
  options.proxy = http::ProxySettings::FromEnvironment();
  options.timeout = timeout;
  options.connect_timeout = timeout;
  // Receivers answer with a short acknowledgement; nothing in it is used beyond a quote.
  options.max_body_bytes = 64 * 1024;
  auto fetcher = http::HttpFetcher::Create(std::move(options));
  if (!fetcher.ok()) {
    return fetcher.status();
  }
  return std::unique_ptr<JsonPoster>(
      new JsonPoster(std::move(channel), std::move(url), std::move(fetcher).value()));
}

JsonPoster::JsonPoster(std::string channel, config::Secret url,
                       std::unique_ptr<http::HttpFetcher> fetcher)
    : channel_(std::move(channel)),
      url_(std::move(url)),
      safe_url_(SafeUrl(url_.Reveal())),
      fetcher_(std::move(fetcher)) {}

Status JsonPoster::Post(std::string_view body, const http::HttpHeaders& headers,
                        std::initializer_list<const std::string*> secrets) {
  http::HttpHeaders all;
  all.reserve(headers.size() + 1);
  all.emplace_back("Content-Type", "application/json");
  all.insert(all.end(), headers.begin(), headers.end());
  const std::string& url = url_.Reveal();
  const std::string what = channel_ + " POST " + safe_url_;
  auto response = fetcher_->Post(url, body, all);
  Status status = response.ok() ? HttpOutcome(what, *response) : response.status();
  if (status.ok()) {
    return status;
  }
  // The fetcher names the URL (path included) in its errors: keep scheme and host only. The
  // path alone is scrubbed too, in case the URL's credentials were redacted around it.
  std::string message = status.message();
  if (!response.ok()) {
    message = what + ": " + Scrub(std::move(message), {&url});
  }
  const std::size_t scheme_end = url.find("://");
  const std::size_t path_begin = scheme_end == std::string::npos
                                     ? std::string::npos
                                     : url.find_first_of("/?#", scheme_end + 3);
  const std::string path = path_begin == std::string::npos ? "" : url.substr(path_begin);
  message = Scrub(std::move(message), {&url, path.size() > 1 ? &path : nullptr});
  message = Scrub(std::move(message), secrets);
  for (const auto& header : headers) {
    message = Scrub(std::move(message), {&header.second});
  }
  return Status(status.code(), std::move(message));
}

}  // namespace etcdmon::alerter::detail
