// AggregatorService's ingest path on 127.0.0.1 (no etcd): batches in over a real ZeroMQ socket,
// stored points read back from the history file once the service is gone. Covers the series-id
// cache of the ingest path (samples whose point layout changes from sample to sample) and
// idempotency on (collector, sequence).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/aggregator/cluster_model.h"
#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/aggregator/service.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "raw_dealer.h"

namespace etcdmon::aggregator {
namespace {

namespace v1 = etcdmonitor::v1;
using etcdmon::aggregator::raw_ingest::RawDealer;
using etcdmon::testing::TempDir;
using etcdmon::testing::WaitFor;

// Recent times (ten minutes ago, on a minute), so that queries answer from the raw points.
const int64_t kT0 = [] {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return now_ms - now_ms % 60000 - 600000;
}();

// Longer than std::string's inline buffer.
const std::string kLongMember = "etcd-member-with-a-long-name.example.com";

// A sample of `member` at `at`: status when `with_status`, then the probes whose bit is set in
// `ok_probes` succeed (bit 0: serializable read, 1: linearizable read, 2: write), then two
// scalars. Different arguments give different point layouts for the same member.
v1::MemberSample Sample(const std::string& member, int64_t at, bool with_status, int ok_probes,
                        double base) {
  v1::MemberSample s;
  s.set_member_name(member);
  s.set_endpoint("127.0.0.1:2379");
  s.set_collected_at_unix_ms(at);
  s.set_reachable(true);
  if (with_status) {
    v1::MemberStatus* st = s.mutable_status();
    st->set_member_id(7);
    st->set_leader_id(7);
    st->set_raft_term(static_cast<uint64_t>(base) + 2);
    st->set_raft_index(static_cast<uint64_t>(base) + 100);
    st->set_raft_applied_index(static_cast<uint64_t>(base) + 90);
    st->set_revision(static_cast<int64_t>(base) + 50);
    st->set_db_size(1000 + static_cast<int64_t>(base));
    st->set_db_size_in_use(500);
  }
  for (int kind = 1; kind <= 3; ++kind) {
    v1::Probe* p = s.add_probes();
    p->set_kind(static_cast<v1::Probe::Kind>(kind));
    p->set_ok((ok_probes & (1 << (kind - 1))) != 0);
    p->set_latency_us(static_cast<int64_t>(base) * 10 + kind);
  }
  v1::ScalarMetric* committed = s.add_scalars();
  committed->set_name("etcd_server_proposals_committed_total");
  committed->set_value(base + 0.5);
  v1::ScalarMetric* quota = s.add_scalars();
  quota->set_name("etcd_server_quota_backend_bytes");
  quota->set_value(base * 1000 + 4096);
  return s;
}

class ServiceIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.ingest_endpoint = "tcp://127.0.0.1:0";
    config_.publish_endpoint = "tcp://127.0.0.1:0";
    config_.grpc_address = "";
    config_.tick = std::chrono::hours(1);  // ticks are not what this test looks at
    config_.history.path = dir_.File("history.db");
    auto service = AggregatorService::Create(config_, nullptr);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(*service);
    ASSERT_TRUE(service_->Start().ok());
    collector_ = std::make_unique<RawDealer>(service_->ingest_endpoint());
    ASSERT_TRUE(collector_->connected());
  }

  // Stops the service and opens its history file.
  std::unique_ptr<HistoryStore> StopAndOpenHistory() {
    collector_.reset();
    service_.reset();
    auto store = HistoryStore::Open(config_.history);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Every point the model derives from `sample` is stored under its own (metric, member).
  void ExpectStored(HistoryStore& store, const v1::MemberSample& sample) {
    std::vector<DerivedPoint> points;
    ClusterModel::SamplePoints(sample, points);
    ASSERT_FALSE(points.empty());
    for (const DerivedPoint& p : points) {
      auto result = store.Query({std::string(p.metric), p.member, p.unix_ms, p.unix_ms, 0});
      ASSERT_TRUE(result.ok()) << p.metric << "{" << p.member
                               << "}: " << result.status().ToString();
      ASSERT_EQ(result->points.size(), 1u) << p.metric << "{" << p.member << "} at " << p.unix_ms;
      EXPECT_EQ(result->points[0].value, p.value) << p.metric << "{" << p.member << "}";
    }
  }

  TempDir dir_;
  AggregatorConfig config_;
  std::unique_ptr<AggregatorService> service_;
  std::unique_ptr<RawDealer> collector_;
};

// Samples of one member whose point layout changes (status missing, probes failing, then back)
// and a second member with the first one's layout: every point lands in its own series.
TEST_F(ServiceIngestTest, ChangingSampleLayoutsStoreEveryPointInItsSeries) {
  const std::vector<v1::MemberSample> sent = {
      Sample("etcd-a", kT0, true, 0b111, 1),
      Sample("etcd-a", kT0 + 1000, false, 0b111, 2),    // no status: fewer points, shifted
      Sample("etcd-a", kT0 + 2000, true, 0b101, 3),     // linearizable probe failed
      Sample("etcd-a", kT0 + 3000, true, 0b010, 4),     // only the linearizable probe
      Sample(kLongMember, kT0 + 3000, true, 0b111, 5),  // another member, the first layout
      Sample("etcd-a", kT0 + 4000, true, 0b111, 6),     // back to the first layout
  };
  uint64_t sequence = 0;
  for (const v1::MemberSample& s : sent) {
    ASSERT_TRUE(collector_->SendAndAwaitAck("c1", ++sequence, {s})) << sequence;
  }
  // Two samples in one batch, of both members.
  ASSERT_TRUE(collector_->SendAndAwaitAck("c1", ++sequence,
                                          {Sample(kLongMember, kT0 + 5000, false, 0b011, 7),
                                           Sample("etcd-a", kT0 + 5000, true, 0b110, 8)}));
  EXPECT_EQ(service_->Stats().batches_stored, sequence);
  const v1::MemberSample last_b = Sample(kLongMember, kT0 + 5000, false, 0b011, 7);
  const v1::MemberSample last_a = Sample("etcd-a", kT0 + 5000, true, 0b110, 8);

  std::unique_ptr<HistoryStore> store = StopAndOpenHistory();
  ASSERT_NE(store, nullptr);
  for (const v1::MemberSample& s : sent) {
    ExpectStored(*store, s);
  }
  ExpectStored(*store, last_b);
  ExpectStored(*store, last_a);
}

// A batch sent again with the same (collector, sequence), or an older sequence, is acknowledged
// and not stored again: its (different) values do not overwrite the stored ones.
TEST_F(ServiceIngestTest, ResentSequencesAreAckedNotStored) {
  const v1::MemberSample first = Sample("etcd-a", kT0, true, 0b111, 1);
  const v1::MemberSample second = Sample("etcd-a", kT0 + 1000, true, 0b111, 2);
  ASSERT_TRUE(collector_->SendAndAwaitAck("c1", 5, {first}));
  ASSERT_TRUE(collector_->SendAndAwaitAck("c1", 6, {second}));
  ASSERT_TRUE(collector_->SendAndAwaitAck("c1", 6, {Sample("etcd-a", kT0 + 1000, true, 0b111, 9)}));
  ASSERT_TRUE(collector_->SendAndAwaitAck("c1", 5, {Sample("etcd-a", kT0, true, 0b111, 9)}));
  // Another collector's sequence 5 is its own.
  const v1::MemberSample other = Sample(kLongMember, kT0, true, 0b111, 3);
  ASSERT_TRUE(collector_->SendAndAwaitAck("c2", 5, {other}));
  ASSERT_TRUE(WaitFor([&] { return service_->Stats().batches_duplicate == 2; }));
  EXPECT_EQ(service_->Stats().batches_stored, 3u);

  std::unique_ptr<HistoryStore> store = StopAndOpenHistory();
  ASSERT_NE(store, nullptr);
  ExpectStored(*store, first);
  ExpectStored(*store, second);
  ExpectStored(*store, other);
  EXPECT_EQ(store->HighestCommitted("c1"), 6u);
  EXPECT_EQ(store->HighestCommitted("c2"), 5u);
}

}  // namespace
}  // namespace etcdmon::aggregator
