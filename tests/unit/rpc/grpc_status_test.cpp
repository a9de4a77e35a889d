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

}  // namespace
}  // namespace etcdmon::rpc
