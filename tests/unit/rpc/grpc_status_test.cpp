#include "etcdmon/rpc/grpc_status.h"

#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

namespace etcdmon::rpc {
namespace {

// Every code maps to the gRPC code of the same name, and the message is kept.
TEST(GrpcStatusTest, MapsEveryCode) {
  struct Case {
    Status in;
    grpc::StatusCode out;
  } cases[] = {
      {Status::Ok(), grpc::StatusCode::OK},
      {Status::InvalidArgument("m"), grpc::StatusCode::INVALID_ARGUMENT},
      {Status::NotFound("m"), grpc::StatusCode::NOT_FOUND},
      {Status::AlreadyExists("m"), grpc::StatusCode::ALREADY_EXISTS},
      {Status::FailedPrecondition("m"), grpc::StatusCode::FAILED_PRECONDITION},
      {Status::Unavailable("m"), grpc::StatusCode::UNAVAILABLE},
      {Status::DeadlineExceeded("m"), grpc::StatusCode::DEADLINE_EXCEEDED},
      {Status::ResourceExhausted("m"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {Status::Internal("m"), grpc::StatusCode::INTERNAL},
      {Status::Unauthenticated("m"), grpc::StatusCode::UNAUTHENTICATED},
      {Status::PermissionDenied("m"), grpc::StatusCode::PERMISSION_DENIED},
      {Status::Unimplemented("m"), grpc::StatusCode::UNIMPLEMENTED},
  };
  for (const auto& c : cases) {
    grpc::Status g = ToGrpcStatus(c.in);
    EXPECT_EQ(g.error_code(), c.out) << c.in.ToString();
    if (!c.in.ok()) {
      EXPECT_EQ(g.error_message(), "m");
    }
  }
}

// A gRPC status comes back as the Status of the same code and message; codes outside our set
// become the nearest one.
TEST(GrpcStatusTest, FromGrpcStatusKeepsCodeAndMessage) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  const Status unavailable =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"));
  EXPECT_EQ(unavailable.code(), StatusCode::kUnavailable);
  EXPECT_EQ(unavailable.message(), "connection refused");
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "m")).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::ABORTED, "m")).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::DATA_LOSS, "m")).code(),
            StatusCode::kInternal);
}

// Every Status survives a trip through gRPC.
TEST(GrpcStatusTest, RoundTripsThroughGrpc) {
  for (const Status& s :
       {Status::InvalidArgument("a"), Status::NotFound("b"), Status::FailedPrecondition("c"),
        Status::Unauthenticated("d"), Status::Unimplemented("e"), Status::Internal("f")}) {
    const Status back = FromGrpcStatus(ToGrpcStatus(s));
    EXPECT_EQ(back.code(), s.code()) << s.ToString();
    EXPECT_EQ(back.message(), s.message());
  }
}

}  // namespace
}  // namespace etcdmon::rpc
