// `etcd-monitor ctl` against real etcd processes: what it prints must equal what the members
// (and etcdctl) say, an unreachable member must be a row with its error and a failing exit code,
// and the TLS flags must work end to end.

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "etcdmon/cli/app.h"
#include "etcdmon/cli/table.h"
#include "etcdmon/testing/etcd_cluster.h"

namespace etcdmon::cli {
namespace {

using nlohmann::json;
using testing::EtcdCluster;
using testing::EtcdClusterOptions;

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
  std::ostringstream out, err;
  int code = RunEtcdMonitor(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

std::string EndpointsFlag(const EtcdCluster& cluster) {
  std::string flag = "--endpoints=";
  for (size_t i = 0; i < cluster.size(); ++i) {
    flag += (i ? "," : "") + cluster.ClientEndpoint(i);
  }
  return flag;
}

class CtlClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EtcdClusterOptions options;
    options.members = 3;
    cluster_ = new EtcdCluster(options);
    start_status_ = new Status(cluster_->Start());
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete start_status_;
  }
  void SetUp() override { ASSERT_TRUE(start_status_->ok()) << start_status_->ToString(); }

  static EtcdCluster* cluster_;
  static Status* start_status_;
};
EtcdCluster* CtlClusterTest::cluster_ = nullptr;
Status* CtlClusterTest::start_status_ = nullptr;

// `endpoint status -w json` agrees with etcdctl on ids, leader, version and raft term, member by
// member, and names exactly one leader.
TEST_F(CtlClusterTest, EndpointStatusMatchesEtcdctl) {
  RunResult r = RunCtl({"endpoint", "status", EndpointsFlag(*cluster_), "-w", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json ours = json::parse(r.out);
  ASSERT_EQ(ours.size(), 3u);

  Result<std::string> theirs_text = cluster_->Etcdctl({"endpoint", "status", "-w", "json"});
  ASSERT_TRUE(theirs_text.ok()) << theirs_text.status().ToString();
  json theirs = json::parse(*theirs_text);
  ASSERT_EQ(theirs.size(), 3u);

  int leaders = 0;
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(cluster_->Name(i));
    EXPECT_EQ(ours[i]["endpoint"], cluster_->ClientEndpoint(i));
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
  RunResult r = RunCtl({"member", "list", EndpointsFlag(*cluster_), "-w", "json"});
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
    EXPECT_EQ(names.count(cluster_->Name(i)), 1u) << cluster_->Name(i);
    EXPECT_EQ(urls.count(cluster_->ClientUrl(i)), 1u) << cluster_->ClientUrl(i);
  }

  RunResult table = RunCtl({"member", "list", EndpointsFlag(*cluster_)});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("| started |"), std::string::npos) << table.out;
}

// A stopped member is a row with its error, the others still answer, and the exit code is 1;
// once the member is back, the command succeeds again.
TEST_F(CtlClusterTest, StoppedMemberIsAFailedRow) {
  ASSERT_TRUE(cluster_->Stop(2).ok());
  RunResult r =
      RunCtl({"endpoint", "status", EndpointsFlag(*cluster_), "--dial-timeout=1s", "-w", "json"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("1 of 3 endpoints did not answer"), std::string::npos) << r.err;
  json rows = json::parse(r.out);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["ok"], true);
  EXPECT_EQ(rows[1]["ok"], true);
  EXPECT_EQ(rows[2]["ok"], false);
  EXPECT_NE(rows[2]["error"].get<std::string>().find(cluster_->ClientEndpoint(2)),
            std::string::npos)
      << rows[2]["error"];

  RunResult table = RunCtl({"endpoint", "status", EndpointsFlag(*cluster_), "--dial-timeout=1s"});
  EXPECT_EQ(table.code, 1);
  EXPECT_NE(table.out.find(cluster_->ClientEndpoint(2)), std::string::npos) << table.out;

  ASSERT_TRUE(cluster_->Restart(2).ok());
  RunResult back = RunCtl({"endpoint", "status", EndpointsFlag(*cluster_), "-w", "json"});
  EXPECT_EQ(back.code, 0) << back.err;
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

  RunResult wrong_ca =
      RunCtl({"endpoint", "status", endpoint, "--cacert=" + certs.other_ca_cert,
              "--cert=" + certs.client_cert, "--key=" + certs.client_key, "--dial-timeout=2s",
              "-w", "json"});
  EXPECT_EQ(wrong_ca.code, 1);
  json row = json::parse(wrong_ca.out)[0];
  EXPECT_EQ(row["ok"], false);
  EXPECT_NE(row["error"].get<std::string>().find(cluster.ClientEndpoint(0)), std::string::npos)
      << row["error"];

  RunResult skip = RunCtl({"endpoint", "status", endpoint, "--cacert=" + certs.other_ca_cert,
                           "--cert=" + certs.client_cert, "--key=" + certs.client_key,
                           "--insecure-skip-tls-verify", "-w", "json"});
  EXPECT_EQ(skip.code, 0) << skip.err << skip.out;
}

}  // namespace
}  // namespace etcdmon::cli
