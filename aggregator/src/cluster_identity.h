#pragma once

// Which etcd cluster a cluster name stands for, and which name a member belongs to: the rules
// that keep one aggregator's clusters apart. A sample whose etcd cluster id is not the one its
// name is bound to, or whose member id is bound to another name, is refused (never merged into
// a model or the history), counted, and listed for the ClusterIdentityConflict alert.
//
// Bindings follow the clusters as they live: a binding not confirmed by an accepted sample for
// `hold` lets go, so a cluster rebuilt from scratch (a new etcd cluster id) or a collector
// renamed on purpose is taken over once the old identity has been silent that long.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmonitor::v1 {
class MemberSample;
}  // namespace etcdmonitor::v1

namespace etcdmon::aggregator::detail {

class ClusterIdentity {
 public:
  /// Bounds what a flood of forged identities can make it hold.
  static constexpr std::size_t kMaxBindings = 100000;
  static constexpr std::size_t kMaxConflictsPerCluster = 64;

  explicit ClusterIdentity(std::chrono::milliseconds hold) : hold_ms_(hold.count()) {}

  /// Whether `sample` (sent by `collector` under `cluster`) may be taken. With `record`, an
  /// accepted sample confirms its bindings and a refused one is counted; without, nothing
  /// changes (the store's check of a batch the model has judged already).
  bool Accept(std::string_view cluster, std::string_view collector,
              const etcdmonitor::v1::MemberSample& sample, int64_t now_ms, bool record);

  /// Fills the snapshot's identity_conflicts_total and the conflicts seen since `since_ms`.
  void Fill(std::string_view cluster, int64_t since_ms,
            etcdmonitor::v1::ClusterSnapshot& out) const;

  /// Forgets what it holds about `cluster` (the aggregator forgot the cluster).
  void Forget(std::string_view cluster);

 private:
  struct Binding {
    std::string owner;  // the cluster name (member bindings) or "" (cluster id bindings)
    uint64_t cluster_id = 0;
    int64_t confirmed_ms = 0;
  };
  struct Conflicts {
    uint64_t total = 0;
    // (collector, member id) -> the latest refusal
    std::map<std::pair<std::string, uint64_t>, etcdmonitor::v1::IdentityConflict> recent;
  };

  void Refuse(std::string_view cluster, std::string_view collector,
              const etcdmonitor::v1::MemberSample& sample, uint64_t cluster_id, std::string reason,
              int64_t now_ms);

  const int64_t hold_ms_;
  mutable std::mutex mu_;
  std::map<std::string, Binding, std::less<>> cluster_ids_;  // name -> etcd cluster id; guarded
  std::map<uint64_t, Binding> member_names_;                 // member id -> name; guarded
  std::map<std::string, Conflicts, std::less<>> conflicts_;  // by cluster name; guarded
};

}  // namespace etcdmon::aggregator::detail
