#pragma once

// `etcd-monitor ctl`: the administration commands, written against the EtcdClient interface so
// they run the same against a real cluster and a fake in tests. This header holds the read-only
// commands and what they share; ctl_maintenance.h holds the ones that change the cluster.
//
// Every Run* function prints its result to `out` in the chosen format, writes at most one
// `error: ...` line to `err`, and returns the process exit code. Single-threaded callers;
// the functions themselves may fan out to the endpoints concurrently.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "etcdmon/config/exit_codes.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/etcd/consistency.h"
#include "etcdmon/status/status.h"

namespace etcdmon::cli {

/// `-w table|json|simple`. simple is etcdctl's: one comma-separated line per row.
enum class OutputFormat { kTable, kJson, kSimple };

/// Parses "table" / "json" / "simple"; anything else is InvalidArgument naming the value.
Result<OutputFormat> ParseOutputFormat(const std::string& text);

/// Exit codes shared by every command and binary (config/exit_codes.h): kExitFailed when a
/// member or the cluster could not answer, or refused.
using config::kExitFailed;
using config::kExitOk;

/// One endpoint's answer to `endpoint status`: its status, or why it has none.
struct EndpointStatusRow {
  std::string endpoint;
  Result<etcd::EndpointStatus> status;
};

/// Asks every endpoint of `client` for its status, all at once (an unreachable member costs one
/// dial timeout, not one per member). Rows keep the client's endpoint order.
std::vector<EndpointStatusRow> CollectEndpointStatus(etcd::EtcdClient& client);

/// etcdctl's table (endpoint, id, version, db size, db size in use, is leader, is learner, raft
/// term, raft index, raft applied index, errors), or a JSON array with snake_case keys and ids as
/// hex strings. A failed row carries its error in the errors column / the "error" key.
std::string RenderEndpointStatus(const std::vector<EndpointStatusRow>& rows, OutputFormat format);

/// The member list as a table (id, status, name, peer addrs, client addrs, is learner) or JSON
/// ({"cluster_id", "members": [{"id", "name", "peer_urls", "client_urls", "is_learner"}]}).
std::string RenderMemberList(const etcd::MemberListResult& list, OutputFormat format);

/// `ctl endpoint status`: prints the rows to `out`; returns kExitFailed (after one line on `err`)
/// when any endpoint failed.
int RunEndpointStatus(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                      std::ostream& err);

/// `ctl member list`: asks the endpoints in order until one answers; kExitFailed with one line
/// on `err` (every endpoint's error) when none does.
int RunMemberList(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                  std::ostream& err);

/// The member list from the first endpoint that answers; the error names every endpoint's
/// failure when none does.
Result<etcd::MemberListResult> FirstMemberList(etcd::EtcdClient& client);

/// One endpoint's health, as etcdctl judges it: a linearizable read (of the key "health")
/// goes through raft within the request timeout (permission denied counts as healthy: the
/// member answered), and, when alarms are checked, no alarm is active in the cluster.
struct EndpointHealthRow {
  std::string endpoint;
  bool healthy = false;
  std::chrono::microseconds took{0};  // the read's round trip
  std::string error;                  // why not healthy; empty when healthy
};

/// Checks one endpoint (see EndpointHealthRow).
EndpointHealthRow CheckEndpointHealth(etcd::EtcdClient& client, const std::string& endpoint,
                                      bool check_alarms);

/// `ctl endpoint health`: every endpoint at once. Table (endpoint, health, took, error), JSON
/// array [{"endpoint", "healthy", "took_ms", "error"?}], or etcdctl's simple lines. kExitFailed
/// when any endpoint is unhealthy.
int RunEndpointHealth(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                      std::ostream& err);

/// `ctl endpoint hashkv [--rev=N]` (etcd::CollectHashKV): table (endpoint, hash, revision,
/// compact revision), JSON array (etcd::HashKVRowsJson) [{"endpoint", "ok", "hash", "revision",
/// "compact_revision", "error"?}]. kExitFailed when any endpoint failed.
int RunEndpointHashKV(etcd::EtcdClient& client, int64_t revision, OutputFormat format,
                      std::ostream& out, std::ostream& err);

/// `ctl check consistency` (etcd::CheckConsistency): prints the report (JSON:
/// etcd::ConsistencyReportJson, {"revision", "verdict": "consistent"|"inconsistent"|"unknown",
/// "reason", "endpoints": [hashkv rows]}); exit code 0 only when consistent.
int RunCheckConsistency(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                        std::ostream& err);

/// `ctl alarm list`: the cluster's active alarms, from the first endpoint that answers. Table
/// (member id, alarm), JSON array [{"member_id", "alarm"}] (alarm: "nospace", "corrupt"), simple
/// `memberID:<hex> alarm:NOSPACE` lines.
int RunAlarmList(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                 std::ostream& err);

/// "NOSPACE", "CORRUPT": how etcdctl prints an alarm.
std::string AlarmLabel(etcd::AlarmType type);

}  // namespace etcdmon::cli
