#pragma once

// How the etcd client explains gRPC failures of etcd calls in Status values (the code mapping is
// common/rpc's). Public so that it can be tested and reused by code that talks gRPC to etcd
// directly; it needs no gRPC headers because gRPC's canonical codes are passed by number (the
// numbering of grpc/status.h, stable across versions).
// All functions are pure and thread-safe.

#include <chrono>
#include <string>
#include <string_view>

#include "etcdmon/status/status.h"

namespace etcdmon::etcd {

/// The Status for a failed call of `method` (e.g. "Range") on `endpoint`, with the code of
/// rpc::StatusCodeFromGrpc (etcdmon/rpc/status_codes.h) and etcd's own wording:
/// "endpoint <endpoint>: <method>: <explanation>: <gRPC message>". The explanation names the
/// cause when the gRPC message shows it ("connection refused", "TLS handshake failed",
/// "connection lost", "request timed out", "authentication failed"). etcd's "authentication failed,
/// invalid user ID or password" and "user name is empty" (INVALID_ARGUMENT on the wire) become
/// kUnauthenticated.
Status StatusFromGrpc(std::string_view endpoint, std::string_view method, int grpc_code,
                      std::string_view grpc_message);

/// A short description of why a connection failed, from gRPC's error text: "connection refused",
/// "TLS handshake failed", "name resolution failed", ...; "connection failed" when unknown.
std::string DescribeConnectError(std::string_view grpc_message);

/// True when etcd rejected the auth token itself (expired or unknown token, or an auth store
/// revision change): authenticating again and retrying the call may succeed.
bool IsTokenRejected(int grpc_code, std::string_view grpc_message);

/// "5s", "1500ms", "2m": durations as they appear in error messages.
std::string FormatDuration(std::chrono::milliseconds duration);

}  // namespace etcdmon::etcd
