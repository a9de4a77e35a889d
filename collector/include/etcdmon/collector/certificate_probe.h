#pragma once

// Reads the X.509 certificate a member serves on its TLS client port, so that its expiry can be
// alerted on before clients start failing.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "etcdmon/config/types.h"
#include "etcdmon/http/cancellation.h"
#include "etcdmon/status/status.h"

namespace etcdmon::collector {

/// The leaf certificate a server presented.
struct ServedCertificate {
  std::string subject;                 // RFC 2253 form: "CN=etcd0,O=example"
  int64_t not_after_unix_seconds = 0;  // notAfter, seconds since the Unix epoch (UTC)
};

/// Connects to a TLS server and reports its certificate. Implementations are safe for
/// concurrent use.
class CertificateProbe {
 public:
  virtual ~CertificateProbe() = default;

  /// Reads the certificate `host`:`port` presents in a TLS handshake. The certificate is not
  /// verified: an expired or untrusted one is still reported, since reporting it is the point.
  /// Errors: Unavailable (cannot connect, or the server presented no certificate),
  /// DeadlineExceeded (the probe's timeout passed), Internal (OpenSSL failed).
  virtual Result<ServedCertificate> Read(const std::string& host, uint16_t port) = 0;
};

struct CertificateProbeOptions {
  /// Bound on the whole probe: resolving, connecting and the handshake.
  std::chrono::milliseconds timeout{5000};
  /// Only cert_file and key_file are used: presented when the server asks for a client
  /// certificate (etcd --client-cert-auth), so that the handshake completes cleanly instead of
  /// leaving a rejected-connection warning in the member's log on every probe.
  config::TlsConfig tls;
  /// When set, Cancel() on it ends a probe in progress (within 50 ms) and fails later ones.
  std::shared_ptr<http::Cancellation> cancellation;
};

/// The real probe, with OpenSSL. It performs the handshake and closes the connection without
/// sending any application data. Errors: InvalidArgument for a non-positive timeout or an
/// unreadable client certificate or key (naming the path); Internal when OpenSSL cannot start.
Result<std::unique_ptr<CertificateProbe>> NewCertificateProbe(CertificateProbeOptions options);

}  // namespace etcdmon::collector
