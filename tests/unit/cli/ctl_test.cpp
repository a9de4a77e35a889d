#include "etcdmon/cli/ctl.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "etcdmon/testing/fake_etcd_client.h"

namespace etcdmon::cli {
namespace {

using testing::FakeEtcdClient;
using testing::HashKVOf;

etcd::EndpointStatus MakeStatus(uint64_t id, uint64_t leader) {
  etcd::EndpointStatus s;
  s.cluster_id = 0xdead;
  s.member_id = id;
  s.leader = leader;
  s.version = "3.4.23";
  s.db_size = 20480;
  s.db_size_in_use = 16384;
  s.raft_term = 2;
  s.raft_index = 14;
  s.raft_applied_index = 14;
  s.revision = 1;
  return s;
}

// Every endpoint gets a row; the leader is marked; exit code 0 when all answered.
TEST(CtlTest, EndpointStatusTable) {
  FakeEtcdClient client({"a:1", "b:2"});
  client.SetStatus("a:1", MakeStatus(0x80d1, 0x1e27));
  client.SetStatus("b:2", MakeStatus(0x1e27, 0x1e27));
  std::ostringstream out, err;
  EXPECT_EQ(RunEndpointStatus(client, OutputFormat::kTable, out, err), kExitOk);
  const std::string table = out.str();
  EXPECT_NE(table.find("ENDPOINT"), std::string::npos);
  EXPECT_NE(table.find("|      a:1 | 80d1 |"), std::string::npos) << table;
  EXPECT_NE(table.find("20 kB"), std::string::npos) << table;
  EXPECT_EQ(err.str(), "");
  // The second row is the leader, the first is not.
  size_t a = table.find("a:1"), b = table.find("b:2");
  EXPECT_NE(table.find("false", a), std::string::npos);
  EXPECT_LT(table.find("true", a), table.find('\n', b));
}

// An unreachable endpoint is a row with its error, and the exit code says the command failed.
TEST(CtlTest, UnreachableEndpointIsARowAndFails) {
  FakeEtcdClient client({"a:1", "dead:2"});
  client.SetStatus("a:1", MakeStatus(1, 1));
  client.SetStatus("dead:2", Status::Unavailable("endpoint dead:2: connection refused"));
  std::ostringstream out, err;
  EXPECT_EQ(RunEndpointStatus(client, OutputFormat::kTable, out, err), kExitFailed);
  EXPECT_NE(out.str().find("endpoint dead:2: connection refused"), std::string::npos) << out.str();
  EXPECT_EQ(err.str(), "error: 1 of 2 endpoints did not answer\n");
}

// JSON uses snake_case keys, hex ids, and an error key on failed rows.
TEST(CtlTest, EndpointStatusJson) {
  FakeEtcdClient client({"a:1", "dead:2"});
  client.SetStatus("a:1", MakeStatus(0x80d1, 0x80d1));
  client.SetStatus("dead:2", Status::Unavailable("endpoint dead:2: connection refused"));
  std::ostringstream out, err;
  RunEndpointStatus(client, OutputFormat::kJson, out, err);
  auto j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["endpoint"], "a:1");
  EXPECT_EQ(j[0]["ok"], true);
  EXPECT_EQ(j[0]["member_id"], "80d1");
  EXPECT_EQ(j[0]["cluster_id"], "dead");
  EXPECT_EQ(j[0]["is_leader"], true);
  EXPECT_EQ(j[0]["db_size_bytes"], 20480);
  EXPECT_EQ(j[0]["db_size_in_use_bytes"], 16384);
  EXPECT_EQ(j[0]["raft_applied_index"], 14);
  EXPECT_EQ(j[1]["ok"], false);
  EXPECT_EQ(j[1]["error"], "endpoint dead:2: connection refused");
  EXPECT_FALSE(j[1].contains("member_id"));
}

etcd::MemberListResult ThreeMembers() {
  etcd::MemberListResult list;
  list.header.cluster_id = 0xabc;
  list.members = {{0x1, "etcd1", {"http://127.0.0.1:2380"}, {"http://127.0.0.1:2379"}, false},
                  {0x2, "etcd2", {"http://127.0.0.1:22380"}, {"http://127.0.0.1:22379"}, false},
                  {0x3, "", {"http://127.0.0.1:32380"}, {}, true}};
  return list;
}

// The member list comes from the first endpoint that answers; unstarted members say so.
TEST(CtlTest, MemberListFallsBackToNextEndpoint) {
  FakeEtcdClient client({"dead:1", "b:2"});
  client.SetMemberList("dead:1", Status::Unavailable("endpoint dead:1: connection refused"));
  client.SetMemberList("b:2", ThreeMembers());
  std::ostringstream out, err;
  EXPECT_EQ(RunMemberList(client, OutputFormat::kTable, out, err), kExitOk);
  EXPECT_NE(out.str().find("| etcd2 |"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("unstarted"), std::string::npos) << out.str();
}

// JSON member list: hex ids, URL arrays, learner flag.
TEST(CtlTest, MemberListJson) {
  FakeEtcdClient client({"b:2"});
  client.SetMemberList("b:2", ThreeMembers());
  std::ostringstream out, err;
  ASSERT_EQ(RunMemberList(client, OutputFormat::kJson, out, err), kExitOk);
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["cluster_id"], "abc");
  ASSERT_EQ(j["members"].size(), 3u);
  EXPECT_EQ(j["members"][1]["name"], "etcd2");
  EXPECT_EQ(j["members"][1]["client_urls"][0], "http://127.0.0.1:22379");
  EXPECT_EQ(j["members"][2]["is_learner"], true);
}

// When no endpoint answers, one line lists every endpoint's error and the command fails.
TEST(CtlTest, MemberListAllDown) {
  FakeEtcdClient client({"a:1", "b:2"});
  client.SetMemberList("a:1", Status::Unavailable("endpoint a:1: connection refused"));
  client.SetMemberList("b:2", Status::DeadlineExceeded("endpoint b:2: deadline exceeded"));
  std::ostringstream out, err;
  EXPECT_EQ(RunMemberList(client, OutputFormat::kTable, out, err), kExitFailed);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(),
            "error: no endpoint answered: endpoint a:1: connection refused; endpoint b:2: deadline "
            "exceeded\n");
}

// table, json and simple are the output formats.
TEST(CtlTest, ParseOutputFormat) {
  EXPECT_EQ(*ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("json"), OutputFormat::kJson);
  EXPECT_EQ(*ParseOutputFormat("simple"), OutputFormat::kSimple);
  EXPECT_EQ(ParseOutputFormat("yaml").status().code(), StatusCode::kInvalidArgument);
}

// simple output is etcdctl's: one comma-separated line per row, no table rules.
TEST(CtlTest, SimpleOutput) {
  FakeEtcdClient client({"a:1"});
  client.SetStatus("a:1", MakeStatus(0x80d1, 0x80d1));
  client.SetMemberList("a:1", ThreeMembers());
  std::ostringstream out, err;
  ASSERT_EQ(RunEndpointStatus(client, OutputFormat::kSimple, out, err), kExitOk);
  EXPECT_EQ(out.str(), "a:1, 80d1, 3.4.23, 20 kB, 16 kB, true, false, 2, 14, 14, \n");
  std::ostringstream members;
  ASSERT_EQ(RunMemberList(client, OutputFormat::kSimple, members, err), kExitOk);
  EXPECT_EQ(members.str().substr(0, members.str().find('\n')),
            "1, started, etcd1, http://127.0.0.1:2380, http://127.0.0.1:2379, false");
}

// Health: a linearizable read that works and no alarm is healthy; a failed read or an active
// alarm is unhealthy with the reason, and the command fails.
TEST(CtlTest, EndpointHealth) {
  FakeEtcdClient client({"a:1", "b:2", "c:3"});
  client.SetRange("a:1", etcd::RangeResult{});
  client.SetAlarms("a:1", std::vector<etcd::Alarm>{});
  client.SetRange("b:2", Status::DeadlineExceeded("endpoint b:2: Range: deadline exceeded"));
  client.SetRange("c:3", Status::PermissionDenied("endpoint c:3: permission denied"));
  client.SetAlarms("c:3", std::vector<etcd::Alarm>{{0x1e, etcd::AlarmType::kNoSpace}});
  std::ostringstream out, err;
  EXPECT_EQ(RunEndpointHealth(client, OutputFormat::kJson, out, err), kExitFailed);
  EXPECT_EQ(err.str(), "error: 2 of 3 endpoints are unhealthy\n");
  auto j = nlohmann::json::parse(out.str());
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["healthy"], true);
  EXPECT_FALSE(j[0].contains("error"));
  EXPECT_TRUE(j[0]["took_ms"].is_number());
  EXPECT_EQ(j[1]["healthy"], false);
  EXPECT_EQ(j[1]["error"], "endpoint b:2: Range: deadline exceeded");
  EXPECT_EQ(j[2]["healthy"], false);
  EXPECT_EQ(j[2]["error"], "active alarm(s): NOSPACE on 1e");

  std::ostringstream simple, err2;
  RunEndpointHealth(client, OutputFormat::kSimple, simple, err2);
  EXPECT_NE(simple.str().find("a:1 is healthy: successfully committed proposal: took = "),
            std::string::npos)
      << simple.str();
  EXPECT_NE(simple.str().find("b:2 is unhealthy: failed to commit proposal: endpoint b:2"),
            std::string::npos)
      << simple.str();
}

// check consistency (the check itself: tests/unit/etcd/consistency_test.cpp): the report as
// JSON, and only "consistent" exits 0, an inconsistent or unknown verdict with one error line.
TEST(CtlTest, CheckConsistencyPrintsReportAndExitCode) {
  FakeEtcdClient client({"a:1", "b:2", "c:3"});
  client.SetStatus("a:1", MakeStatus(1, 1));
  client.SetStatus("b:2", MakeStatus(2, 1));
  client.SetStatus("c:3", MakeStatus(3, 1));
  client.SetHashKV("a:1", HashKVOf(1, 777));
  client.SetHashKV("b:2", HashKVOf(2, 777));
  client.SetHashKV("c:3", HashKVOf(3, 777));
  std::ostringstream ok_out, ok_err;
  EXPECT_EQ(RunCheckConsistency(client, OutputFormat::kJson, ok_out, ok_err), kExitOk);
  EXPECT_EQ(nlohmann::json::parse(ok_out.str())["verdict"], "consistent") << ok_out.str();
  EXPECT_EQ(ok_err.str(), "");

  client.SetHashKV("c:3", HashKVOf(3, 778));
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckConsistency(client, OutputFormat::kJson, out, err), kExitFailed);
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["verdict"], "inconsistent");
  EXPECT_EQ(j["revision"], 1);
  EXPECT_NE(j["reason"].get<std::string>().find("c:3 hash 778"), std::string::npos) << j;
  EXPECT_EQ(j["endpoints"].size(), 3u);
  EXPECT_NE(err.str().find("data differs between members"), std::string::npos) << err.str();

  client.SetHashKV("c:3", Status::Unavailable("endpoint c:3: connection refused"));
  std::ostringstream table_out, table_err;
  EXPECT_EQ(RunCheckConsistency(client, OutputFormat::kTable, table_out, table_err), kExitFailed);
  EXPECT_NE(table_out.str().find("unknown: endpoint c:3: connection refused"), std::string::npos)
      << table_out.str();
  EXPECT_NE(table_err.str().find("consistency unknown"), std::string::npos) << table_err.str();
}

// alarm list comes from the first endpoint that answers, in every format.
TEST(CtlTest, AlarmList) {
  FakeEtcdClient client({"dead:1", "b:2"});
  client.SetAlarms("dead:1", Status::Unavailable("endpoint dead:1: connection refused"));
  client.SetAlarms("b:2", std::vector<etcd::Alarm>{{0xab, etcd::AlarmType::kNoSpace}});
  std::ostringstream json_out, simple_out, err;
  ASSERT_EQ(RunAlarmList(client, OutputFormat::kJson, json_out, err), kExitOk);
  EXPECT_EQ(nlohmann::json::parse(json_out.str()),
            nlohmann::json::parse(R"([{"member_id": "ab", "alarm": "nospace"}])"));
  ASSERT_EQ(RunAlarmList(client, OutputFormat::kSimple, simple_out, err), kExitOk);
  EXPECT_EQ(simple_out.str(), "memberID:ab alarm:NOSPACE\n");
}

}  // namespace
}  // namespace etcdmon::cli
