#include "etcdmon/rpc/status_codes.h"

namespace etcdmon::rpc {

StatusCode StatusCodeFromGrpc(int grpc_code) {
  switch (static_cast<GrpcCode>(grpc_code)) {
    case GrpcCode::kOk:
      return StatusCode::kOk;
    case GrpcCode::kCancelled:
    case GrpcCode::kAborted:
    case GrpcCode::kUnavailable:
      return StatusCode::kUnavailable;
    case GrpcCode::kInvalidArgument:
    case GrpcCode::kOutOfRange:
      return StatusCode::kInvalidArgument;
    case GrpcCode::kDeadlineExceeded:
      return StatusCode::kDeadlineExceeded;
    case GrpcCode::kNotFound:
      return StatusCode::kNotFound;
    case GrpcCode::kAlreadyExists:
      return StatusCode::kAlreadyExists;
    case GrpcCode::kPermissionDenied:
      return StatusCode::kPermissionDenied;
    case GrpcCode::kResourceExhausted:
      return StatusCode::kResourceExhausted;
    case GrpcCode::kFailedPrecondition:
      return StatusCode::kFailedPrecondition;
    case GrpcCode::kUnimplemented:
      return StatusCode::kUnimplemented;
    case GrpcCode::kUnauthenticated:
      return StatusCode::kUnauthenticated;
    case GrpcCode::kUnknown:
    case GrpcCode::kInternal:
    case GrpcCode::kDataLoss:
      return StatusCode::kInternal;
  }
  return StatusCode::kInternal;
}

GrpcCode GrpcCodeFromStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return GrpcCode::kOk;
    case StatusCode::kInvalidArgument:
      return GrpcCode::kInvalidArgument;
    case StatusCode::kNotFound:
      return GrpcCode::kNotFound;
    case StatusCode::kAlreadyExists:
      return GrpcCode::kAlreadyExists;
    case StatusCode::kFailedPrecondition:
      return GrpcCode::kFailedPrecondition;
    case StatusCode::kUnavailable:
      return GrpcCode::kUnavailable;
    case StatusCode::kDeadlineExceeded:
      return GrpcCode::kDeadlineExceeded;
    case StatusCode::kResourceExhausted:
      return GrpcCode::kResourceExhausted;
    case StatusCode::kInternal:
      return GrpcCode::kInternal;
    case StatusCode::kUnauthenticated:
      return GrpcCode::kUnauthenticated;
    case StatusCode::kPermissionDenied:
      return GrpcCode::kPermissionDenied;
    case StatusCode::kUnimplemented:
      return GrpcCode::kUnimplemented;
  }
  return GrpcCode::kUnknown;
}

}  // namespace etcdmon::rpc
