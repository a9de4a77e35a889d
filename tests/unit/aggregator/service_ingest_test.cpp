// AggregatorService's ingest path on 127.0.0.1 (no etcd): batches in over a real ZeroMQ socket,
// stored points read back from the history file once the service is gone. Covers the series-id
// cache of the ingest path (samples whose point layout changes from sample to sample),
// idempotency on (collector, sequence), and a store that fails: the model still takes the
// samples, nothing is acknowledged, the snapshot says the storage fails, and once the store
// works again the resent batches are stored once and not taken twice.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aggregator_fixture.h"
#include "etcdmon/aggregator/cluster_model.h"
#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/aggregator/service.h"
#include "etcdmon/sqlite/connection.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace etcdmon::aggregator {
namespace {

namespace v1 = etcdmonitor::v1;
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

// Every point the model derives from `sample` is stored once under its own (metric, member).
void ExpectStoredOnce(HistoryStore& store, const v1::MemberSample& sample) {
  std::vector<DerivedPoint> points;
  ClusterModel::SamplePoints(sample, points);
  ASSERT_FALSE(points.empty());
  for (const DerivedPoint& p : points) {
    auto result = store.Query({std::string(p.metric), p.member, p.unix_ms, p.unix_ms, 0});
    ASSERT_TRUE(result.ok()) << p.metric << "{" << p.member << "}: " << result.status().ToString();
    ASSERT_EQ(result->points.size(), 1u) << p.metric << "{" << p.member << "} at " << p.unix_ms;
    EXPECT_EQ(result->points[0].value, p.value) << p.metric << "{" << p.member << "}";
    EXPECT_EQ(result->points[0].count, 1u) << p.metric << "{" << p.member << "}";
  }
}

class ServiceIngestTest : public AggregatorFixture {
 protected:
  void SetUp() override {
    config_.tick = std::chrono::hours(1);  // ticks are not what this test looks at
    ASSERT_NO_FATAL_FAILURE(StartAggregator());
  }

  // Stops the service and opens its history file.
  std::unique_ptr<HistoryStore> StopAndOpenHistory() {
    collector_.reset();
    monitor_.reset();
    service_.reset();
    auto store = HistoryStore::Open(config_.history);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
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
    ExpectStoredOnce(*store, s);
  }
  ExpectStoredOnce(*store, last_b);
  ExpectStoredOnce(*store, last_a);
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
  ExpectStoredOnce(*store, first);
  ExpectStoredOnce(*store, second);
  ExpectStoredOnce(*store, other);
  EXPECT_EQ(store->HighestCommitted("c1"), 6u);
  EXPECT_EQ(store->HighestCommitted("c2"), 5u);
}

// An aggregator whose history store fails on demand: the test holds the history file's write
// lock from another connection (BEGIN IMMEDIATE), so every write of the service fails
// (Unavailable, "database is locked", after the busy timeout) until the test lets go. Ticks
// come only early (a sample that changes a member's reachability), so each snapshot follows a
// sample the test sent.
class ServiceStorageFailureTest : public AggregatorFixture {
 protected:
  void SetUp() override {
    config_.tick = std::chrono::hours(1);
    // Failing writes take seconds each (the busy timeout): no member may turn stale meanwhile.
    config_.model.expected_interval = std::chrono::hours(1);
    ASSERT_NO_FATAL_FAILURE(StartAggregator());
  }

  // The store fails from now on: another connection holds the write lock.
  void BreakStore() {
    auto db = sqlite::Connection::Open(config_.history.path, sqlite::ConnectionOptions{});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    lock_holder_ = std::move(*db);
    ASSERT_TRUE(lock_holder_->Exec("BEGIN IMMEDIATE").ok());
  }
  void RepairStore() {
    ASSERT_TRUE(lock_holder_->Exec("ROLLBACK").ok());
    lock_holder_.reset();
  }

  // The newest snapshot, once it satisfies `condition` (bounded wait); false when none did.
  template <typename Condition>
  bool SnapshotWhere(Condition condition, v1::ClusterSnapshot& out) {
    return WaitFor([&] {
      grpc::ClientContext context;
      v1::GetSnapshotRequest request;
      return monitor_->GetSnapshot(&context, request, &out).ok() && condition(out);
    });
  }

  static v1::MemberHealth HealthOf(const v1::ClusterSnapshot& s, const std::string& member) {
    for (const auto& m : s.members()) {
      if (m.name() == member) {
        return m.health();
      }
    }
    return v1::MEMBER_HEALTH_UNSPECIFIED;
  }

  static uint64_t SamplesTaken(const v1::ClusterSnapshot& s, const std::string& collector) {
    for (const auto& c : s.collectors()) {
      if (c.id() == collector) {
        return c.samples_received();
      }
    }
    return 0;
  }

  std::unique_ptr<sqlite::Connection> lock_holder_;
};

// A sample of `member` at `at` from a member that does not answer.
v1::MemberSample DownSample(const std::string& member, int64_t at) {
  v1::MemberSample s;
  s.set_member_name(member);
  s.set_endpoint("127.0.0.1:2379");
  s.set_collected_at_unix_ms(at);
  s.set_reachable(false);
  s.set_error("connection refused");
  return s;
}

// While every write fails the model still follows the samples (down, then up again), no batch
// is acknowledged, and the snapshot's storage says failing with the failures counted. Once the
// store works, the resent batches are stored (once) and acknowledged, and the model, which took
// them on arrival, does not take them again.
TEST_F(ServiceStorageFailureTest, ModelFollowsSamplesWhileStoreFailsAndResendsAreStoredOnce) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // While the store works: the member up, down and up again, so that every series those
  // samples and their ticks use exists before the store fails (creating one would wait for
  // the lock too).
  v1::ClusterSnapshot snapshot;
  uint64_t sequence = 0;
  for (const v1::MemberSample& s :
       {Sample("etcd-a", now - 9000, true, 0b111, 1), DownSample("etcd-a", now - 8000),
        Sample("etcd-a", now - 7000, true, 0b111, 2)}) {
    ASSERT_TRUE(collector_->SendAndAwaitAck("c1", ++sequence, {s}));
    const v1::MemberHealth expected = s.reachable() ? v1::HEALTHY : v1::UNREACHABLE;
    ASSERT_TRUE(SnapshotWhere(
        [&](const v1::ClusterSnapshot& x) { return HealthOf(x, "etcd-a") == expected; }, snapshot));
    // The tick that published it has written its points too.
    ASSERT_TRUE(WaitFor([&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 service_->Stats().last_tick.time_since_epoch())
                 .count() >= snapshot.tick_unix_ms();
    }));
  }
  EXPECT_FALSE(snapshot.storage().failing());
  EXPECT_EQ(snapshot.storage().failures_total(), 0u);

  BreakStore();
  const v1::MemberSample down = DownSample("etcd-a", now - 3000);
  const v1::MemberSample back = Sample("etcd-a", now - 2000, true, 0b111, 3);
  ASSERT_TRUE(collector_->Send(raw_ingest::Frame("c1", 4, {down})));
  ASSERT_TRUE(SnapshotWhere(
      [](const v1::ClusterSnapshot& s) { return HealthOf(s, "etcd-a") == v1::UNREACHABLE; },
      snapshot))
      << "the model must take a sample whatever its commit: " << snapshot.ShortDebugString();
  ASSERT_TRUE(WaitFor([&] { return service_->Stats().store_failures >= 1; }));
  // Held back behind the failed batch 4 (not handed to the store), yet taken by the model.
  ASSERT_TRUE(collector_->Send(raw_ingest::Frame("c1", 5, {back})));
  ASSERT_TRUE(SnapshotWhere(
      [](const v1::ClusterSnapshot& s) {
        return HealthOf(s, "etcd-a") == v1::HEALTHY && s.storage().failing();
      },
      snapshot))
      << snapshot.ShortDebugString();
  EXPECT_GE(snapshot.storage().failures_total(), 1u);
  EXPECT_NE(snapshot.storage().last_error(), "");
  EXPECT_GT(snapshot.storage().last_failure_unix_ms(), 0);
  EXPECT_EQ(snapshot.fresh_members(), 1u);
  EXPECT_EQ(collector_->NextAck(std::chrono::milliseconds(200)), 0u)
      << "a batch that is not stored must not be acknowledged";
  EXPECT_EQ(service_->Stats().batches_stored, 3u);

  RepairStore();
  // What a collector does: resend what was not acknowledged, in order.
  ASSERT_TRUE(collector_->SendAndAwaitAck("c1", 4, {down}));
  ASSERT_TRUE(collector_->SendAndAwaitAck("c1", 5, {back}));
  EXPECT_EQ(service_->Stats().batches_stored, 5u);
  // A new sample that ticks: the model counts the resent batches' samples once.
  ASSERT_TRUE(collector_->SendAndAwaitAck("c1", 6, {DownSample("etcd-a", now - 1000)}));
  ASSERT_TRUE(SnapshotWhere(
      [](const v1::ClusterSnapshot& s) { return HealthOf(s, "etcd-a") == v1::UNREACHABLE; },
      snapshot));
  EXPECT_EQ(SamplesTaken(snapshot, "c1"), 6u);

  monitor_.reset();
  collector_.reset();
  service_.reset();
  auto store = HistoryStore::Open(config_.history);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ExpectStoredOnce(**store, back);
  EXPECT_EQ((*store)->HighestCommitted("c1"), 6u);
}

}  // namespace
}  // namespace etcdmon::aggregator
