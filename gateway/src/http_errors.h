#pragma once

// The one place a Status becomes an HTTP status and the error body of the REST API:
// {"error": {"code": <http status>, "status": "<status code name>", "message": "..."}}.

#include <cstdint>
#include <string>
#include <string_view>

#include "etcdmon/status/status.h"

namespace etcdmon::gateway {

struct HttpError {
  int http_status = 500;
  std::string body;  // the JSON error document
};

/// InvalidArgument 400, Unauthenticated 401, PermissionDenied 403, NotFound 404, AlreadyExists
/// and FailedPrecondition 409 (a conflict with the current state), ResourceExhausted 413 (the
/// only per-request limit the gateway enforces is size), Unimplemented 501, Unavailable 503,
/// DeadlineExceeded 504, anything else 500. `status` must not be OK (asserted).
HttpError ToHttp(const Status& status);

/// 405 for a known path asked with another method; `allowed` is the Allow header's value.
HttpError MethodNotAllowed(std::string_view method, std::string_view allowed);

/// 429 for a client over the POST rate limit of `per_minute`; it may retry after
/// `retry_after_seconds`.
HttpError TooManyRequests(int64_t retry_after_seconds, uint32_t per_minute);

/// A request refused before it reached the API (malformed, or too large by its headers):
/// 400, 408, 413, 414, 431 or 501, with `message` for the client.
HttpError ProtocolError(int http_status, std::string_view message);

}  // namespace etcdmon::gateway
