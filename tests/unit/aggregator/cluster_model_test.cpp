#include "etcdmon/aggregator/cluster_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "etcdmon/clock/clock.h"
#include "etcdmon/metrics/catalogue.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::aggregator {
namespace {

namespace v1 = etcdmonitor::v1;
using namespace etcdmon::metrics;  // the catalogue's names
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kClusterId = 0xc0ffee;
constexpr uint64_t kA = 0xa1;
constexpr uint64_t kB = 0xb2;
constexpr uint64_t kC = 0xc3;
constexpr double kEps = 1e-9;

struct Member {
  uint64_t id;
  std::string name;
  std::string endpoint;
};

const Member kMembers[3] = {
    {kA, "etcd-1", "127.0.0.1:2379"},
    {kB, "etcd-2", "127.0.0.1:22379"},
    {kC, "etcd-3", "127.0.0.1:32379"},
};

using Labels = std::initializer_list<std::pair<const char*, const char*>>;

void AddScalar(v1::MemberSample& s, const std::string& name, double value, Labels labels = {}) {
  v1::ScalarMetric* m = s.add_scalars();
  m->set_name(name);
  for (const auto& [k, v] : labels) {
    v1::Label* l = m->add_labels();
    l->set_name(k);
    l->set_value(v);
  }
  m->set_value(value);
}

// A cumulative histogram with the given bounds (the +Inf bucket is added, its count is the last).
void AddHistogram(v1::MemberSample& s, const std::string& name, const std::vector<double>& bounds,
                  const std::vector<uint64_t>& cumulative, Labels labels = {}) {
  v1::HistogramMetric* h = s.add_histograms();
  h->set_name(name);
  for (const auto& [k, v] : labels) {
    v1::Label* l = h->add_labels();
    l->set_name(k);
    l->set_value(v);
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    v1::HistogramMetric::Bucket* b = h->add_buckets();
    b->set_upper_bound(bounds[i]);
    b->set_cumulative_count(cumulative[i]);
  }
  v1::HistogramMetric::Bucket* inf = h->add_buckets();
  inf->set_upper_bound(std::numeric_limits<double>::infinity());
  inf->set_cumulative_count(cumulative.back());
  h->set_count(cumulative.back());
}

void AddProbe(v1::MemberSample& s, v1::Probe::Kind kind, double ms, bool ok = true) {
  v1::Probe* p = s.add_probes();
  p->set_kind(kind);
  p->set_ok(ok);
  p->set_latency_us(static_cast<uint64_t>(std::llround(ms * 1000)));
  if (!ok) {
    p->set_error("deadline exceeded");
  }
}

// A reachable member that answered everything, following `leader` at `term`. `full` adds the
// member list (all three members) and a passing /health.
v1::MemberSample Reachable(const Member& m, int64_t at_ms, uint64_t leader, uint64_t term,
                           bool full = true) {
  v1::MemberSample s;
  s.set_endpoint(m.endpoint);
  s.set_member_name(m.name);
  s.set_member_id(m.id);
  s.set_collected_at_unix_ms(at_ms);
  s.set_reachable(true);
  s.set_full(full);
  v1::MemberStatus* st = s.mutable_status();
  st->set_version("3.4.27");
  st->set_cluster_id(kClusterId);
  st->set_member_id(m.id);
  st->set_leader_id(leader);
  st->set_raft_term(term);
  st->set_raft_index(1000);
  st->set_raft_applied_index(1000);
  st->set_db_size(1 << 20);
  st->set_db_size_in_use(1 << 19);
  st->set_revision(500);
  if (leader == 0) {
    st->add_errors("etcdserver: no leader");
  }
  if (full) {
    for (const Member& other : kMembers) {
      v1::MemberInfo* info = s.add_members();
      info->set_id(other.id);
      info->set_name(other.name);
      info->add_client_urls("http://" + other.endpoint);
      info->add_peer_urls("http://127.0.0.1:2380");
    }
    s.set_health_ok(true);
  }
  return s;
}

v1::MemberSample Unreachable(const Member& m, int64_t at_ms) {
  v1::MemberSample s;
  s.set_endpoint(m.endpoint);
  s.set_member_name(m.name);
  s.set_member_id(m.id);
  s.set_collected_at_unix_ms(at_ms);
  s.set_reachable(false);
  s.set_error("127.0.0.1: connection refused");
  v1::SampleError* e = s.add_errors();
  e->set_source("status");
  e->set_message("connection refused");
  return s;
}

class ClusterModelTest : public ::testing::Test {
 protected:
  ClusterModelTest() : model_(Config(), clock_) {}

  static ModelConfig Config() {
    ModelConfig c;
    c.cluster = "test";
    c.expected_interval = seconds(10);
    c.latency_window = seconds(60);
    c.term_conflict_grace = seconds(10);
    return c;
  }

  int64_t Now() const {
    return std::chrono::duration_cast<milliseconds>(clock_.Now().time_since_epoch()).count();
  }
  void Advance(milliseconds d) { clock_.Advance(d); }

  void Feed(int member, const v1::MemberSample& s) {
    model_.Ingest("collector-" + std::to_string(member + 1), s);
  }
  // All three follow `leader` at `term`, sampled now.
  void FeedAll(uint64_t leader, uint64_t term) {
    for (int i = 0; i < 3; ++i) {
      Feed(i, Reachable(kMembers[i], Now(), leader, term));
    }
  }

  void Tick() {
    points_.clear();
    model_.Tick(snap_, points_);
  }

  const v1::MemberState& MemberNamed(const std::string& name) const {
    for (const v1::MemberState& m : snap_.members()) {
      if (m.name() == name) {
        return m;
      }
    }
    ADD_FAILURE() << "no member " << name;
    static const v1::MemberState kNone;
    return kNone;
  }

  // The value of the last point of `metric` for `member` in the latest tick.
  bool FindPoint(std::string_view metric, const std::string& member, double& value) const {
    bool found = false;
    for (const DerivedPoint& p : points_) {
      if (p.metric == metric && p.member == member) {
        value = p.value;
        found = true;
      }
    }
    return found;
  }
  double PointValue(std::string_view metric, const std::string& member = "") const {
    double v = 0;
    EXPECT_TRUE(FindPoint(metric, member, v)) << metric << " member=" << member;
    return v;
  }

  std::set<std::string> EvidenceMembers(v1::SplitBrainKind kind) const {
    std::set<std::string> names;
    for (const v1::Evidence& e : snap_.split_brain().evidence()) {
      if (e.kind() == kind) {
        names.insert(e.member_name());
      }
    }
    return names;
  }

  bool HasKind(v1::SplitBrainKind kind) const {
    for (int k : snap_.split_brain().kinds()) {
      if (k == kind) {
        return true;
      }
    }
    return false;
  }

  FakeClock clock_;
  ClusterModel model_;
  v1::ClusterSnapshot snap_;
  std::vector<DerivedPoint> points_;
};

// A 3-member cluster where everyone follows etcd-1 is healthy, with leader, quorum and points.
TEST_F(ClusterModelTest, HealthyThreeMemberCluster) {
  FeedAll(kA, 2);
  Tick();

  EXPECT_EQ(snap_.schema_version(), 1u);
  EXPECT_EQ(snap_.cluster(), "test");
  EXPECT_EQ(snap_.cluster_id(), kClusterId);
  EXPECT_EQ(snap_.tick_unix_ms(), Now());
  EXPECT_TRUE(snap_.healthy());
  EXPECT_FALSE(snap_.degraded());
  EXPECT_EQ(snap_.state(), v1::CLUSTER_HEALTHY);
  EXPECT_EQ(snap_.health_reason(), "");
  EXPECT_TRUE(snap_.has_leader());
  EXPECT_EQ(snap_.leader_id(), kA);
  EXPECT_EQ(snap_.leader_name(), "etcd-1");
  EXPECT_EQ(snap_.leader_endpoint(), "127.0.0.1:2379");
  EXPECT_EQ(snap_.raft_term(), 2u);
  EXPECT_TRUE(snap_.leader_agreement());
  EXPECT_EQ(snap_.leader_followers(), 3u);
  EXPECT_EQ(snap_.member_count(), 3u);
  EXPECT_EQ(snap_.voting_members(), 3u);
  EXPECT_EQ(snap_.quorum_size(), 2u);
  EXPECT_EQ(snap_.healthy_members(), 3u);
  EXPECT_TRUE(snap_.quorum_ok());
  EXPECT_EQ(snap_.fresh_members(), 3u);
  EXPECT_FALSE(snap_.split_brain().detected());
  EXPECT_EQ(snap_.leader_changes_total(), 0u);
  ASSERT_EQ(snap_.members_size(), 3);
  for (const v1::MemberState& m : snap_.members()) {
    EXPECT_EQ(m.health(), v1::HEALTHY) << m.name() << ": " << m.reason();
    EXPECT_EQ(m.is_leader(), m.id() == kA) << m.name();
    EXPECT_TRUE(m.sampled());
    EXPECT_TRUE(m.in_member_list());
    EXPECT_EQ(m.last_sample_unix_ms(), Now());
    EXPECT_EQ(m.raft_term(), 2u);
    EXPECT_EQ(m.apply_lag(), 0u);
    EXPECT_NEAR(m.db_fragmentation_ratio(), 0.5, kEps);
  }
  EXPECT_EQ(MemberNamed("etcd-2").collector_id(), "collector-2");
  EXPECT_EQ(snap_.collectors_size(), 3);

  EXPECT_EQ(PointValue(kClusterHealthy), 1);
  EXPECT_EQ(PointValue(kClusterHasLeader), 1);
  EXPECT_EQ(PointValue(kClusterMemberCount), 3);
  EXPECT_EQ(PointValue(kClusterQuorumSize), 2);
  EXPECT_EQ(PointValue(kLeaderChangesTotal), 0);
  EXPECT_EQ(PointValue(kClusterSplitBrain), 0);
  EXPECT_EQ(PointValue(kMemberHealthy, "etcd-3"), 1);
  for (const DerivedPoint& p : points_) {
    EXPECT_TRUE(IsKnownMetric(p.metric)) << p.metric;
  }
}

// Two of three members down: the third has no leader; the cluster has no leader and no quorum.
TEST_F(ClusterModelTest, LeaderLostAndQuorumLost) {
  FeedAll(kA, 2);
  Tick();
  Advance(seconds(10));
  Feed(0, Unreachable(kMembers[0], Now()));
  Feed(1, Unreachable(kMembers[1], Now()));
  Feed(2, Reachable(kMembers[2], Now(), 0, 4));
  Tick();

  EXPECT_FALSE(snap_.has_leader());
  EXPECT_EQ(snap_.leader_id(), 0u);
  EXPECT_FALSE(snap_.quorum_ok());
  EXPECT_FALSE(snap_.healthy());
  EXPECT_FALSE(snap_.split_brain().detected());
  EXPECT_EQ(snap_.member_count(), 3u);
  EXPECT_EQ(snap_.unreachable_members(), 2u);
  EXPECT_EQ(snap_.healthy_members(), 0u);
  EXPECT_NE(snap_.health_reason().find("no leader"), std::string::npos) << snap_.health_reason();
  EXPECT_NE(snap_.health_reason().find("quorum lost"), std::string::npos) << snap_.health_reason();
  EXPECT_EQ(MemberNamed("etcd-1").health(), v1::UNREACHABLE);
  EXPECT_EQ(MemberNamed("etcd-1").reason(), "127.0.0.1: connection refused");
  EXPECT_FALSE(MemberNamed("etcd-1").reachable());
  EXPECT_EQ(MemberNamed("etcd-3").health(), v1::UNHEALTHY);
  EXPECT_NE(MemberNamed("etcd-3").reason().find("no leader"), std::string::npos);
  EXPECT_EQ(PointValue(kClusterHasLeader), 0);
  EXPECT_EQ(PointValue(kClusterQuorumOk), 0);
  EXPECT_EQ(PointValue(kMemberHealthy, "etcd-1"), 0);
}

// One member cut off from the others loses its leader and campaigns (its term rises): the
// majority still has its leader and quorum, and nothing is called split-brain.
TEST_F(ClusterModelTest, MinorityPartitionIsNotSplitBrain) {
  FeedAll(kA, 5);
  Tick();
  for (uint64_t term : {7u, 9u, 11u}) {
    Advance(seconds(10));
    Feed(0, Reachable(kMembers[0], Now(), kA, 5));
    Feed(1, Reachable(kMembers[1], Now(), kA, 5));
    Feed(2, Reachable(kMembers[2], Now(), 0, term));
    Tick();
    EXPECT_FALSE(snap_.split_brain().detected()) << snap_.split_brain().reason();
  }
  EXPECT_TRUE(snap_.has_leader());
  EXPECT_EQ(snap_.leader_id(), kA);
  EXPECT_TRUE(snap_.quorum_ok());
  EXPECT_TRUE(snap_.healthy());
  EXPECT_TRUE(snap_.degraded());
  EXPECT_FALSE(snap_.leader_agreement());
  EXPECT_EQ(snap_.leader_followers(), 2u);
  EXPECT_EQ(MemberNamed("etcd-3").health(), v1::UNHEALTHY);
  EXPECT_EQ(snap_.leader_changes_total(), 0u);
}

// Two members name different leaders for the same term: split-brain, and the evidence names
// every member involved with what it said.
TEST_F(ClusterModelTest, TwoLeadersInOneTermIsSplitBrainWithEvidence) {
  // Said twice by everyone: a claim counts once a member repeats it (see the next test).
  for (int round = 0; round < 2; ++round) {
    Feed(0, Reachable(kMembers[0], Now(), kA, 5));
    Feed(1, Reachable(kMembers[1], Now(), kA, 5));
    Feed(2, Reachable(kMembers[2], Now(), kC, 5));
    Tick();
    Advance(seconds(10));
  }

  ASSERT_TRUE(snap_.split_brain().detected());
  EXPECT_TRUE(HasKind(v1::SAME_TERM_DIFFERENT_LEADERS));
  EXPECT_NE(snap_.split_brain().reason().find("raft term 5"), std::string::npos);
  EXPECT_EQ(EvidenceMembers(v1::SAME_TERM_DIFFERENT_LEADERS),
            (std::set<std::string>{"etcd-1", "etcd-2", "etcd-3"}));
  for (const v1::Evidence& e : snap_.split_brain().evidence()) {
    EXPECT_EQ(e.raft_term(), 5u);
    if (e.member_name() == "etcd-2") {
      EXPECT_EQ(e.statement(), "follows leader a1 at raft term 5");
      EXPECT_EQ(e.leader_id(), kA);
    }
    if (e.member_name() == "etcd-3") {
      EXPECT_EQ(e.statement(), "leads at raft term 5");
      EXPECT_EQ(e.leader_id(), kC);
    }
  }
  EXPECT_FALSE(snap_.healthy());
  EXPECT_NE(snap_.health_reason().find("split-brain"), std::string::npos);
  // The leader more members follow is reported.
  EXPECT_EQ(snap_.leader_id(), kA);
  EXPECT_EQ(PointValue(kClusterSplitBrain), 1);
}

// Two members both exporting etcd_server_is_leader 1 at one term is split-brain.
TEST_F(ClusterModelTest, TwoIsLeaderMetricsInOneTermIsSplitBrain) {
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 3; ++i) {
      v1::MemberSample s = Reachable(kMembers[i], Now(), kA, 6);
      AddScalar(s, "etcd_server_is_leader", i == 1 ? 0 : 1);
      Feed(i, s);
    }
    Tick();
    Advance(seconds(10));
  }

  ASSERT_TRUE(snap_.split_brain().detected());
  EXPECT_TRUE(HasKind(v1::MULTIPLE_LEADERS));
  EXPECT_FALSE(HasKind(v1::SAME_TERM_DIFFERENT_LEADERS));
  EXPECT_EQ(EvidenceMembers(v1::MULTIPLE_LEADERS), (std::set<std::string>{"etcd-1", "etcd-3"}));
  EXPECT_TRUE(MemberNamed("etcd-3").is_leader_metric());
  EXPECT_FALSE(MemberNamed("etcd-2").is_leader_metric());
}

// A leadership transfer seen mid-way: etcd's Status reads the leader and the term separately,
// so the new leader's answer can name itself at the old term while the old leader's last sample
// (before it stopped) still says it leads at that term. One such answer is not split-brain; a
// repeated one is.
TEST_F(ClusterModelTest, ASingleTornStatusDuringAnElectionIsNotSplitBrain) {
  for (int round = 0; round < 2; ++round) {
    FeedAll(kA, 2);
    Tick();
    Advance(seconds(10));
  }
  // etcd-3 (id kC) answers "leader kC, term 2" once, mid-transfer; the others still say kA.
  v1::MemberSample torn = Reachable(kMembers[2], Now(), kC, 2);
  AddScalar(torn, "etcd_server_is_leader", 1);
  Feed(2, torn);
  v1::MemberSample old_leader = Reachable(kMembers[0], Now(), kA, 2);
  AddScalar(old_leader, "etcd_server_is_leader", 1);
  Feed(0, old_leader);
  Tick();
  EXPECT_FALSE(snap_.split_brain().detected()) << snap_.split_brain().reason();

  // Its next answer has the new term: no conflict at all.
  Advance(seconds(10));
  Feed(2, Reachable(kMembers[2], Now(), kC, 3));
  Tick();
  EXPECT_FALSE(snap_.split_brain().detected()) << snap_.split_brain().reason();

  // Had it repeated "kC at term 2", that would be split-brain.
  Advance(seconds(10));
  Feed(2, Reachable(kMembers[2], Now(), kC, 2));
  Tick();
  Advance(seconds(10));
  Feed(2, Reachable(kMembers[2], Now(), kC, 2));
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  Tick();
  EXPECT_TRUE(snap_.split_brain().detected());
}

// While leadership moves a follower answers without a leader for a moment: one such sample
// does not count it as down for quorum, two in a row do.
TEST_F(ClusterModelTest, AFollowerLeaderlessInOneSampleIsNotDownForQuorum) {
  for (int round = 0; round < 2; ++round) {
    FeedAll(kA, 3);
    Tick();
    Advance(seconds(10));
  }
  Feed(1, Unreachable(kMembers[1], Now()));
  Feed(0, Reachable(kMembers[0], Now(), kA, 3));
  Feed(2, Reachable(kMembers[2], Now(), 0, 3));
  Tick();
  EXPECT_TRUE(snap_.has_leader());
  EXPECT_TRUE(snap_.quorum_ok()) << snap_.health_reason();

  Advance(seconds(10));
  Feed(1, Unreachable(kMembers[1], Now()));
  Feed(0, Reachable(kMembers[0], Now(), kA, 3));
  Feed(2, Reachable(kMembers[2], Now(), 0, 3));
  Tick();
  EXPECT_FALSE(snap_.quorum_ok()) << "two members down for raft: 1 unreachable, 1 leaderless";
}

// An election that outlasts two of a follower's samples: its "no leader" answers, collected
// before the new leader was first seen leading, do not count it as down once the leader is known
// (the leader-kill case: the first snapshot naming the new leader must not say quorum lost). A
// "no leader" collected after that does.
TEST_F(ClusterModelTest, LeaderlessAnswersFromBeforeTheNewLeaderDoNotCountAsDown) {
  for (int round = 0; round < 2; ++round) {
    FeedAll(kA, 3);
    Tick();
    Advance(seconds(10));
  }
  // A is killed; B and C hold an election at term 4.
  for (int sample = 0; sample < 2; ++sample) {
    Feed(0, Unreachable(kMembers[0], Now()));
    Feed(1, Reachable(kMembers[1], Now(), 0, 4));
    Feed(2, Reachable(kMembers[2], Now(), 0, 4));
    Tick();
    EXPECT_FALSE(snap_.has_leader());
    EXPECT_FALSE(snap_.quorum_ok());
    Advance(milliseconds(200));
  }
  // C wins and says so before B's next sample.
  Feed(2, Reachable(kMembers[2], Now(), kC, 4));
  Tick();
  EXPECT_TRUE(snap_.has_leader());
  EXPECT_EQ(snap_.leader_id(), kC);
  EXPECT_TRUE(snap_.quorum_ok()) << snap_.health_reason();

  // B still without a leader after C was seen leading: down for raft, quorum lost.
  Advance(milliseconds(200));
  Feed(0, Unreachable(kMembers[0], Now()));
  Feed(1, Reachable(kMembers[1], Now(), 0, 4));
  Feed(2, Reachable(kMembers[2], Now(), kC, 4));
  Tick();
  EXPECT_TRUE(snap_.has_leader());
  EXPECT_FALSE(snap_.quorum_ok()) << "A unreachable and B leaderless after the election";
}

// A member that reports another cluster id is split-brain; the snapshot keeps the majority id.
TEST_F(ClusterModelTest, DifferentClusterIdsIsSplitBrain) {
  Feed(0, Reachable(kMembers[0], Now(), kA, 3));
  Feed(1, Reachable(kMembers[1], Now(), kA, 3));
  v1::MemberSample other = Reachable(kMembers[2], Now(), kA, 3);
  other.mutable_status()->set_cluster_id(0xdead);
  Feed(2, other);
  Tick();

  ASSERT_TRUE(snap_.split_brain().detected());
  EXPECT_TRUE(HasKind(v1::CLUSTER_ID_MISMATCH));
  EXPECT_EQ(snap_.cluster_id(), kClusterId);
  bool saw_other = false;
  for (const v1::Evidence& e : snap_.split_brain().evidence()) {
    if (e.member_name() == "etcd-3") {
      EXPECT_EQ(e.statement(), "reports cluster id dead");
      EXPECT_EQ(e.cluster_id(), 0xdeadu);
      saw_other = true;
    }
  }
  EXPECT_TRUE(saw_other);
}

// Groups at different terms each following their own leader: an election between two samples
// is not split-brain, the same picture well after the newer term began is.
TEST_F(ClusterModelTest, DivergentTermsWithLeadersIsSplitBrainOnlyAfterGrace) {
  Feed(0, Reachable(kMembers[0], Now(), kA, 5));
  Feed(1, Reachable(kMembers[1], Now(), kA, 5));
  Feed(2, Reachable(kMembers[2], Now(), kC, 7));
  Tick();
  EXPECT_FALSE(snap_.split_brain().detected()) << snap_.split_brain().reason();
  EXPECT_EQ(snap_.leader_id(), kC);  // the newest term's leader

  Advance(seconds(15));
  Feed(0, Reachable(kMembers[0], Now(), kA, 5));
  Feed(1, Reachable(kMembers[1], Now(), kA, 5));
  Feed(2, Reachable(kMembers[2], Now(), kC, 7));
  Tick();
  ASSERT_TRUE(snap_.split_brain().detected());
  EXPECT_TRUE(HasKind(v1::DIVERGENT_TERMS));
  EXPECT_EQ(EvidenceMembers(v1::DIVERGENT_TERMS),
            (std::set<std::string>{"etcd-1", "etcd-2", "etcd-3"}));
  for (const v1::Evidence& e : snap_.split_brain().evidence()) {
    if (e.member_name() == "etcd-2") {
      EXPECT_EQ(e.statement(),
                "follows leader a1 at raft term 5, 15s after etcd-3 was seen at raft term 7");
    }
  }
}

// A member whose collector went quiet is STALE (we are blind), a member its collector cannot
// reach is UNREACHABLE; only the latter counts against quorum.
TEST_F(ClusterModelTest, StaleIsNotUnreachable) {
  FeedAll(kA, 2);
  Tick();
  // 29 s without a sample of etcd-1: still fresh.
  for (int step = 0; step < 3; ++step) {
    Advance(step < 2 ? seconds(10) : seconds(9));
    Feed(1, Reachable(kMembers[1], Now(), kA, 2));
    Feed(2, Reachable(kMembers[2], Now(), kA, 2));
  }
  Tick();
  EXPECT_EQ(MemberNamed("etcd-1").health(), v1::HEALTHY);

  Advance(seconds(1));  // 30 s: three intervals
  Feed(1, Unreachable(kMembers[1], Now()));
  Feed(2, Reachable(kMembers[2], Now(), kA, 2));
  Tick();
  const v1::MemberState& gone = MemberNamed("etcd-1");
  EXPECT_EQ(gone.health(), v1::STALE);
  EXPECT_EQ(gone.reason(), "no sample for 30s (collector collector-1)");
  EXPECT_EQ(MemberNamed("etcd-2").health(), v1::UNREACHABLE);
  EXPECT_EQ(snap_.stale_members(), 1u);
  EXPECT_EQ(snap_.unreachable_members(), 1u);
  EXPECT_TRUE(snap_.has_leader());
  EXPECT_TRUE(snap_.quorum_ok());  // one known down of three; the stale one is unknown
  bool collector_stale = false;
  for (const v1::CollectorState& c : snap_.collectors()) {
    if (c.id() == "collector-1") {
      collector_stale = c.stale();
      EXPECT_EQ(c.members_size(), 1);
    }
  }
  EXPECT_TRUE(collector_stale);
  EXPECT_EQ(PointValue(kMemberStale, "etcd-1"), 1);
  EXPECT_EQ(PointValue(kClusterStaleMembers), 1);
}

// A member in the member list that no collector samples still counts and shows as stale.
TEST_F(ClusterModelTest, ListedButNeverSampledMemberCountsAsStale) {
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  Feed(1, Reachable(kMembers[1], Now(), kA, 2));
  Tick();

  EXPECT_EQ(snap_.member_count(), 3u);
  EXPECT_EQ(snap_.quorum_size(), 2u);
  const v1::MemberState& unseen = MemberNamed("etcd-3");
  EXPECT_EQ(unseen.health(), v1::STALE);
  EXPECT_FALSE(unseen.sampled());
  EXPECT_TRUE(unseen.in_member_list());
  EXPECT_EQ(unseen.id(), kC);
  EXPECT_EQ(unseen.endpoint(), "127.0.0.1:32379");
  EXPECT_EQ(unseen.last_sample_unix_ms(), 0);
  EXPECT_EQ(unseen.reason(), "never sampled: no collector reports this member");
  EXPECT_TRUE(snap_.quorum_ok());
  EXPECT_TRUE(snap_.healthy());
  EXPECT_TRUE(snap_.degraded());
}

// Leader changes: a change seen both in the leader id and in etcd's counters counts once; a
// restarted member's counter reset is not a change; changes only the counters saw count.
TEST_F(ClusterModelTest, LeaderChangesCountedOnceFromIdsAndCounters) {
  auto feed = [&](uint64_t leader, uint64_t term, std::vector<double> counters) {
    Advance(seconds(10));
    for (int i = 0; i < 3; ++i) {
      v1::MemberSample s = Reachable(kMembers[i], Now(), leader, term);
      AddScalar(s, "etcd_server_leader_changes_seen_total", counters[static_cast<std::size_t>(i)]);
      Feed(i, s);
    }
    Tick();
  };
  feed(kA, 2, {1, 1, 1});
  EXPECT_EQ(snap_.leader_changes_total(), 0u);

  feed(kB, 3, {2, 2, 2});  // one election, seen by the ids and by every counter
  EXPECT_EQ(snap_.leader_changes_observed(), 1u);
  EXPECT_EQ(snap_.leader_changes_from_counters(), 1u);
  EXPECT_EQ(snap_.leader_changes_total(), 1u);

  feed(kB, 3, {2, 2, 1});  // etcd-3 restarted: its counter starts over at 1
  EXPECT_EQ(snap_.leader_changes_total(), 1u);

  feed(kB, 3, {2, 3, 1});  // etcd-2 alone lost and found its leader: not a cluster change
  EXPECT_EQ(snap_.leader_changes_total(), 1u);

  Advance(seconds(10));
  FeedAll(kC, 4);  // no /metrics: only the ids show this election
  Tick();
  EXPECT_EQ(snap_.leader_changes_observed(), 2u);
  EXPECT_EQ(snap_.leader_changes_from_counters(), 1u);
  EXPECT_EQ(snap_.leader_changes_total(), 2u);

  // The counters went up by three since they were last seen (the election above and two more);
  // the ids show one more.
  feed(kA, 7, {5, 6, 4});
  EXPECT_EQ(snap_.leader_changes_observed(), 3u);
  EXPECT_EQ(snap_.leader_changes_from_counters(), 4u);
  EXPECT_EQ(snap_.leader_changes_total(), 4u);
  EXPECT_EQ(PointValue(kLeaderChangesTotal), 4);
}

// Rates come from counter deltas over the samples' own interval; a counter that went down was
// reset and its new value is the increase.
TEST_F(ClusterModelTest, RatesFromCounterDeltasWithResets) {
  auto sample = [&](double handled, double committed, double applied, double failed) {
    v1::MemberSample s = Reachable(kMembers[0], Now(), kA, 2);
    AddScalar(s, "grpc_server_handled_total", handled,
              {{"grpc_type", "unary"}, {"grpc_method", "Range"}, {"grpc_code", "OK"}});
    AddScalar(s, "etcd_server_proposals_committed_total", committed);
    AddScalar(s, "etcd_server_proposals_applied_total", applied);
    AddScalar(s, "etcd_server_proposals_failed_total", failed);
    AddScalar(s, "etcd_server_proposals_pending", 3);
    return s;
  };
  Feed(0, sample(100, 1000, 990, 0));
  Tick();
  EXPECT_FALSE(MemberNamed("etcd-1").has_rates());  // one sample: no rate yet

  Advance(seconds(10));
  Feed(0, sample(200, 1500, 1500, 5));
  Tick();
  const v1::Rates& r = MemberNamed("etcd-1").rates();
  EXPECT_NEAR(r.requests_per_second(), 10.0, kEps);
  EXPECT_NEAR(r.proposals_committed_per_second(), 50.0, kEps);
  EXPECT_NEAR(r.proposals_applied_per_second(), 51.0, kEps);
  EXPECT_NEAR(r.proposals_failed_per_second(), 0.5, kEps);
  EXPECT_NEAR(r.proposal_failure_ratio(), 5.0 / 505.0, kEps);
  EXPECT_NEAR(r.interval_seconds(), 10.0, kEps);
  EXPECT_EQ(MemberNamed("etcd-1").proposals_committed_total(), 1500u);
  EXPECT_EQ(MemberNamed("etcd-1").proposals_pending(), 3);
  EXPECT_NEAR(snap_.request_rate_per_second(), 10.0, kEps);
  EXPECT_NEAR(snap_.rates().proposals_committed_per_second(), 50.0, kEps);
  EXPECT_NEAR(PointValue(kRequestRate, "etcd-1"), 10.0, kEps);
  EXPECT_NEAR(PointValue(kRequestRate), 10.0, kEps);

  Advance(seconds(20));  // etcd-1 restarted in between: every counter starts over
  Feed(0, sample(30, 100, 100, 1));
  Tick();
  const v1::Rates& after = MemberNamed("etcd-1").rates();
  EXPECT_NEAR(after.requests_per_second(), 1.5, kEps);
  EXPECT_NEAR(after.proposals_committed_per_second(), 5.0, kEps);
  EXPECT_NEAR(after.proposals_failed_per_second(), 0.05, kEps);
  EXPECT_NEAR(after.interval_seconds(), 20.0, kEps);
}

// The gRPC error ratio counts unary failures only: Canceled, client errors and stream ends
// (a Watch ending Unavailable) are not failures, and streams are not requests.
TEST_F(ClusterModelTest, GrpcErrorRatioExcludesCanceledAndStreams) {
  v1::MemberSample idle = Reachable(kMembers[0], Now(), kA, 2);
  AddScalar(idle, "etcd_server_has_leader", 1);  // a page without grpc series: all zero
  Feed(0, idle);
  Advance(seconds(10));
  v1::MemberSample s = Reachable(kMembers[0], Now(), kA, 2);
  AddScalar(s, "etcd_server_has_leader", 1);
  AddScalar(s, "grpc_server_handled_total", 80,
            {{"grpc_type", "unary"}, {"grpc_method", "Range"}, {"grpc_code", "OK"}});
  AddScalar(s, "grpc_server_handled_total", 6,
            {{"grpc_type", "unary"}, {"grpc_method", "Put"}, {"grpc_code", "Unavailable"}});
  AddScalar(s, "grpc_server_handled_total", 4,
            {{"grpc_type", "unary"}, {"grpc_method", "Txn"}, {"grpc_code", "DeadlineExceeded"}});
  AddScalar(s, "grpc_server_handled_total", 50,
            {{"grpc_type", "unary"}, {"grpc_method", "Range"}, {"grpc_code", "Canceled"}});
  AddScalar(s, "grpc_server_handled_total", 10,
            {{"grpc_type", "unary"}, {"grpc_method", "Range"}, {"grpc_code", "NotFound"}});
  AddScalar(s, "grpc_server_handled_total", 100,
            {{"grpc_type", "bidi_stream"}, {"grpc_method", "Watch"}, {"grpc_code", "Unavailable"}});
  AddScalar(s, "grpc_server_handled_total", 70,
            {{"grpc_type", "bidi_stream"}, {"grpc_method", "Watch"}, {"grpc_code", "Canceled"}});
  Feed(0, s);
  Tick();

  const v1::Rates& r = MemberNamed("etcd-1").rates();
  EXPECT_NEAR(r.requests_per_second(), 15.0, kEps);    // 80 + 6 + 4 + 50 + 10 unary, over 10 s
  EXPECT_NEAR(r.grpc_errors_per_second(), 1.0, kEps);  // Unavailable + DeadlineExceeded
  EXPECT_NEAR(r.grpc_error_ratio(), 10.0 / 150.0, kEps);
  EXPECT_NEAR(snap_.rates().grpc_error_ratio(), 10.0 / 150.0, kEps);
  EXPECT_NEAR(PointValue(kGrpcErrorRatio, "etcd-1"), 10.0 / 150.0, kEps);
}

// Read and write latency percentiles are exact over the probes in the sliding window, per
// member and cluster-wide; failed probes and probes older than the window are left out.
TEST_F(ClusterModelTest, LatencyPercentilesFromProbesOverTheWindow) {
  for (int k = 0; k < 6; ++k) {
    if (k > 0) {
      Advance(seconds(10));
    }
    v1::MemberSample s = Reachable(kMembers[0], Now(), kA, 2);
    AddProbe(s, v1::Probe::SERIALIZABLE_READ, 2 * k + 1);  // 1, 3, 5, ... 11 ms
    AddProbe(s, v1::Probe::LINEARIZABLE_READ, 2 * k + 2);  // 2, 4, 6, ... 12 ms
    AddProbe(s, v1::Probe::WRITE, 10.0 * (k + 1));         // 10 ... 60 ms
    AddProbe(s, v1::Probe::WRITE, 5000, /*ok=*/false);     // a timeout is not a latency
    Feed(0, s);
  }
  Tick();

  // Reads 1..12: p50 at rank 5.5 -> 6.5; p95 at 10.45 -> 11.45; p99 at 10.89 -> 11.89.
  const v1::MemberState& m = MemberNamed("etcd-1");
  ASSERT_TRUE(m.has_read_latency());
  EXPECT_NEAR(m.read_latency().p50_ms(), 6.5, 1e-6);
  EXPECT_NEAR(m.read_latency().p95_ms(), 11.45, 1e-6);
  EXPECT_NEAR(m.read_latency().p99_ms(), 11.89, 1e-6);
  EXPECT_EQ(m.read_latency().count(), 12u);
  // Writes 10..60: p50 at rank 2.5 -> 35; p95 at 4.75 -> 57.5; p99 at 4.95 -> 59.5.
  EXPECT_NEAR(m.write_latency().p50_ms(), 35.0, 1e-6);
  EXPECT_NEAR(m.write_latency().p95_ms(), 57.5, 1e-6);
  EXPECT_NEAR(m.write_latency().p99_ms(), 59.5, 1e-6);
  EXPECT_EQ(m.write_latency().count(), 6u);
  EXPECT_EQ(m.probe_failures(), 1u);
  EXPECT_NEAR(snap_.read_latency().p50_ms(), 6.5, 1e-6);
  EXPECT_NEAR(PointValue(kReadLatencyP99, "etcd-1"), 11.89, 1e-6);
  EXPECT_NEAR(PointValue(kWriteLatencyP95), 57.5, 1e-6);

  // 15 s later the window (60 s) starts after the first sample: reads 3..12 remain.
  // p50 at rank 4.5 -> 7.5.
  Advance(seconds(15));
  v1::MemberSample other = Reachable(kMembers[1], Now(), kA, 2);
  AddProbe(other, v1::Probe::SERIALIZABLE_READ, 100);
  Feed(1, other);
  Tick();
  EXPECT_NEAR(MemberNamed("etcd-1").read_latency().p50_ms(), 7.5, 1e-6);
  EXPECT_EQ(MemberNamed("etcd-1").read_latency().count(), 10u);
  // Cluster-wide: 3..12 and 100; p50 at rank 5 -> 8, p99 at 9.9 -> 12 + 0.9 * 88.
  EXPECT_EQ(snap_.read_latency().count(), 11u);
  EXPECT_NEAR(snap_.read_latency().p50_ms(), 8.0, 1e-6);
  EXPECT_NEAR(snap_.read_latency().p99_ms(), 12.0 + 0.9 * 88.0, 1e-6);
  EXPECT_NEAR(MemberNamed("etcd-2").read_latency().p99_ms(), 100.0, 1e-6);

  // Everything aged out: no percentiles at all.
  Advance(seconds(120));
  Tick();
  EXPECT_FALSE(snap_.has_read_latency());
  EXPECT_FALSE(MemberNamed("etcd-1").has_read_latency());
}

// WAL fsync and backend commit p95/p99 come from the bucket deltas between two samples,
// interpolated inside the bucket; the worst member's are the cluster's.
TEST_F(ClusterModelTest, FsyncAndCommitPercentilesFromBucketDeltas) {
  const std::vector<double> bounds = {0.001, 0.002, 0.004, 0.008};
  auto sample = [&](int member, std::vector<uint64_t> fsync, std::vector<uint64_t> commit) {
    v1::MemberSample s = Reachable(kMembers[member], Now(), kA, 2);
    AddHistogram(s, "etcd_disk_wal_fsync_duration_seconds", bounds, fsync);
    AddHistogram(s, "etcd_disk_backend_commit_duration_seconds", bounds, commit);
    return s;
  };
  Feed(0, sample(0, {10, 20, 30, 40}, {0, 0, 0, 0}));
  Feed(1, sample(1, {0, 0, 0, 0}, {0, 0, 0, 0}));
  Advance(seconds(10));
  // Deltas of etcd-1: le=1ms 0, le=2ms 40, le=4ms 100, le=8ms 100 (cumulative), 100 in all.
  Feed(0, sample(0, {10, 60, 130, 140}, {0, 50, 100, 100}));
  // etcd-2: all 10 observations in (4ms, 8ms].
  Feed(1, sample(1, {0, 0, 0, 10}, {0, 0, 0, 0}));
  Tick();

  // p95: rank 95 in (2ms, 4ms] holding 60 from 40: 2 + 2 * 55/60; p99: 2 + 2 * 59/60.
  const v1::MemberState& m = MemberNamed("etcd-1");
  ASSERT_TRUE(m.has_wal_fsync());
  EXPECT_NEAR(m.wal_fsync().p50_ms(), 2.0 + 2.0 * 10.0 / 60.0, 1e-9);
  EXPECT_NEAR(m.wal_fsync().p95_ms(), 2.0 + 2.0 * 55.0 / 60.0, 1e-9);
  EXPECT_NEAR(m.wal_fsync().p99_ms(), 2.0 + 2.0 * 59.0 / 60.0, 1e-9);
  EXPECT_EQ(m.wal_fsync().count(), 100u);
  // Commit: 50 in (1ms, 2ms], 50 in (2ms, 4ms]; p95 = 2 + 2 * 45/50.
  EXPECT_NEAR(m.backend_commit().p95_ms(), 2.0 + 2.0 * 45.0 / 50.0, 1e-9);
  EXPECT_NEAR(m.backend_commit().p99_ms(), 2.0 + 2.0 * 49.0 / 50.0, 1e-9);
  // etcd-2's fsync p99 = 4 + 4 * 9.9/10 ms: the worst, so the cluster's.
  EXPECT_NEAR(MemberNamed("etcd-2").wal_fsync().p99_ms(), 4.0 + 4.0 * 9.9 / 10.0, 1e-9);
  EXPECT_FALSE(MemberNamed("etcd-2").has_backend_commit());  // no commits in the window
  EXPECT_NEAR(snap_.wal_fsync().p99_ms(), 4.0 + 4.0 * 9.9 / 10.0, 1e-9);
  EXPECT_NEAR(PointValue(kWalFsyncP95, "etcd-1"), 2.0 + 2.0 * 55.0 / 60.0, 1e-9);
  EXPECT_NEAR(PointValue(kBackendCommitP99, "etcd-1"), 2.0 + 2.0 * 49.0 / 50.0, 1e-9);

  // A restart resets the histogram: the window is the new counts themselves.
  Advance(seconds(10));
  Feed(0, sample(0, {0, 0, 10, 10}, {0, 0, 0, 0}));
  Tick();
  EXPECT_NEAR(MemberNamed("etcd-1").wal_fsync().p99_ms(), 2.0 + 2.0 * 9.9 / 10.0, 1e-9);
}

// Read and write latency from grpc_server_handling_seconds (etcd --metrics=extensive): bucket
// deltas over the window, unary KV calls only.
TEST_F(ClusterModelTest, GrpcHandlingPercentilesWhereExported) {
  const std::vector<double> bounds = {0.005, 0.01};
  v1::MemberSample idle = Reachable(kMembers[0], Now(), kA, 2);
  AddScalar(idle, "etcd_server_has_leader", 1);  // no handling series yet: zero
  Feed(0, idle);
  Advance(seconds(10));
  v1::MemberSample s = Reachable(kMembers[0], Now(), kA, 2);
  AddScalar(s, "etcd_server_has_leader", 1);
  AddHistogram(
      s, "grpc_server_handling_seconds", bounds, {50, 100},
      {{"grpc_type", "unary"}, {"grpc_service", "etcdserverpb.KV"}, {"grpc_method", "Range"}});
  AddHistogram(s, "grpc_server_handling_seconds", bounds, {0, 1000},
               {{"grpc_type", "bidi_stream"},
                {"grpc_service", "etcdserverpb.Watch"},
                {"grpc_method", "Watch"}});
  AddHistogram(
      s, "grpc_server_handling_seconds", bounds, {10, 10},
      {{"grpc_type", "unary"}, {"grpc_service", "etcdserverpb.KV"}, {"grpc_method", "Put"}});
  Feed(0, s);
  Tick();

  // Range: 50 in (0, 5ms], 50 in (5ms, 10ms]: p50 = 5, p95 = 5 + 5 * 45/50, p99 = 5 + 5 * 49/50.
  const v1::MemberState& m = MemberNamed("etcd-1");
  ASSERT_TRUE(m.has_grpc_read_latency());
  EXPECT_NEAR(m.grpc_read_latency().p50_ms(), 5.0, 1e-9);
  EXPECT_NEAR(m.grpc_read_latency().p95_ms(), 9.5, 1e-9);
  EXPECT_NEAR(m.grpc_read_latency().p99_ms(), 9.9, 1e-9);
  EXPECT_EQ(m.grpc_read_latency().count(), 100u);
  EXPECT_NEAR(m.grpc_write_latency().p99_ms(), 5.0 * 9.9 / 10.0, 1e-9);
  EXPECT_NEAR(snap_.grpc_read_latency().p95_ms(), 9.5, 1e-9);
  EXPECT_NEAR(PointValue(kGrpcReadLatencyP99, "etcd-1"), 9.9, 1e-9);
}

// Db size against the quota, and the time until the quota at the current growth; a shrink
// (defrag) restarts the growth measurement.
TEST_F(ClusterModelTest, QuotaPercentAndTimeToQuota) {
  constexpr int64_t kMiB = 1 << 20;
  auto sample = [&](int64_t size) {
    v1::MemberSample s = Reachable(kMembers[0], Now(), kA, 2);
    s.mutable_status()->set_db_size(size);
    s.mutable_status()->set_db_size_in_use(size / 4);
    AddScalar(s, "etcd_server_quota_backend_bytes", 200.0 * kMiB);
    return s;
  };
  for (int k = 0; k < 3; ++k) {
    Feed(0, sample((100 + k) * kMiB));
    if (k < 2) {
      Advance(seconds(10));
    }
  }
  Tick();
  const v1::MemberState& m = MemberNamed("etcd-1");
  EXPECT_EQ(m.db_quota_bytes(), 200 * kMiB);
  EXPECT_NEAR(m.db_quota_used_percent(), 51.0, 1e-9);
  EXPECT_NEAR(m.rates().db_growth_bytes_per_second(), 0.1 * kMiB, 1e-6);
  ASSERT_TRUE(m.has_db_seconds_to_quota());
  EXPECT_NEAR(m.db_seconds_to_quota(), 980.0, 1e-6);  // 98 MiB at 0.1 MiB/s
  EXPECT_NEAR(m.db_fragmentation_ratio(), 0.75, 1e-9);
  EXPECT_NEAR(snap_.db_quota_used_percent(), 51.0, 1e-9);
  EXPECT_NEAR(snap_.db_seconds_to_quota(), 980.0, 1e-6);
  EXPECT_EQ(snap_.db_size_bytes(), 102 * kMiB);
  EXPECT_NEAR(PointValue(kDbSecondsToQuota, "etcd-1"), 980.0, 1e-6);

  Advance(seconds(10));
  Feed(0, sample(50 * kMiB));  // defragmented
  Tick();
  EXPECT_FALSE(MemberNamed("etcd-1").has_db_seconds_to_quota());
  EXPECT_FALSE(snap_.has_db_seconds_to_quota());
  EXPECT_NEAR(MemberNamed("etcd-1").db_quota_used_percent(), 25.0, 1e-9);

  Advance(seconds(10));
  Feed(0, sample(50 * kMiB));  // not growing: no time to quota
  Tick();
  EXPECT_FALSE(MemberNamed("etcd-1").has_db_seconds_to_quota());
}

// Fragmentation is 1 - in use / size; host disk and memory usage are percentages.
TEST_F(ClusterModelTest, FragmentationAndHostUsage) {
  v1::MemberSample s = Reachable(kMembers[0], Now(), kA, 2);
  s.mutable_status()->set_db_size(1000);
  s.mutable_status()->set_db_size_in_use(250);
  v1::HostStats* h = s.mutable_host();
  h->set_disk_total_bytes(1000);
  h->set_disk_used_bytes(850);
  h->set_memory_total_bytes(4000);
  h->set_memory_available_bytes(1000);
  h->set_open_fds(42);
  s.mutable_certificate()->set_subject("CN=etcd-1");
  s.mutable_certificate()->set_not_after_unix_seconds(Now() / 1000 + 3 * 86400);
  Feed(0, s);
  Tick();
  const v1::MemberState& m = MemberNamed("etcd-1");
  EXPECT_NEAR(m.db_fragmentation_ratio(), 0.75, 1e-9);
  EXPECT_NEAR(m.disk_used_percent(), 85.0, 1e-9);
  EXPECT_NEAR(m.memory_used_percent(), 75.0, 1e-9);
  EXPECT_EQ(m.open_fds(), 42);
  EXPECT_EQ(m.certificate_expires_in_seconds(), 3 * 86400);
  EXPECT_EQ(snap_.certificate_expires_in_seconds(), 3 * 86400);
  EXPECT_EQ(m.certificate_subject(), "CN=etcd-1");
}

// Without disk figures the member says why: the collector's reason, or that no collector
// samples it; with them, no reason.
TEST_F(ClusterModelTest, DiskUnknownReason) {
  v1::MemberSample unknown = Reachable(kMembers[0], Now(), kA, 2);
  unknown.mutable_host()->set_memory_total_bytes(4000);
  unknown.mutable_host()->set_disk_unknown_reason(
      "the member runs on another host (10.0.0.1): run a collector beside it or give "
      "--member-data-dir=10.0.0.1:2379=DIR");
  v1::MemberSample known = Reachable(kMembers[1], Now(), kA, 2);
  known.mutable_host()->set_disk_total_bytes(1000);
  known.mutable_host()->set_disk_used_bytes(810);
  Feed(0, unknown);
  Feed(1, known);
  Tick();
  EXPECT_FALSE(MemberNamed("etcd-1").has_disk_used_percent());
  EXPECT_EQ(MemberNamed("etcd-1").disk_unknown_reason(),
            "the member runs on another host (10.0.0.1): run a collector beside it or give "
            "--member-data-dir=10.0.0.1:2379=DIR");
  EXPECT_NEAR(MemberNamed("etcd-2").disk_used_percent(), 81.0, 1e-9);
  EXPECT_EQ(MemberNamed("etcd-2").disk_unknown_reason(), "");
  EXPECT_FALSE(MemberNamed("etcd-3").has_disk_used_percent());
  EXPECT_EQ(MemberNamed("etcd-3").disk_unknown_reason(), "no collector samples this member");
}

// Alarms make the member unhealthy and the cluster unhealthy; a Status without errors on a
// later sample clears them.
TEST_F(ClusterModelTest, AlarmsAreReportedAndCleared) {
  FeedAll(kA, 2);
  Advance(seconds(10));
  v1::MemberSample s = Reachable(kMembers[1], Now(), kA, 2, /*full=*/false);
  s.mutable_status()->add_errors("memberID:178 alarm:NOSPACE");
  v1::Alarm* a = s.add_alarms();
  a->set_member_id(kB);
  a->set_type("NOSPACE");
  Feed(1, s);
  Tick();
  EXPECT_FALSE(snap_.healthy());
  ASSERT_EQ(snap_.alarms_size(), 1);
  EXPECT_EQ(snap_.alarms(0), "NOSPACE");
  ASSERT_EQ(snap_.alarm_details_size(), 1);
  EXPECT_EQ(snap_.alarm_details(0).member_name(), "etcd-2");
  EXPECT_EQ(MemberNamed("etcd-2").health(), v1::UNHEALTHY);
  ASSERT_EQ(MemberNamed("etcd-2").alarms_size(), 1);
  EXPECT_NE(MemberNamed("etcd-2").reason().find("alarm NOSPACE"), std::string::npos);
  EXPECT_EQ(PointValue(kClusterAlarmsActive), 1);

  Advance(seconds(10));
  Feed(1, Reachable(kMembers[1], Now(), kA, 2, /*full=*/false));  // disarmed
  Tick();
  EXPECT_TRUE(snap_.healthy());
  EXPECT_EQ(snap_.alarms_size(), 0);
}

// The spread of revision and indexes across members; a member stuck while the others advance
// falls further behind with every sample, while members sampled in turn under load do not.
TEST_F(ClusterModelTest, DivergenceSpreadAndGrowth) {
  auto sample = [&](int member, int64_t revision) {
    v1::MemberSample s = Reachable(kMembers[member], Now(), kA, 2, /*full=*/false);
    s.mutable_status()->set_revision(revision);
    s.mutable_status()->set_raft_index(static_cast<uint64_t>(revision) + 10);
    s.mutable_status()->set_raft_applied_index(static_cast<uint64_t>(revision) + 9);
    return s;
  };
  // Healthy: members are sampled in turn while the revision climbs 10 per second.
  int64_t revision = 1000;
  for (int k = 0; k < 12; ++k) {
    Advance(seconds(3));
    revision += 30;
    Feed(k % 3, sample(k % 3, revision));
    Tick();
    EXPECT_FALSE(snap_.divergence().growing()) << "step " << k;
  }
  EXPECT_EQ(snap_.divergence().revision().spread(), 60);
  EXPECT_EQ(PointValue(kRevisionSpread), 60);

  // etcd-3 stops applying at its last revision while the others go on.
  const int64_t stuck = revision;
  for (int k = 0; k < 12; ++k) {
    Advance(seconds(3));
    revision += 30;
    const int member = k % 3;
    Feed(member, sample(member, member == 2 ? stuck : revision));
    Tick();
  }
  const v1::Spread& spread = snap_.divergence().revision();
  EXPECT_TRUE(snap_.divergence().growing());
  EXPECT_TRUE(spread.growing());
  EXPECT_EQ(spread.behind_member_name(), "etcd-3");
  EXPECT_EQ(spread.spread(), revision - 30 - stuck);
  EXPECT_EQ(spread.lagging_member_name(), "etcd-3");
  EXPECT_GT(spread.lag(), 0);
  EXPECT_EQ(spread.observations(), 4u);  // each of etcd-3's four samples since it got stuck
  EXPECT_GT(spread.growing_since_unix_ms(), 0);
  EXPECT_TRUE(snap_.divergence().applied_index().growing());
  EXPECT_EQ(snap_.divergence().raft_index().spread(), spread.spread());
  EXPECT_EQ(PointValue(kDivergenceGrowing), 1);
}

// A learner is a member but not a voter: it does not count towards quorum, nor against it.
TEST_F(ClusterModelTest, LearnerIsNotAVoter) {
  auto with_learner = [&](v1::MemberSample s) {
    for (v1::MemberInfo& info : *s.mutable_members()) {
      info.set_is_learner(info.id() == kC);
    }
    return s;
  };
  Feed(0, with_learner(Reachable(kMembers[0], Now(), kA, 2)));
  Feed(1, with_learner(Reachable(kMembers[1], Now(), kA, 2)));
  Feed(2, Unreachable(kMembers[2], Now()));
  Tick();

  EXPECT_EQ(snap_.member_count(), 3u);
  EXPECT_EQ(snap_.voting_members(), 2u);
  EXPECT_EQ(snap_.learners(), 1u);
  EXPECT_EQ(snap_.quorum_size(), 2u);
  EXPECT_TRUE(snap_.quorum_ok());  // the unreachable learner is not a voter
  EXPECT_TRUE(MemberNamed("etcd-3").is_learner());
  EXPECT_EQ(snap_.healthy_voting_members(), 2u);

  // Reachable again, its own Status says learner.
  Advance(seconds(10));
  v1::MemberSample back = with_learner(Reachable(kMembers[2], Now(), kA, 2));
  back.mutable_status()->set_is_learner(true);
  Feed(2, back);
  Tick();
  EXPECT_EQ(snap_.voting_members(), 2u);
  EXPECT_EQ(snap_.healthy_members(), 3u);
  EXPECT_EQ(snap_.healthy_voting_members(), 2u);
}

// A member gone from every current member list whose collector stopped leaves the model.
TEST_F(ClusterModelTest, RemovedMemberLeavesTheModel) {
  FeedAll(kA, 2);
  Tick();
  ASSERT_EQ(snap_.member_count(), 3u);
  auto without_c = [&](int member) {
    v1::MemberSample s = Reachable(kMembers[member], Now(), kA, 2);
    auto* list = s.mutable_members();
    list->erase(std::remove_if(list->begin(), list->end(),
                               [](const v1::MemberInfo& m) { return m.id() == kC; }),
                list->end());
    return s;
  };
  for (int step = 0; step < 4; ++step) {
    Advance(seconds(10));
    Feed(0, without_c(0));
    Feed(1, without_c(1));
    Tick();
  }
  EXPECT_EQ(snap_.member_count(), 2u);
  EXPECT_EQ(snap_.members_size(), 2);
  EXPECT_EQ(snap_.quorum_size(), 2u);
  EXPECT_TRUE(snap_.healthy());
  EXPECT_FALSE(snap_.degraded());
}

// A sample older than the member's latest (or a resent duplicate) changes nothing.
TEST_F(ClusterModelTest, OlderSampleIsIgnored) {
  const int64_t t0 = Now();
  Advance(seconds(20));
  Feed(0, Reachable(kMembers[0], Now(), kA, 3));
  Feed(0, Reachable(kMembers[0], Now(), kB, 4));  // same collection time: a duplicate
  Feed(0, Reachable(kMembers[0], t0, kB, 2));     // older
  Feed(1, Reachable(kMembers[1], t0, kA, 3));     // another member's older sample is fine
  Tick();
  const v1::MemberState& m = MemberNamed("etcd-1");
  EXPECT_EQ(m.raft_term(), 3u);
  EXPECT_EQ(m.leader_id(), kA);
  EXPECT_EQ(m.last_sample_unix_ms(), Now());
  EXPECT_EQ(MemberNamed("etcd-2").last_sample_unix_ms(), t0);
  for (const v1::CollectorState& c : snap_.collectors()) {
    if (c.id() == "collector-1") {
      EXPECT_EQ(c.samples_received(), 1u);
    }
  }
}

// A collector whose member has been down since it started knows no id: its samples join the
// listed member with the same endpoint instead of making a second member.
TEST_F(ClusterModelTest, SampleWithoutIdJoinsListedMemberByEndpoint) {
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  Feed(1, Reachable(kMembers[1], Now(), kA, 2));
  v1::MemberSample down = Unreachable(kMembers[2], Now());
  down.set_member_id(0);
  down.set_member_name("");
  Feed(2, down);
  Tick();
  EXPECT_EQ(snap_.members_size(), 3);
  EXPECT_EQ(snap_.member_count(), 3u);
  EXPECT_EQ(MemberNamed("etcd-3").health(), v1::UNREACHABLE);
  EXPECT_EQ(MemberNamed("etcd-3").id(), kC);
}

// Collector counters passed on from batches show in the snapshot.
TEST_F(ClusterModelTest, CollectorStatsAreShown) {
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  v1::CollectorStats stats;
  stats.set_queue_depth(7);
  stats.set_dropped_batches_total(2);
  model_.IngestStats("collector-1", stats);
  Tick();
  ASSERT_EQ(snap_.collectors_size(), 1);
  EXPECT_TRUE(snap_.collectors(0).has_stats());
  EXPECT_EQ(snap_.collectors(0).queue_depth(), 7u);
  EXPECT_EQ(snap_.collectors(0).dropped_batches_total(), 2u);
  EXPECT_EQ(snap_.collectors(0).members(0), "etcd-1");
}

// Without any fresh sample the model is blind: no leader, not healthy, and it says why.
TEST_F(ClusterModelTest, BlindWithoutFreshSamples) {
  Tick();
  EXPECT_FALSE(snap_.healthy());
  EXPECT_EQ(snap_.member_count(), 0u);
  EXPECT_EQ(snap_.health_reason(), "no recent sample of any member");

  FeedAll(kA, 2);
  Advance(seconds(40));
  Tick();
  EXPECT_EQ(snap_.fresh_members(), 0u);
  EXPECT_EQ(snap_.stale_members(), 3u);
  EXPECT_EQ(snap_.member_count(), 3u);  // the lists we have still say who the members are
  EXPECT_FALSE(snap_.healthy());
  EXPECT_EQ(snap_.health_reason(), "no recent sample of any member");
}

// A member that answered, then stopped answering: what etcd said (term, indices, revision,
// sizes, version, leader) is unknown, not zero; the latency window still shown is marked stale
// as of its last answer; the cluster, serving, is degraded.
TEST_F(ClusterModelTest, MemberThatStopsAnsweringIsUnknownAndDegradesTheCluster) {
  for (int i = 0; i < 3; ++i) {
    v1::MemberSample s = Reachable(kMembers[i], Now(), kA, 2);
    AddProbe(s, v1::Probe::SERIALIZABLE_READ, 4);
    Feed(i, s);
  }
  Tick();
  const int64_t answered_at = Now();
  EXPECT_EQ(snap_.state(), v1::CLUSTER_HEALTHY);
  {
    const v1::MemberState& m = MemberNamed("etcd-3");
    EXPECT_FALSE(m.figures_stale());
    EXPECT_EQ(m.last_answered_unix_ms(), answered_at);
    ASSERT_TRUE(m.has_raft_term());
    EXPECT_EQ(m.raft_term(), 2u);
    EXPECT_TRUE(m.has_revision());
    EXPECT_TRUE(m.has_db_size_bytes());
  }

  Advance(seconds(10));
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  Feed(1, Reachable(kMembers[1], Now(), kA, 2));
  Feed(2, Unreachable(kMembers[2], Now()));
  Tick();

  const v1::MemberState& down = MemberNamed("etcd-3");
  EXPECT_EQ(down.health(), v1::UNREACHABLE);
  EXPECT_FALSE(down.has_raft_term());
  EXPECT_FALSE(down.has_raft_index());
  EXPECT_FALSE(down.has_raft_applied_index());
  EXPECT_FALSE(down.has_apply_lag());
  EXPECT_FALSE(down.has_revision());
  EXPECT_FALSE(down.has_db_size_bytes());
  EXPECT_FALSE(down.has_db_size_in_use_bytes());
  EXPECT_FALSE(down.has_version());
  EXPECT_FALSE(down.has_leader_id());
  EXPECT_FALSE(down.has_cluster_id());
  EXPECT_FALSE(down.has_db_fragmentation_ratio());
  EXPECT_TRUE(down.figures_stale());
  EXPECT_EQ(down.last_answered_unix_ms(), answered_at);
  ASSERT_TRUE(down.has_read_latency()) << "the window still holds its older probes";
  EXPECT_EQ(down.read_latency().count(), 1u);
  EXPECT_FALSE(MemberNamed("etcd-1").figures_stale());
  EXPECT_EQ(MemberNamed("etcd-1").last_answered_unix_ms(), Now());

  EXPECT_EQ(snap_.state(), v1::CLUSTER_DEGRADED);
  EXPECT_TRUE(snap_.healthy());
  EXPECT_TRUE(snap_.degraded());
  EXPECT_EQ(snap_.health_reason(), "2 of 3 members healthy (etcd-3 unreachable)");
  // Its history gets no latency point from the older probes.
  double v = 0;
  EXPECT_FALSE(FindPoint(kReadLatencyP99, "etcd-3", v));
}

// A member that never answered has no etcd figures at all, and nothing to be as of.
TEST_F(ClusterModelTest, NeverAnsweredMemberIsUnknown) {
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  Feed(1, Reachable(kMembers[1], Now(), kA, 2));
  Feed(2, Unreachable(kMembers[2], Now()));
  Tick();
  const v1::MemberState& m = MemberNamed("etcd-3");
  EXPECT_FALSE(m.has_raft_term());
  EXPECT_FALSE(m.has_revision());
  EXPECT_FALSE(m.has_db_size_bytes());
  EXPECT_FALSE(m.has_read_latency());
  EXPECT_TRUE(m.figures_stale());
  EXPECT_EQ(m.last_answered_unix_ms(), 0);
  EXPECT_EQ(snap_.state(), v1::CLUSTER_DEGRADED);
}

// A stale member keeps what its newest sample said, marked stale as of that sample.
TEST_F(ClusterModelTest, StaleMemberFiguresAreMarkedStale) {
  FeedAll(kA, 2);
  Tick();
  const int64_t answered_at = Now();
  for (int step = 0; step < 3; ++step) {
    Advance(seconds(10));
    Feed(0, Reachable(kMembers[0], Now(), kA, 2));
    Feed(1, Reachable(kMembers[1], Now(), kA, 2));
  }
  Tick();
  const v1::MemberState& m = MemberNamed("etcd-3");
  EXPECT_EQ(m.health(), v1::STALE);
  EXPECT_TRUE(m.has_raft_term());
  EXPECT_TRUE(m.figures_stale());
  EXPECT_EQ(m.last_answered_unix_ms(), answered_at);
  EXPECT_EQ(snap_.state(), v1::CLUSTER_DEGRADED);
  EXPECT_EQ(snap_.health_reason(), "2 of 3 members healthy (etcd-3 stale)");
}

// The cluster's state names the worst of what was observed.
TEST_F(ClusterModelTest, StateNamesTheWorstCondition) {
  Tick();
  EXPECT_EQ(snap_.state(), v1::CLUSTER_STATE_UNKNOWN) << "no member known";

  // The leader answers, both followers are down: a leader without a quorum.
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  Feed(1, Unreachable(kMembers[1], Now()));
  Feed(2, Unreachable(kMembers[2], Now()));
  Tick();
  EXPECT_TRUE(snap_.has_leader());
  EXPECT_EQ(snap_.state(), v1::CLUSTER_NO_QUORUM);
  EXPECT_FALSE(snap_.degraded());

  Advance(seconds(10));
  Feed(0, Reachable(kMembers[0], Now(), 0, 3));
  Feed(1, Unreachable(kMembers[1], Now()));
  Feed(2, Unreachable(kMembers[2], Now()));
  Tick();
  EXPECT_EQ(snap_.state(), v1::CLUSTER_NO_LEADER);

  Advance(seconds(40));
  Tick();
  EXPECT_EQ(snap_.state(), v1::CLUSTER_STALE);
}

// Split-brain outranks everything else in the state.
TEST_F(ClusterModelTest, SplitBrainState) {
  for (int round = 0; round < 2; ++round) {
    Feed(0, Reachable(kMembers[0], Now(), kA, 5));
    Feed(1, Reachable(kMembers[1], Now(), kA, 5));
    Feed(2, Reachable(kMembers[2], Now(), kC, 5));
    Tick();
    Advance(seconds(10));
  }
  ASSERT_TRUE(snap_.split_brain().detected());
  EXPECT_EQ(snap_.state(), v1::CLUSTER_SPLIT_BRAIN);
}

// A monitor that reaches no member (--endpoints=localhost:1) says so, naming the member by
// its endpoint and the error, instead of a lost leader and quorum (once the start-up grace has
// passed: until then nothing says it is the whole cluster).
TEST_F(ClusterModelTest, NoMemberAnswersIsTheReason) {
  v1::MemberSample s;
  s.set_endpoint("localhost:1");
  s.set_collected_at_unix_ms(Now());
  s.set_reachable(false);
  s.set_error("connection refused");
  Feed(0, s);
  Tick();
  EXPECT_TRUE(snap_.starting_up());
  EXPECT_EQ(snap_.member_count(), 0u) << "not counted before the start-up grace";
  Advance(seconds(30));
  s.set_collected_at_unix_ms(Now());
  Feed(0, s);
  Tick();
  EXPECT_FALSE(snap_.starting_up());
  ASSERT_EQ(snap_.members_size(), 1);
  EXPECT_EQ(snap_.member_count(), 1u);
  EXPECT_FALSE(snap_.members(0).has_raft_term());
  EXPECT_TRUE(snap_.members(0).figures_stale());
  EXPECT_FALSE(snap_.healthy());
  EXPECT_EQ(snap_.state(), v1::CLUSTER_NO_LEADER);
  EXPECT_EQ(snap_.health_reason(),
            "no etcd member answers: 0 of 1 reachable (localhost:1: connection refused)");
}

// The per-sample history points carry the sample's own time and the member's name.
TEST(SamplePointsTest, ValuesAtTheSampleTime) {
  v1::MemberSample s = Reachable(kMembers[1], 1700000000123, kA, 9);
  s.mutable_status()->set_raft_applied_index(990);
  AddProbe(s, v1::Probe::LINEARIZABLE_READ, 2.5);
  AddProbe(s, v1::Probe::WRITE, 7.25);
  AddScalar(s, "etcd_server_proposals_committed_total", 1234);
  AddScalar(s, "etcd_server_proposals_pending", 2);
  AddScalar(s, "etcd_server_quota_backend_bytes", 4 << 20);
  s.mutable_host()->set_disk_total_bytes(200);
  s.mutable_host()->set_disk_used_bytes(50);

  std::vector<DerivedPoint> points;
  ClusterModel::SamplePoints(s, points);
  auto value = [&](std::string_view metric) {
    for (const DerivedPoint& p : points) {
      if (p.metric == metric) {
        EXPECT_EQ(p.member, "etcd-2");
        EXPECT_EQ(p.unix_ms, 1700000000123);
        return p.value;
      }
    }
    ADD_FAILURE() << "no point " << metric;
    return -1.0;
  };
  EXPECT_EQ(value(kMemberUp), 1);
  EXPECT_EQ(value(kMemberRaftTerm), 9);
  EXPECT_EQ(value(kMemberApplyLag), 10);
  EXPECT_EQ(value(kMemberIsLeader), 0);
  EXPECT_EQ(value(kDbSize), 1 << 20);
  EXPECT_NEAR(value(kDbQuotaUsedPercent), 25.0, 1e-9);
  EXPECT_NEAR(value(kProbeLinearizableRead), 2.5, 1e-9);
  EXPECT_NEAR(value(kProbeWrite), 7.25, 1e-9);
  EXPECT_EQ(value(kProposalsCommitted), 1234);
  EXPECT_EQ(value(kProposalsPending), 2);
  EXPECT_NEAR(value(kDiskUsagePercent), 25.0, 1e-9);
  for (const DerivedPoint& p : points) {
    EXPECT_TRUE(IsKnownMetric(p.metric)) << p.metric;
  }

  std::vector<DerivedPoint> down;
  ClusterModel::SamplePoints(Unreachable(kMembers[0], 5), down);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].metric, kMemberUp);
  EXPECT_EQ(down[0].value, 0);
}

// The member named `name` in `snap`, or null.
const v1::MemberState* FindMember(const v1::ClusterSnapshot& snap, const std::string& name) {
  for (const v1::MemberState& m : snap.members()) {
    if (m.name() == name) {
      return &m;
    }
  }
  return nullptr;
}

// A forged sample dated far ahead (year 9999) for a real member is ignored: the genuine samples
// that follow still decide the member's state and the leader.
TEST_F(ClusterModelTest, SampleBeyondTheClockSkewIsIgnored) {
  FeedAll(kA, 2);
  v1::MemberSample forged = Unreachable(kMembers[0], 253402300799000);
  EXPECT_FALSE(model_.Ingest("forger", forged));
  // Exactly at the skew is still taken (the collector's clock may run a little ahead).
  Advance(seconds(1));
  v1::MemberSample ahead = Reachable(kMembers[1], Now() + 5 * 60 * 1000, kA, 2);
  model_.Ingest("collector-2", ahead);
  Advance(seconds(1));
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  Tick();
  const v1::MemberState* a = FindMember(snap_, "etcd-1");
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->reachable());
  EXPECT_EQ(a->last_sample_unix_ms(), Now());
  EXPECT_EQ(a->health(), v1::HEALTHY) << a->reason();
  EXPECT_EQ(snap_.leader_id(), kA);
  const v1::MemberState* b = FindMember(snap_, "etcd-2");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->last_sample_unix_ms(), ahead.collected_at_unix_ms());
}

// A member neither sampled nor listed for longer than forget_after is forgotten; until then it
// is kept (stale).
TEST_F(ClusterModelTest, MembersNotHeardOfForTheRetentionAreForgotten) {
  ModelConfig config = Config();
  config.forget_after = std::chrono::hours(1);
  ClusterModel model(config, clock_);
  v1::MemberSample lone = Reachable(kMembers[0], Now(), kA, 2, /*full=*/false);
  model.Ingest("collector-1", lone);
  model.Tick(snap_, points_);
  ASSERT_EQ(snap_.members_size(), 1);
  Advance(std::chrono::minutes(59));
  model.Tick(snap_, points_);
  ASSERT_EQ(snap_.members_size(), 1);  // stale, still remembered
  EXPECT_EQ(snap_.members(0).health(), v1::STALE);
  Advance(std::chrono::minutes(2));
  model.Tick(snap_, points_);
  EXPECT_EQ(snap_.members_size(), 0);
  // It comes back as soon as it is heard of again.
  model.Ingest("collector-1", Reachable(kMembers[0], Now(), kA, 2, /*full=*/false));
  model.Tick(snap_, points_);
  EXPECT_EQ(snap_.members_size(), 1);
}

// Beyond max_members, samples (and member-list entries) of further members are ignored; the
// members already tracked keep working.
TEST_F(ClusterModelTest, MembersBeyondTheMaximumAreIgnored) {
  ModelConfig config = Config();
  config.max_members = 2;
  ClusterModel model(config, clock_);
  for (int i = 0; i < 3; ++i) {
    model.Ingest("collector-" + std::to_string(i), Reachable(kMembers[i], Now(), kA, 2, false));
  }
  model.Tick(snap_, points_);
  ASSERT_EQ(snap_.members_size(), 2);
  Advance(seconds(10));
  model.Ingest("collector-1", Reachable(kMembers[1], Now(), kA, 3, false));
  model.Tick(snap_, points_);
  const v1::MemberState* b = FindMember(snap_, "etcd-2");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->last_sample_unix_ms(), Now());
  EXPECT_EQ(FindMember(snap_, "etcd-3"), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Start-up

// A sample whose connection was refused by a member the collector never reached: no id, no
// name, only the endpoint it dials.
v1::MemberSample RefusedFromNewCollector(const Member& m, int64_t at_ms) {
  v1::MemberSample s = Unreachable(m, at_ms);
  s.clear_member_id();
  s.clear_member_name();
  return s;
}

// Just started, the model says so until every member the member lists name has been sampled;
// then the start-up is over for good.
TEST_F(ClusterModelTest, StartupLastsUntilEveryListedMemberIsSampled) {
  Tick();
  EXPECT_TRUE(snap_.starting_up());
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  Tick();
  EXPECT_TRUE(snap_.starting_up()) << "etcd-2 and etcd-3 are listed but not sampled";
  Feed(1, Reachable(kMembers[1], Now(), kA, 2));
  Feed(2, RefusedFromNewCollector(kMembers[2], Now()));
  Tick();
  EXPECT_FALSE(snap_.starting_up());
  EXPECT_EQ(snap_.member_count(), 3u);
  EXPECT_EQ(MemberNamed("etcd-3").health(), v1::UNREACHABLE);
  // Over for good: a member list naming a member not sampled yet does not bring it back.
  v1::MemberSample more = Reachable(kMembers[0], Now(), kA, 2);
  v1::MemberInfo* fourth = more.add_members();
  fourth->set_id(0xd4);
  fourth->set_name("etcd-4");
  Feed(0, more);
  Tick();
  EXPECT_FALSE(snap_.starting_up());
}

// The first sample after a start is a refused connection to a member down since before it: the
// snapshot does not make it a one-member cluster with nobody available ("0 of 1"); it is shown as
// unreachable but not counted as a member until the member lists name it.
TEST_F(ClusterModelTest, RefusedSampleDoesNotMakeAMemberWhileStartingUp) {
  Feed(2, RefusedFromNewCollector(kMembers[2], Now()));
  Tick();
  EXPECT_TRUE(snap_.starting_up());
  EXPECT_EQ(snap_.member_count(), 0u);
  EXPECT_EQ(snap_.voting_members(), 0u);
  EXPECT_EQ(snap_.fresh_members(), 0u);
  ASSERT_EQ(snap_.members_size(), 1);
  EXPECT_FALSE(snap_.members(0).in_member_list());
  EXPECT_EQ(snap_.members(0).health(), v1::UNREACHABLE);
  // The other members' lists name it: it is that member, counted, and down.
  Feed(0, Reachable(kMembers[0], Now(), kA, 2));
  Feed(1, Reachable(kMembers[1], Now(), kA, 2));
  Tick();
  EXPECT_FALSE(snap_.starting_up());
  EXPECT_EQ(snap_.member_count(), 3u);
  EXPECT_EQ(snap_.voting_members(), 3u);
  ASSERT_EQ(snap_.members_size(), 3);
  EXPECT_EQ(MemberNamed("etcd-3").health(), v1::UNREACHABLE);
  EXPECT_TRUE(snap_.quorum_ok());
}

// A cluster whose only member is down from the start has no member list to wait for: after
// the start-up grace (3 intervals) its lone refused member counts, so its outage is reported.
TEST_F(ClusterModelTest, LoneDeadMemberCountsOnceTheStartupGraceHasPassed) {
  for (int i = 0; i < 3; ++i) {
    Feed(0, RefusedFromNewCollector(kMembers[0], Now()));
    Tick();
    EXPECT_TRUE(snap_.starting_up()) << i;
    EXPECT_EQ(snap_.member_count(), 0u) << i;
    Advance(seconds(10));
  }
  Feed(0, RefusedFromNewCollector(kMembers[0], Now()));
  Tick();
  EXPECT_FALSE(snap_.starting_up());
  EXPECT_EQ(snap_.member_count(), 1u);
  EXPECT_FALSE(snap_.has_leader());
}

// After a restart, the members the previous run sampled last are waited for too, by any of
// their identities (name, hex id, endpoint), even when the member lists do not name them.
TEST_F(ClusterModelTest, StartupWaitsForTheMembersOfThePreviousRun) {
  model_.ExpectMembers({"etcd-1", "b2", "127.0.0.1:32379", "etcd-gone"});
  FeedAll(kA, 2);
  Tick();
  EXPECT_TRUE(snap_.starting_up()) << "etcd-gone not sampled";
  Advance(seconds(29));
  FeedAll(kA, 2);
  Tick();
  EXPECT_TRUE(snap_.starting_up());
  Advance(seconds(1));
  FeedAll(kA, 2);
  Tick();
  EXPECT_FALSE(snap_.starting_up()) << "bounded by 3 intervals";

  ClusterModel other(Config(), clock_);
  other.ExpectMembers({"etcd-1", "b2", "127.0.0.1:32379"});
  for (int i = 0; i < 3; ++i) {
    other.Ingest("collector", Reachable(kMembers[i], Now(), kA, 2));
  }
  other.Tick(snap_, points_);
  EXPECT_FALSE(snap_.starting_up());
}

}  // namespace
}  // namespace etcdmon::aggregator
