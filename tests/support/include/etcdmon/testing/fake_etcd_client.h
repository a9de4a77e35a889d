#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "etcdmon/etcd/client.h"

namespace etcdmon::testing {

/// An in-memory EtcdClient for unit tests: each endpoint answers GetStatus, MemberList, Alarms,
/// Range and Put with what the test put in, or with the error the test set. Calls it was not
/// told about answer kUnimplemented. It counts the calls and keeps the last Range and Put
/// request (copied into reused storage, so steady use allocates nothing of its own). Safe for
/// concurrent use.
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

  /// Answers every Alarms() call (whatever the action) to `endpoint`.
  void SetAlarms(const std::string& endpoint, Result<std::vector<etcd::Alarm>> alarms) {
    std::lock_guard<std::mutex> lock(mu_);
    alarms_.insert_or_assign(endpoint, std::move(alarms));
  }
  /// Answers every Range() to `endpoint`, serializable or not.
  void SetRange(const std::string& endpoint, Result<etcd::RangeResult> result) {
    std::lock_guard<std::mutex> lock(mu_);
    ranges_.insert_or_assign(endpoint, std::move(result));
  }
  void SetPut(const std::string& endpoint, Result<etcd::PutResult> result) {
    std::lock_guard<std::mutex> lock(mu_);
    puts_.insert_or_assign(endpoint, std::move(result));
  }

  /// Calls made so far, over all endpoints.
  struct CallCounts {
    int status = 0;
    int member_list = 0;
    int alarms = 0;
    int range = 0;
    int put = 0;
  };
  CallCounts calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  /// The last Range / Put request received (default-constructed before the first).
  etcd::RangeRequest last_range() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_range_;
  }
  etcd::PutRequest last_put() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_put_;
  }

  std::vector<std::string> Endpoints() const override { return endpoints_; }

  Result<etcd::EndpointStatus> GetStatus(const std::string& endpoint) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.status;
    auto it = statuses_.find(endpoint);
    if (it == statuses_.end()) {
      return Status::Unimplemented("fake: no status for " + endpoint);
    }
    return it->second;
  }
  Result<etcd::MemberListResult> MemberList(const std::string& endpoint) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.member_list;
    auto it = member_lists_.find(endpoint);
    if (it == member_lists_.end()) {
      return Status::Unimplemented("fake: no member list for " + endpoint);
    }
    return it->second;
  }
  Result<std::vector<etcd::Alarm>> Alarms(const std::string& endpoint, etcd::AlarmAction,
                                          const etcd::Alarm&) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.alarms;
    auto it = alarms_.find(endpoint);
    if (it == alarms_.end()) {
      return Status::Unimplemented("fake: Alarms");
    }
    return it->second;
  }
  Result<etcd::RangeResult> Range(const std::string& endpoint,
                                  const etcd::RangeRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.range;
    last_range_ = request;
    auto it = ranges_.find(endpoint);
    if (it == ranges_.end()) {
      return Status::Unimplemented("fake: Range");
    }
    return it->second;
  }
  Result<etcd::PutResult> Put(const std::string& endpoint,
                              const etcd::PutRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.put;
    last_put_ = request;
    auto it = puts_.find(endpoint);
    if (it == puts_.end()) {
      return Status::Unimplemented("fake: Put");
    }
    return it->second;
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
  mutable std::mutex mu_;
  std::map<std::string, Result<etcd::EndpointStatus>> statuses_;        // guarded by mu_
  std::map<std::string, Result<etcd::MemberListResult>> member_lists_;  // guarded by mu_
  std::map<std::string, Result<std::vector<etcd::Alarm>>> alarms_;      // guarded by mu_
  std::map<std::string, Result<etcd::RangeResult>> ranges_;             // guarded by mu_
  std::map<std::string, Result<etcd::PutResult>> puts_;                 // guarded by mu_
  CallCounts calls_;                                                    // guarded by mu_
  etcd::RangeRequest last_range_;                                       // guarded by mu_
  etcd::PutRequest last_put_;                                           // guarded by mu_
};

}  // namespace etcdmon::testing
