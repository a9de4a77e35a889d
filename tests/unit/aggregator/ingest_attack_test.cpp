// The attacks of issue 15 on AggregatorService's ingest port, performed with hand-made frames
// from raw ZeroMQ DEALERs on 127.0.0.1 (no etcd, no CURVE): a forged maximal sequence for a real
// collector's id, bad batches among good ones in one read round, a far-future sample for a real
// member, the series limit, and the eviction of the ingest path's id cache (injected clock).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/aggregator/cluster_model.h"
#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/aggregator/service.h"
#include "etcdmon/clock/clock.h"
#include "etcdmon/metrics/catalogue.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/transport/snapshot_channel.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "raw_dealer.h"

namespace etcdmon::aggregator {
namespace {

namespace v1 = etcdmonitor::v1;
using etcdmon::aggregator::raw_ingest::Frame;
using etcdmon::aggregator::raw_ingest::RawDealer;
using etcdmon::testing::TempDir;
using etcdmon::testing::WaitFor;
using std::chrono::milliseconds;

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
int64_t NowMs() { return UnixMs(std::chrono::system_clock::now()); }

// What a collector numbers its batches from when it starts: its clock in microseconds.
uint64_t SequenceBase(int64_t now_ms) { return static_cast<uint64_t>(now_ms) * 1000 - 1'000'000; }

constexpr uint64_t kMemberId = 7;
constexpr int64_t kYear9999Ms = 253402300799000;

// A reachable member `name` that follows itself as leader, collected at `at`.
v1::MemberSample Sample(const std::string& name, int64_t at, double quota = 4096) {
  v1::MemberSample s;
  s.set_member_name(name);
  s.set_member_id(name == "etcd1" ? kMemberId : std::hash<std::string>()(name) | 1);
  s.set_endpoint("127.0.0.1:2379");
  s.set_collected_at_unix_ms(at);
  s.set_reachable(true);
  s.set_health_ok(true);
  v1::MemberStatus* st = s.mutable_status();
  st->set_member_id(s.member_id());
  st->set_leader_id(s.member_id());
  st->set_raft_term(2);
  st->set_raft_index(100);
  st->set_raft_applied_index(100);
  st->set_db_size(1 << 20);
  st->set_db_size_in_use(1 << 19);
  v1::ScalarMetric* q = s.add_scalars();
  q->set_name("etcd_server_quota_backend_bytes");
  q->set_value(quota);
  return s;
}

class IngestAttackTest : public ::testing::Test {
 protected:
  IngestAttackTest() {
    config_.ingest_endpoint = "tcp://127.0.0.1:0";
    config_.publish_endpoint = "tcp://127.0.0.1:0";
    config_.grpc_address = "";
    config_.tick = std::chrono::hours(1);
    config_.history.path = dir_.File("history.db");
  }

  void Create(Clock& clock = SystemClock::Instance()) {
    auto service = AggregatorService::Create(config_, nullptr, clock);
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(*service);
  }
  void CreateAndStart(Clock& clock = SystemClock::Instance()) {
    ASSERT_NO_FATAL_FAILURE(Create(clock));
    ASSERT_TRUE(service_->Start().ok());
  }

  std::unique_ptr<RawDealer> Dealer() {
    auto dealer = std::make_unique<RawDealer>(service_->ingest_endpoint());
    EXPECT_TRUE(dealer->connected());
    return dealer;
  }

  bool WaitForInvalid(uint64_t n) {
    return WaitFor([&] { return service_->Stats().batches_invalid >= n; });
  }

  std::unique_ptr<HistoryStore> StopAndOpenHistory() {
    service_.reset();
    auto store = HistoryStore::Open(config_.history);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // The stored etcd_member_up points of `member` in [from, to].
  static std::size_t StoredPoints(HistoryStore& store, const std::string& member, int64_t from,
                                  int64_t to) {
    auto result = store.Query({std::string(metrics::kMemberUp), member, from, to, 0});
    return result.ok() ? result->points.size() : 0;
  }

  TempDir dir_;
  AggregatorConfig config_;
  std::unique_ptr<AggregatorService> service_;
};

// Attack: a batch claiming a real collector's id with sequence 2^63-1 would be committed with
// MAX(), and every later genuine batch of that collector would be acked as a duplicate and
// thrown away, for good. It is refused; the genuine batches that follow are stored.
TEST_F(IngestAttackTest, ForgedMaximalSequenceIsRefusedAndTheCollectorKeepsStoring) {
  ASSERT_NO_FATAL_FAILURE(CreateAndStart());
  const int64_t t0 = NowMs() - 10'000;
  const uint64_t base = SequenceBase(NowMs());
  auto genuine = Dealer();
  auto forger = Dealer();
  ASSERT_TRUE(
      genuine->SendAndAwaitAck(Frame("collector-etcd1", base, {Sample("etcd1", t0)}), base));

  const uint64_t forged = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(forger->Send(Frame("collector-etcd1", forged, {Sample("etcd1", t0 + 500, 1)})));
  ASSERT_TRUE(WaitForInvalid(1));

  for (uint64_t i = 1; i <= 3; ++i) {
    const int64_t at = t0 + static_cast<int64_t>(i) * 1000;
    ASSERT_TRUE(genuine->SendAndAwaitAck(Frame("collector-etcd1", base + i, {Sample("etcd1", at)}),
                                         base + i))
        << "genuine batch " << i;
  }
  EXPECT_EQ(forger->NextAck(milliseconds(0)), 0u) << "the forged batch was acked";
  const AggregatorStats stats = service_->Stats();
  EXPECT_EQ(stats.batches_stored, 4u);
  EXPECT_EQ(stats.batches_duplicate, 0u);
  EXPECT_EQ(stats.batches_invalid, 1u);

  // After a restart too: the collector's watermark is its own last batch.
  auto store = StopAndOpenHistory();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->HighestCommitted("collector-etcd1"), base + 3);
  EXPECT_EQ(StoredPoints(*store, "etcd1", t0, t0 + 3000), 4u);
  EXPECT_EQ(StoredPoints(*store, "etcd1", t0 + 500, t0 + 500), 0u);
}

// The same attack committed before batches were checked (a history file of an older version):
// at start the aggregator forgets a watermark above its clock in microseconds, so the genuine
// collector's batches are stored again; a plausible watermark stays.
TEST_F(IngestAttackTest, ForgedWatermarkInTheHistoryIsForgottenAtStart) {
  const uint64_t base = SequenceBase(NowMs());
  {
    auto store = HistoryStore::Open(config_.history);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    WriteBatch poisoned;
    poisoned.committed = {
        {"collector-etcd1", static_cast<uint64_t>(std::numeric_limits<int64_t>::max())},
        {"collector-etcd2", base}};
    ASSERT_TRUE((*store)->Write(poisoned).ok());
  }
  ASSERT_NO_FATAL_FAILURE(CreateAndStart());
  const int64_t t0 = NowMs() - 10'000;
  auto dealer = Dealer();
  ASSERT_TRUE(
      dealer->SendAndAwaitAck(Frame("collector-etcd1", base + 1, {Sample("etcd1", t0)}), base + 1));
  ASSERT_TRUE(dealer->SendAndAwaitAck(Frame("collector-etcd2", base, {Sample("etcd2", t0)}), base));
  const AggregatorStats stats = service_->Stats();
  EXPECT_EQ(stats.batches_stored, 1u);
  EXPECT_EQ(stats.batches_duplicate, 1u);  // etcd2's watermark was kept

  auto store = StopAndOpenHistory();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->HighestCommitted("collector-etcd1"), base + 1);
  EXPECT_EQ(store->HighestCommitted("collector-etcd2"), base);
  EXPECT_EQ(StoredPoints(*store, "etcd1", t0, t0), 1u);
  EXPECT_EQ(StoredPoints(*store, "etcd2", t0, t0), 0u);
}

// Attack: a batch the store cannot take (negative collected_at, over-long collector id,
// sequence 2^63) arriving in the same read round as good batches used to fail the whole group
// commit. The bad ones are refused and counted, the good ones stored and acked. All six frames
// go out on one connection queued before the receiver starts reading, so they reach it
// together, in its first read round.
TEST_F(IngestAttackTest, BadBatchesFailAloneAmongGoodOnesOfOneReadRound) {
  ASSERT_NO_FATAL_FAILURE(Create());
  const int64_t t0 = NowMs() - 10'000;
  const uint64_t base = SequenceBase(NowMs());
  auto dealer = Dealer();
  const std::vector<std::string> frames = {
      Frame("collector-etcd1", base, {Sample("etcd1", t0)}),
      Frame("collector-bad1", base, {Sample("etcd9", -1)}),
      Frame("collector-etcd2", base, {Sample("etcd2", t0)}),
      Frame(std::string(300, 'c'), base, {Sample("etcd9", t0)}),
      Frame("collector-etcd3", base, {Sample("etcd3", t0)}),
      Frame("collector-bad3", uint64_t{1} << 63, {Sample("etcd9", t0)}),
  };
  for (const std::string& frame : frames) {
    ASSERT_TRUE(dealer->Send(frame));
  }
  ASSERT_TRUE(service_->Start().ok());
  // Acks go out in arrival order: a bad batch acked would show up between the good ones.
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(dealer->NextAck(std::chrono::seconds(10)), base) << "ack " << i;
    EXPECT_EQ(dealer->last_ack_collector(), "collector-etcd" + std::to_string(i));
  }
  ASSERT_TRUE(WaitForInvalid(3));
  EXPECT_EQ(dealer->NextAck(milliseconds(0)), 0u) << "a bad batch was acked";
  const AggregatorStats stats = service_->Stats();
  EXPECT_EQ(stats.batches_stored, 3u);
  EXPECT_EQ(stats.store_failures, 0u);
  EXPECT_EQ(stats.batches_invalid, 3u);

  auto store = StopAndOpenHistory();
  ASSERT_NE(store, nullptr);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(store->HighestCommitted("collector-etcd" + std::to_string(i)), base);
    EXPECT_EQ(StoredPoints(*store, "etcd" + std::to_string(i), t0, t0), 1u);
  }
  EXPECT_EQ(store->HighestCommitted("collector-bad1"), 0u);
  EXPECT_EQ(store->HighestCommitted("collector-bad3"), 0u);
  EXPECT_EQ(StoredPoints(*store, "etcd9", -1, t0), 0u);
}

// Defence in depth: with checks so lax that a batch the store cannot take gets past them (a
// skew of thousands of years lets a sample dated after year 9999 through), Stage refuses that
// batch alone and the group it arrived with is still stored and acked.
TEST_F(IngestAttackTest, BatchTheStoreCannotTakeFailsAloneEvenPastTheChecks) {
  config_.max_clock_skew = std::chrono::hours(24 * 365 * 9000);
  ASSERT_NO_FATAL_FAILURE(Create());
  const int64_t t0 = NowMs() - 10'000;
  const uint64_t base = SequenceBase(NowMs());
  auto dealer = Dealer();
  const int64_t after_9999 = 253402300800000;  // 10000-01-01: past what the history stores
  ASSERT_TRUE(dealer->Send(Frame("collector-etcd1", base, {Sample("etcd1", t0)})));
  ASSERT_TRUE(dealer->Send(Frame("collector-etcd2", base, {Sample("etcd2", after_9999)})));
  ASSERT_TRUE(dealer->Send(Frame("collector-etcd3", base, {Sample("etcd3", t0)})));
  ASSERT_TRUE(service_->Start().ok());
  // Acks go out in arrival order: had etcd2's batch been acked, its ack would come second.
  EXPECT_EQ(dealer->NextAck(std::chrono::seconds(10)), base);
  EXPECT_EQ(dealer->last_ack_collector(), "collector-etcd1");
  EXPECT_EQ(dealer->NextAck(std::chrono::seconds(10)), base);
  EXPECT_EQ(dealer->last_ack_collector(), "collector-etcd3");
  const AggregatorStats stats = service_->Stats();
  EXPECT_EQ(stats.batches_stored, 2u);
  EXPECT_EQ(stats.store_failures, 0u);
  EXPECT_EQ(stats.batches_invalid, 0u);  // it got past the checks

  auto store = StopAndOpenHistory();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->HighestCommitted("collector-etcd1"), base);
  EXPECT_EQ(store->HighestCommitted("collector-etcd2"), 0u);
  EXPECT_EQ(store->HighestCommitted("collector-etcd3"), base);
  EXPECT_EQ(StoredPoints(*store, "etcd3", t0, t0), 1u);
}

// Attack: a sample for a real member dated near year 9999 would make every genuine sample look
// older, so the forger would decide that member's health and the leader. It is refused; the
// snapshot keeps following the genuine samples.
TEST_F(IngestAttackTest, FarFutureSampleDoesNotDecideHealthOrLeader) {
  config_.tick = milliseconds(50);
  ASSERT_NO_FATAL_FAILURE(CreateAndStart());
  transport::SnapshotSubscriberOptions sub_options;
  sub_options.endpoint = service_->publish_endpoint();
  auto subscriber = transport::SnapshotSubscriber::Create(sub_options);
  ASSERT_TRUE(subscriber.ok()) << subscriber.status().ToString();
  v1::ClusterSnapshot snapshot;
  // Waits for a snapshot whose etcd1 was last sampled at `at`.
  auto await_sample = [&](int64_t at) {
    return WaitFor([&] {
      Result<bool> got = (*subscriber)->Receive(snapshot, milliseconds(100));
      if (!got.ok() || !*got) {
        return false;
      }
      for (const v1::MemberState& m : snapshot.members()) {
        if (m.name() == "etcd1" && m.last_sample_unix_ms() == at) {
          return true;
        }
      }
      return false;
    });
  };
  const int64_t t0 = NowMs() - 5000;
  const uint64_t base = SequenceBase(NowMs());
  auto genuine = Dealer();
  auto forger = Dealer();
  ASSERT_TRUE(
      genuine->SendAndAwaitAck(Frame("collector-etcd1", base, {Sample("etcd1", t0)}), base));
  ASSERT_TRUE(await_sample(t0));
  EXPECT_EQ(snapshot.leader_id(), kMemberId);

  // The forger says etcd1 is down and follows nobody, from year 9999, as another collector.
  v1::MemberSample forged = Sample("etcd1", kYear9999Ms);
  forged.set_reachable(false);
  forged.clear_status();
  ASSERT_TRUE(forger->Send(Frame("collector-forger", base, {forged})));
  ASSERT_TRUE(WaitForInvalid(1));

  const int64_t t1 = NowMs();
  ASSERT_TRUE(genuine->SendAndAwaitAck(Frame("collector-etcd1", base + 1, {Sample("etcd1", t1)}),
                                       base + 1));
  ASSERT_TRUE(await_sample(t1)) << "the genuine sample after the forged one was not taken";
  for (const v1::MemberState& m : snapshot.members()) {
    if (m.name() == "etcd1") {
      EXPECT_TRUE(m.reachable());
      EXPECT_TRUE(m.is_leader());
      EXPECT_NE(m.health(), v1::UNREACHABLE);
    }
  }
  EXPECT_EQ(snapshot.leader_id(), kMemberId);
  EXPECT_EQ(forger->NextAck(milliseconds(0)), 0u);
}

// Bounded series: at the maximum, new series are refused and counted while the batch is still
// stored and acked, and the series that exist keep taking points. (Ticks add cluster-wide
// series too, so the test fills the space with invented members until a refusal.)
TEST_F(IngestAttackTest, SeriesLimitRefusesNewSeriesAndKeepsExistingOnes) {
  const int64_t t0 = NowMs() - 60'000;
  std::vector<DerivedPoint> points;
  ClusterModel::SamplePoints(Sample("etcd1", t0), points);
  const uint64_t per_member = points.size();
  config_.history.max_series = 300;
  config_.tick = milliseconds(50);
  ASSERT_NO_FATAL_FAILURE(CreateAndStart());
  uint64_t sequence = SequenceBase(NowMs());
  auto collector = Dealer();
  auto send = [&](const std::string& member, int64_t at) {
    ++sequence;
    return collector->SendAndAwaitAck(Frame("collector-1", sequence, {Sample(member, at)}),
                                      sequence);
  };
  ASSERT_TRUE(send("etcd1", t0));
  EXPECT_EQ(service_->Stats().series_refused, 0u);

  // A forger invents members until the series space is full: every batch is still acked.
  int invented = 0;
  while (service_->Stats().series_refused == 0) {
    ASSERT_LT(invented, 300) << "the series limit never refused a series";
    ASSERT_TRUE(send("invented-" + std::to_string(invented++), t0 + 10));
  }
  const uint64_t refused = service_->Stats().series_refused;
  ASSERT_TRUE(send("invented-" + std::to_string(invented++), t0 + 20));
  EXPECT_GE(service_->Stats().series_refused, refused + per_member);
  // The existing member goes on.
  ASSERT_TRUE(send("etcd1", t0 + 2000));
  EXPECT_EQ(service_->Stats().store_failures, 0u);
  // The refusals reach the snapshot (etcd_monitor_ingest_rejected_total{reason="series_limit"}).
  transport::SnapshotSubscriberOptions sub_options;
  sub_options.endpoint = service_->publish_endpoint();
  auto subscriber = transport::SnapshotSubscriber::Create(sub_options);
  ASSERT_TRUE(subscriber.ok()) << subscriber.status().ToString();
  v1::ClusterSnapshot snapshot;
  EXPECT_TRUE(WaitFor([&] {
    Result<bool> got = (*subscriber)->Receive(snapshot, milliseconds(100));
    if (!got.ok() || !*got) {
      return false;
    }
    auto it = snapshot.ingest_rejected().find("series_limit");
    return it != snapshot.ingest_rejected().end() && it->second >= refused + per_member;
  }));

  auto store = StopAndOpenHistory();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Stats().series, 300u);
  EXPECT_EQ(StoredPoints(*store, "etcd1", t0, t0 + 2000), 2u);
  EXPECT_EQ(StoredPoints(*store, "invented-" + std::to_string(invented - 1), t0, t0 + 2000), 0u);
}

// Bounded memory: the ingest path's series-id cache forgets a member not heard of for the raw
// retention (aggregator clock injected); a member that comes back is served again.
TEST_F(IngestAttackTest, SeriesCacheEvictsMembersUnusedForTheRawRetention) {
  FakeClock clock{std::chrono::system_clock::now()};
  config_.history.raw_retention = std::chrono::hours(1);
  config_.tick = std::chrono::hours(24);  // no tick writes cluster-wide series meanwhile
  ASSERT_NO_FATAL_FAILURE(CreateAndStart(clock));
  auto now_ms = [&] { return UnixMs(clock.Now()); };
  std::vector<DerivedPoint> points;
  ClusterModel::SamplePoints(Sample("etcd1", 0), points);
  const uint64_t per_member = points.size();

  uint64_t sequence = SequenceBase(now_ms());
  auto collector = Dealer();
  std::vector<int64_t> etcd1_times;
  auto send = [&](const std::string& member) {
    ++sequence;
    if (member == "etcd1") {
      etcd1_times.push_back(now_ms() - 1000);
    }
    return collector->SendAndAwaitAck(
        Frame("collector-1", sequence, {Sample(member, now_ms() - 1000)}), sequence);
  };
  ASSERT_TRUE(send("etcd1"));
  ASSERT_TRUE(send("etcd2"));
  EXPECT_EQ(service_->Stats().series_cached, 2 * per_member);

  clock.Advance(std::chrono::minutes(30));
  ASSERT_TRUE(send("etcd2"));  // etcd2 stays in use
  clock.Advance(std::chrono::minutes(31));
  ASSERT_TRUE(send("etcd3"));  // etcd1 unused for 61 minutes: dropped
  EXPECT_EQ(service_->Stats().series_cached, 2 * per_member);

  ASSERT_TRUE(send("etcd1"));  // it comes back: ids from the store again
  EXPECT_EQ(service_->Stats().series_cached, 3 * per_member);
  EXPECT_EQ(service_->Stats().series_refused, 0u);
  auto store = StopAndOpenHistory();
  ASSERT_NE(store, nullptr);
  for (const int64_t at : etcd1_times) {
    EXPECT_EQ(StoredPoints(*store, "etcd1", at, at), 1u) << at;
  }
}

}  // namespace
}  // namespace etcdmon::aggregator
