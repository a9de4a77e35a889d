#include "etcdmon/etcd/consistency.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "etcdmon/etcd/fan_out.h"
#include "etcdmon/strings/strings.h"

namespace etcdmon::etcd {
namespace {

using nlohmann::json;

std::string HexId(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(id));
  return buf;
}

json RowJson(const HashKVRow& row) {
  json j = {{"endpoint", row.endpoint}, {"ok", row.hash.ok()}};
  if (!row.hash.ok()) {
    j["error"] = row.hash.status().message();
    return j;
  }
  j["member_id"] = HexId(row.hash->header.member_id);
  j["hash"] = row.hash->hash;
  j["revision"] = row.hash->header.revision;
  j["compact_revision"] = row.hash->compact_revision;
  return j;
}

json RowsJson(const std::vector<HashKVRow>& rows) {
  json array = json::array();
  for (const auto& row : rows) {
    array.push_back(RowJson(row));
  }
  return array;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::vector<HashKVRow> CollectHashKV(EtcdClient& client, int64_t revision) {
  return FanOut(client, [&client, revision](const std::string& endpoint) {
    return HashKVRow{endpoint, client.HashKV(endpoint, revision)};
  });
}

const char* ConsistencyName(Consistency verdict) {
  switch (verdict) {
    case Consistency::kConsistent:
      return "consistent";
    case Consistency::kInconsistent:
      return "inconsistent";
    case Consistency::kUnknown:
      break;
  }
  return "unknown";
}

ConsistencyReport CheckConsistency(EtcdClient& client) {
  ConsistencyReport report;
  std::vector<Result<EndpointStatus>> statuses =
      FanOut(client, [&client](const std::string& endpoint) { return client.GetStatus(endpoint); });
  int64_t lowest = std::numeric_limits<int64_t>::max();
  for (const auto& status : statuses) {
    if (!status.ok()) {
      report.reason = "cannot pick a revision: " + status.status().message();
      return report;
    }
    lowest = std::min(lowest, status->revision);
  }
  if (statuses.empty()) {
    report.reason = "no endpoints";
    return report;
  }
  report.revision = lowest;
  report.rows = CollectHashKV(client, lowest);
  // Members compacted at different revisions hash different ranges, so only members with the
  // same compaction state are comparable (etcd's own corruption check compares the same way).
  std::map<int64_t, std::map<uint32_t, std::vector<std::string>>> by_compaction;
  for (const auto& row : report.rows) {
    if (!row.hash.ok()) {
      report.reason = row.hash.status().message();
      return report;
    }
    by_compaction[row.hash->compact_revision][row.hash->hash].push_back(row.endpoint);
  }
  const std::string at = " at revision " + std::to_string(lowest);
  for (const auto& [compact_revision, hashes] : by_compaction) {
    if (hashes.size() > 1) {
      std::vector<std::string> groups;
      for (const auto& [hash, endpoints] : hashes) {
        groups.push_back(strings::Join(endpoints, ", ") + " hash " + std::to_string(hash));
      }
      report.verdict = Consistency::kInconsistent;
      report.reason = "members disagree" + at + ": " + strings::Join(groups, "; ");
      return report;
    }
  }
  if (by_compaction.size() > 1) {
    report.reason =
        "members are compacted at different revisions; try again once compaction "
        "has reached every member";
    return report;
  }
  report.verdict = Consistency::kConsistent;
  report.reason = std::to_string(report.rows.size()) + " endpoints hash the key space" + at +
                  " to " + std::to_string(report.rows.front().hash->hash);
  return report;
}

std::string HashKVRowsJson(const std::vector<HashKVRow>& rows) { return Dump(RowsJson(rows)); }

std::string ConsistencyReportJson(const ConsistencyReport& report) {
  return Dump(json{{"revision", report.revision},
                   {"verdict", ConsistencyName(report.verdict)},
                   {"reason", report.reason},
                   {"endpoints", RowsJson(report.rows)}});
}

}  // namespace etcdmon::etcd
