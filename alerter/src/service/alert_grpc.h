#pragma once

// AlertService over gRPC: a thin adapter from the proto API to the alerter's store and state.

#include <functional>
#include <string>
#include <vector>

#include "etcdmon/alerter/alert_store.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/config/types.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace etcdmon::alerter::detail {

/// Copies an alert into its proto form.
void ToProto(const Alert& alert, etcdmonitor::v1::AlertRecord* out);

class AlertGrpcService final : public etcdmonitor::v1::AlertService::Service {
 public:
  using ActiveSource = std::function<std::vector<Alert>()>;
  using HealthSource = std::function<void(etcdmonitor::v1::ServiceHealth&)>;
  /// Called after a silence was stored or expired, so the next evaluation sees it at once.
  using SilencesChanged = std::function<void()>;

  /// Everything passed in must outlive the service; the sources are called from gRPC threads.
  AlertGrpcService(AlertStore& store, Clock& clock, std::vector<std::string> rule_ids,
                   config::Secret api_token, ActiveSource active, HealthSource health,
                   SilencesChanged silences_changed);

  grpc::Status ListActiveAlerts(grpc::ServerContext* context,
                                const etcdmonitor::v1::ListAlertsRequest* request,
                                etcdmonitor::v1::ListAlertsResponse* response) override;
  grpc::Status QueryHistory(grpc::ServerContext* context,
                            const etcdmonitor::v1::AlertHistoryRequest* request,
                            etcdmonitor::v1::AlertHistoryResponse* response) override;
  grpc::Status CreateSilence(grpc::ServerContext* context, const etcdmonitor::v1::Silence* request,
                             etcdmonitor::v1::Silence* response) override;
  grpc::Status ListSilences(grpc::ServerContext* context,
                            const etcdmonitor::v1::ListSilencesRequest* request,
                            etcdmonitor::v1::ListSilencesResponse* response) override;
  grpc::Status ExpireSilence(grpc::ServerContext* context,
                             const etcdmonitor::v1::ExpireSilenceRequest* request,
                             etcdmonitor::v1::Silence* response) override;
  grpc::Status GetHealth(grpc::ServerContext* context,
                         const etcdmonitor::v1::ListAlertsRequest* request,
                         etcdmonitor::v1::ServiceHealth* response) override;

 private:
  // OK when the request carries `etcdmon-api-token: Bearer <api_token_>` (rpc::kApiTokenKey).
  grpc::Status Authorize(const grpc::ServerContext& context) const;

  AlertStore& store_;
  Clock& clock_;
  std::vector<std::string> rule_ids_;
  config::Secret api_token_;
  ActiveSource active_;
  HealthSource health_;
  SilencesChanged silences_changed_;
};

}  // namespace etcdmon::alerter::detail
