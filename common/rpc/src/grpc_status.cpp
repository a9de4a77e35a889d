#include "etcdmon/rpc/grpc_status.h"

#include <grpcpp/support/status.h>

#include "etcdmon/rpc/status_codes.h"

namespace etcdmon::rpc {

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  return grpc::Status(static_cast<grpc::StatusCode>(GrpcCodeFromStatus(status.code())),
                      status.message());
}

Status FromGrpcStatus(const grpc::Status& status) {
  return Status(StatusCodeFromGrpc(static_cast<int>(status.error_code())), status.error_message());
}

}  // namespace etcdmon::rpc
