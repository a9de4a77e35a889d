#pragma once

// `etcd-monitor keygen --out DIR --grpc-tls HOST[,HOST...]`: the TLS material of the services'
// gRPC ports for a stack that has no openssl command (the container image): a fresh self-signed
// CA and a server certificate it signed for HOSTS. `--https-tls` writes the same for the HTTPS
// proxy in front of the gateway, under names of its own.

#include <iosfwd>
#include <string>
#include <vector>

namespace etcdmon::cli {

/// Files written in the directory: the CA certificate (for the clients' --grpc-ca-file), the
/// server certificate and its private key (the services' --grpc-tls-cert-file and
/// --grpc-tls-key-file, mode 0600). The CA's private key is thrown away once the server
/// certificate is signed: nothing else can be signed with it, and it lies nowhere to be stolen.
inline constexpr char kGrpcCaFile[] = "grpc-ca.pem";
inline constexpr char kGrpcServerCertFile[] = "grpc-server.pem";
inline constexpr char kGrpcServerKeyFile[] = "grpc-server-key.pem";

/// `keygen --https-tls HOSTS`: the same material, named for the stacks' HTTPS proxy in front of
/// the gateway (deploy/tls-proxy): its certificate and key, and the CA its clients verify with.
inline constexpr char kHttpsCaFile[] = "https-ca.pem";
inline constexpr char kHttpsServerCertFile[] = "https-server.pem";
inline constexpr char kHttpsServerKeyFile[] = "https-server-key.pem";

/// What one kind of TLS material is called: the keygen flag (for messages), the CA's common
/// name, the three file names and, for the closing line, what each file is for.
struct TlsKeygenNames {
  const char* flag;
  const char* ca_common_name;
  const char* ca_file;
  const char* cert_file;
  const char* key_file;
  const char* ca_use;      // e.g. "the clients' --grpc-ca-file"
  const char* server_use;  // e.g. "the services' --grpc-tls-cert-file and --grpc-tls-key-file"
  const char* force_what;  // e.g. "the gRPC certificates"
};

inline constexpr TlsKeygenNames kGrpcTlsNames{
    "--grpc-tls",
    "etcd-monitor gRPC CA",
    kGrpcCaFile,
    kGrpcServerCertFile,
    kGrpcServerKeyFile,
    "the clients' --grpc-ca-file",
    "the services' --grpc-tls-cert-file and --grpc-tls-key-file",
    "the gRPC certificates"};
inline constexpr TlsKeygenNames kHttpsTlsNames{
    "--https-tls",
    "etcd-monitor HTTPS CA",
    kHttpsCaFile,
    kHttpsServerCertFile,
    kHttpsServerKeyFile,
    "the HTTPS clients' CA, e.g. curl --cacert",
    "the TLS proxy's ssl_certificate and ssl_certificate_key",
    "the HTTPS certificates"};

/// Writes the three files named by `names` into `dir` (created with mode 0700 when missing): an
/// EC P-256 CA and server certificate valid for `days`, the server's subjectAltName listing
/// `hosts` (DNS names, or IP addresses as IP entries). Existing files are kept unless
/// `overwrite`. Returns the exit code: 0 written, 1 failed (one `error:` line on `err`, never
/// key material), 2 an empty or bad host.
int RunTlsKeygen(const std::string& dir, const std::vector<std::string>& hosts, int days,
                 bool overwrite, const TlsKeygenNames& names, std::ostream& out, std::ostream& err);

/// RunTlsKeygen with the gRPC names.
inline int RunGrpcTlsKeygen(const std::string& dir, const std::vector<std::string>& hosts, int days,
                            bool overwrite, std::ostream& out, std::ostream& err) {
  return RunTlsKeygen(dir, hosts, days, overwrite, kGrpcTlsNames, out, err);
}

}  // namespace etcdmon::cli
