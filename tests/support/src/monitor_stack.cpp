#include "etcdmon/testing/monitor_stack.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <thread>

namespace etcdmon::testing {

using namespace std::chrono_literals;

std::shared_ptr<spdlog::logger> QuietLogger(const std::string& name) {
  auto logger = spdlog::default_logger()->clone(name);
  logger->set_level(spdlog::level::warn);
  return logger;
}

MonitorStack::MonitorStack(EtcdCluster& cluster, std::string dir,
                           std::chrono::milliseconds interval)
    : cluster_(cluster), dir_(std::move(dir)), interval_(interval) {}

MonitorStack::~MonitorStack() { Stop(); }

void MonitorStack::SleepBriefly() { std::this_thread::sleep_for(20ms); }

Status MonitorStack::StartAggregator(const std::string& ingest) {
  aggregator::AggregatorConfig config;
  config.ingest_endpoint = ingest;
  config.publish_endpoint = "tcp://127.0.0.1:0";
  config.grpc_address = "127.0.0.1:0";
  config.tick = interval_;
  config.model.expected_interval = interval_;
  config.model.cluster = "test";
  config.history.path = dir_ + "/history.db";
  auto service = aggregator::AggregatorService::Create(config, QuietLogger("aggregator"));
  if (!service.ok()) {
    return service.status();
  }
  aggregator_ = std::move(service).value();
  ETCDMON_RETURN_IF_ERROR(aggregator_->Start());
  channel_ = grpc::CreateChannel(aggregator_->grpc_address(), grpc::InsecureChannelCredentials());
  stub_ = etcdmonitor::v1::MonitorService::NewStub(channel_);
  return Status::Ok();
}

Status MonitorStack::StartCollectors(const std::string& aggregator_endpoint) {
  for (size_t i = 0; i < cluster_.size(); ++i) {
    collector::CollectorConfig c;
    c.etcd = cluster_.ConnectionConfig();
    c.etcd.endpoints = {c.etcd.endpoints[i]};
    c.etcd.dial_timeout = 1s;
    c.etcd.request_timeout = 1s;
    c.aggregator =
        aggregator_endpoint.empty() ? aggregator_->ingest_endpoint() : aggregator_endpoint;
    c.collector_id = "collector-" + cluster_.Name(i);
    c.metrics_interval = interval_;
    c.health_check_interval = 1s;
    c.metrics_url = cluster_.MetricsUrl(i);
    c.sequence_state_file = dir_ + "/" + c.collector_id + ".seq";
    auto service = collector::CollectorService::Create(c, QuietLogger("collector"));
    if (!service.ok()) {
      return service.status();
    }
    ETCDMON_RETURN_IF_ERROR((*service)->Start());
    collectors_.push_back(std::move(service).value());
  }
  return Status::Ok();
}

Status MonitorStack::StartAndWaitHealthy(std::chrono::milliseconds timeout) {
  ETCDMON_RETURN_IF_ERROR(StartAggregator());
  ETCDMON_RETURN_IF_ERROR(StartCollectors());
  const uint32_t members = static_cast<uint32_t>(cluster_.size());
  if (!WaitForSnapshot(
          [&](const etcdmonitor::v1::ClusterSnapshot& s) {
            return s.member_count() == members && s.healthy_members() == members && s.has_leader();
          },
          timeout)) {
    return Status::DeadlineExceeded("the stack never saw a healthy cluster");
  }
  return Status::Ok();
}

bool MonitorStack::Snapshot(etcdmonitor::v1::ClusterSnapshot& out) {
  if (!stub_) {
    return false;
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 2s);
  etcdmonitor::v1::GetSnapshotRequest request;
  return stub_->GetSnapshot(&context, request, &out).ok();
}

void MonitorStack::Stop() {
  for (auto& c : collectors_) {
    c->Stop(0ms);
  }
  collectors_.clear();
  if (aggregator_) {
    aggregator_->Stop();
  }
}

}  // namespace etcdmon::testing
