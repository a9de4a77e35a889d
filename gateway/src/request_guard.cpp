#include "request_guard.h"

#include <algorithm>
#include <vector>

#include "etcdmon/strings/strings.h"
#include "query.h"

namespace etcdmon::gateway::detail {
namespace {

constexpr std::string_view kCrlf = "\r\n";
// Content-Length digits: 19 always fit in 64 bits; the limit is far below anyway.
constexpr std::size_t kMaxLengthDigits = 19;

bool IsTokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) {
    return false;
  }
  return std::string_view("\"(),/:;<=>?@[\\]{}").find(c) == std::string_view::npos;
}

bool IsToken(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), IsTokenChar);
}

// A header value: visible ASCII, spaces, tabs and (obsolete but harmless) bytes >= 0x80; no
// control characters, NUL above all.
bool IsFieldValue(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == '\t' || (u >= 0x20 && u != 0x7F);
  });
}

bool IsDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The request target as sent: origin-form, visible ASCII only (anything else is percent-encoded
// by a well-behaved client), with valid percent-encoding decoding to UTF-8 without NUL.
std::optional<Refusal> CheckTarget(std::string_view target) {
  if (target.empty() || target.front() != '/') {
    return Refusal{400, "the request target must be a path starting with '/'"};
  }
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) {
      return Refusal{400, "the request target holds a byte that must be percent-encoded"};
    }
  }
  const size_t fragment = target.find('#');
  if (fragment != std::string_view::npos) {
    return Refusal{400, "the request target must not carry a fragment ('#')"};
  }
  Result<std::string> decoded = PercentDecode(target);
  if (!decoded.ok()) {
    return Refusal{400, decoded.status().message()};
  }
  return std::nullopt;
}

}  // namespace

std::optional<Refusal> RequestGuard::Refuse(int http_status, std::string message) {
  phase_ = Phase::kRefused;
  line_.clear();
  return Refusal{http_status, std::move(message)};
}

std::optional<Refusal> RequestGuard::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    switch (phase_) {
      case Phase::kRefused:
        return Refusal{400, "the connection is closing after a refused request"};
      case Phase::kHead: {
        // The end of the head may straddle chunks: look from 3 bytes before the new ones.
        const size_t search_from = line_.size() >= 3 ? line_.size() - 3 : 0;
        const size_t take = std::min(bytes.size(), limits_.max_head_bytes + 4 - line_.size());
        line_.append(bytes.substr(0, take));
        const size_t end = line_.find("\r\n\r\n", search_from);
        const size_t request_line_end = line_.find(kCrlf);
        if (request_line_end == std::string::npos &&
            line_.size() > limits_.max_request_line_bytes) {
          return Refuse(414, "the request line is longer than " +
                                 std::to_string(limits_.max_request_line_bytes) + " bytes");
        }
        if (request_line_end != std::string::npos &&
            request_line_end > limits_.max_request_line_bytes) {
          return Refuse(414, "the request line is longer than " +
                                 std::to_string(limits_.max_request_line_bytes) + " bytes");
        }
        if (end == std::string::npos) {
          if (line_.size() > limits_.max_head_bytes) {
            return Refuse(431, "the request headers are larger than " +
                                   std::to_string(limits_.max_head_bytes) + " bytes");
          }
          bytes.remove_prefix(take);
          break;
        }
        // Hand back what followed the head to the next phase.
        const size_t head_size = end + 4;
        const size_t used = take - (line_.size() - head_size);
        line_.resize(head_size);
        bytes.remove_prefix(used);
        if (std::optional<Refusal> refusal = EndOfHead()) {
          return refusal;
        }
        break;
      }
      case Phase::kBody: {
        const uint64_t take = std::min<uint64_t>(bytes.size(), body_remaining_);
        body_remaining_ -= take;
        bytes.remove_prefix(take);
        if (body_remaining_ == 0) {
          phase_ = Phase::kHead;
        }
        break;
      }
    }
  }
  return std::nullopt;
}

std::optional<Refusal> RequestGuard::EndOfHead() {
  const std::string head = std::move(line_);
  line_.clear();
  std::string_view rest(head);
  rest.remove_suffix(2);  // the empty line's CRLF; every line now ends in CRLF
  std::vector<std::string_view> lines;
  while (!rest.empty()) {
    const size_t crlf = rest.find(kCrlf);
    lines.push_back(rest.substr(0, crlf));
    rest.remove_prefix(crlf + 2);
  }
  if (lines.empty()) {
    return Refuse(400, "the request has no request line");
  }
  // METHOD SP target SP HTTP/1.x
  const std::string_view request_line = lines.front();
  const size_t first_space = request_line.find(' ');
  const size_t last_space = request_line.rfind(' ');
  if (first_space == std::string_view::npos || first_space == last_space) {
    return Refuse(400, "the request line must be: METHOD SP target SP HTTP-version");
  }
  const std::string_view method = request_line.substr(0, first_space);
  const std::string_view target =
      request_line.substr(first_space + 1, last_space - first_space - 1);
  const std::string_view version = request_line.substr(last_space + 1);
  if (!IsToken(method)) {
    return Refuse(400, "the request method is not a token");
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return Refuse(400, "only HTTP/1.1 and HTTP/1.0 are served");
  }
  if (std::optional<Refusal> refusal = CheckTarget(target)) {
    return Refuse(refusal->http_status, std::move(refusal->message));
  }

  std::optional<uint64_t> content_length;
  bool chunked = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) {
      return Refuse(400, "a header line must be: name \":\" value");
    }
    const std::string_view raw_value = line.substr(colon + 1);
    if (!IsFieldValue(raw_value)) {
      return Refuse(400, "a header value holds a control character");
    }
    const std::string name = strings::AsciiToLower(line.substr(0, colon));
    const std::string_view value = strings::TrimAsciiWhitespace(raw_value);
    if (name == "content-length") {
      if (content_length.has_value()) {
        return Refuse(400, "Content-Length is given more than once");
      }
      if (!IsDigits(value) || value.size() > kMaxLengthDigits) {
        return Refuse(400, "Content-Length must be a non-negative decimal number");
      }
      content_length = std::stoull(std::string(value));
    } else if (name == "transfer-encoding") {
      if (chunked) {
        return Refuse(400, "Transfer-Encoding is given more than once");
      }
      if (strings::AsciiToLower(value) != "chunked") {
        return Refuse(501, "no Transfer-Encoding is served: send a Content-Length");
      }
      chunked = true;
    }
  }
  if (content_length.has_value() && chunked) {
    return Refuse(400, "Content-Length and Transfer-Encoding exclude each other");
  }
  if (content_length.has_value() && *content_length > limits_.max_body_bytes) {
    return Refuse(413, "the request body of " + std::to_string(*content_length) +
                           " bytes is larger than the limit of " +
                           std::to_string(limits_.max_body_bytes));
  }
  if (chunked) {
    // Chunk framing is never handed on: the HTTP library behind the guard reads past the end of
    // its buffer on a chunk-size line that has not fully arrived. Every client the API serves
    // (curl, Prometheus, the CLI, the web console) sends a Content-Length.
    return Refuse(411, "chunked request bodies are not accepted: send a Content-Length");
  }
  if (content_length.value_or(0) > 0) {
    body_remaining_ = *content_length;
    phase_ = Phase::kBody;
  } else {
    phase_ = Phase::kHead;
  }
  return std::nullopt;
}

}  // namespace etcdmon::gateway::detail
