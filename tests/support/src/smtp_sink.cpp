#include "etcdmon/testing/smtp_sink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <utility>

#include "etcdmon/strings/strings.h"

namespace etcdmon::testing {
namespace {

constexpr std::size_t kMaxLine = 1000;

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// The address inside "<...>" of "FROM:<a@b> SIZE=10"; the text itself without brackets.
std::string AngleAddress(std::string_view argument) {
  const std::size_t open = argument.find('<');
  const std::size_t close = argument.find('>', open == std::string_view::npos ? 0 : open);
  if (open == std::string_view::npos || close == std::string_view::npos) {
    return std::string(argument);
  }
  return std::string(argument.substr(open + 1, close - open - 1));
}

}  // namespace

std::string SmtpMessage::Header(std::string_view name) const {
  const std::size_t header_end = data.find("\r\n\r\n");
  const std::string_view header =
      std::string_view(data).substr(0, header_end == std::string::npos ? data.size() : header_end);
  std::size_t begin = 0;
  while (begin < header.size()) {
    std::size_t end = header.find("\r\n", begin);
    if (end == std::string_view::npos) {
      end = header.size();
    }
    const std::string_view line = header.substr(begin, end - begin);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon == name.size() &&
        Upper(line.substr(0, colon)) == Upper(name)) {
      std::string value(line.substr(colon + 1));
      // Unfold continuation lines (starting with white space).
      while (end + 2 < header.size() && (header[end + 2] == ' ' || header[end + 2] == '\t')) {
        const std::size_t next_end = std::min(header.find("\r\n", end + 2), header.size());
        value += header.substr(end + 2, next_end - end - 2);
        end = next_end;
      }
      const std::size_t first = value.find_first_not_of(" \t");
      return first == std::string::npos ? "" : value.substr(first);
    }
    begin = end + 2;
  }
  return "";
}

std::string SmtpMessage::Body() const {
  const std::size_t header_end = data.find("\r\n\r\n");
  return header_end == std::string::npos ? "" : data.substr(header_end + 4);
}

// One client connection: a line-oriented reader and writer over plain TCP, then TLS after
// STARTTLS, and the SMTP state machine.
class SmtpSink::Session {
 public:
  Session(SmtpSink& sink, int fd) : sink_(sink), fd_(fd) {}
  ~Session() {
    if (ssl_ != nullptr) {
      SSL_free(ssl_);
    }
    // The fd is closed by Stop(), so that it cannot be reused while Stop() may shut it down.
    shutdown(fd_, SHUT_RDWR);
  }

  void Run() {
    if (!Write("220 127.0.0.1 ESMTP etcdmon test sink")) {
      return;
    }
    std::string line;
    while (ReadLine(line)) {
      if (!Handle(line)) {
        return;
      }
    }
  }

 private:
  // False when the session should end.
  bool Handle(const std::string& line) {
    const std::size_t space = line.find(' ');
    const std::string verb = Upper(line.substr(0, space));
    const std::string argument = space == std::string::npos ? "" : line.substr(space + 1);
    {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      sink_.commands_.push_back(verb == "AUTH"
                                    ? verb + " " + Upper(argument.substr(0, argument.find(' ')))
                                    : verb + (argument.empty() ? "" : " " + argument));
    }
    if (verb == "EHLO") {
      ResetTransaction();
      std::string reply = "250-127.0.0.1 greets " + argument + "\r\n";
      if (sink_.tls_context_ != nullptr && ssl_ == nullptr) {
        reply += "250-STARTTLS\r\n";
      }
      if (!sink_.options_.username.empty()) {
        reply += "250-AUTH PLAIN LOGIN\r\n";
      }
      reply += "250 8BITMIME";
      return Write(reply);
    }
    if (verb == "HELO") {
      ResetTransaction();
      return Write("250 127.0.0.1");
    }
    if (verb == "STARTTLS") {
      return StartTls();
    }
    if (verb == "AUTH") {
      return Authenticate(argument);
    }
    if (verb == "MAIL") {
      if (!sink_.options_.username.empty() && auth_user_.empty()) {
        return Write("530 5.7.0 Authentication required");
      }
      ResetTransaction();
      mail_from_ = AngleAddress(argument);
      has_mail_ = true;
      return Write("250 2.1.0 OK");
    }
    if (verb == "RCPT") {
      if (!has_mail_) {
        return Write("503 5.5.1 MAIL first");
      }
      int code;
      {
        std::lock_guard<std::mutex> lock(sink_.mu_);
        code = sink_.rcpt_reply_;
      }
      if (code / 100 == 2) {
        rcpt_to_.push_back(AngleAddress(argument));
      }
      return Write(std::to_string(code) + (code / 100 == 2 ? " 2.1.5 OK" : " recipient refused"));
    }
    if (verb == "DATA") {
      if (rcpt_to_.empty()) {
        return Write("503 5.5.1 RCPT first");
      }
      return ReceiveData();
    }
    if (verb == "RSET") {
      ResetTransaction();
      return Write("250 2.0.0 OK");
    }
    if (verb == "NOOP") {
      return Write("250 2.0.0 OK");
    }
    if (verb == "QUIT") {
      Write("221 2.0.0 Bye");
      return false;
    }
    return Write("500 5.5.2 unrecognized command");
  }

  void ResetTransaction() {
    has_mail_ = false;
    mail_from_.clear();
    rcpt_to_.clear();
  }

  bool StartTls() {
    if (sink_.tls_context_ == nullptr || ssl_ != nullptr) {
      return Write("502 5.5.1 STARTTLS not available");
    }
    if (!Write("220 2.0.0 Ready to start TLS")) {
      return false;
    }
    // Anything the client pipelined before the handshake is a protocol violation; drop it.
    buffer_.clear();
    ssl_ = SSL_new(static_cast<SSL_CTX*>(sink_.tls_context_));
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
      return false;
    }
    // The socket is blocking; a stalled handshake ends when Stop() shuts the socket down.
    if (SSL_accept(ssl_) != 1) {
      return false;
    }
    ResetTransaction();
    auth_user_.clear();
    return true;
  }

  bool Authenticate(const std::string& argument) {
    if (sink_.options_.username.empty()) {
      return Write("502 5.5.1 AUTH not available");
    }
    const std::size_t space = argument.find(' ');
    const std::string mechanism = Upper(argument.substr(0, space));
    std::string initial = space == std::string::npos ? "" : argument.substr(space + 1);
    std::string user;
    std::string password;
    std::string decoded;
    if (mechanism == "PLAIN") {
      if (initial.empty()) {
        if (!Write("334 ") || !ReadLine(initial)) {
          return false;
        }
      }
      // authzid NUL authcid NUL passwd
      const std::size_t first = strings::DecodeBase64(initial, decoded) ? decoded.find('\0') : 0;
      const std::size_t second = first == std::string::npos ? first : decoded.find('\0', first + 1);
      if (first == std::string::npos || second == std::string::npos) {
        return Write("501 5.5.2 malformed AUTH PLAIN");
      }
      user = decoded.substr(first + 1, second - first - 1);
      password = decoded.substr(second + 1);
    } else if (mechanism == "LOGIN") {
      std::string line = initial;
      if (line.empty() && (!Write("334 VXNlcm5hbWU6") || !ReadLine(line))) {
        return false;
      }
      if (!strings::DecodeBase64(line, user)) {
        return Write("501 5.5.2 malformed AUTH LOGIN");
      }
      if (!Write("334 UGFzc3dvcmQ6") || !ReadLine(line)) {
        return false;
      }
      if (!strings::DecodeBase64(line, password)) {
        return Write("501 5.5.2 malformed AUTH LOGIN");
      }
    } else {
      return Write("504 5.5.4 unrecognized authentication type");
    }
    if (user == sink_.options_.username && password == sink_.options_.password) {
      auth_user_ = user;
      return Write("235 2.7.0 Authentication successful");
    }
    {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      ++sink_.auth_failures_;
    }
    return Write("535 5.7.8 Authentication credentials invalid");
  }

  bool ReceiveData() {
    if (!Write("354 End data with <CR><LF>.<CR><LF>")) {
      return false;
    }
    std::string data;
    std::string line;
    for (;;) {
      if (!ReadLine(line)) {
        return false;
      }
      if (line == ".") {
        break;
      }
      // Dot-unstuffing (RFC 5321 4.5.2).
      data.append(line, !line.empty() && line[0] == '.' ? 1 : 0, std::string::npos);
      data += "\r\n";
      if (data.size() > kMaxMessageBytes) {
        Write("552 5.3.4 message too big");
        return false;
      }
    }
    int code;
    bool hang;
    {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      code = sink_.data_reply_;
      hang = sink_.hang_after_data_;
    }
    if (hang) {
      // Swallow input until the client goes away or the sink stops.
      while (ReadLine(line)) {
      }
      return false;
    }
    if (code / 100 == 2) {
      std::lock_guard<std::mutex> lock(sink_.mu_);
      if (sink_.messages_.size() < kMaxRecordedMessages) {
        sink_.messages_.push_back(
            SmtpMessage{mail_from_, rcpt_to_, std::move(data), auth_user_, ssl_ != nullptr});
      }
      sink_.message_cv_.notify_all();
    }
    ResetTransaction();
    return Write(std::to_string(code) + (code / 100 == 2 ? " 2.0.0 queued" : " refused"));
  }

  // Reads one CRLF- (or LF-) terminated line without its terminator.
  bool ReadLine(std::string& line) {
    for (;;) {
      const std::size_t end = buffer_.find('\n');
      if (end != std::string::npos) {
        line.assign(buffer_, 0, end > 0 && buffer_[end - 1] == '\r' ? end - 1 : end);
        buffer_.erase(0, end + 1);
        return true;
      }
      if (buffer_.size() > kMaxLine) {
        Write("500 5.5.6 line too long");
        return false;
      }
      char chunk[4096];
      int n;
      if (ssl_ != nullptr && SSL_pending(ssl_) > 0) {
        n = SSL_read(ssl_, chunk, sizeof(chunk));
      } else {
        pollfd fds[2] = {{fd_, POLLIN, 0}, {sink_.wake_read_fd_, POLLIN, 0}};
        const int rc = poll(fds, 2, -1);
        if (rc < 0 && errno == EINTR) {
          continue;
        }
        if (rc < 0 || fds[1].revents != 0) {
          return false;
        }
        n = ssl_ != nullptr ? SSL_read(ssl_, chunk, sizeof(chunk))
                            : static_cast<int>(recv(fd_, chunk, sizeof(chunk), 0));
      }
      if (n <= 0) {
        return false;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  bool Write(const std::string& reply) {
    const std::string out = reply + "\r\n";
    if (ssl_ != nullptr) {
      return SSL_write(ssl_, out.data(), static_cast<int>(out.size())) ==
             static_cast<int>(out.size());
    }
    std::size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n = send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  SmtpSink& sink_;
  const int fd_;
  SSL* ssl_ = nullptr;  // owned; set after STARTTLS
  std::string buffer_;  // received, not yet consumed
  bool has_mail_ = false;
  std::string mail_from_;
  std::vector<std::string> rcpt_to_;
  std::string auth_user_;
};

SmtpSink::SmtpSink(SmtpSinkOptions options) : options_(std::move(options)) {}

SmtpSink::~SmtpSink() {
  Stop();
  if (tls_context_ != nullptr) {
    SSL_CTX_free(static_cast<SSL_CTX*>(tls_context_));
  }
}

Status SmtpSink::Start() {
  if (!options_.tls_cert_file.empty()) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
      return Status::Internal("SSL_CTX_new failed");
    }
    tls_context_ = ctx;
    if (SSL_CTX_use_certificate_chain_file(ctx, options_.tls_cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, options_.tls_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return Status::InvalidArgument("cannot load the sink's TLS certificate or key");
    }
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status::Internal(std::string("pipe2: ") + std::strerror(errno));
  }
  wake_read_fd_ = pipe_fds[0];
  wake_write_fd_ = pipe_fds[1];
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Status s = Status::Unavailable(std::string("listen on 127.0.0.1:0: ") + std::strerror(errno));
    Stop();
    return s;
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread(&SmtpSink::AcceptLoop, this);
  return Status::Ok();
}

void SmtpSink::Stop() {
  if (wake_write_fd_ >= 0) {
    const char byte = 1;
    // Never drained: every present and future poll on it returns at once.
    (void)!write(wake_write_fd_, &byte, 1);
  }
  if (accept_thread_.joinable()) {
    accept_thread_.join();
  }
  std::vector<std::thread> threads;
  std::vector<int> fds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(session_threads_);
    fds.swap(session_fds_);
  }
  // Unblocks sessions inside a blocking TLS handshake or read, which cannot watch the wake pipe.
  for (int fd : fds) {
    shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (int fd : fds) {
    close(fd);
  }
  for (int* fd : {&listen_fd_, &wake_read_fd_, &wake_write_fd_}) {
    if (*fd >= 0) {
      close(*fd);
      *fd = -1;
    }
  }
}

std::string SmtpSink::Url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

void SmtpSink::SetRcptReply(int code) {
  std::lock_guard<std::mutex> lock(mu_);
  rcpt_reply_ = code;
}

void SmtpSink::SetDataReply(int code) {
  std::lock_guard<std::mutex> lock(mu_);
  data_reply_ = code;
}

void SmtpSink::SetHangAfterData(bool hang) {
  std::lock_guard<std::mutex> lock(mu_);
  hang_after_data_ = hang;
}

std::vector<SmtpMessage> SmtpSink::messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return messages_;
}

bool SmtpSink::WaitForMessages(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return message_cv_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
}

std::vector<std::string> SmtpSink::commands() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commands_;
}

std::size_t SmtpSink::auth_failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return auth_failures_;
}

void SmtpSink::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    const int rc = poll(fds, 2, -1);
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc < 0 || fds[1].revents != 0) {
      break;
    }
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    session_fds_.push_back(fd);
    session_threads_.emplace_back([this, fd] {
      Session session(*this, fd);
      session.Run();
    });
  }
}

}  // namespace etcdmon::testing
