#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "etcdmon/etcd/client.h"

namespace etcdmon::testing {

/// An in-memory EtcdClient for unit tests: each endpoint answers GetStatus and MemberList with
/// what the test put in, or with the error the test set. Calls it was not told about answer
/// kUnimplemented. Safe for concurrent use.
class FakeEtcdClient final : public etcd::EtcdClient {
 public:
  explicit FakeEtcdClient(std::vector<std::string> endpoints) : endpoints_(std::move(endpoints)) {}

  void SetStatus(const std::string& endpoint, Result<etcd::EndpointStatus> status) {
    std::lock_guard<std::mutex> lock(mu_);
    statuses_.insert_or_assign(endpoint, std::move(status));
  }
  void SetMemberList(const std::string& endpoint, Result<etcd::MemberListResult> list) {
    std::lock_guard<std::mutex> lock(mu_);
    member_lists_.insert_or_assign(endpoint, std::move(list));
  }

  std::vector<std::string> Endpoints() const override { return endpoints_; }

  Result<etcd::EndpointStatus> GetStatus(const std::string& endpoint) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = statuses_.find(endpoint);
    if (it == statuses_.end()) {
      return Status::Unimplemented("fake: no status for " + endpoint);
    }
    return it->second;
  }
  Result<etcd::MemberListResult> MemberList(const std::string& endpoint) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = member_lists_.find(endpoint);
    if (it == member_lists_.end()) {
      return Status::Unimplemented("fake: no member list for " + endpoint);
    }
    return it->second;
  }
  Result<std::vector<etcd::Alarm>> Alarms(const std::string&, etcd::AlarmAction,
                                          const etcd::Alarm&) override {
    return Status::Unimplemented("fake: Alarms");
  }
  Result<etcd::RangeResult> Range(const std::string&, const etcd::RangeRequest&) override {
    return Status::Unimplemented("fake: Range");
  }
  Result<etcd::PutResult> Put(const std::string&, const etcd::PutRequest&) override {
    return Status::Unimplemented("fake: Put");
  }
  Result<etcd::DeleteRangeResult> DeleteRange(const std::string&,
                                              const etcd::DeleteRangeRequest&) override {
    return Status::Unimplemented("fake: DeleteRange");
  }
  Result<etcd::ResponseHeader> Compact(const std::string&, int64_t, bool) override {
    return Status::Unimplemented("fake: Compact");
  }
  Result<etcd::ResponseHeader> Defragment(const std::string&) override {
    return Status::Unimplemented("fake: Defragment");
  }
  Result<etcd::HashKVResult> HashKV(const std::string&, int64_t) override {
    return Status::Unimplemented("fake: HashKV");
  }
  Result<etcd::ResponseHeader> MoveLeader(const std::string&, uint64_t) override {
    return Status::Unimplemented("fake: MoveLeader");
  }
  Result<etcd::SnapshotResult> Snapshot(const std::string&, const etcd::SnapshotSink&,
                                        std::chrono::milliseconds) override {
    return Status::Unimplemented("fake: Snapshot");
  }

 private:
  const std::vector<std::string> endpoints_;
  std::mutex mu_;
  std::map<std::string, Result<etcd::EndpointStatus>> statuses_;        // guarded by mu_
  std::map<std::string, Result<etcd::MemberListResult>> member_lists_;  // guarded by mu_
};

}  // namespace etcdmon::testing
