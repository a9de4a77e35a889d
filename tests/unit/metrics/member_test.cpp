#include "etcdmon/metrics/member.h"

#include <gtest/gtest.h>

#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::metrics {
namespace {

namespace v1 = etcdmonitor::v1;

// The label is the name, else the hex id, else the endpoint; the alerter, the aggregator and the
// gateway share it (the alerter's own used to label a member without id or endpoint "0").
TEST(MemberLabelTest, NameElseHexIdElseEndpoint) {
  struct Case {
    const char* name;
    uint64_t id;
    const char* endpoint;
    const char* want;
  };
  const Case cases[] = {
      {"etcd-1", 0x8e9e05c52164694dULL, "10.0.0.1:2379", "etcd-1"},
      {"", 0x8e9e05c52164694dULL, "10.0.0.1:2379", "8e9e05c52164694d"},
      {"", 0, "10.0.0.1:2379", "10.0.0.1:2379"},
      {"", 0, "", ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(MemberLabel(c.name, c.id, c.endpoint), c.want) << c.want;
    v1::MemberState m;
    m.set_name(c.name);
    m.set_id(c.id);
    m.set_endpoint(c.endpoint);
    EXPECT_EQ(MemberLabel(m), c.want) << c.want;
  }
}

// Ids print as etcdctl prints them.
TEST(MemberLabelTest, HexIdIsLowerCaseWithoutPrefix) {
  EXPECT_EQ(HexId(0x1e2783afad32847ULL), "1e2783afad32847");
  EXPECT_EQ(HexId(0), "0");
  EXPECT_EQ(HexId(UINT64_MAX), "ffffffffffffffff");
}

// Every health has its word; an unset one reads "unknown".
TEST(HealthNameTest, SpellsEveryHealth) {
  EXPECT_STREQ(HealthName(v1::HEALTHY), "healthy");
  EXPECT_STREQ(HealthName(v1::UNHEALTHY), "unhealthy");
  EXPECT_STREQ(HealthName(v1::UNREACHABLE), "unreachable");
  EXPECT_STREQ(HealthName(v1::STALE), "stale");
  EXPECT_STREQ(HealthName(v1::MEMBER_HEALTH_UNSPECIFIED), "unknown");
}

}  // namespace
}  // namespace etcdmon::metrics
