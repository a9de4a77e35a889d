#pragma once

// The backends of the `etcd-monitor-gateway` binary: the aggregator's MonitorService and the
// alerter's AlertService over gRPC, and the aggregator's snapshot stream over ZeroMQ.

#include <chrono>
#include <memory>
#include <string>

#include "etcdmon/gateway/backends.h"
#include "etcdmon/status/status.h"

namespace etcdmon::gateway {

/// MonitorService at `address` ("host:port"), plaintext. Every call has `timeout` as deadline.
/// The channel connects lazily, so an aggregator that is not up yet is an Unavailable answer,
/// not a startup error.
Result<std::unique_ptr<MonitorBackend>> NewGrpcMonitorBackend(const std::string& address,
                                                              std::chrono::milliseconds timeout);

/// AlertService at `address`, as NewGrpcMonitorBackend.
Result<std::unique_ptr<AlertBackend>> NewGrpcAlertBackend(const std::string& address,
                                                          std::chrono::milliseconds timeout);

/// The aggregator's PUB stream at `endpoint` ("tcp://host:5556"); `curve_server_key` (Z85)
/// when the aggregator encrypts it.
Result<std::unique_ptr<SnapshotFeed>> NewZmqSnapshotFeed(const std::string& endpoint,
                                                         const std::string& curve_server_key);

}  // namespace etcdmon::gateway
