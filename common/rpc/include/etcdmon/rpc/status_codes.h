#pragma once

// The one mapping between gRPC's canonical codes and the project's StatusCode, both ways. It
// needs no gRPC headers (codes are passed by number, the numbering of grpc/status.h, stable
// across versions), so that code speaking gRPC's codes without gRPC (the etcd JSON gateway
// client of the collector agent) uses it too. Pure and thread-safe.

#include "etcdmon/status/status.h"

namespace etcdmon::rpc {

/// gRPC canonical code numbers (grpc/status.h).
enum class GrpcCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

/// The project's code for a gRPC canonical code number. Codes outside our set map to the
/// nearest one: CANCELLED and ABORTED to kUnavailable (try again), OUT_OF_RANGE to
/// kInvalidArgument, UNKNOWN and DATA_LOSS to kInternal; unknown numbers to kInternal.
StatusCode StatusCodeFromGrpc(int grpc_code);

/// The gRPC canonical code of the same name.
GrpcCode GrpcCodeFromStatus(StatusCode code);

}  // namespace etcdmon::rpc
