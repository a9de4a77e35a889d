#pragma once

// `etcd-monitor ctl`: the administration commands, written against the EtcdClient interface so
// they run the same against a real cluster and a fake in tests.

#include <iosfwd>
#include <string>
#include <vector>

#include "etcdmon/etcd/client.h"
#include "etcdmon/status/status.h"

namespace etcdmon::cli {

/// `-w table|json`.
enum class OutputFormat { kTable, kJson };

/// Parses "table" / "json"; anything else is InvalidArgument naming the value.
Result<OutputFormat> ParseOutputFormat(const std::string& text);

/// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // a member or the cluster could not answer

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

}  // namespace etcdmon::cli
