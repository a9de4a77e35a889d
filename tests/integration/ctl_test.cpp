// `etcd-monitor ctl` against real etcd processes: what it prints must equal what the members
// (and etcdctl) say, an unreachable member must be a row with its error and a failing exit code,
// every administration command must do what it says or refuse with one clear line, and the TLS
// flags must work end to end.

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "etcdmon/cli/app.h"
#include "etcdmon/cli/table.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::cli {
namespace {

using nlohmann::json;
using testing::EtcdCluster;
using testing::EtcdClusterOptions;
using testing::TempDir;
using testing::WaitFor;

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult RunCtl(std::vector<std::string> args) {
  args.insert(args.begin(), {"etcd-monitor", "ctl"});
  std::vector<const char*> argv;
  for (const auto& a : args) {
    argv.push_back(a.c_str());
  }
  // Never a terminal: a mutating command without --yes must refuse, not wait for an answer.
  std::istringstream in;
  std::ostringstream out, err;
  int code = RunEtcdMonitor(static_cast<int>(argv.size()), argv.data(), in,
                            /*in_is_terminal=*/false, out, err);
  return {code, out.str(), err.str()};
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The member id of endpoint `i` and the leader's id, from `endpoint status`.
struct Leadership {
  std::vector<std::string> member_ids;
  std::string leader_id;
};
Leadership ReadLeadership(const std::string& endpoints_flag) {
  std::vector<std::string> args = {"etcd-monitor", "ctl", "endpoint", "status",
                                   endpoints_flag, "-w",  "json"};
  std::vector<const char*> argv;
  for (const auto& a : args) {
    argv.push_back(a.c_str());
  }
  std::ostringstream out, err;
  std::istringstream in;
  Leadership result;
  if (RunEtcdMonitor(static_cast<int>(argv.size()), argv.data(), in, false, out, err) != 0) {
    return result;
  }
  for (const auto& row : json::parse(out.str())) {
    result.member_ids.push_back(row["member_id"].get<std::string>());
    if (row["is_leader"].get<bool>()) {
      result.leader_id = row["member_id"].get<std::string>();
    }
  }
  return result;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The file is a database followed by its SHA-256, as etcd streams it.
bool HasValidChecksum(const std::string& content) {
  if (content.size() <= SHA256_DIGEST_LENGTH) {
    return false;
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  const size_t db = content.size() - SHA256_DIGEST_LENGTH;
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), db, digest);
  return content.compare(db, SHA256_DIGEST_LENGTH, reinterpret_cast<const char*>(digest),
                         SHA256_DIGEST_LENGTH) == 0;
}

std::string EndpointsFlag(const EtcdCluster& cluster) {
  std::string flag = "--endpoints=";
  for (size_t i = 0; i < cluster.size(); ++i) {
    flag += (i ? "," : "") + cluster.ClientEndpoint(i);
  }
  return flag;
}

// Three members shared by the suite.
class CtlClusterTest : public testing::EtcdClusterSuite<CtlClusterTest> {};

// `endpoint status -w json` agrees with etcdctl on ids, leader, version and raft term, member by
// member, and names exactly one leader.
TEST_F(CtlClusterTest, EndpointStatusMatchesEtcdctl) {
  RunResult r = RunCtl({"endpoint", "status", EndpointsFlag(cluster()), "-w", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json ours = json::parse(r.out);
  ASSERT_EQ(ours.size(), 3u);

  Result<std::string> theirs_text = cluster().Etcdctl({"endpoint", "status", "-w", "json"});
  ASSERT_TRUE(theirs_text.ok()) << theirs_text.status().ToString();
  json theirs = json::parse(*theirs_text);
  ASSERT_EQ(theirs.size(), 3u);

  int leaders = 0;
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(cluster().Name(i));
    EXPECT_EQ(ours[i]["endpoint"], cluster().ClientEndpoint(i));
    EXPECT_EQ(ours[i]["ok"], true);
    // etcdctl prints the same members in the same order; its ids are JSON numbers.
    const json& status = theirs[i]["Status"];
    EXPECT_EQ(ours[i]["member_id"], HexId(status["header"]["member_id"].get<uint64_t>()));
    EXPECT_EQ(ours[i]["cluster_id"], HexId(status["header"]["cluster_id"].get<uint64_t>()));
    EXPECT_EQ(ours[i]["leader_id"], HexId(status["leader"].get<uint64_t>()));
    EXPECT_EQ(ours[i]["version"], status["version"]);
    EXPECT_EQ(ours[i]["raft_term"], status["raftTerm"]);
    EXPECT_GT(ours[i]["db_size_bytes"].get<int64_t>(), 0);
    leaders += ours[i]["is_leader"].get<bool>() ? 1 : 0;
  }
  EXPECT_EQ(leaders, 1);
}

// `member list` shows the three members with their names and client URLs.
TEST_F(CtlClusterTest, MemberListShowsAllMembers) {
  RunResult r = RunCtl({"member", "list", EndpointsFlag(cluster()), "-w", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json list = json::parse(r.out);
  ASSERT_EQ(list["members"].size(), 3u);
  std::set<std::string> names, urls;
  for (const auto& m : list["members"]) {
    names.insert(m["name"].get<std::string>());
    urls.insert(m["client_urls"][0].get<std::string>());
    EXPECT_EQ(m["is_learner"], false);
  }
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(names.count(cluster().Name(i)), 1u) << cluster().Name(i);
    EXPECT_EQ(urls.count(cluster().ClientUrl(i)), 1u) << cluster().ClientUrl(i);
  }

  RunResult table = RunCtl({"member", "list", EndpointsFlag(cluster())});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("| started |"), std::string::npos) << table.out;
}

// A stopped member is a row with its error, the others still answer, and the exit code is 1;
// once the member is back, the command succeeds again.
TEST_F(CtlClusterTest, StoppedMemberIsAFailedRow) {
  ASSERT_TRUE(cluster().Stop(2).ok());
  RunResult r =
      RunCtl({"endpoint", "status", EndpointsFlag(cluster()), "--dial-timeout=1s", "-w", "json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("1 of 3 endpoints did not answer"), std::string::npos) << r.err;
  json rows = json::parse(r.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["ok"], true);
  EXPECT_EQ(rows[1]["ok"], true);
  EXPECT_EQ(rows[2]["ok"], false);
  EXPECT_NE(rows[2]["error"].get<std::string>().find(cluster().ClientEndpoint(2)),
            std::string::npos)
      << rows[2]["error"];

  RunResult table = RunCtl({"endpoint", "status", EndpointsFlag(cluster()), "--dial-timeout=1s"});
  EXPECT_EQ(table.code, 1);
  EXPECT_NE(table.out.find(cluster().ClientEndpoint(2)), std::string::npos) << table.out;

  ASSERT_TRUE(cluster().Restart(2).ok());
  RunResult back = RunCtl({"endpoint", "status", EndpointsFlag(cluster()), "-w", "json"});
  EXPECT_EQ(back.code, 0) << back.err;
}

// endpoint health: every member healthy with a took time; hashkv: every member answers; check
// consistency: one revision, verdict consistent, exit 0.
TEST_F(CtlClusterTest, HealthHashKVAndConsistency) {
  RunResult health = RunCtl({"endpoint", "health", EndpointsFlag(cluster()), "-w", "json"});
  ASSERT_EQ(health.code, 0) << health.err << health.out;
  json rows = json::parse(health.out);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    EXPECT_EQ(row["healthy"], true) << row;
    EXPECT_TRUE(row["took_ms"].is_number()) << row;
  }
  RunResult simple = RunCtl({"endpoint", "health", EndpointsFlag(cluster()), "-w", "simple"});
  EXPECT_TRUE(Contains(simple.out, cluster().ClientEndpoint(1) + " is healthy")) << simple.out;

  ASSERT_TRUE(cluster().Etcdctl({"put", "consistency-key", "v"}).ok());
  RunResult hashes = RunCtl({"endpoint", "hashkv", EndpointsFlag(cluster()), "-w", "json"});
  ASSERT_EQ(hashes.code, 0) << hashes.err;
  EXPECT_EQ(json::parse(hashes.out).size(), 3u);

  RunResult check = RunCtl({"check", "consistency", EndpointsFlag(cluster()), "-w", "json"});
  ASSERT_EQ(check.code, 0) << check.err << check.out;
  json report = json::parse(check.out);
  EXPECT_EQ(report["verdict"], "consistent") << report;
  EXPECT_GT(report["revision"].get<int64_t>(), 1);
  ASSERT_EQ(report["endpoints"].size(), 3u);
  EXPECT_EQ(report["endpoints"][0]["hash"], report["endpoints"][2]["hash"]);

  // Given one endpoint, the check still compares every member (found through the member list).
  RunResult one =
      RunCtl({"check", "consistency", "--endpoints=" + cluster().ClientEndpoint(0), "-w", "json"});
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(json::parse(one.out)["endpoints"].size(), 3u);
}

// An alarm (raised through the API) shows in alarm list and makes endpoint health fail; disarm
// refuses without --yes and clears it with --yes.
TEST_F(CtlClusterTest, AlarmListAndDisarm) {
  auto client = etcd::NewEtcdClient(cluster().ConnectionConfig());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const std::string endpoint = cluster().ClientEndpoint(0);
  auto status = (*client)->GetStatus(endpoint);
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  auto raised = (*client)->Alarms(endpoint, etcd::AlarmAction::kActivate,
                                  {status->member_id, etcd::AlarmType::kNoSpace});
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();

  RunResult list = RunCtl({"alarm", "list", EndpointsFlag(cluster()), "-w", "json"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(json::parse(list.out), json::parse("[{\"member_id\": \"" + HexId(status->member_id) +
                                               "\", \"alarm\": \"nospace\"}]"));
  RunResult health = RunCtl({"endpoint", "health", EndpointsFlag(cluster())});
  EXPECT_EQ(health.code, 1);
  EXPECT_TRUE(Contains(health.out, "NOSPACE")) << health.out;

  RunResult refused = RunCtl({"alarm", "disarm", EndpointsFlag(cluster())});
  EXPECT_EQ(refused.code, 2);
  EXPECT_TRUE(Contains(refused.err, "pass --yes")) << refused.err;
  EXPECT_EQ(
      json::parse(RunCtl({"alarm", "list", EndpointsFlag(cluster()), "-w", "json"}).out).size(),
      1u);

  RunResult disarmed = RunCtl({"alarm", "disarm", EndpointsFlag(cluster()), "--yes"});
  ASSERT_EQ(disarmed.code, 0) << disarmed.err;
  EXPECT_TRUE(Contains(disarmed.out, "NOSPACE")) << disarmed.out;
  EXPECT_EQ(
      json::parse(RunCtl({"alarm", "list", EndpointsFlag(cluster()), "-w", "json"}).out).size(),
      0u);
  EXPECT_EQ(RunCtl({"endpoint", "health", EndpointsFlag(cluster())}).code, 0);
}

// compact --keep compacts relative to the current revision; a future revision and an already
// compacted one are refused with one line and exit 1.
TEST_F(CtlClusterTest, CompactRules) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(cluster().Etcdctl({"put", "compact-key", std::to_string(i)}).ok());
  }
  RunResult kept = RunCtl(
      {"compact", "--keep=2", "--physical", "--yes", EndpointsFlag(cluster()), "-w", "json"});
  ASSERT_EQ(kept.code, 0) << kept.err;
  json result = json::parse(kept.out);
  const int64_t compacted = result["revision"].get<int64_t>();
  EXPECT_EQ(compacted, result["current_revision"].get<int64_t>() - 2);
  EXPECT_EQ(result["physical"], true);
  // etcd agrees: reading below the compacted revision fails.
  EXPECT_FALSE(
      cluster().Etcdctl({"get", "compact-key", "--rev=" + std::to_string(compacted - 1)}).ok());

  RunResult future = RunCtl({"compact", "1000000000", "--yes", EndpointsFlag(cluster())});
  EXPECT_EQ(future.code, 1);
  EXPECT_TRUE(Contains(future.err, "is in the future")) << future.err;

  RunResult again =
      RunCtl({"compact", std::to_string(compacted - 1), "--yes", EndpointsFlag(cluster())});
  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(Contains(again.err, "compacted")) << again.err;
  EXPECT_EQ(std::count(again.err.begin(), again.err.end(), '\n'), 1) << again.err;

  RunResult unconfirmed = RunCtl({"compact", "--keep=1", EndpointsFlag(cluster())});
  EXPECT_EQ(unconfirmed.code, 2);
}

// defrag --cluster walks every member, the leader last, each one healthy afterwards; a single
// endpoint's defrag is checked against the whole cluster.
TEST_F(CtlClusterTest, DefragWalksClusterLeaderLast) {
  Leadership before = ReadLeadership(EndpointsFlag(cluster()));
  ASSERT_FALSE(before.leader_id.empty());
  RunResult r = RunCtl({"defrag", "--cluster", "--yes", EndpointsFlag(cluster()), "-w", "json"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  json rows = json::parse(r.out);
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& row : rows) {
    EXPECT_EQ(row["ok"], true) << row;
    EXPECT_GT(row["db_size_after_bytes"].get<int64_t>(), 0);
  }
  EXPECT_EQ(rows[2]["member_id"], before.leader_id);
  EXPECT_TRUE(Contains(r.err, "1 of 3)")) << r.err;

  RunResult one = RunCtl({"defrag", "--yes", "--endpoints=" + cluster().ClientEndpoint(1)});
  EXPECT_EQ(one.code, 0) << one.err << one.out;
  EXPECT_TRUE(Contains(one.out, "defragmented")) << one.out;
}

// With one of three members stopped, defragmenting a healthy member would leave one of three
// voting members: refused, naming the stopped member. Without --yes nothing is asked.
TEST_F(CtlClusterTest, DefragRefusedWhenQuorumWouldBeLost) {
  ASSERT_TRUE(cluster().Stop(2).ok());
  RunResult r = RunCtl(
      {"defrag", "--yes", "--dial-timeout=1s", "--endpoints=" + cluster().ClientEndpoint(0)});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "would lose quorum")) << r.err;
  EXPECT_TRUE(Contains(r.err, cluster().Name(2))) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  RunResult cluster_walk =
      RunCtl({"defrag", "--cluster", "--yes", "--dial-timeout=1s", EndpointsFlag(cluster())});
  EXPECT_EQ(cluster_walk.code, 1);
  ASSERT_TRUE(cluster().Restart(2).ok());
}

// snapshot save writes the database plus its verified checksum, which etcdctl accepts; a
// stopped member or a missing directory fails with no file left behind.
TEST_F(CtlClusterTest, SnapshotSave) {
  TempDir dir;
  const std::string path = dir.File("backup.db");
  RunResult saved = RunCtl(
      {"snapshot", "save", path, "--endpoints=" + cluster().ClientEndpoint(1), "-w", "json"});
  ASSERT_EQ(saved.code, 0) << saved.err;
  json j = json::parse(saved.out);
  const std::string content = ReadFile(path);
  EXPECT_EQ(j["size_bytes"].get<uint64_t>(), content.size());
  EXPECT_GT(j["revision"].get<int64_t>(), 0);
  EXPECT_TRUE(HasValidChecksum(content));
  Result<std::string> status = cluster().Etcdctl({"snapshot", "status", path, "-w", "json"});
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(json::parse(*status)["revision"].get<int64_t>(), j["revision"].get<int64_t>());

  RunResult many = RunCtl({"snapshot", "save", dir.File("x.db"), EndpointsFlag(cluster())});
  EXPECT_EQ(many.code, 2);

  RunResult missing_dir = RunCtl({"snapshot", "save", dir.File("no/such/dir.db"),
                                  "--endpoints=" + cluster().ClientEndpoint(1)});
  EXPECT_EQ(missing_dir.code, 1);

  ASSERT_TRUE(cluster().Stop(2).ok());
  RunResult down = RunCtl({"snapshot", "save", dir.File("down.db"), "--dial-timeout=1s",
                           "--endpoints=" + cluster().ClientEndpoint(2)});
  EXPECT_EQ(down.code, 1);
  EXPECT_TRUE(Contains(down.err, cluster().ClientEndpoint(2))) << down.err;
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  EXPECT_EQ(files, 1u);  // only backup.db
  ASSERT_TRUE(cluster().Restart(2).ok());
}

// move-leader hands leadership to a named follower; an unknown member is refused.
TEST_F(CtlClusterTest, MoveLeader) {
  Leadership before = ReadLeadership(EndpointsFlag(cluster()));
  ASSERT_EQ(before.member_ids.size(), 3u);
  size_t follower = 0;
  while (before.member_ids[follower] == before.leader_id) {
    ++follower;
  }
  RunResult moved = RunCtl(
      {"move-leader", cluster().Name(follower), "--yes", EndpointsFlag(cluster()), "-w", "json"});
  ASSERT_EQ(moved.code, 0) << moved.err;
  EXPECT_EQ(json::parse(moved.out)["to_member_id"], before.member_ids[follower]);
  EXPECT_TRUE(WaitFor([&] {
    return ReadLeadership(EndpointsFlag(cluster())).leader_id == before.member_ids[follower];
  }));

  RunResult unknown = RunCtl({"move-leader", "nosuchmember", "--yes", EndpointsFlag(cluster())});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(Contains(unknown.err, "no member \"nosuchmember\"")) << unknown.err;

  RunResult unconfirmed =
      RunCtl({"move-leader", before.member_ids[(follower + 1) % 3], EndpointsFlag(cluster())});
  if (before.member_ids[(follower + 1) % 3] != before.member_ids[follower]) {
    EXPECT_EQ(unconfirmed.code, 2) << unconfirmed.err;
  }
}

// Against a TLS cluster, the TLS flags (and their environment variables) make ctl work, and a
// wrong CA makes it fail with exit code 1 and the endpoint named.
TEST(CtlTlsTest, TlsFlagsWork) {
  EtcdClusterOptions options;
  options.members = 1;
  options.tls = true;
  EtcdCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());
  const auto& certs = cluster.Certificates();
  const std::string endpoint = "--endpoints=" + cluster.ClientUrl(0);

  RunResult ok = RunCtl({"endpoint", "status", endpoint, "--cacert=" + certs.ca_cert,
                         "--cert=" + certs.client_cert, "--key=" + certs.client_key, "-w", "json"});
  ASSERT_EQ(ok.code, 0) << ok.err << ok.out;
  EXPECT_EQ(json::parse(ok.out)[0]["ok"], true);

  RunResult wrong_ca = RunCtl({"endpoint", "status", endpoint, "--cacert=" + certs.other_ca_cert,
                               "--cert=" + certs.client_cert, "--key=" + certs.client_key,
                               "--dial-timeout=2s", "-w", "json"});
  EXPECT_EQ(wrong_ca.code, 1);
  json row = json::parse(wrong_ca.out)[0];
  EXPECT_EQ(row["ok"], false);
  EXPECT_NE(row["error"].get<std::string>().find(cluster.ClientEndpoint(0)), std::string::npos)
      << row["error"];

  RunResult skip = RunCtl({"endpoint", "status", endpoint, "--cacert=" + certs.other_ca_cert,
                           "--cert=" + certs.client_cert, "--key=" + certs.client_key,
                           "--insecure-skip-tls-verify", "-w", "json"});
  EXPECT_EQ(skip.code, 0) << skip.err << skip.out;

  // The administration commands over TLS: health, consistency, alarms, snapshot, compact, and
  // defrag (refused on a single member unless the quorum check is skipped).
  const std::vector<std::string> tls_flags = {endpoint, "--cacert=" + certs.ca_cert,
                                              "--cert=" + certs.client_cert,
                                              "--key=" + certs.client_key};
  auto with_tls = [&](std::vector<std::string> args) {
    args.insert(args.end(), tls_flags.begin(), tls_flags.end());
    return RunCtl(args);
  };
  EXPECT_EQ(with_tls({"endpoint", "health"}).code, 0);
  EXPECT_EQ(with_tls({"endpoint", "hashkv"}).code, 0);
  EXPECT_EQ(with_tls({"check", "consistency"}).code, 0);
  EXPECT_EQ(with_tls({"alarm", "list"}).code, 0);
  EXPECT_EQ(with_tls({"member", "list", "-w", "simple"}).code, 0);
  TempDir dir;
  RunResult snapshot = with_tls({"snapshot", "save", dir.File("tls.db")});
  EXPECT_EQ(snapshot.code, 0) << snapshot.err;
  EXPECT_TRUE(HasValidChecksum(ReadFile(dir.File("tls.db"))));
  ASSERT_TRUE(cluster.Etcdctl({"put", "tls-key", "1"}).ok());
  ASSERT_TRUE(cluster.Etcdctl({"put", "tls-key", "2"}).ok());
  RunResult compact = with_tls({"compact", "--keep=1", "--yes"});
  EXPECT_EQ(compact.code, 0) << compact.err;
  RunResult defrag = with_tls({"defrag", "--yes"});
  EXPECT_EQ(defrag.code, 1);
  EXPECT_TRUE(Contains(defrag.err, "would lose quorum")) << defrag.err;
  RunResult forced = with_tls({"defrag", "--yes", "--skip-quorum-check"});
  EXPECT_EQ(forced.code, 0) << forced.err;
  RunResult leader = with_tls({"move-leader", cluster.Name(0), "--yes", "-w", "json"});
  EXPECT_EQ(leader.code, 0) << leader.err;
  EXPECT_EQ(json::parse(leader.out)["moved"], false);
}

}  // namespace
}  // namespace etcdmon::cli
