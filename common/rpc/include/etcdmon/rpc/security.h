#pragma once

// Who may call the services' gRPC ports (MonitorService, AlertService) and how their clients
// reach them: TLS, mutual TLS and a bearer token, and the one rule that ties them to the
// address. A port on a loopback address may stay plaintext and open (only this host reaches
// it); a port reachable from elsewhere needs TLS and a way to tell callers apart: a bearer token
// on every call, or client certificates signed by a CA of our own (mTLS). Clients, likewise,
// never send a token in clear beyond this host. Pure and thread-safe.

#include <memory>
#include <string>
#include <string_view>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace etcdmon::rpc {

/// How a gRPC server authenticates its callers. Empty: plaintext, anyone who reaches it.
struct ServerSecurity {
  std::string tls_cert_file;   // PEM certificate chain; with tls_key_file: TLS
  std::string tls_key_file;    // PEM private key of tls_cert_file
  std::string client_ca_file;  // PEM CA: callers must present a certificate it signed (mTLS)
  config::Secret token;        // every call carries `authorization: Bearer <token>`

  bool tls() const { return !tls_cert_file.empty(); }
};

/// How a gRPC client reaches a server: TLS when ca_file is set (the server's certificate must be
/// signed by it), a client certificate for mTLS, and the bearer token every call carries.
struct ClientSecurity {
  std::string ca_file;    // PEM CA of the server's certificate; empty: plaintext
  std::string cert_file;  // PEM client certificate (mTLS); with key_file, needs ca_file
  std::string key_file;
  config::Secret token;

  bool tls() const { return !ca_file.empty(); }
};

/// The metadata key of the service token; gRPC keys are lower case.
inline constexpr std::string_view kAuthorizationKey = "authorization";
/// The metadata key of the API token that AlertService.CreateSilence and ExpireSilence check on
/// their own (`Bearer <token>`, the gateway's --api-token-file): `authorization` carries the
/// service token.
inline constexpr std::string_view kApiTokenKey = "etcdmon-api-token";

/// True for "host:port" whose host is a loopback address: 127.0.0.0/8, ::1 (bracketed) or
/// `localhost`. Anything else (0.0.0.0, [::], a name, a routable address) is reachable from
/// elsewhere, or may be.
bool IsLoopbackAddress(std::string_view host_port);

/// How a server authenticates, for its start-up log line: "none", "token", "tls", "tls+token",
/// "mtls" or "mtls+token". Never the token or a path.
std::string DescribeSecurity(const ServerSecurity& security);

/// OK when a server may listen on `address` with `security`: any loopback address, or TLS plus
/// a token or a client CA. Otherwise FailedPrecondition, one line naming the flags to add
/// (--grpc-tls-cert-file, --grpc-tls-key-file, --grpc-token-file, --grpc-client-ca-file). Also
/// InvalidArgument for a client CA or key without a certificate.
Status CheckServerSecurity(const std::string& address, const ServerSecurity& security);

/// OK when a client may dial `address` (the flag `address_flag` gave it) with `security`;
/// FailedPrecondition, one line naming the flag and --grpc-ca-file, when it would send its token
/// in clear to a non-loopback address.
Status CheckClientSecurity(const std::string& address_flag, const std::string& address,
                           const ClientSecurity& security);

/// True when `authorization` is exactly "Bearer <token>". Takes the same time wherever the first
/// difference lies, so that timing does not reveal a prefix of the token.
bool BearerTokenMatches(std::string_view authorization, const config::Secret& token);

/// A channel to `address` with the credentials of `security` (CheckClientSecurity() first);
/// InvalidArgument when a PEM file cannot be read. Connects lazily.
Result<std::shared_ptr<grpc::Channel>> NewClientChannel(const std::string& address,
                                                        const ClientSecurity& security);

/// Adds the token, if any, to a call's metadata.
void AddCallToken(grpc::ClientContext& context, const ClientSecurity& security);

}  // namespace etcdmon::rpc
