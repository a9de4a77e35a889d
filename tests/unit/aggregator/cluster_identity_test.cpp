#include "cluster_identity.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::aggregator::detail {
namespace {

namespace v1 = etcdmonitor::v1;
using namespace std::chrono_literals;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kHoldMs = 5 * 60 * 1000;

v1::MemberSample Sample(uint64_t member_id, uint64_t cluster_id) {
  v1::MemberSample s;
  s.set_endpoint("10.0.0.1:2379");
  s.set_member_id(member_id);
  s.mutable_status()->set_member_id(member_id);
  s.mutable_status()->set_cluster_id(cluster_id);
  return s;
}

TEST(ClusterIdentityTest, BindsANameToItsEtcdClusterAndAMemberToItsName) {
  ClusterIdentity identity(5min);
  EXPECT_TRUE(identity.Accept("prod", "c1", Sample(1, 100), kT0, true));
  EXPECT_TRUE(identity.Accept("prod", "c2", Sample(2, 100), kT0, true));
  EXPECT_FALSE(identity.Accept("prod", "c3", Sample(3, 999), kT0, true));
  EXPECT_FALSE(identity.Accept("staging", "c1", Sample(1, 100), kT0, true));
  EXPECT_TRUE(identity.Accept("staging", "c4", Sample(4, 200), kT0, true));

  v1::ClusterSnapshot prod;
  identity.Fill("prod", kT0 - 1, prod);
  EXPECT_EQ(prod.identity_conflicts_total(), 1u);
  ASSERT_EQ(prod.identity_conflicts_size(), 1);
  EXPECT_EQ(prod.identity_conflicts(0).collector_id(), "c3");
  EXPECT_EQ(prod.identity_conflicts(0).endpoint(), "10.0.0.1:2379");
  EXPECT_EQ(prod.identity_conflicts(0).reason(),
            "etcd cluster id 3e7 is not cluster \"prod\"'s 64");
  v1::ClusterSnapshot staging;
  identity.Fill("staging", kT0 - 1, staging);
  ASSERT_EQ(staging.identity_conflicts_size(), 1);
  EXPECT_EQ(staging.identity_conflicts(0).reason(), "member 1 belongs to cluster \"prod\"");
  // Listed only while recent; the total stays.
  identity.Fill("prod", kT0 + 1, prod);
  EXPECT_EQ(prod.identity_conflicts_size(), 0);
  EXPECT_EQ(prod.identity_conflicts_total(), 1u);
}

TEST(ClusterIdentityTest, ACheckWithoutRecordChangesNothing) {
  ClusterIdentity identity(5min);
  EXPECT_TRUE(identity.Accept("prod", "c1", Sample(1, 100), kT0, false));
  // Nothing was bound: another etcd cluster under the name is still accepted.
  EXPECT_TRUE(identity.Accept("prod", "c2", Sample(2, 999), kT0, true));
  EXPECT_FALSE(identity.Accept("prod", "c1", Sample(1, 100), kT0, false));
  v1::ClusterSnapshot prod;
  identity.Fill("prod", 0, prod);
  EXPECT_EQ(prod.identity_conflicts_total(), 0u) << "a check does not count";
}

TEST(ClusterIdentityTest, ASilentIdentityLetsGoAfterTheHold) {
  ClusterIdentity identity(5min);
  ASSERT_TRUE(identity.Accept("prod", "c1", Sample(1, 100), kT0, true));
  // The cluster is rebuilt (a new etcd cluster id): refused while the old one may still talk...
  EXPECT_FALSE(identity.Accept("prod", "c1", Sample(11, 101), kT0 + kHoldMs - 1, true));
  // ...taken over once it has been silent for the hold.
  EXPECT_TRUE(identity.Accept("prod", "c1", Sample(11, 101), kT0 + kHoldMs, true));
  EXPECT_FALSE(identity.Accept("prod", "c2", Sample(2, 100), kT0 + kHoldMs, true));
  // A member moved to another name on purpose, likewise.
  ASSERT_TRUE(identity.Accept("a", "c5", Sample(5, 500), kT0, true));
  EXPECT_FALSE(identity.Accept("b", "c5", Sample(5, 500), kT0 + 1000, true));
  EXPECT_TRUE(identity.Accept("b", "c5", Sample(5, 500), kT0 + kHoldMs + 1, true));
  EXPECT_FALSE(identity.Accept("a", "c5", Sample(5, 500), kT0 + kHoldMs + 2, true));
}

TEST(ClusterIdentityTest, AnUnreachableMemberCarriesNoIdentity) {
  ClusterIdentity identity(5min);
  ASSERT_TRUE(identity.Accept("prod", "c1", Sample(1, 100), kT0, true));
  v1::MemberSample down;
  down.set_endpoint("10.0.0.9:2379");
  EXPECT_TRUE(identity.Accept("staging", "c9", down, kT0, true));
}

TEST(ClusterIdentityTest, ForgettingAClusterReleasesItsBindings) {
  ClusterIdentity identity(5min);
  ASSERT_TRUE(identity.Accept("prod", "c1", Sample(1, 100), kT0, true));
  ASSERT_FALSE(identity.Accept("prod", "c3", Sample(3, 999), kT0, true));
  identity.Forget("prod");
  v1::ClusterSnapshot prod;
  identity.Fill("prod", 0, prod);
  EXPECT_EQ(prod.identity_conflicts_total(), 0u);
  EXPECT_TRUE(identity.Accept("staging", "c1", Sample(1, 100), kT0, true));
}

TEST(ClusterIdentityTest, ConflictsListedPerClusterAreBounded) {
  ClusterIdentity identity(5min);
  ASSERT_TRUE(identity.Accept("prod", "c0", Sample(1, 100), kT0, true));
  for (uint64_t i = 0; i < 3 * ClusterIdentity::kMaxConflictsPerCluster; ++i) {
    EXPECT_FALSE(identity.Accept("prod", "forged-" + std::to_string(i), Sample(1000 + i, 999),
                                 kT0 + static_cast<int64_t>(i), true));
  }
  v1::ClusterSnapshot prod;
  identity.Fill("prod", 0, prod);
  EXPECT_EQ(prod.identity_conflicts_total(), 3 * ClusterIdentity::kMaxConflictsPerCluster);
  EXPECT_EQ(static_cast<std::size_t>(prod.identity_conflicts_size()),
            ClusterIdentity::kMaxConflictsPerCluster);
  // The newest are kept.
  for (const auto& c : prod.identity_conflicts()) {
    EXPECT_GE(c.last_unix_ms(),
              kT0 + 2 * static_cast<int64_t>(ClusterIdentity::kMaxConflictsPerCluster));
  }
}

}  // namespace
}  // namespace etcdmon::aggregator::detail
