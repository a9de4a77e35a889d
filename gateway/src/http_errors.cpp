#include "http_errors.h"

#include <cassert>
#include <nlohmann/json.hpp>

namespace etcdmon::gateway {
namespace {

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 413;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

std::string ErrorBody(int http_status, std::string_view status_name, std::string_view message) {
  nlohmann::json j = {{"error",
                       {{"code", http_status},
                        {"status", std::string(status_name)},
                        {"message", std::string(message)}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

HttpError ToHttp(const Status& status) {
  assert(!status.ok() && "only errors become error documents");
  const int http_status = HttpStatusOf(status.code());
  return HttpError{http_status,
                   ErrorBody(http_status, StatusCodeName(status.code()), status.message())};
}

HttpError MethodNotAllowed(std::string_view method, std::string_view allowed) {
  return HttpError{405, ErrorBody(405, "method_not_allowed",
                                  "method " + std::string(method) + " is not allowed here (use " +
                                      std::string(allowed) + ")")};
}

HttpError TooManyRequests(int64_t retry_after_seconds, uint32_t per_minute) {
  return HttpError{429, ErrorBody(429, "resource_exhausted",
                                  "too many requests: at most " + std::to_string(per_minute) +
                                      " POST and DELETE requests per minute from one address "
                                      "(--post-rate-limit); retry after " +
                                      std::to_string(retry_after_seconds) + " s")};
}

HttpError ProtocolError(int http_status, std::string_view message) {
  const char* name = "invalid_argument";
  switch (http_status) {
    case 408:
      name = "deadline_exceeded";
      break;
    case 413:
    case 414:
    case 431:
      name = "resource_exhausted";
      break;
    case 501:
      name = "unimplemented";
      break;
    default:
      break;
  }
  return HttpError{http_status, ErrorBody(http_status, name, message)};
}

}  // namespace etcdmon::gateway
