#pragma once

// Throw-away X.509 material for TLS tests, made with the openssl command line.

#include <string>

#include "etcdmon/status/status.h"

namespace etcdmon::testing {

/// Paths of PEM files, all in one directory.
struct TestCertificates {
  std::string ca_cert;  // the CA that signed the server and client certificates
  std::string ca_key;
  std::string server_cert;  // SAN IP:127.0.0.1 and DNS:localhost; server and client auth
  std::string server_key;
  std::string client_cert;  // CN etcdmon-client; client auth
  std::string client_key;
  std::string other_ca_cert;  // an unrelated CA: trusting it must fail verification
};

/// Creates `dir` (if needed) and a fresh CA, server and client certificates (EC P-256, valid
/// for two days) and an unrelated second CA in it. Errors carry openssl's output.
Result<TestCertificates> GenerateTestCertificates(const std::string& dir);

}  // namespace etcdmon::testing
