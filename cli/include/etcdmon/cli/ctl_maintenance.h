#pragma once

// `etcd-monitor ctl` commands that change the cluster (alarm disarm, defrag, compact,
// move-leader) or copy it out (snapshot save). Mutating commands ask for confirmation first
// (see Confirm). Conventions as in ctl.h: result on `out`, one `error:` line on `err`, the exit
// code returned.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "etcdmon/cli/ctl.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/status/status.h"

namespace etcdmon::cli {

/// How a mutating command may get the operator's consent.
struct Confirmation {
  bool assume_yes = false;     // --yes: never ask
  bool interactive = false;    // `in` is a terminal someone can answer on
  std::istream* in = nullptr;  // where the answer is read; needed when interactive
};

/// Asks "About to <action>. Continue? [y/N] " on `err` and reads one line (at most 256
/// characters): "y" or "yes" (any case) consents. OK at once with assume_yes.
/// FailedPrecondition when not interactive (it never waits for input that cannot come; the
/// message says to pass --yes), or when the answer is anything else.
Status Confirm(const Confirmation& confirmation, const std::string& action, std::ostream& err);

/// Exit code of a command refused for want of confirmation: the command line must change.
inline constexpr int kExitNotConfirmed = 2;

/// `ctl alarm disarm`: lists the active alarms and deactivates each (etcd deactivates exactly
/// the (member, alarm) named). Prints the alarms it cleared as `alarm list` does.
int RunAlarmDisarm(etcd::EtcdClient& client, const Confirmation& confirmation, OutputFormat format,
                   std::ostream& out, std::ostream& err);

/// A member as the quorum guard sees it.
struct MemberHealth {
  uint64_t id = 0;
  std::string name;
  std::string endpoint;  // the client's endpoint that answers for it; empty when none does
  bool voter = true;     // learners do not count towards quorum
  bool healthy = false;  // reachable through `endpoint` and following a leader
  bool is_leader = false;
  std::string problem;  // why not healthy
};

/// Every member of the cluster (from the first member list an endpoint gives) with its health:
/// each endpoint of `client` is asked for its status at once and matched to a member by id.
Result<std::vector<MemberHealth>> AssessMembers(etcd::EtcdClient& client);

/// OK when the cluster keeps quorum while member `busy_id` answers nothing (a defragmenting
/// member blocks): the healthy voting members other than it are at least a majority of all
/// voting members. FailedPrecondition otherwise, naming the members that are not healthy.
Status CheckQuorumWithout(const std::vector<MemberHealth>& members, uint64_t busy_id);

struct DefragOptions {
  std::vector<std::string> targets;  // endpoints of the client to defragment, in this order
  bool skip_quorum_check = false;    // --skip-quorum-check: single-member clusters, emergencies
};

/// `ctl defrag [--cluster]`: one member at a time, the leader last. Before each member the
/// quorum guard runs on fresh health; after each, the member must pass a health check (a
/// linearizable read) before the next starts. Stops at the first refusal or failure. Progress
/// lines go to `err`; the rows (endpoint, member id, result, db size before/after) to `out`.
/// JSON: [{"endpoint", "member_id", "ok", "db_size_before_bytes", "db_size_after_bytes",
/// "error"?}] (members not reached after a stop are absent).
int RunDefrag(etcd::EtcdClient& client, const DefragOptions& options,
              const Confirmation& confirmation, OutputFormat format, std::ostream& out,
              std::ostream& err);

struct CompactOptions {
  int64_t revision = 0;   // > 0: compact up to this revision
  int64_t keep = 0;       // > 0 instead: keep the newest `keep` revisions
  bool physical = false;  // wait until the backend has removed the compacted data
};

/// `ctl compact <rev>` / `ctl compact --keep=N [--physical]`. The first endpoint that answers
/// runs it (compaction is cluster-wide). JSON: {"revision", "physical", "current_revision"}.
int RunCompact(etcd::EtcdClient& client, const CompactOptions& options,
               const Confirmation& confirmation, OutputFormat format, std::ostream& out,
               std::ostream& err);

/// `ctl move-leader <member>`: `member` is a hex member id or a member name. The request goes
/// to the current leader, which must be one of the client's endpoints. Refused (kExitFailed)
/// for an unknown member or a learner. JSON: {"from_member_id", "to_member_id",
/// "to_member_name", "moved"} ("moved" false when the member already leads).
int RunMoveLeader(etcd::EtcdClient& client, const std::string& member,
                  const Confirmation& confirmation, OutputFormat format, std::ostream& out,
                  std::ostream& err);

struct SnapshotOptions {
  std::string path;  // the file to create or replace
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  uint64_t max_bytes = 64ULL << 30;  // bound on what is accepted from the member
};

/// What snapshot save wrote.
struct SnapshotSaved {
  std::string endpoint;
  std::string path;
  uint64_t size_bytes = 0;  // the file: the database plus its 32-byte SHA-256
  // The store revision: from the stream's header when the member sends one, else (etcd 3.4)
  // the member's revision as the transfer started.
  int64_t revision = 0;
  std::string sha256_hex;  // the database's SHA-256, as the member sent and we recomputed it
};

/// Streams the backend database of `endpoint` into a temporary file next to `options.path`,
/// checks the SHA-256 etcd appends to the stream (its last 32 bytes) against the data, fsyncs
/// and renames the file into place. On any failure the temporary file is removed and an
/// existing file at `path` is left as it was. The saved file is what `etcdctl snapshot
/// restore` expects (the checksum stays appended).
Result<SnapshotSaved> SaveSnapshot(etcd::EtcdClient& client, const std::string& endpoint,
                                   const SnapshotOptions& options);

/// `ctl snapshot save <file>`: needs exactly one endpoint (a snapshot is one member's copy).
/// JSON: {"endpoint", "path", "size_bytes", "revision", "sha256"}.
int RunSnapshotSave(etcd::EtcdClient& client, const SnapshotOptions& options, OutputFormat format,
                    std::ostream& out, std::ostream& err);

/// Client URLs of the members that no endpoint of `client` answers for (members reached only
/// through other URLs), so the caller can build a client covering the whole cluster. Endpoints
/// that do not answer are skipped, as are URLs whose authority is already an endpoint.
Result<std::vector<std::string>> MissingMemberUrls(etcd::EtcdClient& client);

}  // namespace etcdmon::cli
