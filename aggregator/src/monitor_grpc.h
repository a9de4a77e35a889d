#pragma once

// MonitorService over gRPC: a thin adapter from the proto API to the aggregator's state.

#include <functional>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace etcdmon::aggregator::detail {

class MonitorGrpcService final : public etcdmonitor::v1::MonitorService::Service {
 public:
  /// The clusters the aggregator models, as the requests name them.
  struct ClusterSource {
    /// The name a request means: `name` itself, or for an empty one the only cluster
    /// (FailedPrecondition naming them when there are several).
    std::function<Result<std::string>(const std::string& name)> resolve;
    /// Fills the latest snapshot of `name`: NotFound for a cluster not modelled, Unavailable
    /// before its first tick.
    std::function<Status(const std::string& name, etcdmonitor::v1::ClusterSnapshot&)> snapshot;
    /// Every cluster's latest snapshot, by name.
    std::function<void(etcdmonitor::v1::ListClustersResponse&)> list;
  };
  using HealthSource = std::function<void(etcdmonitor::v1::ServiceHealth&)>;

  /// `store` and the sources must outlive the service; they are called from gRPC threads.
  MonitorGrpcService(const HistoryStore& store, ClusterSource clusters, HealthSource health)
      : store_(store), clusters_(std::move(clusters)), health_(std::move(health)) {}

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
  grpc::Status ListClusters(grpc::ServerContext* context,
                            const etcdmonitor::v1::ListClustersRequest* request,
                            etcdmonitor::v1::ListClustersResponse* response) override;

 private:
  const HistoryStore& store_;
  ClusterSource clusters_;
  HealthSource health_;
};

}  // namespace etcdmon::aggregator::detail
