#pragma once

// gRPC channels to etcd endpoints with the credentials and connection settings of an
// EtcdConnectionConfig: TLS (CA, client certificate, skip-verify), reconnect backoff bounded by
// the dial timeout, unlimited receive size, and etcd's auth token exchange. Shared by the
// synchronous EtcdClient and by code that drives etcd's stubs itself (the benchmark runner's
// asynchronous calls), so both connect the same way.
//
// grpc++ stays out of this header: grpc::Channel is only forward-declared; callers that use the
// channel include <grpcpp/grpcpp.h> themselves.

#include <chrono>
#include <memory>
#include <string>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace grpc {
class Channel;
class ChannelCredentials;
}  // namespace grpc

namespace etcdmon::etcd {

/// etcd's gRPC metadata key for auth tokens.
inline constexpr char kAuthTokenMetadataKey[] = "token";

/// Makes channels for the endpoints of one connection config. Create() reads the TLS files
/// once; Dial() then only creates channels (it does not connect: gRPC connects on first use).
/// Immutable after Create(): safe for concurrent use.
class ChannelFactory {
 public:
  /// Validates `config` (ValidateConnectionConfig) and reads the CA, client certificate and key
  /// files: an unreadable file is kInvalidArgument naming the path.
  static Result<ChannelFactory> Create(const config::EtcdConnectionConfig& config);

  /// A new channel to `endpoint` (TLS when config.UsesTls(endpoint)); `endpoint` should be one
  /// of the config's (TLS credentials exist only when one of those uses TLS). Channels never share
  /// connections: two Dial() calls to one endpoint give two TCP connections, which is how a
  /// load generator spreads its calls over several connections. kInternal only when gRPC
  /// cannot build TLS credentials.
  Result<std::shared_ptr<grpc::Channel>> Dial(const config::Endpoint& endpoint) const;

  /// Exchanges the configured user name and password for an auth token of the member behind
  /// `channel`; waits for the connection up to the dial timeout, and the call itself up to the
  /// request timeout. An empty string when no user is configured. Errors name `authority` and
  /// the user, never the password.
  Result<std::string> Authenticate(grpc::Channel& channel, const std::string& authority) const;

  const config::EtcdConnectionConfig& config() const { return config_; }

 private:
  ChannelFactory() = default;

  config::EtcdConnectionConfig config_;
  // Built once in Create(); null when no endpoint of the config uses that transport.
  std::shared_ptr<grpc::ChannelCredentials> tls_credentials_;
  std::shared_ptr<grpc::ChannelCredentials> plain_credentials_;
};

}  // namespace etcdmon::etcd
