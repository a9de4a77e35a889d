// One aggregator watching several clusters: every batch names its cluster (or the default), each
// cluster gets its own model, snapshot and history, requests name the cluster they mean (an
// unnamed one means the only cluster), and a sample whose etcd identity contradicts its cluster
// name is refused, counted and listed for the ClusterIdentityConflict alert, never merged.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "aggregator_fixture.h"
#include "etcdmon/aggregator/service.h"
#include "etcdmon/metrics/catalogue.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/services.grpc.pb.h"
#include "raw_dealer.h"

namespace etcdmon::aggregator {
namespace {

namespace v1 = etcdmonitor::v1;
using etcdmon::aggregator::raw_ingest::Frame;
using etcdmon::testing::WaitFor;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A healthy single-member cluster's sample: the member leads itself. `db_size` tells the
// clusters' points apart in the history.
v1::MemberSample Sample(const std::string& member, uint64_t member_id, uint64_t cluster_id,
                        int64_t db_size) {
  v1::MemberSample s;
  s.set_member_name(member);
  s.set_member_id(member_id);
  s.set_endpoint("127.0.0.1:2379");
  s.set_collected_at_unix_ms(NowMs());
  s.set_reachable(true);
  s.set_health_ok(true);
  v1::MemberStatus* st = s.mutable_status();
  st->set_cluster_id(cluster_id);
  st->set_member_id(member_id);
  st->set_leader_id(member_id);
  st->set_raft_term(2);
  st->set_raft_index(100);
  st->set_raft_applied_index(100);
  st->set_db_size(db_size);
  st->set_db_size_in_use(db_size);
  v1::MemberInfo* info = s.add_members();
  info->set_id(member_id);
  info->set_name(member);
  info->add_client_urls("http://127.0.0.1:2379");
  s.set_full(true);
  return s;
}

class AggregatorClustersTest : public AggregatorFixture {
 protected:
  void SetUp() override {
    config_.tick = std::chrono::milliseconds(50);
    config_.model.expected_interval = std::chrono::seconds(10);
    ASSERT_NO_FATAL_FAILURE(StartAggregator());
  }

  bool Send(const std::string& collector, const std::string& cluster,
            const v1::MemberSample& sample) {
    const uint64_t sequence = ++sequence_;
    return collector_->SendAndAwaitAck(Frame(collector, sequence, {sample}, cluster), sequence);
  }

  grpc::Status Snapshot(const std::string& cluster, v1::ClusterSnapshot& out) {
    grpc::ClientContext context;
    v1::GetSnapshotRequest request;
    request.set_cluster(cluster);
    return monitor_->GetSnapshot(&context, request, &out);
  }

  std::set<std::string> ClusterNames() {
    grpc::ClientContext context;
    v1::ListClustersResponse response;
    if (!monitor_->ListClusters(&context, v1::ListClustersRequest(), &response).ok()) {
      return {};
    }
    std::set<std::string> names;
    for (const auto& s : response.clusters()) {
      names.insert(s.cluster());
    }
    return names;
  }

  // The newest snapshot of `cluster` once it satisfies `condition` (bounded wait).
  template <typename Condition>
  bool SnapshotWhere(const std::string& cluster, Condition condition, v1::ClusterSnapshot& out) {
    return WaitFor([&] { return Snapshot(cluster, out).ok() && condition(out); });
  }

  static std::set<std::string> MemberNames(const v1::ClusterSnapshot& s) {
    std::set<std::string> names;
    for (const auto& m : s.members()) {
      names.insert(m.name());
    }
    return names;
  }

  grpc::Status History(const std::string& cluster, const std::string& member,
                       v1::HistoryResponse& out) {
    grpc::ClientContext context;
    v1::HistoryQuery query;
    query.set_cluster(cluster);
    query.set_metric(std::string(metrics::kDbSize));
    query.set_member(member);
    query.set_from_unix_ms(NowMs() - 600000);
    query.set_to_unix_ms(NowMs() + 60000);
    return monitor_->QueryHistory(&context, query, &out);
  }

  uint64_t sequence_ = 0;
};

// Alone, the default cluster answers unnamed requests, as the quickstart's single cluster does.
TEST_F(AggregatorClustersTest, TheOnlyClusterAnswersUnnamedRequests) {
  ASSERT_TRUE(Send("c1", "", Sample("etcd-a", 7, 100, 1000)));
  v1::ClusterSnapshot s;
  ASSERT_TRUE(SnapshotWhere(
      "", [](const auto& x) { return x.member_count() == 1; }, s));
  EXPECT_EQ(s.cluster(), "default");
  EXPECT_EQ(ClusterNames(), (std::set<std::string>{"default"}));
  v1::HistoryResponse history;
  ASSERT_TRUE(WaitFor([&] { return History("", "etcd-a", history).ok(); }));
  EXPECT_EQ(history.points(0).value(), 1000);
}

TEST_F(AggregatorClustersTest, EachClusterHasItsOwnModelSnapshotAndHistory) {
  // The same member name in both clusters: two members, never one.
  ASSERT_TRUE(Send("c-prod", "prod", Sample("etcd-a", 7, 100, 1000)));
  ASSERT_TRUE(Send("c-staging", "staging", Sample("etcd-a", 8, 200, 2000)));
  ASSERT_TRUE(Send("c-staging-b", "staging", Sample("etcd-b", 9, 200, 3000)));
  // The default cluster, never heard of, makes way for the named ones.
  ASSERT_TRUE(WaitFor([&] {
    return ClusterNames() == std::set<std::string>{"prod", "staging"};
  })) << "clusters: "
      << ClusterNames().size();

  v1::ClusterSnapshot prod;
  ASSERT_TRUE(SnapshotWhere(
      "prod", [](const auto& x) { return x.member_count() == 1; }, prod));
  EXPECT_EQ(prod.cluster(), "prod");
  EXPECT_EQ(prod.cluster_id(), 100u);
  EXPECT_EQ(MemberNames(prod), (std::set<std::string>{"etcd-a"}));
  EXPECT_EQ(prod.db_size_bytes(), 1000);
  v1::ClusterSnapshot staging;
  ASSERT_TRUE(SnapshotWhere(
      "staging", [](const auto& x) { return x.member_count() == 2; }, staging));
  EXPECT_EQ(staging.cluster_id(), 200u);
  EXPECT_EQ(MemberNames(staging), (std::set<std::string>{"etcd-a", "etcd-b"}));

  // Unnamed requests are refused, naming the clusters; unknown ones are not found.
  v1::ClusterSnapshot ignored;
  grpc::Status unnamed = Snapshot("", ignored);
  EXPECT_EQ(unnamed.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(unnamed.error_message().find("prod, staging"), std::string::npos)
      << unnamed.error_message();
  EXPECT_EQ(Snapshot("nope", ignored).error_code(), grpc::StatusCode::NOT_FOUND);

  // A history query never returns another cluster's points.
  v1::HistoryResponse history;
  ASSERT_TRUE(WaitFor([&] { return History("staging", "etcd-a", history).ok(); }));
  for (const auto& p : history.points()) {
    EXPECT_EQ(p.value(), 2000);
  }
  ASSERT_TRUE(History("prod", "etcd-a", history).ok());
  for (const auto& p : history.points()) {
    EXPECT_EQ(p.value(), 1000);
  }
  EXPECT_EQ(History("prod", "etcd-b", history).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(History("", "etcd-a", history).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(service_->Stats().clusters, 2u);
}

TEST_F(AggregatorClustersTest, SamplesContradictingTheirClusterAreRefusedAndListed) {
  ASSERT_TRUE(Send("c-prod", "prod", Sample("etcd-a", 7, 100, 1000)));
  ASSERT_TRUE(Send("c-staging", "staging", Sample("etcd-s", 8, 200, 2000)));
  // Another etcd cluster's member under the name "prod" (a collector pointed at the wrong
  // cluster), prod's member under "staging" (a collector with the wrong --cluster), and under a
  // new name "qa" (no etcd cluster id is bound to it yet: the member's binding refuses it).
  ASSERT_TRUE(Send("c-wrong-etcd", "prod", Sample("etcd-x", 9, 999, 9000)));
  ASSERT_TRUE(Send("c-wrong-name", "staging", Sample("etcd-a", 7, 100, 9000)));
  ASSERT_TRUE(Send("c-new-name", "qa", Sample("etcd-a", 7, 100, 9000)));

  v1::ClusterSnapshot prod;
  ASSERT_TRUE(SnapshotWhere(
      "prod", [](const auto& x) { return x.identity_conflicts_size() == 1; }, prod));
  EXPECT_EQ(prod.identity_conflicts_total(), 1u);
  const v1::IdentityConflict& wrong_etcd = prod.identity_conflicts(0);
  EXPECT_EQ(wrong_etcd.collector_id(), "c-wrong-etcd");
  EXPECT_EQ(wrong_etcd.cluster_id(), 999u);
  EXPECT_EQ(wrong_etcd.member_id(), 9u);
  EXPECT_NE(wrong_etcd.reason().find("etcd cluster id 3e7"), std::string::npos)
      << wrong_etcd.reason();
  EXPECT_EQ(MemberNames(prod), (std::set<std::string>{"etcd-a"}));
  EXPECT_EQ(prod.cluster_id(), 100u);

  v1::ClusterSnapshot staging;
  ASSERT_TRUE(SnapshotWhere(
      "staging", [](const auto& x) { return x.identity_conflicts_size() == 1; }, staging));
  EXPECT_NE(staging.identity_conflicts(0).reason().find("is not cluster \"staging\"'s c8"),
            std::string::npos)
      << staging.identity_conflicts(0).reason();
  EXPECT_EQ(MemberNames(staging), (std::set<std::string>{"etcd-s"}));
  v1::ClusterSnapshot qa;
  ASSERT_TRUE(SnapshotWhere(
      "qa", [](const auto& x) { return x.identity_conflicts_size() == 1; }, qa));
  EXPECT_NE(qa.identity_conflicts(0).reason().find("member 7 belongs to cluster \"prod\""),
            std::string::npos)
      << qa.identity_conflicts(0).reason();
  EXPECT_TRUE(MemberNames(qa).empty());
  EXPECT_EQ(service_->Stats().identity_conflicts, 3u);

  // Nothing of the refused samples reached the history.
  v1::HistoryResponse history;
  ASSERT_TRUE(WaitFor([&] { return History("prod", "etcd-a", history).ok(); }));
  EXPECT_EQ(History("prod", "etcd-x", history).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(History("staging", "etcd-a", history).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(History("qa", "etcd-a", history).error_code(), grpc::StatusCode::NOT_FOUND);

  // The rightful collectors go on as before.
  ASSERT_TRUE(Send("c-prod", "prod", Sample("etcd-a", 7, 100, 1100)));
  ASSERT_TRUE(SnapshotWhere(
      "prod", [](const auto& x) { return x.db_size_bytes() == 1100; }, prod));
}

// A batch naming a cluster no label or URL could carry is refused whole: never acked, counted
// as a bad name, and it creates no cluster.
TEST_F(AggregatorClustersTest, ABadClusterNameIsRefused) {
  ASSERT_TRUE(collector_->Send(Frame("c-bad", 1, {Sample("etcd-a", 7, 100, 1000)}, "a b")));
  ASSERT_TRUE(Send("c-good", "prod", Sample("etcd-p", 5, 50, 1000)));
  v1::ClusterSnapshot prod;
  ASSERT_TRUE(SnapshotWhere(
      "prod",
      [](const auto& x) {
        auto it = x.ingest_rejected().find("bad_name");
        return it != x.ingest_rejected().end() && it->second == 1;
      },
      prod));
  EXPECT_EQ(ClusterNames(), (std::set<std::string>{"prod"}));
}

}  // namespace
}  // namespace etcdmon::aggregator
