#pragma once

// The command-line flags of the services' gRPC ports and of their clients, one definition for
// the aggregator (MonitorService), the alerter (AlertService) and the gateway (their client).
// No environment variables: the services' neighbouring flags (--grpc-listen, --db) have none.

#include <string>

#include "etcdmon/config/flags.h"
#include "etcdmon/rpc/security.h"

namespace CLI {
class App;
}  // namespace CLI

namespace etcdmon::rpc {

/// A server's address and security, as the flags gave them.
struct GrpcServerConfig {
  std::string address;
  ServerSecurity security;
};

/// --grpc-listen (HOST:PORT, default `default_address`), --grpc-tls-cert-file,
/// --grpc-tls-key-file, --grpc-client-ca-file and --grpc-token-file (the token read from the
/// file, never printed). Build() refuses, one line each: a listen address without a port, a
/// certificate without its key, a client CA without TLS, a private key that group or others may
/// read, an unreadable token file, and a non-loopback address without TLS plus a token or client
/// CA (CheckServerSecurity: the line names the flags to add).
class GrpcServerFlags {
 public:
  /// `service` names the service in --grpc-listen's help ("MonitorService"). `app` must outlive
  /// this object.
  GrpcServerFlags(CLI::App& app, const std::string& service, const std::string& default_address);

  GrpcServerConfig Build(config::FlagErrors& errors) const;

 private:
  config::FlagValue listen_;
  config::FlagValue tls_cert_file_;
  config::FlagValue tls_key_file_;
  config::FlagValue client_ca_file_;
  config::FlagValue token_file_;
};

/// --grpc-ca-file (TLS to the services: their certificates' CA), --grpc-cert-file and
/// --grpc-key-file (a client certificate, for mTLS) and --grpc-token-file (the bearer token every
/// call carries). Build() checks the files and pairs; the caller checks each address it dials
/// with CheckClientSecurity().
class GrpcClientFlags {
 public:
  /// `services` names whom the flags are for in their help ("the aggregator and the alerter").
  GrpcClientFlags(CLI::App& app, const std::string& services);

  ClientSecurity Build(config::FlagErrors& errors) const;

 private:
  config::FlagValue ca_file_;
  config::FlagValue cert_file_;
  config::FlagValue key_file_;
  config::FlagValue token_file_;
};

}  // namespace etcdmon::rpc
