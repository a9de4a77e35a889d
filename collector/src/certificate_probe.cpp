#include "etcdmon/collector/certificate_probe.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

namespace etcdmon::collector {
namespace {

using Deadline = std::chrono::steady_clock::time_point;

// The oldest OpenSSL error of this thread, or `fallback`; empties the thread's error queue.
std::string OpenSslError(const char* fallback) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return fallback;
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

int RemainingMs(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// How often a wait looks at the cancellation.
constexpr int kCancelCheckMs = 50;

// Waits for `events` on `fd` until the deadline. False when it passed, poll failed or `cancel`
// was cancelled.
bool WaitFor(int fd, short events, Deadline deadline, const http::Cancellation* cancel) {
  while (true) {
    pollfd p{fd, events, 0};
    int ms = RemainingMs(deadline);
    if (ms == 0 || (cancel != nullptr && cancel->cancelled())) {
      return false;
    }
    if (cancel != nullptr) {
      ms = std::min(ms, kCancelCheckMs);
    }
    const int n = poll(&p, 1, ms);
    if ((n < 0 && errno == EINTR) || n == 0) {
      continue;
    }
    return n > 0;
  }
}

// Owns a socket descriptor.
class Socket {
 public:
  Socket() = default;
  ~Socket() { Reset(-1); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd) {
    if (fd_ >= 0) {
      close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A non-blocking TCP connection to host:port, within the deadline.
Status Connect(const std::string& host, uint16_t port, Deadline deadline,
               const http::Cancellation* cancel, Socket& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  const std::string service = std::to_string(port);
  const int resolved = getaddrinfo(host.c_str(), service.c_str(), &hints, &addresses);
  if (resolved != 0) {
    return Status::Unavailable("resolve " + host + ": " + gai_strerror(resolved));
  }
  Status last = Status::Unavailable("no address for " + host);
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    Socket s;
    s.Reset(socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (s.fd() < 0) {
      last = Status::Internal(std::string("socket: ") + std::strerror(errno));
      continue;
    }
    if (connect(s.fd(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = Status::Unavailable(std::string("connect: ") + std::strerror(errno));
        continue;
      }
      if (!WaitFor(s.fd(), POLLOUT, deadline, cancel)) {
        last = Status::DeadlineExceeded("connect: timed out");
        break;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = Status::Unavailable(std::string("connect: ") + std::strerror(err));
        continue;
      }
    }
    out.Reset(s.Release());
    freeaddrinfo(addresses);
    return Status::Ok();
  }
  freeaddrinfo(addresses);
  return last;
}

// Sends everything OpenSSL queued in `wbio`.
Status Flush(BIO* wbio, int fd, Deadline deadline, const http::Cancellation* cancel) {
  char buffer[4096];
  while (BIO_ctrl_pending(wbio) > 0) {
    const int n = BIO_read(wbio, buffer, sizeof(buffer));
    if (n <= 0) {
      break;
    }
    int sent = 0;
    while (sent < n) {
      const ssize_t w = send(fd, buffer + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
      if (w > 0) {
        sent += static_cast<int>(w);
      } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!WaitFor(fd, POLLOUT, deadline, cancel)) {
          return Status::DeadlineExceeded("TLS handshake: timed out");
        }
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else {
        return Status::Unavailable(std::string("send: ") + std::strerror(errno));
      }
    }
  }
  return Status::Ok();
}

// Takes the server's leaf certificate when OpenSSL would verify the chain, and accepts it:
// reading the certificate needs no trust. The SSL's app data is the X509** to fill.
int CaptureLeaf(X509_STORE_CTX* store, void* /*unused*/) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  auto* slot = ssl != nullptr ? static_cast<X509**>(SSL_get_app_data(ssl)) : nullptr;
  if (slot != nullptr && *slot == nullptr && leaf != nullptr && X509_up_ref(leaf) == 1) {
    *slot = leaf;
  }
  return 1;
}

Result<ServedCertificate> Describe(X509* cert) {
  ServedCertificate out;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) {
    return Status::Internal("BIO_new: " + OpenSslError("out of memory"));
  }
  if (X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) < 0) {
    BIO_free(bio);
    return Status::Internal("cannot print certificate subject: " + OpenSslError("unknown"));
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  out.subject.assign(data, static_cast<std::size_t>(size > 0 ? size : 0));
  BIO_free(bio);

  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) {
    return Status::Internal("certificate has an unreadable notAfter: " + OpenSslError("unknown"));
  }
  out.not_after_unix_seconds = static_cast<int64_t>(timegm(&tm));
  return out;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

class OpenSslCertificateProbe final : public CertificateProbe {
 public:
  OpenSslCertificateProbe(SSL_CTX* ctx, std::chrono::milliseconds timeout,
                          std::shared_ptr<http::Cancellation> cancellation)
      : ctx_(ctx), timeout_(timeout), cancellation_(std::move(cancellation)) {}
  ~OpenSslCertificateProbe() override { SSL_CTX_free(ctx_); }
  OpenSslCertificateProbe(const OpenSslCertificateProbe&) = delete;
  OpenSslCertificateProbe& operator=(const OpenSslCertificateProbe&) = delete;

  Result<ServedCertificate> Read(const std::string& host, uint16_t port) override {
    ERR_clear_error();
    const Deadline deadline = std::chrono::steady_clock::now() + timeout_;
    const std::string where = "certificate of " + host + ":" + std::to_string(port);
    Socket socket;
    const Status connected = Connect(host, port, deadline, cancellation_.get(), socket);
    if (!connected.ok()) {
      return connected.WithContext(where);
    }

    SSL* ssl = SSL_new(ctx_);
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    if (ssl == nullptr || rbio == nullptr || wbio == nullptr) {
      SSL_free(ssl);
      BIO_free(rbio);
      BIO_free(wbio);
      return Status::Internal(where + ": " + OpenSslError("out of memory"));
    }
    SSL_set_bio(ssl, rbio, wbio);  // ssl owns both now
    SSL_set_connect_state(ssl);
    if (!IsIpLiteral(host)) {
      SSL_set_tlsext_host_name(ssl, host.c_str());
    }
    X509* leaf = nullptr;
    SSL_set_app_data(ssl, &leaf);

    Status outcome = Handshake(ssl, wbio, rbio, socket.fd(), deadline, cancellation_.get());
    if (outcome.ok()) {
      SSL_shutdown(ssl);  // a close_notify alert; no application data was ever sent
      // Best effort: we are leaving.
      static_cast<void>(Flush(wbio, socket.fd(), deadline, cancellation_.get()));
    }
    if (leaf == nullptr) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
      leaf = SSL_get1_peer_certificate(ssl);  // a reference of our own
#else
      leaf = SSL_get_peer_certificate(ssl);
#endif
    }
    SSL_free(ssl);
    if (leaf == nullptr) {
      return outcome.ok() ? Status::Unavailable(where + ": the server presented no certificate")
                          : outcome.WithContext(where);
    }
    Result<ServedCertificate> described = Describe(leaf);
    X509_free(leaf);
    if (!described.ok()) {
      return described.status().WithContext(where);
    }
    return described;
  }

 private:
  // Drives the client handshake over memory BIOs, moving bytes through the socket ourselves
  // (send with MSG_NOSIGNAL: a reset connection must not raise SIGPIPE).
  static Status Handshake(SSL* ssl, BIO* wbio, BIO* rbio, int fd, Deadline deadline,
                          const http::Cancellation* cancel) {
    char buffer[16384];
    while (true) {
      const int r = SSL_do_handshake(ssl);
      ETCDMON_RETURN_IF_ERROR(Flush(wbio, fd, deadline, cancel));
      if (r == 1) {
        return Status::Ok();
      }
      if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
        return Status::Unavailable("TLS handshake failed: " + OpenSslError("protocol error"));
      }
      if (!WaitFor(fd, POLLIN, deadline, cancel)) {
        return Status::DeadlineExceeded("TLS handshake: timed out");
      }
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n == 0) {
        return Status::Unavailable("TLS handshake: connection closed by the server");
      }
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
          continue;
        }
        return Status::Unavailable(std::string("recv: ") + std::strerror(errno));
      }
      BIO_write(rbio, buffer, static_cast<int>(n));
    }
  }

  SSL_CTX* const ctx_;  // owned; thread-safe for SSL_new
  const std::chrono::milliseconds timeout_;
  const std::shared_ptr<http::Cancellation> cancellation_;  // may be null
};

}  // namespace

Result<std::unique_ptr<CertificateProbe>> NewCertificateProbe(CertificateProbeOptions options) {
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument("certificate probe: timeout must be positive");
  }
  if (options.tls.cert_file.empty() != options.tls.key_file.empty()) {
    return Status::InvalidArgument("certificate probe: give a client certificate and key together");
  }
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    return Status::Internal("SSL_CTX_new: " + OpenSslError("failed"));
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx, &CaptureLeaf, nullptr);
  if (!options.tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.tls.cert_file.c_str()) != 1) {
      SSL_CTX_free(ctx);
      return Status::InvalidArgument("certificate probe: cannot use client certificate " +
                                     options.tls.cert_file + ": " + OpenSslError("unreadable"));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      SSL_CTX_free(ctx);
      return Status::InvalidArgument("certificate probe: cannot use client key " +
                                     options.tls.key_file + ": " + OpenSslError("unreadable"));
    }
  }
  return std::unique_ptr<CertificateProbe>(
      new OpenSslCertificateProbe(ctx, options.timeout, std::move(options.cancellation)));
}

}  // namespace etcdmon::collector
