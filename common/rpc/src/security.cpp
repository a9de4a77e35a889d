#include "etcdmon/rpc/security.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>

#include "etcdmon/files/private_files.h"
#include "pem_file.h"

namespace etcdmon::rpc {

// Certificate chains and keys are a few KiB; a bound keeps a wrong path from filling memory.
constexpr std::size_t kMaxPemFileBytes = 1u << 20;

namespace {

std::string_view HostOf(std::string_view host_port) {
  const std::size_t colon = host_port.rfind(':');
  std::string_view host = colon == std::string_view::npos ? host_port : host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::string> ReadPemFile(const std::string& path) {
  Result<std::string> text = files::ReadSmallFile(path, kMaxPemFileBytes);
  if (!text.ok()) {
    return Status::InvalidArgument("\"" + path +
                                   "\": cannot read the file: " + text.status().message());
  }
  if (text->find("-----BEGIN ") == std::string::npos) {
    return Status::InvalidArgument("\"" + path + "\": not a PEM file");
  }
  return text;
}

bool IsLoopbackAddress(std::string_view host_port) {
  const std::string host(HostOf(host_port));
  if (EqualsIgnoringCase(host, "localhost")) {
    return true;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

std::string DescribeSecurity(const ServerSecurity& security) {
  std::string mode = !security.tls() ? "" : security.client_ca_file.empty() ? "tls" : "mtls";
  if (!security.token.empty()) {
    mode += mode.empty() ? "token" : "+token";
  }
  return mode.empty() ? "none" : mode;
}

Status CheckServerSecurity(const std::string& address, const ServerSecurity& security) {
  if (security.tls_cert_file.empty() != security.tls_key_file.empty()) {
    return Status::InvalidArgument("--grpc-tls-cert-file and --grpc-tls-key-file go together");
  }
  if (!security.client_ca_file.empty() && !security.tls()) {
    return Status::InvalidArgument(
        "--grpc-client-ca-file needs --grpc-tls-cert-file and --grpc-tls-key-file");
  }
  if (address.empty() || IsLoopbackAddress(address)) {
    return Status::Ok();
  }
  const bool authenticates = !security.token.empty() || !security.client_ca_file.empty();
  if (security.tls() && authenticates) {
    return Status::Ok();
  }
  std::string add;
  if (!security.tls()) {
    add = "--grpc-tls-cert-file and --grpc-tls-key-file";
  }
  if (!authenticates) {
    add += std::string(add.empty() ? "" : ", and ") + "--grpc-token-file or --grpc-client-ca-file";
  }
  return Status::FailedPrecondition("--grpc-listen \"" + address +
                                    "\" is not a loopback address: add " + add +
                                    " (or listen on 127.0.0.1)");
}

Status CheckClientSecurity(const std::string& address_flag, const std::string& address,
                           const ClientSecurity& security) {
  if (!security.token.empty() && !security.tls() && !address.empty() &&
      !IsLoopbackAddress(address)) {
    return Status::FailedPrecondition(
        address_flag + " \"" + address +
        "\" is not a loopback address: the gRPC token would travel in clear; add --grpc-ca-file "
        "(TLS)");
  }
  return Status::Ok();
}

bool BearerTokenMatches(std::string_view authorization, const config::Secret& token) {
  constexpr std::string_view kBearer = "Bearer ";
  const std::string& expected = token.Reveal();
  if (expected.empty() || authorization.size() != kBearer.size() + expected.size() ||
      authorization.substr(0, kBearer.size()) != kBearer) {
    return false;  // early on a length mismatch: the length tells nothing of the content
  }
  const std::string_view presented = authorization.substr(kBearer.size());
  // Every byte is compared whatever the first difference, so the time taken does not tell
  // how much of the token matched.
  volatile unsigned char difference = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    difference = difference | static_cast<unsigned char>(presented[i] ^ expected[i]);
  }
  return difference == 0;
}

Result<std::shared_ptr<grpc::Channel>> NewClientChannel(const std::string& address,
                                                        const ClientSecurity& security) {
  if (!security.tls()) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions options;
  Result<std::string> ca = ReadPemFile(security.ca_file);
  if (!ca.ok()) {
    return ca.status().WithContext("--grpc-ca-file");
  }
  options.pem_root_certs = *std::move(ca);
  if (!security.cert_file.empty()) {
    Result<std::string> cert = ReadPemFile(security.cert_file);
    if (!cert.ok()) {
      return cert.status().WithContext("--grpc-cert-file");
    }
    Result<std::string> key = ReadPemFile(security.key_file);
    if (!key.ok()) {
      return key.status().WithContext("--grpc-key-file");
    }
    options.pem_cert_chain = *std::move(cert);
    options.pem_private_key = *std::move(key);
  }
  return grpc::CreateChannel(address, grpc::SslCredentials(options));
}

void AddCallToken(grpc::ClientContext& context, const ClientSecurity& security) {
  if (!security.token.empty()) {
    context.AddMetadata(std::string(kAuthorizationKey), "Bearer " + security.token.Reveal());
  }
}

}  // namespace etcdmon::rpc
