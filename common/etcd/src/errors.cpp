#include "etcdmon/etcd/errors.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "etcdmon/rpc/status_codes.h"

namespace etcdmon::etcd {
namespace {

using rpc::GrpcCode;

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// gRPC's words for a connection that could not be set up.
bool IsConnectError(const std::string& lower) {
  return Contains(lower, "failed to connect") || Contains(lower, "connection refused") ||
         Contains(lower, "ssl") || Contains(lower, "tls") || Contains(lower, "handshake") ||
         Contains(lower, "dns") || Contains(lower, "resolution") ||
         Contains(lower, "unreachable") || Contains(lower, "no route");
}

// gRPC's words for an established connection that went away.
bool IsConnectionLost(const std::string& lower) {
  return Contains(lower, "socket closed") || Contains(lower, "reset") ||
         Contains(lower, "end of tcp stream") || Contains(lower, "broken pipe") ||
         Contains(lower, "goaway") || Contains(lower, "connection closed");
}

}  // namespace

std::string DescribeConnectError(std::string_view grpc_message) {
  const std::string lower = Lower(grpc_message);
  if (Contains(lower, "certificate_verify_failed") || Contains(lower, "certificate verify")) {
    return "TLS handshake failed: server certificate not trusted (check the CA file)";
  }
  if (Contains(lower, "ssl") || Contains(lower, "tls") || Contains(lower, "handshake") ||
      Contains(lower, "certificate")) {
    return "TLS handshake failed";
  }
  if (Contains(lower, "connection refused")) {
    return "connection refused";
  }
  if (Contains(lower, "dns") || Contains(lower, "resolution") ||
      Contains(lower, "name or service not known")) {
    return "name resolution failed";
  }
  if (Contains(lower, "no route to host")) {
    return "no route to host";
  }
  if (Contains(lower, "unreachable")) {
    return "network unreachable";
  }
  if (Contains(lower, "timed out") || Contains(lower, "timeout") || Contains(lower, "deadline")) {
    return "connection timed out";
  }
  if (Contains(lower, "socket closed") || Contains(lower, "reset") ||
      Contains(lower, "end of tcp stream")) {
    return "connection closed by the server during setup (TLS/plaintext mismatch, or client "
           "certificate rejected)";
  }
  return "connection failed";
}

bool IsTokenRejected(int grpc_code, std::string_view grpc_message) {
  if (grpc_code == static_cast<int>(GrpcCode::kUnauthenticated)) {
    return true;
  }
  return Contains(Lower(grpc_message), "revision of auth store is old");
}

Status StatusFromGrpc(std::string_view endpoint, std::string_view method, int grpc_code,
                      std::string_view grpc_message) {
  StatusCode code = rpc::StatusCodeFromGrpc(grpc_code);
  const std::string lower = Lower(grpc_message);
  std::string explanation;
  switch (static_cast<GrpcCode>(grpc_code)) {
    case GrpcCode::kUnavailable:
      // etcd's own UNAVAILABLE answers ("etcdserver: no leader") speak for themselves.
      if (lower.rfind("etcdserver:", 0) == 0) {
        break;
      }
      if (IsConnectError(lower)) {
        explanation = DescribeConnectError(grpc_message);
      } else if (IsConnectionLost(lower)) {
        explanation = "connection lost";
      }
      break;
    case GrpcCode::kDeadlineExceeded:
      explanation = "request timed out";
      break;
    case GrpcCode::kUnauthenticated:
      explanation = "authentication failed";
      break;
    case GrpcCode::kPermissionDenied:
      explanation = "permission denied";
      break;
    case GrpcCode::kInvalidArgument:
      if (Contains(lower, "authentication failed")) {
        code = StatusCode::kUnauthenticated;
        explanation = "authentication failed";
      } else if (Contains(lower, "user name is empty")) {
        code = StatusCode::kUnauthenticated;
        explanation = "etcd requires authentication and no user name is configured";
      }
      break;
    default:
      break;
  }
  std::string message = "endpoint ";
  message.append(endpoint);
  message += ": ";
  message.append(method);
  message += ": ";
  if (!explanation.empty()) {
    message += explanation;
    message += ": ";
  }
  if (grpc_message.empty()) {
    message.append(StatusCodeName(code));
  } else {
    message.append(grpc_message);
  }
  if (code == StatusCode::kOk) {
    // A failed call always yields an error, even if the caller passed code 0.
    code = StatusCode::kInternal;
  }
  return Status(code, std::move(message));
}

std::string FormatDuration(std::chrono::milliseconds duration) {
  const int64_t ms = duration.count();
  if (ms != 0 && ms % 60000 == 0) {
    return std::to_string(ms / 60000) + "m";
  }
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

}  // namespace etcdmon::etcd
