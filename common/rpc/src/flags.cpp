#include "etcdmon/rpc/flags.h"

namespace etcdmon::rpc {
namespace {

using config::FlagValue;

// The token in `flag`'s file, or nothing (with an error line that never shows the content).
config::Secret ReadToken(const FlagValue& flag, config::FlagErrors& errors) {
  const std::string path = flag.AsReadableFile(errors);
  if (path.empty()) {
    return {};
  }
  Result<std::string> token = config::ReadSecretFile(path);
  if (!token.ok()) {
    errors.Add(flag.Source() + " \"" + path + "\": " + std::string(token.status().message()));
    return {};
  }
  return config::Secret(*std::move(token));
}

}  // namespace

GrpcServerFlags::GrpcServerFlags(CLI::App& app, const std::string& service,
                                 const std::string& default_address)
    : listen_(FlagValue::AddOption(app, "grpc-listen", "", default_address,
                                   service +
                                       " address; other than loopback it needs TLS and a token "
                                       "or client CA",
                                   "HOST:PORT")),
      tls_cert_file_(FlagValue::AddOption(app, "grpc-tls-cert-file", "", "",
                                          "serve gRPC over TLS with this certificate (PEM)",
                                          "FILE")),
      tls_key_file_(FlagValue::AddOption(app, "grpc-tls-key-file", "", "",
                                         "the gRPC certificate's private key (PEM, mode 0600)",
                                         "FILE")),
      client_ca_file_(FlagValue::AddOption(
          app, "grpc-client-ca-file", "", "",
          "mTLS: gRPC callers must present a certificate signed by this CA (PEM)", "FILE")),
      token_file_(FlagValue::AddOption(
          app, "grpc-token-file", "", "",
          "file holding the bearer token every gRPC call must carry (authorization: Bearer)",
          "FILE")) {}

GrpcServerConfig GrpcServerFlags::Build(config::FlagErrors& errors) const {
  GrpcServerConfig c;
  c.address = listen_.AsNonEmpty(errors);
  const bool have_port = c.address.find(':') != std::string::npos;
  if (!c.address.empty() && !have_port) {
    errors.Add(listen_.Error("want host:port"));
  }
  const std::size_t before = errors.lines().size();
  c.security.tls_cert_file = tls_cert_file_.AsReadableFile(errors);
  c.security.tls_key_file = tls_key_file_.AsPrivateKeyFile(errors);
  c.security.client_ca_file = client_ca_file_.AsReadableFile(errors);
  c.security.token = ReadToken(token_file_, errors);
  // Judge the address only on files that were all fine, or the line would ask for a flag that
  // was given with a bad value.
  if (errors.lines().size() == before && have_port) {
    errors.Add(CheckServerSecurity(c.address, c.security));
  }
  return c;
}

GrpcClientFlags::GrpcClientFlags(CLI::App& app, const std::string& services)
    : ca_file_(FlagValue::AddOption(
          app, "grpc-ca-file", "", "",
          "TLS to " + services + ": the CA of their gRPC certificates (PEM)", "FILE")),
      cert_file_(FlagValue::AddOption(
          app, "grpc-cert-file", "", "",
          "mTLS: the client certificate shown to " + services + " (PEM)", "FILE")),
      key_file_(FlagValue::AddOption(app, "grpc-key-file", "", "",
                                     "the client certificate's private key (PEM, mode 0600)",
                                     "FILE")),
      token_file_(FlagValue::AddOption(app, "grpc-token-file", "", "",
                                       "file holding the bearer token sent on every gRPC call to " +
                                           services + " (never in clear beyond loopback)",
                                       "FILE")) {}

ClientSecurity GrpcClientFlags::Build(config::FlagErrors& errors) const {
  ClientSecurity s;
  const std::size_t before = errors.lines().size();
  s.ca_file = ca_file_.AsReadableFile(errors);
  s.cert_file = cert_file_.AsReadableFile(errors);
  s.key_file = key_file_.AsPrivateKeyFile(errors);
  s.token = ReadToken(token_file_, errors);
  if (s.cert_file.empty() != s.key_file.empty() && errors.lines().size() == before) {
    errors.Add("--grpc-cert-file and --grpc-key-file go together");
  }
  if (!s.cert_file.empty() && !s.tls()) {
    errors.Add("--grpc-cert-file needs --grpc-ca-file (mTLS is TLS)");
  }
  return s;
}

}  // namespace etcdmon::rpc
