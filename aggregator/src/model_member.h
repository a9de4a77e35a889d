#pragma once

// What the model keeps per member between ticks. Private to the aggregator; guarded by the
// model's mutex.

#include <cstdint>
#include <string>
#include <vector>

#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "model_reading.h"
#include "model_stats.h"

namespace etcdmon::aggregator::detail {

struct ProbeObservation {
  int64_t at_ms = 0;
  double ms = 0;
};

// Cumulative grpc_server_handling_seconds (read and write) as of one sample.
struct GrpcSnapshot {
  int64_t at_ms = 0;
  std::vector<histogram::Bucket> read;
  std::vector<histogram::Bucket> write;
};

struct SizeObservation {
  int64_t at_ms = 0;
  double bytes = 0;
};

struct AlarmEntry {
  uint64_t member_id = 0;
  std::string type;
};

// Rates between the two latest readings with /metrics (see v1::Rates).
struct MemberRates {
  bool valid = false;
  double interval_s = 0;
  double requests = 0;
  double grpc_errors = 0;
  double grpc_error_ratio = 0;
  double committed = 0;
  double applied = 0;
  double failed = 0;
  double failure_ratio = 0;
};

struct MemberRecord {
  // ---- Identity: from samples and member lists ----
  uint64_t id = 0;  // 0 until a sample or a member list tells it
  std::string name;
  std::string endpoint;  // the collector's host:port, else the first client URL's
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool listed_learner = false;
  int64_t listed_info_ms = -1;  // collection time of the member list the fields above come from
  bool has_member_list = false;
  std::vector<uint64_t> member_list;  // ids in the latest member list this member returned

  // ---- The latest sample ----
  bool sampled = false;
  std::string collector_id;
  int64_t sample_ms = 0;    // collection time
  int64_t received_ms = 0;  // aggregator time it arrived
  int64_t seen_ms = 0;      // min of the two: a resent old sample does not make it look fresh
  bool dirty = false;       // a sample arrived since the last tick
  bool reachable = false;
  int64_t answered_ms = 0;  // collection time of the newest sample that reached it; 0: never
  std::string error;
  std::vector<std::string> errors;  // "source: message"
  std::string problems;             // status and probe errors: what makes it "erroring"
  bool has_status = false;
  etcdmonitor::v1::MemberStatus status;
  uint64_t term = 0;          // latest raft term seen...
  int64_t term_since_ms = 0;  // ...first seen at this collection time
  uint64_t claim_leader = 0;  // the leader its latest Status named
  // Its latest two Status answers named the same leader at the same term. etcd's Status reads
  // the leader and the term separately, so during an election one answer can pair the new
  // leader with the old term; only a repeated claim counts as evidence of split-brain.
  bool claim_confirmed = false;
  bool is_leader_confirmed = false;  // the latest two /metrics readings agree on is_leader
  // Collection time of the first Status in a row in which it names itself leader at its current
  // term; 0 while it does not lead.
  int64_t leading_since_ms = 0;
  bool has_host = false;
  etcdmonitor::v1::HostStats host;
  uint32_t probe_failures = 0;
  Reading latest;  // /metrics of the latest reading that had them

  // ---- Kept from full samples until the next one says otherwise ----
  int health_check = -1;  // /health: 1 ok, 0 not ok, -1 unknown
  std::string health_reason;
  bool has_certificate = false;
  std::string certificate_subject;
  int64_t certificate_not_after_s = 0;
  bool alarms_known = false;
  std::vector<AlarmEntry> alarms;  // the cluster's alarm list as this member returned it

  // ---- Derived per sample ----
  MemberRates rates;
  Percentiles wal_fsync;
  Percentiles backend_commit;
  double leader_changes_counted = 0;  // increases of its leader-change counter, restarts not
  Ring<ProbeObservation> read_probes;
  Ring<ProbeObservation> write_probes;
  Ring<GrpcSnapshot> grpc;
  Ring<SizeObservation> db_sizes;  // since the last shrink
  LagTracker lags[3];              // revision, raft index, applied index (kDivergence order)
  bool has_db_growth = false;
  double db_growth = 0;  // bytes/s over db_sizes

  // ---- Tick scratch and bookkeeping ----
  bool fresh = false;
  bool listed = false;
  bool counted = false;  // towards member_count
  bool learner = false;
  bool leaderless = false;  // reachable, and says it has no leader
  etcdmonitor::v1::MemberHealth health = etcdmonitor::v1::MEMBER_HEALTH_UNSPECIFIED;
  std::string reason;
  std::string label;  // MemberLabel, refreshed each tick
  Percentiles read_latency;
  Percentiles write_latency;
  Percentiles grpc_read;
  Percentiles grpc_write;
  etcdmonitor::v1::MemberHealth emitted_health = etcdmonitor::v1::MEMBER_HEALTH_UNSPECIFIED;
};

}  // namespace etcdmon::aggregator::detail
