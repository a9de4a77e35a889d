#pragma once

// The etcd v3 client every service uses: one gRPC channel per configured endpoint, TLS, etcd
// auth tokens, per-call deadlines. Each call goes to exactly one endpoint, named by its authority
// ("127.0.0.1:2379", as listed by Endpoints()), because monitoring asks each member for its own
// view; there is no load balancing and no failover between endpoints.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::etcd {

/// Sent with every etcd response: which member answered, at which revision and raft term.
struct ResponseHeader {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  int64_t revision = 0;
  uint64_t raft_term = 0;
};

/// One member's own view of the cluster (Maintenance.Status).
struct EndpointStatus {
  std::string endpoint;  // the authority the request went to
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  uint64_t leader = 0;  // member id this member believes leads; 0 when it knows no leader
  uint64_t raft_term = 0;
  uint64_t raft_index = 0;  // raft committed index
  uint64_t raft_applied_index = 0;
  int64_t revision = 0;
  int64_t db_size = 0;         // bytes allocated by the backend file
  int64_t db_size_in_use = 0;  // bytes in use; db_size - db_size_in_use is reclaimable
  std::string version;         // server version, e.g. "3.4.23"
  bool is_learner = false;
  std::vector<std::string> errors;  // active alarms and health problems, as etcd words them

  bool IsLeader() const { return member_id != 0 && member_id == leader; }
};

/// A cluster member as listed by MemberList.
struct Member {
  uint64_t id = 0;
  std::string name;  // empty until the member has started
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;  // empty until the member has started
  bool is_learner = false;
};

struct MemberListResult {
  ResponseHeader header;  // cluster_id and member_id of the answering member
  std::vector<Member> members;
};

enum class AlarmType { kNone = 0, kNoSpace = 1, kCorrupt = 2 };

/// "none", "nospace", "corrupt"; "unknown(<n>)" for values newer servers may send.
std::string AlarmTypeName(AlarmType type);

enum class AlarmAction { kGet = 0, kActivate = 1, kDeactivate = 2 };

/// An alarm raised on one member.
struct Alarm {
  uint64_t member_id = 0;             // in a request: 0 means every member
  AlarmType type = AlarmType::kNone;  // in a request: kNone means every type
};

struct KeyValue {
  std::string key;  // bytes; not necessarily UTF-8
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

/// Reads `key`, or the range [key, range_end) when range_end is set. See PrefixRangeEnd().
struct RangeRequest {
  std::string key;
  std::string range_end;      // empty: the single key; "\0": every key >= key
  int64_t limit = 0;          // 0: no limit
  int64_t revision = 0;       // <= 0: the newest revision
  bool serializable = false;  // member-local read, without a quorum round trip
  bool count_only = false;
  bool keys_only = false;
  /// The call's deadline; 0: the client's request timeout.
  std::chrono::milliseconds timeout{0};
};

struct RangeResult {
  ResponseHeader header;  // header.revision is the store revision the read saw
  std::vector<KeyValue> kvs;
  int64_t count = 0;  // number of keys in the range, even when limited or count_only
  bool more = false;  // limit cut the result short
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;
  /// The call's deadline; 0: the client's request timeout.
  std::chrono::milliseconds timeout{0};
};

struct PutResult {
  ResponseHeader header;  // header.revision is the revision the put created
};

struct DeleteRangeRequest {
  std::string key;
  std::string range_end;  // same meaning as in RangeRequest
};

struct DeleteRangeResult {
  ResponseHeader header;
  int64_t deleted = 0;
};

struct HashKVResult {
  ResponseHeader header;
  uint32_t hash = 0;
  int64_t compact_revision = 0;
};

struct SnapshotResult {
  ResponseHeader header;  // the point in time of the snapshot
  uint64_t bytes = 0;     // bytes handed to the sink
};

/// Receives a snapshot in chunks, in order. Returning a non-OK Status aborts the transfer and
/// becomes the result of Snapshot().
using SnapshotSink = std::function<Status(std::string_view chunk)>;

/// The range end that selects every key starting with `prefix`: the prefix with its last
/// byte below 0xff incremented and what follows dropped ("a\xff" -> "b"). When no such byte
/// exists (empty prefix, or all 0xff), "\0": every key >= prefix.
std::string PrefixRangeEnd(std::string_view prefix);

/// Checks what NewEtcdClient needs: at least one endpoint, no duplicate authorities, positive
/// timeouts, cert and key given together, a password only with a user name.
Status ValidateConnectionConfig(const config::EtcdConnectionConfig& config);

/// An etcd v3 client. Every method addresses one endpoint by its authority, as returned by
/// Endpoints(); an unknown endpoint is kInvalidArgument.
///
/// Connecting: each endpoint has one gRPC channel, reused by all calls. A call first waits for
/// the channel to be connected, up to the dial timeout; once a dial has failed, later calls to
/// that endpoint only re-check for 250 ms (gRPC keeps reconnecting in the background) until the
/// endpoint is reachable again, so a dead member does not cost a dial timeout per call.
///
/// Failures: kUnavailable when the endpoint cannot be reached (the message says why:
/// "connection refused", "TLS handshake failed: ...", "connection lost", ...),
/// kDeadlineExceeded when a call outlives the request timeout, kUnauthenticated for a wrong
/// user or password, and the code etcd answered otherwise. Every message starts with
/// "endpoint <authority>: ". No call blocks longer than dial timeout + request timeout
/// (Snapshot: its own timeout instead of the request timeout).
///
/// Auth: with a user name configured, the client authenticates per endpoint on first use,
/// sends the token with every call, and authenticates again once when etcd rejects the token
/// (expired, or the auth store changed). The password never appears in a Status.
///
/// Implementations are safe for concurrent use from any number of threads.
class EtcdClient {
 public:
  virtual ~EtcdClient() = default;

  /// The configured endpoints' authorities ("host:port"), in configuration order.
  virtual std::vector<std::string> Endpoints() const = 0;

  /// The member's status: leader, raft indexes, database size, version, alarms.
  virtual Result<EndpointStatus> GetStatus(const std::string& endpoint) = 0;

  /// The cluster's members, as the endpoint knows them.
  virtual Result<MemberListResult> MemberList(const std::string& endpoint) = 0;

  /// Lists (kGet), raises or clears alarms; returns the alarms the request matched.
  virtual Result<std::vector<Alarm>> Alarms(const std::string& endpoint, AlarmAction action,
                                            const Alarm& alarm) = 0;

  virtual Result<RangeResult> Range(const std::string& endpoint, const RangeRequest& request) = 0;
  virtual Result<PutResult> Put(const std::string& endpoint, const PutRequest& request) = 0;
  virtual Result<DeleteRangeResult> DeleteRange(const std::string& endpoint,
                                                const DeleteRangeRequest& request) = 0;

  /// Drops the history before `revision`; `physical` waits until the backend applied it.
  virtual Result<ResponseHeader> Compact(const std::string& endpoint, int64_t revision,
                                         bool physical) = 0;

  /// Defragments the endpoint's backend file (that member only). It blocks the member's
  /// writes while it runs, and gets the request timeout like every call.
  virtual Result<ResponseHeader> Defragment(const std::string& endpoint) = 0;

  /// Hash of the key space up to `revision` (0: newest), to compare members.
  virtual Result<HashKVResult> HashKV(const std::string& endpoint, int64_t revision) = 0;

  /// Asks the leader to hand leadership to `target_member_id`; `endpoint` must be the leader.
  virtual Result<ResponseHeader> MoveLeader(const std::string& endpoint,
                                            uint64_t target_member_id) = 0;

  /// Streams the endpoint's backend database to `sink`. The whole transfer must finish within
  /// `timeout` (snapshots of big databases outlive the request timeout).
  virtual Result<SnapshotResult> Snapshot(const std::string& endpoint, const SnapshotSink& sink,
                                          std::chrono::milliseconds timeout) = 0;
};

/// Builds a client for `config` (validated with ValidateConnectionConfig). Reads the CA, client
/// certificate and key files now: an unreadable file is kInvalidArgument naming the path.
/// Does not connect; each endpoint is dialled on its first use.
Result<std::unique_ptr<EtcdClient>> NewEtcdClient(const config::EtcdConnectionConfig& config);

}  // namespace etcdmon::etcd
