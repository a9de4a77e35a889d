#pragma once

// HTTP(S) GET of small documents, such as etcd's /metrics page, and POST of small request
// bodies (webhook notifications), over a kept-alive connection.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "etcdmon/config/types.h"
#include "etcdmon/http/cancellation.h"
#include "etcdmon/status/status.h"

namespace etcdmon::http {

/// An HTTP proxy for outbound requests, as libcurl and most tools take it from the
/// environment. Requests to https:// URLs tunnel through it with CONNECT (TLS stays end to end);
/// http:// requests go to it in absolute form.
struct ProxySettings {
  std::string http_proxy;   // "http://[user:password@]host:port" for http:// URLs; empty: none
  std::string https_proxy;  // the same for https:// URLs
  /// Comma-separated hosts that are reached directly: "example.com" matches it and its
  /// subdomains, ".example.com" its subdomains, "*" every host; IP addresses match exactly.
  std::string no_proxy;

  /// From http_proxy (lower case only, as libcurl: HTTP_PROXY can be set by a CGI request
  /// header), HTTPS_PROXY/https_proxy, then ALL_PROXY/all_proxy for either, and
  /// NO_PROXY/no_proxy.
  static ProxySettings FromEnvironment();

  /// The proxy URL for a request to `host` over `tls`; empty when it goes directly (always for
  /// localhost, 127.0.0.0/8 and ::1).
  const std::string& For(std::string_view host, bool tls) const;
};

struct FetcherOptions {
  /// Proxies; none by default (the collector talks to its member directly).
  ProxySettings proxy;
  /// CA file, client certificate and key for https:// URLs. Verification of the server's
  /// certificate and host name is on unless tls.insecure_skip_verify is set.
  config::TlsConfig tls;
  /// Deadline for a whole request: connecting, sending, and reading the full body.
  std::chrono::milliseconds timeout{5000};
  /// Deadline for establishing the connection (TCP and TLS handshake).
  std::chrono::milliseconds connect_timeout{2000};
  /// Larger bodies abort the transfer with ResourceExhausted.
  std::size_t max_body_bytes = 16u << 20;
  /// Larger POST bodies are refused with InvalidArgument before anything is sent.
  std::size_t max_request_body_bytes = 1u << 20;
  /// When set, Cancel() on it aborts this fetcher's request in flight and fails later ones
  /// (Unavailable, "cancelled"); it may be shared by several fetchers.
  std::shared_ptr<Cancellation> cancellation;
};

/// Per-call replacements of the fetcher's timeouts; zero keeps the fetcher's.
struct CallOptions {
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds connect_timeout{0};
};

/// Request headers as name/value pairs, e.g. {"Content-Type", "application/json"}.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  long status_code = 0;      // e.g. 200, 404; any status the server sent is a response
  std::string body;          // the full body, at most max_body_bytes
  std::string content_type;  // the Content-Type header; empty when absent
};

/// Fetches URLs with GET (and sends bodies with POST), reusing one connection (HTTP keep-alive)
/// per server across calls. Only http:// and https:// URLs are accepted; redirects are not
/// followed; user:password@ in a URL is sent as basic auth. No compression is asked for.
///
/// Not thread-safe: use one fetcher per thread (it is cheap to create).
class HttpFetcher final {
 public:
  /// Returns Internal when the HTTP library cannot create a handle.
  static Result<std::unique_ptr<HttpFetcher>> Create(FetcherOptions options);

  ~HttpFetcher();
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;
  HttpFetcher(HttpFetcher&&) = delete;
  HttpFetcher& operator=(HttpFetcher&&) = delete;

  /// GETs `url`. Any HTTP status, including 4xx and 5xx, is a response, not an error.
  /// Errors name the URL and the reason:
  ///  - Unavailable: connection refused or reset, unknown host, no response, or a TLS failure
  ///    (the message then says "TLS" and why, e.g. certificate verification failed);
  ///  - DeadlineExceeded: the request timeout passed (a connect timeout is Unavailable: the
  ///    server cannot be reached);
  ///  - ResourceExhausted: the body is larger than max_body_bytes (the transfer is aborted);
  ///  - InvalidArgument: a malformed URL or a scheme other than http and https.
  Result<HttpResponse> Get(const std::string& url);

  /// As above, filling `out` so that its body's capacity is reused across calls. On an error
  /// after the response's head arrived, out.status_code and out.body hold what arrived (the
  /// body may be cut short); otherwise out.status_code is 0.
  Status Get(const std::string& url, HttpResponse& out);

  /// POSTs `body` (sent with a Content-Length, never chunked) to `url` with `headers`. Responses
  /// and errors are as for Get(); in addition a body larger than max_request_body_bytes, or a
  /// header name or value holding CR or LF (or a name holding ':'), is InvalidArgument and
  /// nothing is sent. Header values may be secrets (an Authorization token): they never appear
  /// in an error.
  Result<HttpResponse> Post(const std::string& url, std::string_view body,
                            const HttpHeaders& headers, const CallOptions& call = {});

  /// As above, filling `out` so that its body's capacity is reused across calls.
  Status Post(const std::string& url, std::string_view body, const HttpHeaders& headers,
              HttpResponse& out, const CallOptions& call = {});

  /// DELETEs `url` (no body) with `headers`. Responses and errors are as for Get(); a header
  /// holding CR or LF (or a name holding ':') is InvalidArgument and nothing is sent.
  Result<HttpResponse> Delete(const std::string& url, const HttpHeaders& headers,
                              const CallOptions& call = {});

  /// True when the last failed request never got a connection: refused, no route, the connect
  /// timeout, or the TLS handshake (certificate verification included). False after a success.
  bool last_failure_was_connect() const;

 private:
  struct Impl;
  explicit HttpFetcher(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::http
