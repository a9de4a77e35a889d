#include <gtest/gtest.h>

#include <string>

#include "etcdmon/etcd/client.h"

namespace etcdmon::etcd {
namespace {

config::Endpoint Ep(std::string host, uint16_t port, std::string scheme = "") {
  config::Endpoint e;
  e.scheme = std::move(scheme);
  e.host = std::move(host);
  e.port = port;
  return e;
}

config::EtcdConnectionConfig ValidConfig() {
  config::EtcdConnectionConfig c;
  c.endpoints = {Ep("127.0.0.1", 2379), Ep("127.0.0.1", 22379, "https")};
  return c;
}

// The prefix range end increments the last byte below 0xff and drops what follows.
TEST(PrefixRangeEndTest, IncrementsLastIncrementableByte) {
  struct Case {
    std::string prefix;
    std::string expected;
  };
  const Case cases[] = {
      {"a", "b"},
      {"abc", "abd"},
      {std::string("a\xff", 2), "b"},
      {std::string("a\xff\xff", 3), "b"},
      {"/etcd-monitor/probe/", "/etcd-monitor/probe0"},
      {std::string("\x00", 1), std::string("\x01", 1)},
      {std::string("\xfe", 1), std::string("\xff", 1)},
      {std::string("\xff", 1), std::string(1, '\0')},
      {std::string("\xff\xff", 2), std::string(1, '\0')},
      {"", std::string(1, '\0')},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PrefixRangeEnd(c.prefix), c.expected) << "prefix of size " << c.prefix.size();
  }
}

// Alarm names are stable lower-case words.
TEST(AlarmTypeNameTest, NamesEveryType) {
  EXPECT_EQ(AlarmTypeName(AlarmType::kNone), "none");
  EXPECT_EQ(AlarmTypeName(AlarmType::kNoSpace), "nospace");
  EXPECT_EQ(AlarmTypeName(AlarmType::kCorrupt), "corrupt");
  EXPECT_EQ(AlarmTypeName(static_cast<AlarmType>(7)), "unknown(7)");
}

// The leader is the member whose own id is the leader it reports.
TEST(EndpointStatusTest, IsLeaderComparesIds) {
  EndpointStatus s;
  EXPECT_FALSE(s.IsLeader());  // no leader known
  s.member_id = 5;
  s.leader = 7;
  EXPECT_FALSE(s.IsLeader());
  s.leader = 5;
  EXPECT_TRUE(s.IsLeader());
}

// A complete, consistent config passes validation.
TEST(ValidateConnectionConfigTest, AcceptsValidConfig) {
  EXPECT_TRUE(ValidateConnectionConfig(ValidConfig()).ok());
  config::EtcdConnectionConfig c = ValidConfig();
  c.username = "root";
  c.password = config::Secret("pw");
  c.tls.cert_file = "c.pem";
  c.tls.key_file = "k.pem";
  EXPECT_TRUE(ValidateConnectionConfig(c).ok());
}

// Each inconsistency is rejected with a message naming it.
TEST(ValidateConnectionConfigTest, RejectsInconsistentConfig) {
  struct Case {
    const char* name;
    void (*mutate)(config::EtcdConnectionConfig&);
    const char* expected_fragment;
  };
  const Case cases[] = {
      {"no endpoints", [](config::EtcdConnectionConfig& c) { c.endpoints.clear(); },
       "no etcd endpoint"},
      {"port 0", [](config::EtcdConnectionConfig& c) { c.endpoints[0].port = 0; }, "port 0"},
      {"empty host", [](config::EtcdConnectionConfig& c) { c.endpoints[0].host.clear(); },
       "empty host"},
      {"bad scheme", [](config::EtcdConnectionConfig& c) { c.endpoints[0].scheme = "unix"; },
       "unsupported scheme \"unix\""},
      {"duplicate", [](config::EtcdConnectionConfig& c) { c.endpoints.push_back(c.endpoints[0]); },
       "listed twice"},
      {"dial timeout",
       [](config::EtcdConnectionConfig& c) { c.dial_timeout = std::chrono::milliseconds(0); },
       "dial timeout must be positive"},
      {"request timeout",
       [](config::EtcdConnectionConfig& c) { c.request_timeout = std::chrono::milliseconds(-1); },
       "request timeout must be positive"},
      {"cert without key", [](config::EtcdConnectionConfig& c) { c.tls.cert_file = "c.pem"; },
       "certificate and key must be given together"},
      {"key without cert", [](config::EtcdConnectionConfig& c) { c.tls.key_file = "k.pem"; },
       "certificate and key must be given together"},
      {"password without user",
       [](config::EtcdConnectionConfig& c) { c.password = config::Secret("pw"); },
       "password is set without a user name"},
  };
  for (const Case& c : cases) {
    config::EtcdConnectionConfig cfg = ValidConfig();
    c.mutate(cfg);
    Status s = ValidateConnectionConfig(cfg);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(s.message().find(c.expected_fragment), std::string::npos)
        << c.name << ": " << s.message();
  }
}

// Several problems are reported together, and the password never appears.
TEST(ValidateConnectionConfigTest, ReportsAllErrorsWithoutThePassword) {
  config::EtcdConnectionConfig c = ValidConfig();
  c.endpoints[0].port = 0;
  c.dial_timeout = std::chrono::milliseconds(0);
  c.password = config::Secret("s3cr3t-value");
  Status s = ValidateConnectionConfig(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("port 0"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("dial timeout"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("password"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("s3cr3t-value"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace etcdmon::etcd
