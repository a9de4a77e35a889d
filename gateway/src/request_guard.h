#pragma once

// The gate in front of the HTTP library's parser: it reads a connection's bytes as they arrive
// and refuses, from the request line and headers alone, what the library would mishandle (it
// reads a whole oversized body before answering 413, answers 500 with an exception text for a
// negative Content-Length, scans garbage quadratically). Pure logic over bytes, no sockets;
// private to the gateway.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace etcdmon::gateway::detail {

struct RequestLimits {
  std::size_t max_request_line_bytes = 8 * 1024;  // longer: 414
  std::size_t max_head_bytes = 16 * 1024;         // request line and headers; longer: 431
  std::size_t max_body_bytes = 64 * 1024;         // Content-Length; more: 413
};

/// Why a request is refused: the HTTP status (400, 411, 413, 414, 431, 501) and a message for the
/// client. The connection is closed after the answer: what follows cannot be framed.
struct Refusal {
  int http_status = 400;
  std::string message;
};

/// One per connection. Feed() every received chunk in order; requests may be pipelined.
class RequestGuard {
 public:
  explicit RequestGuard(RequestLimits limits) : limits_(limits) {}

  /// nullopt: hand the bytes to the parser. A Refusal: answer it and close; the guard then
  /// refuses everything that follows (refused() is true).
  std::optional<Refusal> Feed(std::string_view bytes);
  bool refused() const { return phase_ == Phase::kRefused; }
  /// Refuses everything that follows (after a refusal by the parser behind the guard).
  void RefuseRest() { phase_ = Phase::kRefused; }

 private:
  enum class Phase : uint8_t {
    kHead,  // request line and headers, up to the empty line
    kBody,  // body_remaining_ bytes of a Content-Length body
    kRefused,
  };

  std::optional<Refusal> EndOfHead();
  std::optional<Refusal> Refuse(int http_status, std::string message);

  const RequestLimits limits_;
  Phase phase_ = Phase::kHead;
  std::string line_;  // the head collected so far
  uint64_t body_remaining_ = 0;
};

}  // namespace etcdmon::gateway::detail
