#pragma once

// A minimal HTTP/1.1 server on 127.0.0.1 for tests of HTTP clients: it serves canned
// responses per path (or a scripted sequence of them), records every request (GET or POST,
// with headers and body), and can misbehave on purpose (delay, hang, reset, oversized bodies).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::testing {

/// One request as the server read it.
struct RecordedRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // as sent, with any query string
  std::vector<std::pair<std::string, std::string>> headers;  // in order, as spelled
  std::string body;  // the Content-Length bytes that followed the head

  /// The first header named `name` (any case), or "" when there is none.
  std::string Header(std::string_view name) const;
};

/// What the server does with a request for one path.
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

  /// `status` with `body` of `content_type`: the usual answer a test scripts.
  static CannedResponse With(int status, std::string body = "",
                             std::string content_type = "text/plain") {
    CannedResponse r;
    r.status = status;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
  }
};

/// Serves canned responses; unknown paths get a 404. Connections are kept alive and each is
/// served by its own thread, all owned by the server. Request bodies need a Content-Length
/// (chunked bodies get a 411) of at most kMaxRequestBody bytes (else a 413).
/// Set(), SetSequence(), the accessors and the counters are safe for concurrent use; Start() and
/// Stop() are for the owning test thread.
class HttpServer {
 public:
  static constexpr std::size_t kMaxRequestBody = 4u << 20;
  /// The first this many requests are recorded; later ones are only counted.
  static constexpr std::size_t kMaxRecordedRequests = 10000;

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

  /// Scripts the responses for `path`: the n-th request gets the n-th response, and every
  /// request after the last gets the last one (e.g. {500, 200}: one failure, then success).
  /// `responses` must not be empty.
  void SetSequence(const std::string& path, std::vector<CannedResponse> responses);

  /// Every request recorded so far, in the order their heads were read (a request is recorded
  /// before the server acts on it, so a request to a hanging path is already there).
  std::vector<RecordedRequest> requests() const;

  /// Waits until at least `count` requests were recorded or `timeout` passes; returns whether
  /// they were.
  bool WaitForRequests(std::size_t count,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

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

  // The response for the next request to `path`, advancing its sequence.
  CannedResponse NextResponse(const std::string& path);
  void Record(RecordedRequest&& request);

  mutable std::mutex mu_;
  mutable std::condition_variable recorded_cv_;  // notified under mu_ when a request is recorded
  // Guarded by mu_: the scripted responses per path and how many each path has served.
  std::map<std::string, std::vector<CannedResponse>> responses_;
  std::map<std::string, std::size_t> served_;
  std::vector<RecordedRequest> recorded_;        // guarded by mu_
  std::vector<std::thread> connection_threads_;  // guarded by mu_

  std::atomic<std::size_t> connections_accepted_{0};
  std::atomic<std::size_t> requests_received_{0};
};

}  // namespace etcdmon::testing
