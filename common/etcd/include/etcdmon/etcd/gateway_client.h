#pragma once

// An EtcdClient over etcd's HTTP/JSON gateway (POST /v3/...; on by default in etcd,
// --enable-grpc-gateway) instead of gRPC. etcd serves it on the client port and hands each
// request to the same gRPC handlers, so the answers are the same; what differs is the cost on
// the caller's side: no gRPC runtime in the process. The collector agent, which runs on every
// etcd host, uses it to stay small; everything else uses NewEtcdClient.

#include <memory>

#include "etcdmon/config/types.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/status/status.h"

namespace etcdmon::http {
class Cancellation;  // etcdmon/http/cancellation.h
}  // namespace etcdmon::http

namespace etcdmon::etcd {

/// Builds a gateway client for `config`, with NewEtcdClient's contract (errors, timeouts, auth
/// and re-authentication, TLS, thread safety), except:
///  - HashKV and Snapshot are kUnimplemented: the gateway of etcd 3.4 maps HashKV's path to Hash
///    and streams snapshots as JSON; use NewEtcdClient for them;
///  - each endpoint keeps a small pool of HTTP connections (one per concurrent caller) rather
///    than one multiplexed gRPC channel;
///  - with `cancellation`, Cancel() on it aborts the calls in flight and fails later ones at once
///    (kUnavailable), so that a caller blocked on a member that stopped answering can stop.
Result<std::unique_ptr<EtcdClient>> NewGatewayEtcdClient(
    const config::EtcdConnectionConfig& config, std::shared_ptr<http::Cancellation> cancellation);
Result<std::unique_ptr<EtcdClient>> NewGatewayEtcdClient(
    const config::EtcdConnectionConfig& config);

}  // namespace etcdmon::etcd
