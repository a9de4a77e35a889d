#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/etcd/client.h"

namespace etcdmon::testing {

/// An in-memory EtcdClient for unit tests: each endpoint answers GetStatus, MemberList, Alarms,
/// Range, Put, Compact, Defragment, HashKV, MoveLeader and Snapshot with what the test put in,
/// or with the error the test set. Calls it was not told about answer kUnimplemented. It counts
/// the calls and keeps the last Range and Put request (copied into reused storage, so steady use
/// allocates nothing of its own), and records the maintenance calls in order. Safe for
/// concurrent use.
/// A HashKV answer of member `member` (at revision 9): `hash`, compacted at `compact_revision`.
inline etcd::HashKVResult HashKVOf(uint64_t member, uint32_t hash, int64_t compact_revision = 0) {
  etcd::HashKVResult r;
  r.header.member_id = member;
  r.header.revision = 9;
  r.hash = hash;
  r.compact_revision = compact_revision;
  return r;
}

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

  void SetCompact(const std::string& endpoint, Result<etcd::ResponseHeader> result) {
    std::lock_guard<std::mutex> lock(mu_);
    compacts_.insert_or_assign(endpoint, std::move(result));
  }
  void SetDefragment(const std::string& endpoint, Result<etcd::ResponseHeader> result) {
    std::lock_guard<std::mutex> lock(mu_);
    defragments_.insert_or_assign(endpoint, std::move(result));
  }
  /// Answers every HashKV() to `endpoint`, whatever the revision asked.
  void SetHashKV(const std::string& endpoint, Result<etcd::HashKVResult> result) {
    std::lock_guard<std::mutex> lock(mu_);
    hashes_.insert_or_assign(endpoint, std::move(result));
  }
  void SetMoveLeader(const std::string& endpoint, Result<etcd::ResponseHeader> result) {
    std::lock_guard<std::mutex> lock(mu_);
    move_leaders_.insert_or_assign(endpoint, std::move(result));
  }
  /// Snapshot() of `endpoint` hands `stream` to the sink in chunks of `chunk_size` bytes, then
  /// answers `header`, or fails with `error` (after the chunks) when it is not OK.
  void SetSnapshot(const std::string& endpoint, std::string stream, etcd::ResponseHeader header,
                   Status error = Status::Ok(), size_t chunk_size = 4096) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_.insert_or_assign(endpoint,
                                SnapshotScript{std::move(stream), header, error, chunk_size});
  }

  /// A maintenance call as received: "defragment a:1", "compact a:1 42 physical",
  /// "hashkv a:1 7", "move-leader a:1 3", "alarm a:1 deactivate 2 1", "snapshot a:1".
  std::vector<std::string> maintenance_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return maintenance_calls_;
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
  Result<std::vector<etcd::Alarm>> Alarms(const std::string& endpoint, etcd::AlarmAction action,
                                          const etcd::Alarm& alarm) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_.alarms;
    if (action != etcd::AlarmAction::kGet) {
      maintenance_calls_.push_back(
          "alarm " + endpoint +
          (action == etcd::AlarmAction::kActivate ? " activate " : " deactivate ") +
          std::to_string(alarm.member_id) + " " + std::to_string(static_cast<int>(alarm.type)));
    }
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
  Result<etcd::ResponseHeader> Compact(const std::string& endpoint, int64_t revision,
                                       bool physical) override {
    std::lock_guard<std::mutex> lock(mu_);
    maintenance_calls_.push_back("compact " + endpoint + " " + std::to_string(revision) +
                                 (physical ? " physical" : ""));
    return Answer(compacts_, endpoint, "Compact");
  }
  Result<etcd::ResponseHeader> Defragment(const std::string& endpoint) override {
    std::lock_guard<std::mutex> lock(mu_);
    maintenance_calls_.push_back("defragment " + endpoint);
    return Answer(defragments_, endpoint, "Defragment");
  }
  Result<etcd::HashKVResult> HashKV(const std::string& endpoint, int64_t revision) override {
    std::lock_guard<std::mutex> lock(mu_);
    maintenance_calls_.push_back("hashkv " + endpoint + " " + std::to_string(revision));
    return Answer(hashes_, endpoint, "HashKV");
  }
  Result<etcd::ResponseHeader> MoveLeader(const std::string& endpoint,
                                          uint64_t target_member_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    maintenance_calls_.push_back("move-leader " + endpoint + " " +
                                 std::to_string(target_member_id));
    return Answer(move_leaders_, endpoint, "MoveLeader");
  }
  Result<etcd::SnapshotResult> Snapshot(const std::string& endpoint, const etcd::SnapshotSink& sink,
                                        std::chrono::milliseconds) override {
    SnapshotScript script;
    {
      std::lock_guard<std::mutex> lock(mu_);
      maintenance_calls_.push_back("snapshot " + endpoint);
      auto it = snapshots_.find(endpoint);
      if (it == snapshots_.end()) {
        return Status::Unimplemented("fake: Snapshot");
      }
      script = it->second;
    }
    // The sink runs without the lock held, as a real client's would on its own thread.
    etcd::SnapshotResult result;
    result.header = script.header;
    const std::string_view stream = script.stream;
    for (size_t at = 0; at < stream.size(); at += script.chunk_size) {
      Status s = sink(stream.substr(at, script.chunk_size));
      if (!s.ok()) {
        return s;
      }
      result.bytes += std::min(script.chunk_size, stream.size() - at);
    }
    if (!script.error.ok()) {
      return script.error;
    }
    return result;
  }

 private:
  struct SnapshotScript {
    std::string stream;
    etcd::ResponseHeader header;
    Status error;
    size_t chunk_size = 4096;
  };

  template <typename T>
  static Result<T> Answer(const std::map<std::string, Result<T>>& answers,
                          const std::string& endpoint, const char* method) {
    auto it = answers.find(endpoint);
    if (it == answers.end()) {
      return Status::Unimplemented(std::string("fake: ") + method);
    }
    return it->second;
  }

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
  std::map<std::string, Result<etcd::ResponseHeader>> compacts_;        // guarded by mu_
  std::map<std::string, Result<etcd::ResponseHeader>> defragments_;     // guarded by mu_
  std::map<std::string, Result<etcd::HashKVResult>> hashes_;            // guarded by mu_
  std::map<std::string, Result<etcd::ResponseHeader>> move_leaders_;    // guarded by mu_
  std::map<std::string, SnapshotScript> snapshots_;                     // guarded by mu_
  std::vector<std::string> maintenance_calls_;                          // guarded by mu_
};

}  // namespace etcdmon::testing
