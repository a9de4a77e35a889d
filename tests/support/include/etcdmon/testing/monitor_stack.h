#pragma once

// A monitor stack inside a test process, on a real etcd cluster: one aggregator and one
// collector per member, all at a short interval, so that tests of what sits on top (the alerter,
// the gateway) see real snapshots of real faults.

#include <spdlog/fwd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/aggregator/service.h"
#include "etcdmon/collector/service.h"
#include "etcdmon/status/status.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace etcdmon::testing {

/// A logger for services under test that only says warnings and worse.
std::shared_ptr<spdlog::logger> QuietLogger(const std::string& name = "test");

class MonitorStack {
 public:
  /// `dir` holds the history and the collectors' state; both must outlive the stack.
  /// `interval` is the collectors' interval and the aggregator's tick.
  MonitorStack(EtcdCluster& cluster, std::string dir,
               std::chrono::milliseconds interval = std::chrono::milliseconds(200));
  ~MonitorStack();  // calls Stop()
  MonitorStack(const MonitorStack&) = delete;
  MonitorStack& operator=(const MonitorStack&) = delete;

  /// An aggregator on free loopback ports (or on `ingest` when given).
  Status StartAggregator(const std::string& ingest = "tcp://127.0.0.1:0");
  /// One collector per member, sending to `aggregator_endpoint` (default: this aggregator's).
  Status StartCollectors(const std::string& aggregator_endpoint = "");
  /// Both, then waits until a snapshot shows every member healthy with a leader.
  Status StartAndWaitHealthy(std::chrono::milliseconds timeout = std::chrono::seconds(60));

  /// The latest snapshot over gRPC; false before the first tick.
  bool Snapshot(etcdmonitor::v1::ClusterSnapshot& out);
  /// Waits until `condition(snapshot)` holds for a snapshot; false after `timeout`.
  template <typename Condition>
  bool WaitForSnapshot(Condition condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    etcdmonitor::v1::ClusterSnapshot s;
    do {
      if (Snapshot(s) && condition(s)) {
        return true;
      }
      SleepBriefly();
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }

  aggregator::AggregatorService& aggregator() { return *aggregator_; }
  etcdmonitor::v1::MonitorService::Stub& stub() { return *stub_; }
  std::vector<std::unique_ptr<collector::CollectorService>>& collectors() { return collectors_; }
  std::chrono::milliseconds interval() const { return interval_; }

  void Stop();

 private:
  static void SleepBriefly();

  EtcdCluster& cluster_;
  std::string dir_;
  std::chrono::milliseconds interval_;
  std::unique_ptr<aggregator::AggregatorService> aggregator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<etcdmonitor::v1::MonitorService::Stub> stub_;
  std::vector<std::unique_ptr<collector::CollectorService>> collectors_;
};

}  // namespace etcdmon::testing
