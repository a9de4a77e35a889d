#pragma once

// An AggregatorService running in-process, for the tests of the service: its ingest and publish
// sockets on 127.0.0.1 ports the system picks, no gRPC port (MonitorService is called over the
// in-process channel), its history file in a temporary directory, and a RawDealer on its ingest
// socket in place of a collector.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "etcdmon/aggregator/service.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmonitor/v1/services.grpc.pb.h"
#include "raw_dealer.h"

namespace etcdmon::aggregator {

class AggregatorFixture : public ::testing::Test {
 protected:
  // Starts the aggregator on config_, whose timing (tick, model) the test has set: the sockets,
  // gRPC and the history file are the fixture's. Its assertions end only this function, so call
  // it through ASSERT_NO_FATAL_FAILURE for a failed start to end SetUp() too.
  void StartAggregator() {
    config_.ingest_endpoint = "tcp://127.0.0.1:0";
    config_.publish_endpoint = "tcp://127.0.0.1:0";
    config_.grpc_address = "";
    config_.history.path = dir_.File("history.db");
    auto service = AggregatorService::Create(config_, nullptr);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(*service);
    ASSERT_TRUE(service_->Start().ok());
    monitor_ = etcdmonitor::v1::MonitorService::NewStub(service_->InProcessChannel());
    collector_ = std::make_unique<raw_ingest::RawDealer>(service_->ingest_endpoint());
    ASSERT_TRUE(collector_->connected());
  }

  etcdmon::testing::TempDir dir_;
  AggregatorConfig config_;
  std::unique_ptr<AggregatorService> service_;
  std::unique_ptr<etcdmonitor::v1::MonitorService::Stub> monitor_;
  std::unique_ptr<raw_ingest::RawDealer> collector_;
};

}  // namespace etcdmon::aggregator
