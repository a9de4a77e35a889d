#include "etcdmon/testing/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace etcdmon::testing {
namespace {

constexpr std::size_t kMaxRequestHead = 64 * 1024;
constexpr std::size_t kBodyChunk = 64 * 1024;

enum class Wait { kReady, kStop, kTimeout };

// Waits for `events` on `fd` (ignored when negative) or for the stop signal on `wake_fd`.
// `timeout_ms` < 0 waits without limit.
Wait WaitFor(int fd, short events, int wake_fd, int timeout_ms) {
  pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
  for (;;) {
    const int rc = poll(fds, 2, timeout_ms);
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc < 0 || fds[1].revents != 0) {
      return Wait::kStop;
    }
    return rc == 0 ? Wait::kTimeout : Wait::kReady;
  }
}

bool SendAll(int fd, const char* data, std::size_t size, int wake_fd) {
  while (size > 0) {
    if (WaitFor(fd, POLLOUT, wake_fd, -1) != Wait::kReady) {
      return false;
    }
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      continue;
    }
    if (n <= 0) {
      return false;  // the client went away
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

std::string ErrnoMessage(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// Parses "METHOD /path HTTP/1.1\r\nName: value\r\n..." (without the blank line).
RecordedRequest ParseHead(const std::string& head) {
  RecordedRequest request;
  std::size_t line_end = head.find("\r\n");
  const std::string_view first =
      std::string_view(head).substr(0, line_end == std::string::npos ? head.size() : line_end);
  const std::size_t method_end = first.find(' ');
  if (method_end != std::string_view::npos) {
    request.method = std::string(first.substr(0, method_end));
    const std::size_t path_end = first.find(' ', method_end + 1);
    if (path_end != std::string_view::npos) {
      request.path = std::string(first.substr(method_end + 1, path_end - method_end - 1));
    }
  }
  while (line_end != std::string::npos) {
    const std::size_t begin = line_end + 2;
    line_end = head.find("\r\n", begin);
    const std::string_view line = std::string_view(head).substr(
        begin, line_end == std::string::npos ? std::string::npos : line_end - begin);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      request.headers.emplace_back(std::string(Trim(line.substr(0, colon))),
                                   std::string(Trim(line.substr(colon + 1))));
    }
  }
  return request;
}

}  // namespace

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status::Internal(ErrnoMessage("pipe2"));
  }
  wake_read_fd_ = pipe_fds[0];
  wake_write_fd_ = pipe_fds[1];

  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    Status s = Status::Internal(ErrnoMessage("socket"));
    Stop();
    return s;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Status s = Status::Unavailable(ErrnoMessage("listen on 127.0.0.1:0"));
    Stop();
    return s;
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread(&HttpServer::AcceptLoop, this);
  return Status::Ok();
}

void HttpServer::Stop() {
  if (wake_write_fd_ >= 0) {
    const char byte = 1;
    // The pipe is never drained, so every present and future poll on it returns at once.
    (void)!write(wake_write_fd_, &byte, 1);
  }
  if (accept_thread_.joinable()) {
    accept_thread_.join();
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(connection_threads_);
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (int* fd : {&listen_fd_, &wake_read_fd_, &wake_write_fd_}) {
    if (*fd >= 0) {
      close(*fd);
      *fd = -1;
    }
  }
}

std::string RecordedRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoringCase(key, name)) {
      return value;
    }
  }
  return "";
}

std::string HttpServer::Url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpServer::Set(const std::string& path, CannedResponse response) {
  std::lock_guard<std::mutex> lock(mu_);
  responses_[path] = {std::move(response)};
  served_[path] = 0;
}

void HttpServer::SetSequence(const std::string& path, std::vector<CannedResponse> responses) {
  std::lock_guard<std::mutex> lock(mu_);
  responses_[path] = std::move(responses);
  served_[path] = 0;
}

std::vector<RecordedRequest> HttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recorded_;
}

bool HttpServer::WaitForRequests(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return recorded_cv_.wait_for(lock, timeout, [&] { return recorded_.size() >= count; });
}

CannedResponse HttpServer::NextResponse(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = responses_.find(path);
  if (it == responses_.end() || it->second.empty()) {
    CannedResponse not_found;
    not_found.status = 404;
    not_found.body = "not found\n";
    return not_found;
  }
  std::size_t& served = served_[path];
  const CannedResponse& response = it->second[std::min(served, it->second.size() - 1)];
  ++served;
  return response;
}

void HttpServer::Record(RecordedRequest&& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (recorded_.size() < kMaxRecordedRequests) {
    recorded_.push_back(std::move(request));
  }
  recorded_cv_.notify_all();
}

void HttpServer::AcceptLoop() {
  while (WaitFor(listen_fd_, POLLIN, wake_read_fd_, -1) == Wait::kReady) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    ++connections_accepted_;
    // Headers and body go out in separate writes; without this, Nagle's algorithm holds the
    // body back until the client's delayed ACK.
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::lock_guard<std::mutex> lock(mu_);
    connection_threads_.emplace_back(&HttpServer::Serve, this, fd);
  }
}

void HttpServer::Serve(int fd) {
  std::string buffer;
  for (;;) {
    // Read one request head, then the body its Content-Length announces.
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > kMaxRequestHead ||
          WaitFor(fd, POLLIN, wake_read_fd_, -1) != Wait::kReady) {
        close(fd);
        return;
      }
      char chunk[4096];
      const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) {
        close(fd);
        return;
      }
      buffer.append(chunk, static_cast<std::size_t>(n));
    }
    RecordedRequest request = ParseHead(buffer.substr(0, head_end));
    buffer.erase(0, head_end + 4);
    ++requests_received_;

    CannedResponse response;
    const std::string length_text = request.Header("Content-Length");
    std::size_t body_length = 0;
    bool body_ok = true;
    if (!request.Header("Transfer-Encoding").empty()) {
      body_ok = false;
      response.status = 411;
    } else if (!length_text.empty()) {
      char* end = nullptr;
      const unsigned long long parsed = std::strtoull(length_text.c_str(), &end, 10);
      if (end == length_text.c_str() || *end != '\0' || parsed > kMaxRequestBody) {
        body_ok = false;
        response.status = 413;
      } else {
        body_length = static_cast<std::size_t>(parsed);
      }
    }
    if (!body_ok) {
      // The body's end is unknown: answer, then close the connection.
      response.body = "bad request body\n";
      response.send_content_length = false;
      Record(std::move(request));
    } else {
      while (buffer.size() < body_length) {
        if (WaitFor(fd, POLLIN, wake_read_fd_, -1) != Wait::kReady) {
          close(fd);
          return;
        }
        char chunk[4096];
        const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) {
          close(fd);
          return;
        }
        buffer.append(chunk, static_cast<std::size_t>(n));
      }
      request.body = buffer.substr(0, body_length);
      buffer.erase(0, body_length);
      const std::string path = request.path;
      Record(std::move(request));
      response = NextResponse(path);
    }

    if (response.delay.count() > 0 &&
        WaitFor(-1, 0, wake_read_fd_, static_cast<int>(response.delay.count())) == Wait::kStop) {
      close(fd);
      return;
    }
    if (response.action == CannedResponse::Action::kHang) {
      // Swallow whatever arrives until the client closes or the server stops.
      char chunk[4096];
      while (WaitFor(fd, POLLIN, wake_read_fd_, -1) == Wait::kReady &&
             recv(fd, chunk, sizeof(chunk), 0) > 0) {
      }
      close(fd);
      return;
    }
    if (response.action == CannedResponse::Action::kCloseAbruptly) {
      const linger reset{1, 0};  // close() then sends RST instead of FIN
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
      close(fd);
      return;
    }

    const std::size_t body_size =
        response.generated_body_bytes > 0 ? response.generated_body_bytes : response.body.size();
    std::string headers = "HTTP/1.1 " + std::to_string(response.status) + " " +
                          ReasonPhrase(response.status) + "\r\n";
    if (!response.content_type.empty()) {
      headers += "Content-Type: " + response.content_type + "\r\n";
    }
    if (response.send_content_length) {
      headers += "Content-Length: " + std::to_string(body_size) + "\r\n";
    } else {
      headers += "Connection: close\r\n";
    }
    headers += "\r\n";
    bool ok = SendAll(fd, headers.data(), headers.size(), wake_read_fd_);
    if (ok && response.generated_body_bytes > 0) {
      const std::string chunk(kBodyChunk, 'x');
      for (std::size_t sent = 0; ok && sent < body_size; sent += kBodyChunk) {
        ok = SendAll(fd, chunk.data(), std::min(kBodyChunk, body_size - sent), wake_read_fd_);
      }
    } else if (ok) {
      ok = SendAll(fd, response.body.data(), response.body.size(), wake_read_fd_);
    }
    if (!ok || !response.send_content_length) {
      close(fd);
      return;
    }
  }
}

}  // namespace etcdmon::testing
