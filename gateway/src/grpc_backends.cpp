#include "etcdmon/gateway/grpc_backends.h"

#include <grpcpp/grpcpp.h>

#include <iterator>
#include <vector>

#include "etcdmon/rpc/grpc_status.h"
#include "etcdmon/rpc/security.h"
#include "etcdmon/transport/snapshot_channel.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace etcdmon::gateway {
namespace {

namespace v1 = etcdmonitor::v1;

// A failed call as a Status: the canonical code, the service and the method named, and the
// server's message (never a secret: these services carry none).
Status FromGrpc(const char* service, const char* method, const grpc::Status& status) {
  Status s = rpc::FromGrpcStatus(status);
  if (s.ok()) {
    s = Status::Internal(status.error_message());
  }
  return s.WithContext(std::string(service) + " " + method);
}

template <typename Service>
class GrpcClient {
 public:
  GrpcClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout,
             rpc::ClientSecurity security)
      : timeout_(timeout),
        security_(std::move(security)),
        stub_(Service::NewStub(std::move(channel))) {}

 protected:
  void Prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    rpc::AddCallToken(context, security_);
  }
  const std::chrono::milliseconds timeout_;
  const rpc::ClientSecurity security_;  // the service token every call carries
  std::unique_ptr<typename Service::Stub> stub_;
};

class GrpcMonitorBackend final : public MonitorBackend, private GrpcClient<v1::MonitorService> {
 public:
  using GrpcClient::GrpcClient;

  Result<v1::ClusterSnapshot> GetSnapshot(const std::string& cluster) override {
    grpc::ClientContext context;
    Prepare(context);
    v1::GetSnapshotRequest request;
    request.set_cluster(cluster);
    v1::ClusterSnapshot out;
    grpc::Status s = stub_->GetSnapshot(&context, request, &out);
    if (!s.ok()) {
      return FromGrpc("aggregator", "GetSnapshot", s);
    }
    return out;
  }

  Result<std::vector<v1::ClusterSnapshot>> ListClusters() override {
    grpc::ClientContext context;
    Prepare(context);
    v1::ListClustersResponse out;
    grpc::Status s = stub_->ListClusters(&context, v1::ListClustersRequest(), &out);
    if (!s.ok()) {
      return FromGrpc("aggregator", "ListClusters", s);
    }
    return std::vector<v1::ClusterSnapshot>(
        std::make_move_iterator(out.mutable_clusters()->begin()),
        std::make_move_iterator(out.mutable_clusters()->end()));
  }

  Result<v1::HistoryResponse> QueryHistory(const v1::HistoryQuery& query) override {
    grpc::ClientContext context;
    Prepare(context);
    v1::HistoryResponse out;
    grpc::Status s = stub_->QueryHistory(&context, query, &out);
    if (!s.ok()) {
      return FromGrpc("aggregator", "QueryHistory", s);
    }
    return out;
  }

  Result<std::vector<std::string>> ListMetrics() override {
    grpc::ClientContext context;
    Prepare(context);
    v1::ListMetricsResponse out;
    grpc::Status s = stub_->ListMetrics(&context, v1::ListMetricsRequest(), &out);
    if (!s.ok()) {
      return FromGrpc("aggregator", "ListMetrics", s);
    }
    return std::vector<std::string>(out.metrics().begin(), out.metrics().end());
  }

  Result<v1::ServiceHealth> GetHealth() override {
    grpc::ClientContext context;
    Prepare(context);
    v1::ServiceHealth out;
    grpc::Status s = stub_->GetHealth(&context, v1::GetSnapshotRequest(), &out);
    if (!s.ok()) {
      return FromGrpc("aggregator", "GetHealth", s);
    }
    return out;
  }
};

class GrpcAlertBackend final : public AlertBackend, private GrpcClient<v1::AlertService> {
 public:
  using GrpcClient::GrpcClient;

  Result<v1::ListAlertsResponse> ListActiveAlerts(const std::string& cluster) override {
    grpc::ClientContext context;
    Prepare(context);
    v1::ListAlertsRequest request;
    request.set_cluster(cluster);
    v1::ListAlertsResponse out;
    grpc::Status s = stub_->ListActiveAlerts(&context, request, &out);
    if (!s.ok()) {
      return FromGrpc("alerter", "ListActiveAlerts", s);
    }
    return out;
  }

  Result<v1::AlertHistoryResponse> QueryHistory(const v1::AlertHistoryRequest& request) override {
    grpc::ClientContext context;
    Prepare(context);
    v1::AlertHistoryResponse out;
    grpc::Status s = stub_->QueryHistory(&context, request, &out);
    if (!s.ok()) {
      return FromGrpc("alerter", "QueryHistory", s);
    }
    return out;
  }

  Result<v1::Silence> CreateSilence(const v1::Silence& silence,
                                    const config::Secret& bearer_token) override {
    grpc::ClientContext context;
    Prepare(context);
    context.AddMetadata(std::string(rpc::kApiTokenKey), "Bearer " + bearer_token.Reveal());
    v1::Silence out;
    grpc::Status s = stub_->CreateSilence(&context, silence, &out);
    if (!s.ok()) {
      return FromGrpc("alerter", "CreateSilence", s);
    }
    return out;
  }

  Result<v1::Silence> ExpireSilence(const std::string& id,
                                    const config::Secret& bearer_token) override {
    grpc::ClientContext context;
    Prepare(context);
    context.AddMetadata(std::string(rpc::kApiTokenKey), "Bearer " + bearer_token.Reveal());
    v1::ExpireSilenceRequest request;
    request.set_id(id);
    v1::Silence out;
    grpc::Status s = stub_->ExpireSilence(&context, request, &out);
    if (!s.ok()) {
      return FromGrpc("alerter", "ExpireSilence", s);
    }
    return out;
  }

  Result<v1::ListSilencesResponse> ListSilences(bool include_expired,
                                                const std::string& cluster) override {
    grpc::ClientContext context;
    Prepare(context);
    v1::ListSilencesRequest request;
    request.set_include_expired(include_expired);
    request.set_cluster(cluster);
    v1::ListSilencesResponse out;
    grpc::Status s = stub_->ListSilences(&context, request, &out);
    if (!s.ok()) {
      return FromGrpc("alerter", "ListSilences", s);
    }
    return out;
  }
};

class ZmqSnapshotFeed final : public SnapshotFeed {
 public:
  explicit ZmqSnapshotFeed(std::unique_ptr<transport::SnapshotSubscriber> subscriber)
      : subscriber_(std::move(subscriber)) {}

  Result<bool> Next(v1::ClusterSnapshot& out, std::chrono::milliseconds timeout) override {
    return subscriber_->Receive(out, timeout);
  }

 private:
  std::unique_ptr<transport::SnapshotSubscriber> subscriber_;
};

Status CheckAddress(const std::string& address) {
  if (address.empty() || address.find(':') == std::string::npos) {
    return Status::InvalidArgument("address \"" + address + "\": want host:port");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<MonitorBackend>> NewGrpcMonitorBackend(const std::string& address,
                                                              std::chrono::milliseconds timeout,
                                                              const rpc::ClientSecurity& security) {
  ETCDMON_RETURN_IF_ERROR(CheckAddress(address));
  ETCDMON_RETURN_IF_ERROR(rpc::CheckClientSecurity("--aggregator", address, security));
  Result<std::shared_ptr<grpc::Channel>> channel = rpc::NewClientChannel(address, security);
  if (!channel.ok()) {
    return channel.status();
  }
  return std::unique_ptr<MonitorBackend>(
      std::make_unique<GrpcMonitorBackend>(*std::move(channel), timeout, security));
}

std::unique_ptr<MonitorBackend> NewGrpcMonitorBackend(std::shared_ptr<grpc::Channel> channel,
                                                      std::chrono::milliseconds timeout) {
  return std::make_unique<GrpcMonitorBackend>(std::move(channel), timeout, rpc::ClientSecurity{});
}

Result<std::unique_ptr<AlertBackend>> NewGrpcAlertBackend(const std::string& address,
                                                          std::chrono::milliseconds timeout,
                                                          const rpc::ClientSecurity& security) {
  ETCDMON_RETURN_IF_ERROR(CheckAddress(address));
  ETCDMON_RETURN_IF_ERROR(rpc::CheckClientSecurity("--alerter", address, security));
  Result<std::shared_ptr<grpc::Channel>> channel = rpc::NewClientChannel(address, security);
  if (!channel.ok()) {
    return channel.status();
  }
  return std::unique_ptr<AlertBackend>(
      std::make_unique<GrpcAlertBackend>(*std::move(channel), timeout, security));
}

std::unique_ptr<AlertBackend> NewGrpcAlertBackend(std::shared_ptr<grpc::Channel> channel,
                                                  std::chrono::milliseconds timeout) {
  return std::make_unique<GrpcAlertBackend>(std::move(channel), timeout, rpc::ClientSecurity{});
}

Result<std::unique_ptr<SnapshotFeed>> NewZmqSnapshotFeed(
    const std::string& endpoint, const std::string& curve_server_key,
    std::shared_ptr<transport::SharedContext> context) {
  transport::SnapshotSubscriberOptions options;
  options.endpoint = endpoint;
  options.curve_server_key = curve_server_key;
  options.context = std::move(context);
  auto subscriber = transport::SnapshotSubscriber::Create(options);
  if (!subscriber.ok()) {
    return subscriber.status();
  }
  return std::unique_ptr<SnapshotFeed>(
      std::make_unique<ZmqSnapshotFeed>(std::move(subscriber).value()));
}

}  // namespace etcdmon::gateway
