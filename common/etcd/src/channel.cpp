#include "etcdmon/etcd/channel.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "etcd/etcdserverpb/rpc.grpc.pb.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/etcd/errors.h"
#include "grpc_log.h"
#include "tls_files.h"

namespace etcdmon::etcd {
namespace {

namespace pb = ::etcdserverpb;

// Reconnect quickly: a monitor wants to notice a restarted member within about a second, and
// every call is bounded by the dial timeout anyway.
constexpr int kInitialReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 1000;

std::shared_ptr<grpc::ChannelCredentials> MakeTlsCredentials(const detail::TlsMaterial& m,
                                                             bool insecure_skip_verify) {
  if (!insecure_skip_verify) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = m.ca;  // empty: the system trust store
    options.pem_private_key = m.key;
    options.pem_cert_chain = m.cert;
    return grpc::SslCredentials(options);
  }
  // Encrypted but unauthenticated: no chain verification (set_verify_server_certs(false)), no
  // host name check (set_check_call_host(false) plus a verifier that accepts every peer).
  // The client certificate is still presented, for servers with --client-cert-auth.
  grpc::experimental::TlsChannelCredentialsOptions options;
  std::vector<grpc::experimental::IdentityKeyCertPair> identity;
  if (!m.cert.empty()) {
    identity.push_back({m.key, m.cert});
  }
  if (!m.ca.empty() || !identity.empty()) {
    options.set_certificate_provider(
        std::make_shared<grpc::experimental::StaticDataCertificateProvider>(m.ca, identity));
    if (!m.ca.empty()) {
      options.watch_root_certs();
    }
    if (!identity.empty()) {
      options.watch_identity_key_cert_pairs();
    }
  }
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace

Result<ChannelFactory> ChannelFactory::Create(const config::EtcdConnectionConfig& config) {
  ETCDMON_RETURN_IF_ERROR(ValidateConnectionConfig(config));
  detail::RouteGrpcLogsToSpdlog();
  auto material = detail::ReadTlsMaterial(config.tls);
  if (!material.ok()) {
    return material.status();
  }
  ChannelFactory factory;
  factory.config_ = config;
  factory.plain_credentials_ = grpc::InsecureChannelCredentials();
  const bool any_tls = std::any_of(config.endpoints.begin(), config.endpoints.end(),
                                   [&](const config::Endpoint& e) { return config.UsesTls(e); });
  if (any_tls) {
    factory.tls_credentials_ = MakeTlsCredentials(*material, config.tls.insecure_skip_verify);
  }
  return factory;
}

Result<std::shared_ptr<grpc::Channel>> ChannelFactory::Dial(
    const config::Endpoint& endpoint) const {
  const std::shared_ptr<grpc::ChannelCredentials>& credentials =
      config_.UsesTls(endpoint) ? tls_credentials_ : plain_credentials_;
  if (!credentials) {
    return Status::Internal("endpoint " + endpoint.Authority() + ": cannot create TLS credentials");
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  // The longest a single connection attempt may take.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              static_cast<int>(std::min<int64_t>(config_.dial_timeout.count(), INT_MAX)));
  // etcd answers can exceed gRPC's 4 MiB default (large ranges); etcd's clients accept any size.
  args.SetMaxReceiveMessageSize(INT_MAX);
  // Channels must not share connections (and their backoff state): each Dial() is its own
  // TCP connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // No transparent retries: a probe or a benchmark operation that failed is reported as it
  // happened (and the retry machinery costs CPU on every call).
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  return grpc::CreateCustomChannel(endpoint.Authority(), credentials, args);
}

Result<std::string> ChannelFactory::Authenticate(grpc::Channel& channel,
                                                 const std::string& authority) const {
  if (config_.username.empty()) {
    return std::string();
  }
  // Stubs need a shared_ptr; this one does not own the caller's channel.
  std::shared_ptr<grpc::Channel> borrowed(&channel, [](grpc::Channel*) {});
  std::unique_ptr<pb::Auth::Stub> auth = pb::Auth::NewStub(borrowed);
  pb::AuthenticateRequest request;
  request.set_name(config_.username);
  request.set_password(config_.password.Reveal());
  pb::AuthenticateResponse response;
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);  // the dial timeout bounds the wait for a connection
  ctx.set_deadline(std::chrono::system_clock::now() + config_.dial_timeout +
                   config_.request_timeout);
  grpc::Status s = auth->Authenticate(&ctx, request, &response);
  if (!s.ok()) {
    return StatusFromGrpc(authority, "Authenticate as user \"" + config_.username + "\"",
                          s.error_code(), s.error_message());
  }
  return response.token();
}

}  // namespace etcdmon::etcd
