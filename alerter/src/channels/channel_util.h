#pragma once

// Helpers shared by the channels: time stamps, safe URL names, the HTTP outcome rules, and
// one JSON-over-HTTP poster that keeps secrets out of its errors.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "etcdmon/alerter/alert.h"
#include "etcdmon/config/types.h"
#include "etcdmon/http/fetcher.h"
#include "etcdmon/status/status.h"

namespace etcdmon::alerter::detail {

/// RFC 3339 UTC with milliseconds: "2023-11-14T22:13:20.000Z".
std::string Rfc3339(int64_t unix_ms);

/// When the alert started: firing_since, else pending_since.
int64_t StartsAtUnixMs(const Alert& alert);

/// "scheme://host[:port]" of `url`, without credentials, path or query: the only part of a
/// webhook URL that may be logged. "(invalid URL)" when there is no scheme.
std::string SafeUrl(std::string_view url);

/// A bare mail address, local@domain (at most 254 bytes): printable ASCII without spaces,
/// quotes, brackets or separators in the local part (nothing that could end an SMTP command or a
/// header), a domain of letters, digits, dots and dashes.
bool IsPlainAddress(std::string_view address);

/// True for http:// and https:// URLs with a host.
bool IsHttpUrl(std::string_view url);

/// `text` with every occurrence of each non-empty secret replaced by "***".
std::string Scrub(std::string text, std::initializer_list<const std::string*> secrets);

/// The outcome of an HTTP response per the channel rules (channels.h); `what` starts the
/// message ("webhook POST https://example.com"). Up to 200 bytes of the response body are
/// quoted (printable ASCII only); the caller scrubs the message.
Status HttpOutcome(std::string_view what, const http::HttpResponse& response);

/// POSTs JSON bodies to one URL that may carry a token. Not thread-safe (one per channel).
class JsonPoster {
 public:
  static Result<std::unique_ptr<JsonPoster>> Create(std::string channel, config::Secret url,
                                                    std::chrono::milliseconds timeout);

  /// Posts `body` with Content-Type application/json and `headers`; the outcome per
  /// HttpOutcome. Errors never contain the URL's path, the header values or `secrets`.
  Status Post(std::string_view body, const http::HttpHeaders& headers,
              std::initializer_list<const std::string*> secrets = {});

  const std::string& safe_url() const { return safe_url_; }

 private:
  JsonPoster(std::string channel, config::Secret url, std::unique_ptr<http::HttpFetcher> fetcher);

  const std::string channel_;
  const config::Secret url_;
  const std::string safe_url_;
  std::unique_ptr<http::HttpFetcher> fetcher_;
};

}  // namespace etcdmon::alerter::detail
