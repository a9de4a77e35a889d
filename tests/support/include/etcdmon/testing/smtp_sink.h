#pragma once

// A small SMTP server on 127.0.0.1 for tests of mail senders: it speaks enough ESMTP for a real
// client (EHLO/HELO, STARTTLS, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT), records
// every accepted message, and can refuse or hang on purpose.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::testing {

/// One message the sink accepted.
struct SmtpMessage {
  std::string mail_from;             // the MAIL FROM address, without the angle brackets
  std::vector<std::string> rcpt_to;  // the RCPT TO addresses, in order
  std::string data;                  // header and body after dot-unstuffing, CRLF line ends
  std::string auth_user;             // the authenticated user; "" without AUTH
  bool tls = false;                  // the session had switched to TLS (STARTTLS)

  /// The first header field named `name` (any case), unfolded; "" when absent.
  std::string Header(std::string_view name) const;
  /// Everything after the blank line that ends the header.
  std::string Body() const;
};

struct SmtpSinkOptions {
  /// When set, AUTH PLAIN and LOGIN are advertised (with or without TLS, so that a test can see
  /// whether a client would send a password in the clear) and MAIL needs a successful AUTH
  /// with exactly these credentials.
  std::string username;
  std::string password;
  /// PEM certificate and key; when set, STARTTLS is advertised and works.
  std::string tls_cert_file;
  std::string tls_key_file;
};

/// Serves SMTP sessions, each on its own thread, all owned by the sink. The reply settings,
/// messages() and commands() are safe for concurrent use; Start() and Stop() are for the owning
/// test thread. Command lines are bounded (1000 bytes, RFC 5321) and messages too
/// (kMaxMessageBytes): longer input ends the session.
class SmtpSink {
 public:
  static constexpr std::size_t kMaxMessageBytes = 1u << 20;
  static constexpr std::size_t kMaxRecordedMessages = 1000;

  explicit SmtpSink(SmtpSinkOptions options = {});
  ~SmtpSink();  // calls Stop()
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  /// Binds 127.0.0.1 on a free port and starts serving. InvalidArgument when the TLS files
  /// cannot be loaded.
  Status Start();
  /// Closes the listener and every session and joins all threads. Idempotent; fine without
  /// Start().
  void Stop();

  std::uint16_t port() const { return port_; }
  /// "smtp://127.0.0.1:<port>".
  std::string Url() const;

  /// The reply code to every RCPT TO (default 250); e.g. 550 refuses every recipient.
  void SetRcptReply(int code);
  /// The reply code to the end of DATA (default 250); the message is recorded only on 2xx.
  void SetDataReply(int code);
  /// When true, the sink reads a message's data and then never answers (until Stop()).
  void SetHangAfterData(bool hang);

  /// Every accepted message, in order.
  std::vector<SmtpMessage> messages() const;
  /// Waits until at least `count` messages were accepted or `timeout` passes.
  bool WaitForMessages(std::size_t count,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  /// Every command verb received, upper-cased, with its argument except for AUTH (whose
  /// argument may carry credentials): "EHLO host", "STARTTLS", "AUTH PLAIN", "MAIL FROM:<a@b>".
  std::vector<std::string> commands() const;
  /// Failed AUTH attempts.
  std::size_t auth_failures() const;

 private:
  class Session;
  void AcceptLoop();

  const SmtpSinkOptions options_;
  void* tls_context_ = nullptr;  // SSL_CTX*, owned; null without TLS
  int listen_fd_ = -1;
  int wake_read_fd_ = -1;  // readable once Stop() begins
  int wake_write_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread accept_thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable message_cv_;  // notified under mu_ per accepted message
  // Guarded by mu_:
  int rcpt_reply_ = 250;
  int data_reply_ = 250;
  bool hang_after_data_ = false;
  std::vector<SmtpMessage> messages_;
  std::vector<std::string> commands_;
  std::size_t auth_failures_ = 0;
  std::vector<std::thread> session_threads_;
  std::vector<int> session_fds_;  // closed by Stop()
};

}  // namespace etcdmon::testing
