#pragma once

namespace etcdmon::etcd::detail {

// Sends gRPC core's own log lines (handshake failures, reconnect attempts) to spdlog's default
// logger at debug level instead of raw stderr. Every failure they describe already reaches the
// caller as a Status naming the endpoint, so by default they are noise on an operator's
// terminal; `--log-level=debug` (which sets the default logger) shows them. Idempotent.
void RouteGrpcLogsToSpdlog();

}  // namespace etcdmon::etcd::detail
