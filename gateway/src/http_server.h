#pragma once

// The Pistache adapter: HTTP(S) in, Api::Handle, HTTP out. Private to the gateway.

#include <spdlog/fwd.h>

#include <cstdint>
#include <memory>

#include "api.h"
#include "etcdmon/gateway/gateway.h"

namespace etcdmon::gateway::detail {

/// Owns the Pistache endpoint and its I/O threads. Start() binds and serves; Stop() closes the
/// listener and joins the threads (idempotent, safe without Start()).
class HttpServer final {
 public:
  /// `api` must outlive the server.
  HttpServer(const GatewayConfig& config, Api& api, std::shared_ptr<spdlog::logger> logger);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Errors: the address is in use or invalid, the certificate or key cannot be loaded.
  Status Start();
  void Stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::gateway::detail
