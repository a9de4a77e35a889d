#pragma once

// MonitorService over gRPC: a thin adapter from the proto API to the aggregator's state.

#include <functional>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace etcdmon::aggregator::detail {

class MonitorGrpcService final : public etcdmonitor::v1::MonitorService::Service {
 public:
  /// Fills the latest snapshot; false before the first tick.
  using SnapshotSource = std::function<bool(etcdmonitor::v1::ClusterSnapshot&)>;
  using HealthSource = std::function<void(etcdmonitor::v1::ServiceHealth&)>;

  /// `store` and the sources must outlive the service; they are called from gRPC threads.
  MonitorGrpcService(const HistoryStore& store, SnapshotSource snapshot, HealthSource health)
      : store_(store), snapshot_(std::move(snapshot)), health_(std::move(health)) {}

  grpc::Status GetSnapshot(grpc::ServerContext* context,
                           const etcdmonitor::v1::GetSnapshotRequest* request,
                           etcdmonitor::v1::ClusterSnapshot* response) override;
  grpc::Status QueryHistory(grpc::ServerContext* context,
                            const etcdmonitor::v1::HistoryQuery* request,
                            etcdmonitor::v1::HistoryResponse* response) override;
  grpc::Status ListMetrics(grpc::ServerContext* context,
                           const etcdmonitor::v1::ListMetricsRequest* request,
                           etcdmonitor::v1::ListMetricsResponse* response) override;
  grpc::Status GetHealth(grpc::ServerContext* context,
                         const etcdmonitor::v1::GetSnapshotRequest* request,
                         etcdmonitor::v1::ServiceHealth* response) override;

 private:
  const HistoryStore& store_;
  SnapshotSource snapshot_;
  HealthSource health_;
};

}  // namespace etcdmon::aggregator::detail
