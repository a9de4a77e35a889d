#pragma once

// The one place a Status becomes a gRPC status and back, for every gRPC server and client of the
// project (the code mapping itself is status_codes.h).

#include "etcdmon/status/status.h"

namespace grpc {
class Status;
}  // namespace grpc

namespace etcdmon::rpc {

/// The gRPC status with the same canonical code and the message.
grpc::Status ToGrpcStatus(const Status& status);

/// The Status with the same canonical code (status_codes.h: codes outside our set become the
/// nearest one) and the message. An OK gRPC status is Status::Ok().
Status FromGrpcStatus(const grpc::Status& status);

}  // namespace etcdmon::rpc
