#pragma once

// The backends of the `etcd-monitor-gateway` binary: the aggregator's MonitorService and the
// alerter's AlertService over gRPC, and the aggregator's snapshot stream over ZeroMQ.

#include <chrono>
#include <memory>
#include <string>

#include "etcdmon/gateway/backends.h"
#include "etcdmon/rpc/security.h"
#include "etcdmon/status/status.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace etcdmon::transport {
class SharedContext;  // etcdmon/transport/context.h
}  // namespace etcdmon::transport

namespace etcdmon::gateway {

/// MonitorService at `address` ("host:port"), over TLS or mTLS and with the token of `security`
/// on every call. Every call has `timeout` as deadline. The channel connects lazily, so an
/// aggregator that is not up yet is an Unavailable answer, not a startup error; a token that
/// would travel in clear beyond loopback is a FailedPrecondition (rpc::CheckClientSecurity),
/// an unreadable PEM file an InvalidArgument.
Result<std::unique_ptr<MonitorBackend>> NewGrpcMonitorBackend(
    const std::string& address, std::chrono::milliseconds timeout,
    const rpc::ClientSecurity& security = {});

/// MonitorService over an existing channel (the all-in-one binary's in-process one).
std::unique_ptr<MonitorBackend> NewGrpcMonitorBackend(std::shared_ptr<grpc::Channel> channel,
                                                      std::chrono::milliseconds timeout);

/// AlertService at `address`, as NewGrpcMonitorBackend.
Result<std::unique_ptr<AlertBackend>> NewGrpcAlertBackend(const std::string& address,
                                                          std::chrono::milliseconds timeout,
                                                          const rpc::ClientSecurity& security = {});
/// AlertService over an existing channel.
std::unique_ptr<AlertBackend> NewGrpcAlertBackend(std::shared_ptr<grpc::Channel> channel,
                                                  std::chrono::milliseconds timeout);

/// The aggregator's PUB stream at `endpoint` ("tcp://host:5556"); `curve_server_key` (Z85)
/// when the aggregator encrypts it; `context` shared with an in-process aggregator for an
/// inproc:// endpoint (null: its own).
Result<std::unique_ptr<SnapshotFeed>> NewZmqSnapshotFeed(
    const std::string& endpoint, const std::string& curve_server_key,
    std::shared_ptr<transport::SharedContext> context = nullptr);

}  // namespace etcdmon::gateway
