#pragma once

// The one place a Status becomes a gRPC status, for every gRPC server of the project.

#include "etcdmon/status/status.h"

namespace grpc {
class Status;
}  // namespace grpc

namespace etcdmon::rpc {

/// The gRPC status with the same canonical code and the message.
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace etcdmon::rpc
