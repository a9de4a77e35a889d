#pragma once

// `etcd-monitor keygen --out DIR --grpc-tls HOST[,HOST...]`: the TLS material of the services'
// gRPC ports for a stack that has no openssl command (the container image): a fresh self-signed
// CA and a server certificate it signed for HOSTS.

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

/// Writes the three files into `dir` (created with mode 0700 when missing): an EC P-256 CA and
/// server certificate valid for `days`, the server's subjectAltName listing `hosts` (DNS names,
/// or IP addresses as IP entries). Existing files are kept unless `overwrite`. Returns the exit
/// code: 0 written, 1 failed (one `error:` line on `err`, never key material), 2 an empty or
/// bad host.
int RunGrpcTlsKeygen(const std::string& dir, const std::vector<std::string>& hosts, int days,
                     bool overwrite, std::ostream& out, std::ostream& err);

}  // namespace etcdmon::cli
