#include "etcdmon/cli/ctl.h"

#include <future>
#include <nlohmann/json.hpp>
#include <ostream>

#include "etcdmon/cli/table.h"
#include "etcdmon/strings/strings.h"

namespace etcdmon::cli {
namespace {

using nlohmann::json;

const char* Bool(bool b) { return b ? "true" : "false"; }

json StatusJson(const EndpointStatusRow& row) {
  json j;
  j["endpoint"] = row.endpoint;
  j["ok"] = row.status.ok();
  if (!row.status.ok()) {
    j["error"] = row.status.status().message();
    return j;
  }
  const etcd::EndpointStatus& s = *row.status;
  j["cluster_id"] = HexId(s.cluster_id);
  j["member_id"] = HexId(s.member_id);
  j["leader_id"] = HexId(s.leader);
  j["is_leader"] = s.IsLeader();
  j["is_learner"] = s.is_learner;
  j["version"] = s.version;
  j["db_size_bytes"] = s.db_size;
  j["db_size_in_use_bytes"] = s.db_size_in_use;
  j["raft_term"] = s.raft_term;
  j["raft_index"] = s.raft_index;
  j["raft_applied_index"] = s.raft_applied_index;
  j["revision"] = s.revision;
  j["errors"] = s.errors;
  return j;
}

}  // namespace

Result<OutputFormat> ParseOutputFormat(const std::string& text) {
  if (text == "table") {
    return OutputFormat::kTable;
  }
  if (text == "json") {
    return OutputFormat::kJson;
  }
  return Status::InvalidArgument("-w \"" + text + "\": want table or json");
}

std::vector<EndpointStatusRow> CollectEndpointStatus(etcd::EtcdClient& client) {
  std::vector<std::future<Result<etcd::EndpointStatus>>> pending;
  const std::vector<std::string> endpoints = client.Endpoints();
  for (const auto& endpoint : endpoints) {
    pending.push_back(
        std::async(std::launch::async, [&client, endpoint] { return client.GetStatus(endpoint); }));
  }
  std::vector<EndpointStatusRow> rows;
  rows.reserve(endpoints.size());
  for (size_t i = 0; i < endpoints.size(); ++i) {
    rows.push_back({endpoints[i], pending[i].get()});
  }
  return rows;
}

std::string RenderEndpointStatus(const std::vector<EndpointStatusRow>& rows, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    json array = json::array();
    for (const auto& row : rows) {
      array.push_back(StatusJson(row));
    }
    return array.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) {
    if (!row.status.ok()) {
      cells.push_back(
          {row.endpoint, "", "", "", "", "", "", "", "", "", row.status.status().message()});
      continue;
    }
    const etcd::EndpointStatus& s = *row.status;
    cells.push_back({row.endpoint, HexId(s.member_id), s.version, HumanBytes(s.db_size),
                     HumanBytes(s.db_size_in_use), Bool(s.IsLeader()), Bool(s.is_learner),
                     std::to_string(s.raft_term), std::to_string(s.raft_index),
                     std::to_string(s.raft_applied_index), strings::Join(s.errors, ", ")});
  }
  return RenderTable({"endpoint", "id", "version", "db size", "db size in use", "is leader",
                      "is learner", "raft term", "raft index", "raft applied index", "errors"},
                     cells);
}

std::string RenderMemberList(const etcd::MemberListResult& list, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    json members = json::array();
    for (const auto& m : list.members) {
      members.push_back({{"id", HexId(m.id)},
                         {"name", m.name},
                         {"peer_urls", m.peer_urls},
                         {"client_urls", m.client_urls},
                         {"is_learner", m.is_learner}});
    }
    json j = {{"cluster_id", HexId(list.header.cluster_id)}, {"members", members}};
    return j.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& m : list.members) {
    // A member that was added but never started has no name yet (etcdctl says "unstarted").
    cells.push_back({HexId(m.id), m.name.empty() ? "unstarted" : "started", m.name,
                     strings::Join(m.peer_urls, ","), strings::Join(m.client_urls, ","),
                     Bool(m.is_learner)});
  }
  return RenderTable({"id", "status", "name", "peer addrs", "client addrs", "is learner"}, cells);
}

int RunEndpointStatus(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                      std::ostream& err) {
  std::vector<EndpointStatusRow> rows = CollectEndpointStatus(client);
  out << RenderEndpointStatus(rows, format);
  size_t failed = 0;
  for (const auto& row : rows) {
    failed += row.status.ok() ? 0 : 1;
  }
  if (failed > 0) {
    err << "error: " << failed << " of " << rows.size() << " endpoints did not answer\n";
    return kExitFailed;
  }
  return kExitOk;
}

int RunMemberList(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                  std::ostream& err) {
  std::vector<std::string> errors;
  for (const auto& endpoint : client.Endpoints()) {
    Result<etcd::MemberListResult> list = client.MemberList(endpoint);
    if (list.ok()) {
      out << RenderMemberList(*list, format);
      return kExitOk;
    }
    errors.push_back(list.status().message());
  }
  err << "error: no endpoint answered: " << strings::Join(errors, "; ") << "\n";
  return kExitFailed;
}

}  // namespace etcdmon::cli
