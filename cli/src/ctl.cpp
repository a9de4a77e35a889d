#include "etcdmon/cli/ctl.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>

#include "etcdmon/cli/table.h"
#include "etcdmon/etcd/fan_out.h"
#include "etcdmon/strings/strings.h"

namespace etcdmon::cli {
namespace {

using nlohmann::json;

const char* Bool(bool b) { return b ? "true" : "false"; }

// Table or etcdctl's simple lines ("a, b, c") from the same cells.
std::string RenderRows(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows, OutputFormat format) {
  if (format == OutputFormat::kTable) {
    return RenderTable(header, rows);
  }
  std::string out;
  for (const auto& row : rows) {
    out += strings::Join(row, ", ");
    out += '\n';
  }
  return out;
}

std::string Millis(std::chrono::microseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3fms", static_cast<double>(d.count()) / 1000.0);
  return text;
}

using etcd::FanOut;

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
  if (text == "simple") {
    return OutputFormat::kSimple;
  }
  return Status::InvalidArgument("-w \"" + text + "\": want table, json or simple");
}

std::vector<EndpointStatusRow> CollectEndpointStatus(etcd::EtcdClient& client) {
  return FanOut(client, [&client](const std::string& endpoint) {
    return EndpointStatusRow{endpoint, client.GetStatus(endpoint)};
  });
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
  return RenderRows({"endpoint", "id", "version", "db size", "db size in use", "is leader",
                     "is learner", "raft term", "raft index", "raft applied index", "errors"},
                    cells, format);
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
  return RenderRows({"id", "status", "name", "peer addrs", "client addrs", "is learner"}, cells,
                    format);
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

Result<etcd::MemberListResult> FirstMemberList(etcd::EtcdClient& client) {
  std::vector<std::string> errors;
  for (const auto& endpoint : client.Endpoints()) {
    Result<etcd::MemberListResult> list = client.MemberList(endpoint);
    if (list.ok()) {
      return list;
    }
    errors.push_back(list.status().message());
  }
  return Status::Unavailable("no endpoint answered: " + strings::Join(errors, "; "));
}

int RunMemberList(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                  std::ostream& err) {
  Result<etcd::MemberListResult> list = FirstMemberList(client);
  if (!list.ok()) {
    err << "error: " << list.status().message() << "\n";
    return kExitFailed;
  }
  out << RenderMemberList(*list, format);
  return kExitOk;
}

std::string AlarmLabel(etcd::AlarmType type) {
  std::string name = etcd::AlarmTypeName(type);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return name;
}

EndpointHealthRow CheckEndpointHealth(etcd::EtcdClient& client, const std::string& endpoint,
                                      bool check_alarms) {
  EndpointHealthRow row;
  row.endpoint = endpoint;
  etcd::RangeRequest read;
  read.key = "health";
  read.count_only = true;
  const auto start = std::chrono::steady_clock::now();
  Result<etcd::RangeResult> result = client.Range(endpoint, read);
  row.took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  // Permission denied still proves the member served a linearizable request (etcdctl agrees).
  if (!result.ok() && result.status().code() != StatusCode::kPermissionDenied) {
    row.error = result.status().message();
    return row;
  }
  if (check_alarms) {
    Result<std::vector<etcd::Alarm>> alarms = client.Alarms(endpoint, etcd::AlarmAction::kGet, {});
    if (!alarms.ok()) {
      row.error = "cannot list alarms: " + alarms.status().message();
      return row;
    }
    if (!alarms->empty()) {
      std::vector<std::string> labels;
      for (const auto& alarm : *alarms) {
        labels.push_back(AlarmLabel(alarm.type) + " on " + HexId(alarm.member_id));
      }
      row.error = "active alarm(s): " + strings::Join(labels, ", ");
      return row;
    }
  }
  row.healthy = true;
  return row;
}

int RunEndpointHealth(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                      std::ostream& err) {
  std::vector<EndpointHealthRow> rows = FanOut(client, [&client](const std::string& endpoint) {
    return CheckEndpointHealth(client, endpoint, /*check_alarms=*/true);
  });
  size_t unhealthy = 0;
  for (const auto& row : rows) {
    unhealthy += row.healthy ? 0 : 1;
  }
  if (format == OutputFormat::kJson) {
    json array = json::array();
    for (const auto& row : rows) {
      json j = {{"endpoint", row.endpoint},
                {"healthy", row.healthy},
                {"took_ms", static_cast<double>(row.took.count()) / 1000.0}};
      if (!row.healthy) {
        j["error"] = row.error;
      }
      array.push_back(std::move(j));
    }
    out << array.dump(2) << "\n";
  } else if (format == OutputFormat::kSimple) {
    for (const auto& row : rows) {
      if (row.healthy) {
        out << row.endpoint
            << " is healthy: successfully committed proposal: took = " << Millis(row.took) << "\n";
      } else {
        out << row.endpoint << " is unhealthy: failed to commit proposal: " << row.error << "\n";
      }
    }
  } else {
    std::vector<std::vector<std::string>> cells;
    for (const auto& row : rows) {
      cells.push_back({row.endpoint, Bool(row.healthy), Millis(row.took), row.error});
    }
    out << RenderTable({"endpoint", "health", "took", "error"}, cells);
  }
  if (unhealthy > 0) {
    err << "error: " << unhealthy << " of " << rows.size() << " endpoints are unhealthy\n";
    return kExitFailed;
  }
  return kExitOk;
}

namespace {

std::string RenderHashKV(const std::vector<etcd::HashKVRow>& rows, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    return json::parse(etcd::HashKVRowsJson(rows)).dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) {
    if (!row.hash.ok()) {
      cells.push_back({row.endpoint, "", "", "", row.hash.status().message()});
    } else if (format == OutputFormat::kSimple) {
      // etcdctl's simple hashkv line: "endpoint, hash".
      cells.push_back({row.endpoint, std::to_string(row.hash->hash)});
    } else {
      cells.push_back({row.endpoint, std::to_string(row.hash->hash),
                       std::to_string(row.hash->header.revision),
                       std::to_string(row.hash->compact_revision), ""});
    }
  }
  return RenderRows({"endpoint", "hash", "revision", "compact revision", "error"}, cells, format);
}

}  // namespace

int RunEndpointHashKV(etcd::EtcdClient& client, int64_t revision, OutputFormat format,
                      std::ostream& out, std::ostream& err) {
  std::vector<etcd::HashKVRow> rows = etcd::CollectHashKV(client, revision);
  out << RenderHashKV(rows, format);
  size_t failed = 0;
  for (const auto& row : rows) {
    failed += row.hash.ok() ? 0 : 1;
  }
  if (failed > 0) {
    err << "error: " << failed << " of " << rows.size() << " endpoints did not answer\n";
    return kExitFailed;
  }
  return kExitOk;
}

int RunCheckConsistency(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                        std::ostream& err) {
  const etcd::ConsistencyReport report = etcd::CheckConsistency(client);
  if (format == OutputFormat::kJson) {
    out << json::parse(etcd::ConsistencyReportJson(report)).dump(2) << "\n";
  } else {
    if (!report.rows.empty()) {
      out << RenderHashKV(report.rows, format);
    }
    out << etcd::ConsistencyName(report.verdict) << ": " << report.reason << "\n";
  }
  switch (report.verdict) {
    case etcd::Consistency::kConsistent:
      return kExitOk;
    case etcd::Consistency::kInconsistent:
      err << "error: data differs between members: " << report.reason << "\n";
      return kExitFailed;
    case etcd::Consistency::kUnknown:
      break;
  }
  err << "error: consistency unknown: " << report.reason << "\n";
  return kExitFailed;
}

int RunAlarmList(etcd::EtcdClient& client, OutputFormat format, std::ostream& out,
                 std::ostream& err) {
  std::vector<std::string> errors;
  for (const auto& endpoint : client.Endpoints()) {
    Result<std::vector<etcd::Alarm>> alarms = client.Alarms(endpoint, etcd::AlarmAction::kGet, {});
    if (!alarms.ok()) {
      errors.push_back(alarms.status().message());
      continue;
    }
    if (format == OutputFormat::kJson) {
      json array = json::array();
      for (const auto& alarm : *alarms) {
        array.push_back(
            {{"member_id", HexId(alarm.member_id)}, {"alarm", etcd::AlarmTypeName(alarm.type)}});
      }
      out << array.dump(2) << "\n";
    } else if (format == OutputFormat::kSimple) {
      for (const auto& alarm : *alarms) {
        out << "memberID:" << HexId(alarm.member_id) << " alarm:" << AlarmLabel(alarm.type) << "\n";
      }
    } else {
      std::vector<std::vector<std::string>> cells;
      for (const auto& alarm : *alarms) {
        cells.push_back({HexId(alarm.member_id), AlarmLabel(alarm.type)});
      }
      out << RenderTable({"member id", "alarm"}, cells);
    }
    return kExitOk;
  }
  err << "error: no endpoint answered: " << strings::Join(errors, "; ") << "\n";
  return kExitFailed;
}

}  // namespace etcdmon::cli
