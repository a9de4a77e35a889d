// The consistency check (common/etcd/src/consistency.cpp) against a fake client: the revision
// it picks, its verdicts and their reasons, and its JSON.

#include "etcdmon/etcd/consistency.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "etcdmon/testing/fake_etcd_client.h"

namespace etcdmon::etcd {
namespace {

using testing::FakeEtcdClient;
using testing::HashKVOf;

EndpointStatus StatusAt(uint64_t id, int64_t revision) {
  EndpointStatus s;
  s.cluster_id = 0xdead;
  s.member_id = id;
  s.leader = 1;
  s.revision = revision;
  return s;
}

// Three members with their statuses (b:2 the lowest revision) and equal hashes.
FakeEtcdClient& Agreeing(FakeEtcdClient& client) {
  client.SetStatus("a:1", StatusAt(1, 12));
  client.SetStatus("b:2", StatusAt(2, 10));
  client.SetStatus("c:3", StatusAt(3, 11));
  client.SetHashKV("a:1", HashKVOf(1, 777));
  client.SetHashKV("b:2", HashKVOf(2, 777));
  client.SetHashKV("c:3", HashKVOf(3, 777));
  return client;
}

// Equal hashes at the lowest current revision are consistent; every member hashed that one.
TEST(ConsistencyTest, EqualHashesAtLowestRevisionAreConsistent) {
  FakeEtcdClient client({"a:1", "b:2", "c:3"});
  const ConsistencyReport report = CheckConsistency(Agreeing(client));
  EXPECT_EQ(report.verdict, Consistency::kConsistent) << report.reason;
  EXPECT_EQ(report.revision, 10);
  EXPECT_EQ(report.reason, "3 endpoints hash the key space at revision 10 to 777");
  ASSERT_EQ(report.rows.size(), 3u);
  EXPECT_EQ(report.rows[0].endpoint, "a:1");
  for (const auto& call : client.maintenance_calls()) {
    EXPECT_EQ(call.substr(call.size() - 3), " 10") << call;
  }
}

// A differing hash with the same compaction is inconsistent and names the members; different
// compaction states are not comparable (unknown); a member that does not answer, its status or
// its hash, makes the verdict unknown with its error as the reason.
TEST(ConsistencyTest, Verdicts) {
  FakeEtcdClient client({"a:1", "b:2", "c:3"});
  Agreeing(client);

  client.SetHashKV("c:3", HashKVOf(3, 778));
  ConsistencyReport differs = CheckConsistency(client);
  EXPECT_EQ(differs.verdict, Consistency::kInconsistent);
  EXPECT_NE(differs.reason.find("c:3 hash 778"), std::string::npos) << differs.reason;
  EXPECT_NE(differs.reason.find("a:1, b:2 hash 777"), std::string::npos) << differs.reason;

  client.SetHashKV("c:3", HashKVOf(3, 778, 5));
  EXPECT_EQ(CheckConsistency(client).verdict, Consistency::kUnknown);

  client.SetHashKV("c:3", Status::Unavailable("endpoint c:3: connection refused"));
  ConsistencyReport no_hash = CheckConsistency(client);
  EXPECT_EQ(no_hash.verdict, Consistency::kUnknown);
  EXPECT_EQ(no_hash.reason, "endpoint c:3: connection refused");

  client.SetStatus("b:2", Status::DeadlineExceeded("endpoint b:2: deadline exceeded"));
  ConsistencyReport no_status = CheckConsistency(client);
  EXPECT_EQ(no_status.verdict, Consistency::kUnknown);
  EXPECT_EQ(no_status.revision, 0);
  EXPECT_TRUE(no_status.rows.empty());
  EXPECT_NE(no_status.reason.find("cannot pick a revision"), std::string::npos);
}

// No endpoints: unknown, not consistent.
TEST(ConsistencyTest, NoEndpointsIsUnknown) {
  FakeEtcdClient client({});
  const ConsistencyReport report = CheckConsistency(client);
  EXPECT_EQ(report.verdict, Consistency::kUnknown);
  EXPECT_EQ(report.reason, "no endpoints");
}

// The verdict words, and the report's JSON: snake_case keys, hex member ids, a failed row with
// its error and no hash.
TEST(ConsistencyTest, Json) {
  EXPECT_STREQ(ConsistencyName(Consistency::kConsistent), "consistent");
  EXPECT_STREQ(ConsistencyName(Consistency::kInconsistent), "inconsistent");
  EXPECT_STREQ(ConsistencyName(Consistency::kUnknown), "unknown");

  FakeEtcdClient client({"a:1", "b:2"});
  client.SetStatus("a:1", StatusAt(0xab, 10));
  client.SetStatus("b:2", StatusAt(2, 10));
  client.SetHashKV("a:1", HashKVOf(0xab, 777, 3));
  client.SetHashKV("b:2", Status::Unavailable("endpoint b:2: connection refused"));
  const nlohmann::json j = nlohmann::json::parse(ConsistencyReportJson(CheckConsistency(client)));
  const nlohmann::json want = {
      {"revision", 10},
      {"verdict", "unknown"},
      {"reason", "endpoint b:2: connection refused"},
      {"endpoints",
       {{{"endpoint", "a:1"},
         {"ok", true},
         {"member_id", "ab"},
         {"hash", 777},
         {"revision", 9},
         {"compact_revision", 3}},
        {{"endpoint", "b:2"}, {"ok", false}, {"error", "endpoint b:2: connection refused"}}}}};
  EXPECT_EQ(j, want) << j.dump(2);
}

}  // namespace
}  // namespace etcdmon::etcd
