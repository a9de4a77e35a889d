#pragma once

// One HTTP request from a test to a server under test, any method, with the status, headers
// and body it got: for asserting on REST APIs (the gateway, the all-in-one monitor).

#include <nlohmann/json.hpp>
#include <string>

namespace etcdmon::testing {

struct HttpResult {
  long status = 0;  // 0: no answer (connection failed or timed out)
  std::string body;
  std::string headers;  // the raw response head, "Name: value" lines
  /// The body as JSON; a discarded value when it is not JSON.
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

/// Sends `method` to `url` with `body` (POST and PUT), an Authorization header when
/// `authorization` is not empty, and Content-Type application/json; 10 s timeout.
HttpResult Http(const std::string& method, const std::string& url, const std::string& body = "",
                const std::string& authorization = "");

}  // namespace etcdmon::testing
