#include "monitor_grpc.h"

#include "etcdmon/rpc/grpc_status.h"

namespace etcdmon::aggregator::detail {

grpc::Status MonitorGrpcService::GetSnapshot(grpc::ServerContext* /*context*/,
                                             const etcdmonitor::v1::GetSnapshotRequest* request,
                                             etcdmonitor::v1::ClusterSnapshot* response) {
  Result<std::string> cluster = clusters_.resolve(request->cluster());
  if (!cluster.ok()) {
    return rpc::ToGrpcStatus(cluster.status());
  }
  return rpc::ToGrpcStatus(clusters_.snapshot(*cluster, *response));
}

grpc::Status MonitorGrpcService::ListClusters(
    grpc::ServerContext* /*context*/, const etcdmonitor::v1::ListClustersRequest* /*request*/,
    etcdmonitor::v1::ListClustersResponse* response) {
  clusters_.list(*response);
  return grpc::Status::OK;
}

grpc::Status MonitorGrpcService::QueryHistory(grpc::ServerContext* /*context*/,
                                              const etcdmonitor::v1::HistoryQuery* request,
                                              etcdmonitor::v1::HistoryResponse* response) {
  Result<std::string> cluster = clusters_.resolve(request->cluster());
  if (!cluster.ok()) {
    return rpc::ToGrpcStatus(cluster.status());
  }
  HistoryQuery query;
  query.cluster = std::move(cluster).value();
  query.metric = request->metric();
  query.member = request->member();
  query.from_unix_ms = request->from_unix_ms();
  query.to_unix_ms = request->to_unix_ms();
  query.step_ms = request->step_ms();
  if (query.metric.empty()) {
    return rpc::ToGrpcStatus(Status::InvalidArgument("metric is required"));
  }
  Result<HistoryResult> result = store_.Query(query);
  if (!result.ok()) {
    return rpc::ToGrpcStatus(result.status());
  }
  response->set_metric(query.metric);
  response->set_member(query.member);
  response->set_resolution(result->resolution);
  response->mutable_points()->Reserve(static_cast<int>(result->points.size()));
  for (const HistoryPoint& p : result->points) {
    auto* out = response->add_points();
    out->set_unix_ms(p.unix_ms);
    out->set_value(p.value);
    out->set_min(p.min);
    out->set_max(p.max);
    out->set_count(p.count);
  }
  return grpc::Status::OK;
}

grpc::Status MonitorGrpcService::ListMetrics(grpc::ServerContext* /*context*/,
                                             const etcdmonitor::v1::ListMetricsRequest* /*request*/,
                                             etcdmonitor::v1::ListMetricsResponse* response) {
  Result<std::vector<std::string>> metrics = store_.Metrics();
  if (!metrics.ok()) {
    return rpc::ToGrpcStatus(metrics.status());
  }
  for (const std::string& m : *metrics) {
    response->add_metrics(m);
  }
  return grpc::Status::OK;
}

grpc::Status MonitorGrpcService::GetHealth(grpc::ServerContext* /*context*/,
                                           const etcdmonitor::v1::GetSnapshotRequest* /*request*/,
                                           etcdmonitor::v1::ServiceHealth* response) {
  health_(*response);
  return grpc::Status::OK;
}

}  // namespace etcdmon::aggregator::detail
