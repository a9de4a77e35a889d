#pragma once

// A minimal HTTP/1.1 server on 127.0.0.1 for tests of HTTP clients: it serves canned
// responses per path and can misbehave on purpose (delay, hang, reset, oversized bodies).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::testing {

/// What the server does with a GET of one path.
struct CannedResponse {
  enum class Action {
    kRespond,        // send the status line, headers and body
    kHang,           // read the request, then send nothing until the client goes away
    kCloseAbruptly,  // read the request, then reset the connection without any response
  };
  Action action = Action::kRespond;
  int status = 200;
  std::string content_type = "text/plain; version=0.0.4; charset=utf-8";
  std::string body;
  /// When non-zero, the body is this many filler bytes, streamed in chunks, instead of `body`.
  std::size_t generated_body_bytes = 0;
  /// false: no Content-Length header; the body ends when the server closes the connection.
  bool send_content_length = true;
  /// Wait this long after reading the request before acting on it.
  std::chrono::milliseconds delay{0};
};

/// Serves canned responses; unknown paths get a 404. Connections are kept alive and each is
/// served by its own thread, all owned by the server.
/// Set() and the counters are safe for concurrent use; Start() and Stop() are for the owning
/// test thread.
class HttpServer {
 public:
  HttpServer() = default;
  ~HttpServer();  // calls Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds 127.0.0.1 on a free port and starts serving.
  Status Start();

  /// Closes the listener and every connection, and joins all threads. Idempotent; fine
  /// without Start().
  void Stop();

  /// The bound port; 0 before Start().
  std::uint16_t port() const { return port_; }

  /// "http://127.0.0.1:<port><path>".
  std::string Url(const std::string& path) const;

  /// Sets the response for `path` (e.g. "/metrics"), replacing any earlier one.
  void Set(const std::string& path, CannedResponse response);

  std::size_t connections_accepted() const { return connections_accepted_.load(); }
  std::size_t requests_received() const { return requests_received_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd);

  int listen_fd_ = -1;
  int wake_read_fd_ = -1;  // readable once Stop() begins: every wait polls it
  int wake_write_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread accept_thread_;

  std::mutex mu_;
  std::map<std::string, CannedResponse> responses_;  // guarded by mu_
  std::vector<std::thread> connection_threads_;      // guarded by mu_

  std::atomic<std::size_t> connections_accepted_{0};
  std::atomic<std::size_t> requests_received_{0};
};

}  // namespace etcdmon::testing
