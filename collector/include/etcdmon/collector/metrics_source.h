#pragma once

// Where the sampler gets a member's HTTP pages (/metrics and /health) from.

#include <memory>
#include <string>

#include "etcdmon/http/fetcher.h"
#include "etcdmon/status/status.h"

namespace etcdmon::collector {

/// Fetches one HTTP page of a member. The seam between the sampler and the network, so tests can
/// hand the sampler canned, broken or oversized pages.
class MetricsSource {
 public:
  virtual ~MetricsSource() = default;

  /// GETs `url` into `body`, replacing its contents and reusing its capacity.
  /// @return the HTTP status code: any status the server sent (200, 503, ...) is an answer, and
  ///   `body` then holds what came with it. Errors: Unavailable (no connection, TLS failure),
  ///   DeadlineExceeded, ResourceExhausted (the body is over the size cap), InvalidArgument (a
  ///   malformed URL); `body` then holds nothing useful.
  virtual Result<int> Fetch(const std::string& url, std::string& body) = 0;
};

/// The real source: http::HttpFetcher connections (keep-alive, TLS options, timeouts, size cap)
/// with `options`. Safe for concurrent use: each concurrent call gets a connection of its own,
/// kept for reuse (the sampler's lanes may fetch /metrics and /health at once). Errors are
/// those of http::HttpFetcher::Create.
Result<std::unique_ptr<MetricsSource>> NewHttpMetricsSource(http::FetcherOptions options);

}  // namespace etcdmon::collector
