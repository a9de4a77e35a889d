#pragma once

// The cluster's consistency check: every member hashes its key space (HashKV) at one revision
// they have all applied, and the hashes are compared. Used by `etcd-monitor ctl check
// consistency` and the gateway's GET /api/v1/cluster/consistency.
//
// HashKV reads every key of the member's backend, so a check costs each member a scan of its
// whole key space: run it on demand, not per request. Thread-safety: the functions hold no
// state; they are as safe for concurrent use as the client is (every EtcdClient is).

#include <cstdint>
#include <string>
#include <vector>

#include "etcdmon/etcd/client.h"
#include "etcdmon/status/status.h"

namespace etcdmon::etcd {

/// One endpoint's answer to HashKV.
struct HashKVRow {
  std::string endpoint;
  Result<HashKVResult> hash;
};

/// HashKV on every endpoint at once at `revision` (0: each member's newest); rows in the
/// client's endpoint order.
std::vector<HashKVRow> CollectHashKV(EtcdClient& client, int64_t revision);

/// The verdict of the consistency check.
enum class Consistency {
  kConsistent,    // every endpoint hashed the same key space to the same value
  kInconsistent,  // two members with the same compaction state disagree: data differs
  kUnknown,       // some endpoint could not answer, so nothing can be concluded
};

/// "consistent", "inconsistent", "unknown": the verdict as the CLI and the REST API spell it.
const char* ConsistencyName(Consistency verdict);

/// What the check found: the one revision all members hashed at (0 when none could be
/// picked), each endpoint's answer, and the verdict with its reason in one sentence.
struct ConsistencyReport {
  int64_t revision = 0;
  std::vector<HashKVRow> rows;
  Consistency verdict = Consistency::kUnknown;
  std::string reason;
};

/// Picks the newest revision every endpoint has applied (the lowest of their current
/// revisions), hashes the key space at that revision on every endpoint, and compares. Never
/// fails: an endpoint that does not answer makes the verdict kUnknown, with the reason. Takes
/// at most two of the client's calls in a row (dial timeout + request timeout each).
ConsistencyReport CheckConsistency(EtcdClient& client);

/// The rows as a JSON array (compact text): [{"endpoint", "ok", "member_id" (hex), "hash",
/// "revision", "compact_revision"}], or {"endpoint", "ok": false, "error"} for a failed row.
std::string HashKVRowsJson(const std::vector<HashKVRow>& rows);

/// The report as a JSON object (compact text): {"revision", "verdict", "reason", "endpoints":
/// the rows as HashKVRowsJson}.
std::string ConsistencyReportJson(const ConsistencyReport& report);

}  // namespace etcdmon::etcd
