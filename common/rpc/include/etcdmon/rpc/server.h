#pragma once

// The gRPC servers of the services (MonitorService, AlertService): one way to start one, with
// the security of security.h, and to name the address it listens on.

#include <memory>
#include <string>

#include "etcdmon/rpc/security.h"
#include "etcdmon/status/status.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace etcdmon::rpc {

/// A started gRPC server and the port it listens on.
struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // 0 when no address was given (in-process channels only)
};

/// Starts a server for `service` on `address` ("host:port"; port 0 picks one) with `security`:
/// TLS when it has a certificate, mTLS with a client CA, and with a token every call must carry
/// `authorization: Bearer <token>` or fail UNAUTHENTICATED, whatever the method (checked before
/// the service sees the call, for all of its methods at once). An empty address opens no port:
/// the server then serves only its InProcessChannel() (the all-in-one binary), unauthenticated.
/// FailedPrecondition when CheckServerSecurity() refuses; InvalidArgument when a PEM file cannot
/// be read; Unavailable when the address is in use or invalid. `service` must outlive the server.
Result<StartedServer> StartServer(const std::string& address, grpc::Service& service,
                                  const ServerSecurity& security = {});

/// "host:port" with the port actually bound (for "host:0"); empty when `address` is empty.
std::string BoundAddress(const std::string& address, int port);

}  // namespace etcdmon::rpc
