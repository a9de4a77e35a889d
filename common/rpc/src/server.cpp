#include "etcdmon/rpc/server.h"

#include <grpcpp/grpcpp.h>

namespace etcdmon::rpc {

Result<StartedServer> StartServer(const std::string& address, grpc::Service& service) {
  StartedServer started;
  grpc::ServerBuilder builder;
  if (!address.empty()) {
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &started.port);
  }
  builder.RegisterService(&service);
  started.server = builder.BuildAndStart();
  if (!started.server || (!address.empty() && started.port == 0)) {
    return Status::Unavailable("cannot listen for gRPC on " + address +
                               " (address in use or invalid)");
  }
  return started;
}

std::string BoundAddress(const std::string& address, int port) {
  if (address.empty()) {
    return address;
  }
  return address.substr(0, address.rfind(':')) + ":" + std::to_string(port);
}

}  // namespace etcdmon::rpc
