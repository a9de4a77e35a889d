// The JSON codec of the gateway client against etcd's own answers (captured from etcd 3.4.23)
// and protobuf's JSON mapping rules.

#include "json_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "etcd/etcdserverpb/rpc.pb.h"

namespace etcdmon::etcd::detail {
namespace {

namespace pb = ::etcdserverpb;

// etcd's answer to POST /v3/maintenance/status: header fields under proto names, the rest under
// the Go field names, 64-bit integers as strings.
TEST(JsonCodecTest, ReadsStatusAsEtcdSendsIt) {
  const std::string json =
      R"({"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437",)"
      R"("revision":"1","raft_term":"2"},"version":"3.4.23","dbSize":"20480",)"
      R"("leader":"10276657743932975437","raftIndex":"4","raftTerm":"2","raftAppliedIndex":"4",)"
      R"("dbSizeInUse":"16384","errors":["memberID:1 alarm:NOSPACE "],"isLearner":true})";
  pb::StatusResponse status;
  std::string error;
  ASSERT_TRUE(ReadJson(json, status, error)) << error;
  EXPECT_EQ(status.header().cluster_id(), 14841639068965178418u);
  EXPECT_EQ(status.header().member_id(), 10276657743932975437u);
  EXPECT_EQ(status.header().revision(), 1);
  EXPECT_EQ(status.header().raft_term(), 2u);
  EXPECT_EQ(status.version(), "3.4.23");
  EXPECT_EQ(status.dbsize(), 20480);
  EXPECT_EQ(status.leader(), 10276657743932975437u);
  EXPECT_EQ(status.raftindex(), 4u);
  EXPECT_EQ(status.raftappliedindex(), 4u);
  EXPECT_EQ(status.dbsizeinuse(), 16384);
  ASSERT_EQ(status.errors_size(), 1);
  EXPECT_EQ(status.errors(0), "memberID:1 alarm:NOSPACE ");
  EXPECT_TRUE(status.islearner());
}

// Member lists, key-values (bytes in base64), alarms (enums by name), and a second read into
// the same message replaces the first.
TEST(JsonCodecTest, ReadsRepeatedMessagesBytesAndEnums) {
  pb::MemberListResponse list;
  std::string error;
  ASSERT_TRUE(ReadJson(
      R"({"members":[{"ID":"1","name":"a","peerURLs":["http://p1"],"clientURLs":["http://c1"]},)"
      R"({"ID":"2","name":"b","peerURLs":["http://p2"],"isLearner":true}]})",
      list, error))
      << error;
  ASSERT_EQ(list.members_size(), 2);
  EXPECT_EQ(list.members(0).id(), 1u);
  EXPECT_EQ(list.members(0).peerurls(0), "http://p1");
  EXPECT_EQ(list.members(0).clienturls(0), "http://c1");
  EXPECT_TRUE(list.members(1).islearner());
  ASSERT_TRUE(ReadJson(R"({"members":[{"ID":"3"}]})", list, error)) << error;
  ASSERT_EQ(list.members_size(), 1);
  EXPECT_EQ(list.members(0).id(), 3u);
  EXPECT_EQ(list.members(0).name(), "");

  pb::RangeResponse range;
  ASSERT_TRUE(
      ReadJson(R"({"kvs":[{"key":"Zm9v","create_revision":"2","mod_revision":"3","version":"1",)"
               R"("value":"YmFyAP8="}],"count":"1","more":false})",
               range, error))
      << error;
  ASSERT_EQ(range.kvs_size(), 1);
  EXPECT_EQ(range.kvs(0).key(), "foo");
  EXPECT_EQ(range.kvs(0).value(), std::string("bar\0\xff", 5));
  EXPECT_EQ(range.kvs(0).mod_revision(), 3);
  EXPECT_EQ(range.count(), 1);

  pb::AlarmResponse alarms;
  ASSERT_TRUE(
      ReadJson(R"({"alarms":[{"memberID":"7","alarm":"NOSPACE"},{"alarm":2}]})", alarms, error))
      << error;
  ASSERT_EQ(alarms.alarms_size(), 2);
  EXPECT_EQ(alarms.alarms(0).memberid(), 7u);
  EXPECT_EQ(alarms.alarms(0).alarm(), pb::NOSPACE);
  EXPECT_EQ(alarms.alarms(1).alarm(), pb::CORRUPT);
}

// Unknown fields (newer etcd versions answer more), at any depth, are skipped; null is unset;
// lowerCamel names and integers as numbers are accepted.
TEST(JsonCodecTest, SkipsUnknownFieldsAndAcceptsEitherSpelling) {
  pb::StatusResponse status;
  std::string error;
  ASSERT_TRUE(
      ReadJson(R"({"future":{"a":[1,{"b":[]}],"c":"x"},"version":null,)"
               R"("header":{"clusterId":5,"extra":[{"d":1}]},"raftTerm":7,"storageVersion":"3.6"})",
               status, error))
      << error;
  EXPECT_EQ(status.header().cluster_id(), 5u);
  EXPECT_EQ(status.raftterm(), 7u);
  EXPECT_EQ(status.version(), "");
}

// Malformed JSON, wrong types, out-of-range integers and non-objects are errors that say why.
TEST(JsonCodecTest, RejectsMalformedAndMistypedInput) {
  pb::StatusResponse status;
  std::string error;
  for (const char* bad :
       {"", "{", "[]", "42", R"({"dbSize":"12x"})", R"({"dbSize":true})", R"({"header":"x"})",
        R"({"raftTerm":"-1"})", R"({"version":{}})", R"({"raftTerm":"18446744073709551616"})"}) {
    EXPECT_FALSE(ReadJson(bad, status, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  pb::RangeResponse range;
  EXPECT_FALSE(ReadJson(R"({"kvs":[{"key":"not base64!"}]})", range, error));
  EXPECT_NE(error.find("base64"), std::string::npos) << error;
  std::string deep;
  for (int i = 0; i < 40; ++i) {
    deep += R"({"header":)";
  }
  EXPECT_FALSE(ReadJson(deep, status, error));
}

// Requests: proto names, 64-bit integers as strings, bytes in base64, enums by name, defaults
// left out, strings escaped; what is written reads back the same.
TEST(JsonCodecTest, WritesRequestsTheGatewayReads) {
  pb::RangeRequest range;
  range.set_key(std::string("/a\0\xff", 4));
  range.set_range_end("/b");
  range.set_revision(-1);
  range.set_serializable(true);
  std::string json;
  AppendJson(range, json);
  EXPECT_EQ(json, R"({"key":"L2EA/w==","range_end":"L2I=","revision":"-1","serializable":true})");

  pb::AlarmRequest alarm;
  alarm.set_action(pb::AlarmRequest::GET);
  alarm.set_memberid(18446744073709551615u);
  alarm.set_alarm(pb::NOSPACE);
  json.clear();
  AppendJson(alarm, json);
  EXPECT_EQ(json, R"({"memberID":"18446744073709551615","alarm":"NOSPACE"})");

  pb::AuthenticateRequest auth;
  auth.set_name("us\"er");
  auth.set_password("p\\w\n\x01");
  json.clear();
  AppendJson(auth, json);
  EXPECT_EQ(json, R"({"name":"us\"er","password":"p\\w\n\u0001"})");
  pb::AuthenticateRequest back;
  std::string error;
  ASSERT_TRUE(ReadJson(json, back, error)) << error;
  EXPECT_EQ(back.name(), auth.name());
  EXPECT_EQ(back.password(), auth.password());

  pb::StatusRequest empty;
  json.clear();
  AppendJson(empty, json);
  EXPECT_EQ(json, "{}");
}

}  // namespace
}  // namespace etcdmon::etcd::detail
