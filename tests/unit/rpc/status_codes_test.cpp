#include "etcdmon/rpc/status_codes.h"

#include <gtest/gtest.h>

namespace etcdmon::rpc {
namespace {

// Every gRPC canonical code maps to the documented project code.
TEST(StatusCodeFromGrpcTest, MapsEveryCanonicalCode) {
  struct Case {
    GrpcCode grpc;
    StatusCode expected;
  };
  const Case cases[] = {
      {GrpcCode::kOk, StatusCode::kOk},
      {GrpcCode::kCancelled, StatusCode::kUnavailable},
      {GrpcCode::kUnknown, StatusCode::kInternal},
      {GrpcCode::kInvalidArgument, StatusCode::kInvalidArgument},
      {GrpcCode::kDeadlineExceeded, StatusCode::kDeadlineExceeded},
      {GrpcCode::kNotFound, StatusCode::kNotFound},
      {GrpcCode::kAlreadyExists, StatusCode::kAlreadyExists},
      {GrpcCode::kPermissionDenied, StatusCode::kPermissionDenied},
      {GrpcCode::kResourceExhausted, StatusCode::kResourceExhausted},
      {GrpcCode::kFailedPrecondition, StatusCode::kFailedPrecondition},
      {GrpcCode::kAborted, StatusCode::kUnavailable},
      {GrpcCode::kOutOfRange, StatusCode::kInvalidArgument},
      {GrpcCode::kUnimplemented, StatusCode::kUnimplemented},
      {GrpcCode::kInternal, StatusCode::kInternal},
      {GrpcCode::kUnavailable, StatusCode::kUnavailable},
      {GrpcCode::kDataLoss, StatusCode::kInternal},
      {GrpcCode::kUnauthenticated, StatusCode::kUnauthenticated},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StatusCodeFromGrpc(static_cast<int>(c.grpc)), c.expected)
        << "grpc code " << static_cast<int>(c.grpc);
  }
}

// Numbers that are no gRPC code are internal errors.
TEST(StatusCodeFromGrpcTest, UnknownNumbersAreInternal) {
  EXPECT_EQ(StatusCodeFromGrpc(17), StatusCode::kInternal);
  EXPECT_EQ(StatusCodeFromGrpc(99), StatusCode::kInternal);
  EXPECT_EQ(StatusCodeFromGrpc(-1), StatusCode::kInternal);
}

// Each of our codes goes to the gRPC code of the same name and back unchanged.
TEST(GrpcCodeFromStatusTest, RoundTripsEveryCode) {
  const StatusCode codes[] = {
      StatusCode::kOk,
      StatusCode::kInvalidArgument,
      StatusCode::kNotFound,
      StatusCode::kAlreadyExists,
      StatusCode::kFailedPrecondition,
      StatusCode::kUnavailable,
      StatusCode::kDeadlineExceeded,
      StatusCode::kResourceExhausted,
      StatusCode::kInternal,
      StatusCode::kUnauthenticated,
      StatusCode::kPermissionDenied,
      StatusCode::kUnimplemented,
  };
  for (const StatusCode code : codes) {
    EXPECT_EQ(StatusCodeFromGrpc(static_cast<int>(GrpcCodeFromStatus(code))), code)
        << StatusCodeName(code);
  }
  EXPECT_EQ(GrpcCodeFromStatus(StatusCode::kUnavailable), GrpcCode::kUnavailable);
  EXPECT_EQ(GrpcCodeFromStatus(StatusCode::kPermissionDenied), GrpcCode::kPermissionDenied);
}

}  // namespace
}  // namespace etcdmon::rpc
