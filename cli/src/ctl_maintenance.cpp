#include "etcdmon/cli/ctl_maintenance.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <istream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "etcdmon/cli/table.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/config/types.h"
#include "etcdmon/strings/strings.h"

namespace etcdmon::cli {
namespace {

using nlohmann::json;

// Longest answer read from the terminal; the rest of a longer line counts as "no".
constexpr size_t kMaxAnswerLength = 256;

std::string AuthorityOf(const std::string& url) {
  Result<config::Endpoint> endpoint = config::ParseEndpoint(url);
  return endpoint.ok() ? endpoint->Authority() : url;
}

std::string Describe(const MemberHealth& m) {
  return (m.name.empty() ? std::string("(unstarted)") : m.name) + " (" + HexId(m.id) + ")";
}

// "defragment", "compact" ...: a refusal to run without consent, as one line on `err`.
int NotConfirmed(const Status& status, std::ostream& err) {
  err << "error: " << status.message() << "\n";
  return kExitNotConfirmed;
}

// A status with the health check's view of one member after its defragmentation.
struct DefragRow {
  std::string endpoint;
  uint64_t member_id = 0;
  bool ok = false;
  int64_t db_size_before = 0;
  int64_t db_size_after = 0;
  std::string error;
};

std::string RenderDefragRows(const std::vector<DefragRow>& rows, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    json array = json::array();
    for (const auto& row : rows) {
      json j = {{"endpoint", row.endpoint},
                {"member_id", HexId(row.member_id)},
                {"ok", row.ok},
                {"db_size_before_bytes", row.db_size_before},
                {"db_size_after_bytes", row.db_size_after}};
      if (!row.ok) {
        j["error"] = row.error;
      }
      array.push_back(std::move(j));
    }
    return array.dump(2) + "\n";
  }
  if (format == OutputFormat::kSimple) {
    std::string out;
    for (const auto& row : rows) {
      if (row.ok) {
        out += "Finished defragmenting etcd member[" + row.endpoint + "]\n";
      } else {
        out += "Failed to defragment etcd member[" + row.endpoint + "] (" + row.error + ")\n";
      }
    }
    return out;
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) {
    cells.push_back(
        {row.endpoint, row.member_id ? HexId(row.member_id) : "",
         row.ok ? "defragmented" : "failed",
         row.db_size_before ? HumanBytes(static_cast<uint64_t>(row.db_size_before)) : "",
         row.ok ? HumanBytes(static_cast<uint64_t>(row.db_size_after)) : "", row.error});
  }
  return RenderTable({"endpoint", "id", "result", "db size before", "db size after", "error"},
                     cells);
}

// The member an endpoint answers for, if the assessment found one.
const MemberHealth* MemberAt(const std::vector<MemberHealth>& members,
                             const std::string& endpoint) {
  for (const auto& m : members) {
    if (m.endpoint == endpoint) {
      return &m;
    }
  }
  return nullptr;
}

}  // namespace

Status Confirm(const Confirmation& confirmation, const std::string& action, std::ostream& err) {
  if (confirmation.assume_yes) {
    return Status::Ok();
  }
  if (!confirmation.interactive || confirmation.in == nullptr) {
    return Status::FailedPrecondition("refusing to " + action +
                                      " without confirmation: stdin is not a terminal (pass "
                                      "--yes to confirm)");
  }
  err << "About to " << action << ". Continue? [y/N] " << std::flush;
  char line[kMaxAnswerLength + 1] = {};
  confirmation.in->getline(line, sizeof line);
  std::string answer = line;
  answer.erase(std::remove_if(answer.begin(), answer.end(),
                              [](unsigned char c) { return std::isspace(c) != 0; }),
               answer.end());
  std::transform(answer.begin(), answer.end(), answer.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (confirmation.in->good() && (answer == "y" || answer == "yes")) {
    return Status::Ok();
  }
  return Status::FailedPrecondition("not confirmed: did not " + action);
}

int RunAlarmDisarm(etcd::EtcdClient& client, const Confirmation& confirmation, OutputFormat format,
                   std::ostream& out, std::ostream& err) {
  std::vector<std::string> errors;
  for (const auto& endpoint : client.Endpoints()) {
    Result<std::vector<etcd::Alarm>> alarms = client.Alarms(endpoint, etcd::AlarmAction::kGet, {});
    if (!alarms.ok()) {
      errors.push_back(alarms.status().message());
      continue;
    }
    if (!alarms->empty()) {
      std::vector<std::string> names;
      for (const auto& alarm : *alarms) {
        names.push_back(AlarmLabel(alarm.type) + " on " + HexId(alarm.member_id));
      }
      Status consent = Confirm(confirmation, "disarm " + strings::Join(names, ", "), err);
      if (!consent.ok()) {
        return NotConfirmed(consent, err);
      }
    }
    std::vector<etcd::Alarm> cleared;
    for (const auto& alarm : *alarms) {
      Result<std::vector<etcd::Alarm>> done =
          client.Alarms(endpoint, etcd::AlarmAction::kDeactivate, alarm);
      if (!done.ok()) {
        err << "error: disarming " << AlarmLabel(alarm.type) << " on " << HexId(alarm.member_id)
            << ": " << done.status().message() << "\n";
        return kExitFailed;
      }
      cleared.insert(cleared.end(), done->begin(), done->end());
    }
    if (format == OutputFormat::kJson) {
      json array = json::array();
      for (const auto& alarm : cleared) {
        array.push_back(
            {{"member_id", HexId(alarm.member_id)}, {"alarm", etcd::AlarmTypeName(alarm.type)}});
      }
      out << array.dump(2) << "\n";
    } else if (format == OutputFormat::kSimple) {
      for (const auto& alarm : cleared) {
        out << "memberID:" << HexId(alarm.member_id) << " alarm:" << AlarmLabel(alarm.type) << "\n";
      }
    } else {
      std::vector<std::vector<std::string>> cells;
      for (const auto& alarm : cleared) {
        cells.push_back({HexId(alarm.member_id), AlarmLabel(alarm.type)});
      }
      out << RenderTable({"member id", "disarmed alarm"}, cells);
    }
    return kExitOk;
  }
  err << "error: no endpoint answered: " << strings::Join(errors, "; ") << "\n";
  return kExitFailed;
}

Result<std::vector<MemberHealth>> AssessMembers(etcd::EtcdClient& client) {
  Result<etcd::MemberListResult> list = FirstMemberList(client);
  if (!list.ok()) {
    return list.status();
  }
  std::vector<EndpointStatusRow> statuses = CollectEndpointStatus(client);
  std::vector<MemberHealth> members;
  members.reserve(list->members.size());
  for (const etcd::Member& m : list->members) {
    MemberHealth h;
    h.id = m.id;
    h.name = m.name;
    h.voter = !m.is_learner;
    for (const auto& row : statuses) {
      if (row.status.ok() && row.status->member_id == m.id) {
        h.endpoint = row.endpoint;
        h.is_leader = row.status->IsLeader();
        h.healthy = row.status->leader != 0;
        if (!h.healthy) {
          h.problem = "has no leader";
        }
        break;
      }
    }
    if (!h.endpoint.empty()) {
      members.push_back(std::move(h));
      continue;
    }
    // Unreachable: report the error of the endpoint that is one of its client URLs, if any.
    h.problem = "no endpoint answers for it";
    for (const auto& url : m.client_urls) {
      const std::string authority = AuthorityOf(url);
      for (const auto& row : statuses) {
        if (row.endpoint == authority && !row.status.ok()) {
          h.problem = row.status.status().message();
        }
      }
    }
    members.push_back(std::move(h));
  }
  return members;
}

Status CheckQuorumWithout(const std::vector<MemberHealth>& members, uint64_t busy_id) {
  size_t voters = 0;
  size_t available = 0;
  std::vector<std::string> not_healthy;
  std::string busy = HexId(busy_id);
  for (const auto& m : members) {
    if (m.id == busy_id) {
      busy = Describe(m);
    }
    if (!m.voter) {
      continue;
    }
    ++voters;
    if (m.id == busy_id) {
      continue;
    }
    if (m.healthy) {
      ++available;
    } else {
      not_healthy.push_back(Describe(m) + ": " + m.problem);
    }
  }
  const size_t quorum = voters / 2 + 1;
  if (available >= quorum) {
    return Status::Ok();
  }
  std::string message = "the cluster would lose quorum while " + busy +
                        " is busy: " + std::to_string(available) +
                        " other healthy voting member(s) of " + std::to_string(voters) +
                        ", quorum needs " + std::to_string(quorum);
  if (!not_healthy.empty()) {
    message += " (not healthy: " + strings::Join(not_healthy, "; ") + ")";
  }
  return Status::FailedPrecondition(message);
}

int RunDefrag(etcd::EtcdClient& client, const DefragOptions& options,
              const Confirmation& confirmation, OutputFormat format, std::ostream& out,
              std::ostream& err) {
  if (options.targets.empty()) {
    err << "error: defrag: no endpoint to defragment\n";
    return config::kExitUsage;
  }
  Result<std::vector<MemberHealth>> members = AssessMembers(client);
  if (!members.ok()) {
    err << "error: defrag: " << members.status().message() << "\n";
    return kExitFailed;
  }
  // The leader goes last: defragmenting it blocks proposals, and by then every follower is done.
  std::vector<std::string> order = options.targets;
  std::stable_partition(order.begin(), order.end(), [&](const std::string& endpoint) {
    const MemberHealth* m = MemberAt(*members, endpoint);
    return m == nullptr || !m->is_leader;
  });
  std::string action = "defragment " + strings::Join(order, ", ");
  Status consent = Confirm(confirmation, action + " (one at a time)", err);
  if (!consent.ok()) {
    return NotConfirmed(consent, err);
  }

  std::vector<DefragRow> rows;
  Status failure;
  for (size_t i = 0; i < order.size() && failure.ok(); ++i) {
    const std::string& endpoint = order[i];
    if (i > 0) {
      members = AssessMembers(client);  // the health after the previous member's defrag
      if (!members.ok()) {
        failure = members.status();
        break;
      }
    }
    DefragRow row;
    row.endpoint = endpoint;
    Result<etcd::EndpointStatus> before = client.GetStatus(endpoint);
    if (!before.ok()) {
      row.error = before.status().message();
      failure = before.status();
      rows.push_back(std::move(row));
      break;
    }
    row.member_id = before->member_id;
    row.db_size_before = before->db_size;
    if (!options.skip_quorum_check) {
      Status quorum = CheckQuorumWithout(*members, row.member_id);
      if (!quorum.ok()) {
        row.error = "refused: " + quorum.message();
        failure = Status::FailedPrecondition("refusing to defragment " + endpoint + ": " +
                                             quorum.message());
        rows.push_back(std::move(row));
        break;
      }
    }
    err << "defragmenting " << endpoint << " (member " << HexId(row.member_id) << ", " << i + 1
        << " of " << order.size() << ")\n";
    Result<etcd::ResponseHeader> done = client.Defragment(endpoint);
    if (!done.ok()) {
      row.error = done.status().message();
      failure = done.status();
      rows.push_back(std::move(row));
      break;
    }
    EndpointHealthRow health = CheckEndpointHealth(client, endpoint, /*check_alarms=*/false);
    Result<etcd::EndpointStatus> after = client.GetStatus(endpoint);
    if (!health.healthy || !after.ok() || after->leader == 0) {
      row.error =
          "defragmented, but the health check failed: " +
          (!health.healthy ? health.error : (!after.ok() ? after.status().message() : "no leader"));
      failure = Status::Unavailable(endpoint + ": " + row.error);
      rows.push_back(std::move(row));
      break;
    }
    row.ok = true;
    row.db_size_after = after->db_size;
    err << "finished defragmenting " << endpoint << ": "
        << HumanBytes(static_cast<uint64_t>(row.db_size_before)) << " -> "
        << HumanBytes(static_cast<uint64_t>(row.db_size_after)) << ", healthy\n";
    rows.push_back(std::move(row));
  }
  out << RenderDefragRows(rows, format);
  if (!failure.ok()) {
    const size_t skipped = order.size() - rows.size();
    err << "error: " << failure.message();
    if (skipped > 0) {
      err << " (" << skipped << " member(s) not defragmented)";
    }
    err << "\n";
    return kExitFailed;
  }
  return kExitOk;
}

int RunCompact(etcd::EtcdClient& client, const CompactOptions& options,
               const Confirmation& confirmation, OutputFormat format, std::ostream& out,
               std::ostream& err) {
  if ((options.revision > 0) == (options.keep > 0)) {
    err << "error: compact: give either a revision or --keep=N\n";
    return config::kExitUsage;
  }
  // The current revision, from a linearizable read: compaction is cluster-wide, so the first
  // endpoint that answers runs it.
  std::vector<std::string> errors;
  for (const auto& endpoint : client.Endpoints()) {
    etcd::RangeRequest probe;
    probe.key = "/";
    probe.count_only = true;
    Result<etcd::RangeResult> read = client.Range(endpoint, probe);
    if (!read.ok()) {
      errors.push_back(read.status().message());
      continue;
    }
    const int64_t current = read->header.revision;
    const int64_t target = options.revision > 0 ? options.revision : current - options.keep;
    if (target > current) {
      err << "error: compact: revision " << target << " is in the future (current revision "
          << current << ")\n";
      return kExitFailed;
    }
    if (target <= 0) {
      err << "error: compact: nothing to compact: keeping " << options.keep << " revisions of "
          << current << "\n";
      return kExitFailed;
    }
    Status consent = Confirm(confirmation,
                             "compact the history up to revision " + std::to_string(target) +
                                 " (current revision " + std::to_string(current) + ")",
                             err);
    if (!consent.ok()) {
      return NotConfirmed(consent, err);
    }
    Result<etcd::ResponseHeader> done = client.Compact(endpoint, target, options.physical);
    if (!done.ok()) {
      err << "error: compact: " << done.status().message() << "\n";
      return kExitFailed;
    }
    if (format == OutputFormat::kJson) {
      json j = {
          {"revision", target}, {"current_revision", current}, {"physical", options.physical}};
      out << j.dump(2) << "\n";
    } else {
      out << "compacted revision " << target << "\n";
    }
    return kExitOk;
  }
  err << "error: compact: no endpoint answered: " << strings::Join(errors, "; ") << "\n";
  return kExitFailed;
}

int RunMoveLeader(etcd::EtcdClient& client, const std::string& member,
                  const Confirmation& confirmation, OutputFormat format, std::ostream& out,
                  std::ostream& err) {
  Result<std::vector<MemberHealth>> members = AssessMembers(client);
  if (!members.ok()) {
    err << "error: move-leader: " << members.status().message() << "\n";
    return kExitFailed;
  }
  const MemberHealth* target = nullptr;
  const MemberHealth* leader = nullptr;
  std::vector<std::string> known;
  for (const auto& m : *members) {
    known.push_back(Describe(m));
    if (m.name == member || HexId(m.id) == strings::AsciiToLower(member)) {
      target = &m;
    }
    if (m.is_leader) {
      leader = &m;
    }
  }
  if (target == nullptr) {
    err << "error: move-leader: no member \"" << member
        << "\" in the cluster (members: " << strings::Join(known, ", ") << ")\n";
    return kExitFailed;
  }
  if (!target->voter) {
    err << "error: move-leader: " << Describe(*target) << " is a learner and cannot lead\n";
    return kExitFailed;
  }
  if (leader == nullptr) {
    err << "error: move-leader: no reachable member leads the cluster\n";
    return kExitFailed;
  }
  const bool moved = leader->id != target->id;
  if (moved) {
    Status consent =
        Confirm(confirmation,
                "move leadership from " + Describe(*leader) + " to " + Describe(*target), err);
    if (!consent.ok()) {
      return NotConfirmed(consent, err);
    }
    Result<etcd::ResponseHeader> done = client.MoveLeader(leader->endpoint, target->id);
    if (!done.ok()) {
      err << "error: move-leader: " << done.status().message() << "\n";
      return kExitFailed;
    }
  }
  if (format == OutputFormat::kJson) {
    json j = {{"from_member_id", HexId(leader->id)},
              {"to_member_id", HexId(target->id)},
              {"to_member_name", target->name},
              {"moved", moved}};
    out << j.dump(2) << "\n";
  } else if (moved) {
    out << "Leadership transferred from " << HexId(leader->id) << " to " << HexId(target->id)
        << "\n";
  } else {
    out << "Member " << HexId(target->id) << " already leads the cluster\n";
  }
  return kExitOk;
}

Result<std::vector<std::string>> MissingMemberUrls(etcd::EtcdClient& client) {
  Result<etcd::MemberListResult> list = FirstMemberList(client);
  if (!list.ok()) {
    return list.status();
  }
  std::set<uint64_t> answered;
  for (const auto& row : CollectEndpointStatus(client)) {
    if (row.status.ok()) {
      answered.insert(row.status->member_id);
    }
  }
  const std::vector<std::string> endpoints = client.Endpoints();
  const std::set<std::string> configured(endpoints.begin(), endpoints.end());
  std::vector<std::string> missing;
  for (const etcd::Member& m : list->members) {
    if (answered.count(m.id) > 0 || m.client_urls.empty() ||
        configured.count(AuthorityOf(m.client_urls.front())) > 0) {
      continue;
    }
    missing.push_back(m.client_urls.front());
  }
  return missing;
}

}  // namespace etcdmon::cli
