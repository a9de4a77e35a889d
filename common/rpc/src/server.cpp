#include "etcdmon/rpc/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/auth_metadata_processor.h>

#include "pem_file.h"

namespace etcdmon::rpc {
namespace {

// Lets a call through only with `authorization: Bearer <token>`, before any service method sees
// it: one check for every method, present and future. The header is consumed, so the services
// never see the token.
class BearerTokenProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenProcessor(config::Secret token) : token_(std::move(token)) {}

  // A comparison, no I/O: it runs on gRPC's own thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* /*context*/,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* /*response_metadata*/) override {
    const grpc::string_ref key(kAuthorizationKey.data(), kAuthorizationKey.size());
    const auto [begin, end] = auth_metadata.equal_range(key);
    for (auto it = begin; it != end; ++it) {
      if (BearerTokenMatches(std::string_view(it->second.data(), it->second.size()), token_)) {
        consumed_auth_metadata->emplace(std::string(kAuthorizationKey),
                                        std::string(it->second.data(), it->second.size()));
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong bearer token");
  }

 private:
  const config::Secret token_;
};

Result<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(const ServerSecurity& security) {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (security.tls()) {
    Result<std::string> cert = ReadPemFile(security.tls_cert_file);
    if (!cert.ok()) {
      return cert.status().WithContext("--grpc-tls-cert-file");
    }
    Result<std::string> key = ReadPemFile(security.tls_key_file);
    if (!key.ok()) {
      return key.status().WithContext("--grpc-tls-key-file");
    }
    grpc::SslServerCredentialsOptions options(
        security.client_ca_file.empty()
            ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
    if (!security.client_ca_file.empty()) {
      Result<std::string> ca = ReadPemFile(security.client_ca_file);
      if (!ca.ok()) {
        return ca.status().WithContext("--grpc-client-ca-file");
      }
      options.pem_root_certs = *std::move(ca);
    }
    credentials = grpc::SslServerCredentials(options);
  } else if (!security.token.empty()) {
    // A token without TLS is only allowed on loopback (CheckServerSecurity). Insecure
    // credentials cannot run an AuthMetadataProcessor; local ones can, and they speak plaintext
    // to plaintext clients of this host.
    credentials = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
  } else {
    credentials = grpc::InsecureServerCredentials();
  }
  if (!security.token.empty()) {
    credentials->SetAuthMetadataProcessor(std::make_shared<BearerTokenProcessor>(security.token));
  }
  return credentials;
}

}  // namespace

Result<StartedServer> StartServer(const std::string& address, grpc::Service& service,
                                  const ServerSecurity& security) {
  StartedServer started;
  grpc::ServerBuilder builder;
  if (!address.empty()) {
    ETCDMON_RETURN_IF_ERROR(CheckServerSecurity(address, security));
    Result<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeCredentials(security);
    if (!credentials.ok()) {
      return credentials.status();
    }
    builder.AddListeningPort(address, *credentials, &started.port);
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
