// A base for test decorators of an EtcdClient: every call goes to the inner client, so a
// decorator overrides only the calls it changes (delays, blocks, counts).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "etcdmon/etcd/client.h"

namespace etcdmon::testing {

class ForwardingEtcdClient : public etcd::EtcdClient {
 public:
  explicit ForwardingEtcdClient(etcd::EtcdClient& inner) : inner_(inner) {}

  std::vector<std::string> Endpoints() const override { return inner_.Endpoints(); }
  Result<etcd::EndpointStatus> GetStatus(const std::string& e) override {
    return inner_.GetStatus(e);
  }
  Result<etcd::MemberListResult> MemberList(const std::string& e) override {
    return inner_.MemberList(e);
  }
  Result<std::vector<etcd::Alarm>> Alarms(const std::string& e, etcd::AlarmAction a,
                                          const etcd::Alarm& alarm) override {
    return inner_.Alarms(e, a, alarm);
  }
  Result<etcd::RangeResult> Range(const std::string& e, const etcd::RangeRequest& r) override {
    return inner_.Range(e, r);
  }
  Result<etcd::PutResult> Put(const std::string& e, const etcd::PutRequest& r) override {
    return inner_.Put(e, r);
  }
  Result<etcd::DeleteRangeResult> DeleteRange(const std::string& e,
                                              const etcd::DeleteRangeRequest& r) override {
    return inner_.DeleteRange(e, r);
  }
  Result<etcd::ResponseHeader> Compact(const std::string& e, int64_t rev, bool phys) override {
    return inner_.Compact(e, rev, phys);
  }
  Result<etcd::ResponseHeader> Defragment(const std::string& e) override {
    return inner_.Defragment(e);
  }
  Result<etcd::HashKVResult> HashKV(const std::string& e, int64_t rev) override {
    return inner_.HashKV(e, rev);
  }
  Result<etcd::ResponseHeader> MoveLeader(const std::string& e, uint64_t id) override {
    return inner_.MoveLeader(e, id);
  }
  Result<etcd::SnapshotResult> Snapshot(const std::string& e, const etcd::SnapshotSink& sink,
                                        std::chrono::milliseconds timeout) override {
    return inner_.Snapshot(e, sink, timeout);
  }

 private:
  etcd::EtcdClient& inner_;
};

}  // namespace etcdmon::testing
