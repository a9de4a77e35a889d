#pragma once

// The cluster model's member registry: one MemberRecord per member, found by id, endpoint, name
// or client URL, and what each sample tells about it (identity, the latest Status, probes,
// alarms, the member list, and the per-sample derivations: rates, histogram windows, lags, db
// growth). Also the collectors that sent samples. Private to the aggregator.
//
// Single-threaded: owned by ClusterModel and used under its mutex.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "model_member.h"
#include "model_reading.h"

namespace etcdmon::aggregator::detail {

// A member (or collector) with nothing received for this many intervals is stale.
inline constexpr int64_t kStaleIntervals = 3;

// What the model keeps per collector.
struct CollectorRecord {
  std::string id;
  int64_t last_sample_ms = 0;
  int64_t last_received_ms = 0;
  uint64_t samples = 0;
  bool has_stats = false;
  uint64_t queue_depth = 0;
  uint64_t dropped = 0;
  uint64_t resent = 0;
  uint64_t errors = 0;
};

// The three progress counters the divergence follows, in MemberRecord::lags order.
inline int64_t Progress(const etcdmonitor::v1::MemberStatus& s, int dimension) {
  switch (dimension) {
    case 0:
      return s.revision();
    case 1:
      return static_cast<int64_t>(s.raft_index());
    default:
      return static_cast<int64_t>(s.raft_applied_index());
  }
}

// Appends `sentence` to a reason or problem list, "; "-separated.
inline void AppendSentence(std::string& out, std::string_view sentence) {
  if (!out.empty()) {
    out += "; ";
  }
  out.append(sentence.data(), sentence.size());
}

// What bounds the registry (ModelConfig documents each).
struct RegistryLimits {
  int64_t max_lead_ms = 5 * 60 * 1000;
  int64_t forget_after_ms = 24 * 60 * 60 * 1000;
  std::size_t max_members = 1024;
};

class MemberRegistry final {
 public:
  // `interval_ms` is the collectors' expected interval and `window_ms` the latency window, both
  // at least 1: together they size each member's rings.
  MemberRegistry(int64_t interval_ms, int64_t window_ms, RegistryLimits limits = RegistryLimits());

  MemberRegistry(const MemberRegistry&) = delete;
  MemberRegistry& operator=(const MemberRegistry&) = delete;

  // Folds one sample in at aggregator time `now` (ClusterModel::Ingest documents the rules);
  // true when it changed what the member says about leadership.
  bool Ingest(std::string_view collector_id, const etcdmonitor::v1::MemberSample& sample,
              int64_t now);
  // Records a collector's own counters; `now` stands in for its first receive time.
  void IngestStats(std::string_view collector_id, const etcdmonitor::v1::CollectorStats& stats,
                   int64_t now);

  // The first step of a tick: freshness, membership, labels and learner flags; drops members
  // that left and collectors long silent; sorts the members by label. While no member list is
  // known, a member known only from samples that never reached it (no id, no name) counts as a
  // member only when `count_unidentified` (after the model's start-up).
  void Classify(int64_t now, bool count_unidentified = true);

  MemberRecord* FindById(uint64_t id);
  const MemberRecord* FindById(uint64_t id) const;

  // Sorted by label after Classify(). unique_ptr: records stay put while the list grows.
  std::vector<std::unique_ptr<MemberRecord>>& members() { return members_; }
  const std::vector<std::unique_ptr<MemberRecord>>& members() const { return members_; }
  const std::vector<CollectorRecord>& collectors() const { return collectors_; }
  int64_t interval_ms() const { return interval_ms_; }

 private:
  MemberRecord* FindUnidentified(std::string_view endpoint, std::string_view name,
                                 const google::protobuf::RepeatedPtrField<std::string>* urls);
  // Null when max_members are tracked already.
  MemberRecord* NewRecord(uint64_t id);
  MemberRecord* FindOrCreate(const etcdmonitor::v1::MemberSample& sample);
  CollectorRecord& Collector(std::string_view id);
  void ApplyMemberList(const etcdmonitor::v1::MemberSample& sample, MemberRecord& self);
  void DeriveFromPair(MemberRecord& r, const Reading& prev, const Reading& cur);
  void ObserveDbSize(MemberRecord& r, int64_t at_ms, double bytes);
  void ObserveLags(MemberRecord& r, int64_t at_ms);
  bool IsListed(uint64_t id, bool fresh_lists_only) const;

  // Set once in the constructor.
  const int64_t interval_ms_;
  const std::size_t probe_ring_;
  const std::size_t grpc_ring_;
  const std::size_t size_ring_;
  const RegistryLimits limits_;

  std::vector<std::unique_ptr<MemberRecord>> members_;
  std::vector<CollectorRecord> collectors_;

  // Ingest scratch, kept for its capacity.
  Reading spare_reading_;  // the next sample's reading, swapped with a record's `latest`
  std::vector<histogram::Bucket> ingest_buckets_;
  std::vector<histogram::Bucket> ingest_delta_;
};

}  // namespace etcdmon::aggregator::detail
