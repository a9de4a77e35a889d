// AlerterService over many clusters: one engine per cluster fed from one interleaved snapshot
// stream, per-cluster rules, silences, gRPC filters, the restore of alerts and rule states by
// cluster, and the bound on clusters. Snapshots come from a scripted source and time from a
// FakeClock; gRPC is the in-process channel.

#include "etcdmon/alerter/service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>

#include "etcdmon/alerter/alert_store.h"
#include "etcdmon/rpc/security.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmonitor/v1/services.grpc.pb.h"
#include "rules_test_snapshots.h"

namespace etcdmon::alerter {
namespace {

using namespace testing;  // NOLINT: the snapshot helpers
using etcdmon::testing::TempDir;
using etcdmon::testing::WaitFor;

constexpr char kToken[] = "test-token";

// Snapshots the test pushes, read by the service's loop. Counts the reads that found nothing:
// two of them after a push mean the loop drained the push and did its periodic work.
class ScriptedSource {
 public:
  void Push(std::vector<v1::ClusterSnapshot> snapshots) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : snapshots) {
      queue_.push_back(std::move(s));
    }
    pushed_at_empty_reads_ = empty_reads_;
    cv_.notify_all();
  }

  Result<bool> Receive(v1::ClusterSnapshot& out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (queue_.empty()) {
      ++empty_reads_;
      cv_.notify_all();
      cv_.wait_for(lock, timeout, [&] { return !queue_.empty(); });
      if (queue_.empty()) {
        return false;
      }
    }
    out = std::move(queue_.front());
    queue_.pop_front();
    return true;
  }

  // Waits until everything pushed was evaluated and the loop's periodic work (publishing the
  // active alerts, saving rule states) ran after it.
  bool Settle() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] {
      return queue_.empty() && empty_reads_ >= pushed_at_empty_reads_ + 2;
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::ClusterSnapshot> queue_;
  uint64_t empty_reads_ = 0;
  uint64_t pushed_at_empty_reads_ = 0;
};

// Keeps every notification it is given.
class CapturingNotifier final : public Notifier {
 public:
  struct Sent {
    std::mutex mu;
    std::vector<Notification> notifications;
  };
  explicit CapturingNotifier(std::shared_ptr<Sent> sent) : sent_(std::move(sent)) {}
  const std::string& name() const override { return name_; }
  Status Send(const Notification& n) override {
    std::lock_guard<std::mutex> lock(sent_->mu);
    sent_->notifications.push_back(n);
    return Status::Ok();
  }

 private:
  std::string name_ = "webhook";
  std::shared_ptr<Sent> sent_;
};

v1::ClusterSnapshot Healthy(const std::string& cluster, double t) {
  v1::ClusterSnapshot s = HealthyCluster(t);
  s.set_cluster(cluster);
  return s;
}

v1::ClusterSnapshot QuorumLost(const std::string& cluster, double t) {
  v1::ClusterSnapshot s = Healthy(cluster, t);
  s.set_has_leader(false);
  s.set_leader_id(0);
  MakeUnreachable(s, "etcd-2");
  MakeUnreachable(s, "etcd-3");
  s.set_quorum_ok(false);
  return s;
}

class AlerterServiceTest : public ::testing::Test {
 protected:
  ~AlerterServiceTest() override { Stop(); }

  AlerterConfig Config() {
    AlerterConfig config;
    config.db_path = dir_.File("alerts.db");
    config.grpc_address.clear();  // the in-process channel only
    config.rules = RulesWithoutFor();
    config.api_token = config::Secret(kToken);
    return config;
  }

  void Start(AlerterConfig config) {
    std::vector<std::unique_ptr<Notifier>> channels;
    channels.push_back(std::make_unique<CapturingNotifier>(sent_));
    auto logger = std::make_shared<spdlog::logger>("alerter",
                                                   std::make_shared<spdlog::sinks::null_sink_mt>());
    std::shared_ptr<ScriptedSource> source = source_;
    auto service = AlerterService::Create(
        std::move(config), std::move(channels), logger, clock_,
        [source](v1::ClusterSnapshot& out, std::chrono::milliseconds timeout) {
          return source->Receive(out, timeout);
        });
    ASSERT_TRUE(service.ok()) << service.status().ToString();
    service_ = std::move(service).value();
    ASSERT_TRUE(service_->Start().ok());
    stub_ = v1::AlertService::NewStub(service_->InProcessChannel());
  }

  void Stop() {
    stub_.reset();
    if (service_) {
      service_->Stop();
      service_.reset();
    }
  }

  // Evaluates `snapshots` in this order at `seconds`, and waits until the service is done with
  // them (notifications delivered too).
  void Feed(double seconds, std::vector<v1::ClusterSnapshot> snapshots) {
    clock_.SetNow(At(seconds));
    source_->Push(std::move(snapshots));
    ASSERT_TRUE(source_->Settle());
    ASSERT_TRUE(service_->WaitDeliveriesIdle(std::chrono::seconds(10)));
  }

  // "rule/cluster/member" of every notification sent so far of `kind`.
  std::set<std::string> Sent(NotificationKind kind = NotificationKind::kFiring) {
    std::lock_guard<std::mutex> lock(sent_->mu);
    std::set<std::string> out;
    for (const Notification& n : sent_->notifications) {
      if (n.kind == kind) {
        out.insert(n.alert.key.rule + "/" + n.alert.key.cluster + "/" + n.alert.key.member);
      }
    }
    return out;
  }

  // "rule/cluster/member" of the active alerts ListActiveAlerts gives for `cluster`.
  std::set<std::string> Active(const std::string& cluster, grpc::StatusCode* code = nullptr) {
    grpc::ClientContext context;
    v1::ListAlertsRequest request;
    request.set_cluster(cluster);
    v1::ListAlertsResponse response;
    const grpc::Status status = stub_->ListActiveAlerts(&context, request, &response);
    if (code != nullptr) {
      *code = status.error_code();
    }
    std::set<std::string> out;
    for (const auto& a : response.alerts()) {
      out.insert(a.rule() + "/" + a.cluster() + "/" + a.member());
    }
    return out;
  }

  grpc::Status CreateSilence(const std::string& cluster, v1::Silence* created = nullptr) {
    grpc::ClientContext context;
    context.AddMetadata(std::string(rpc::kApiTokenKey), std::string("Bearer ") + kToken);
    v1::Silence request;
    request.set_cluster(cluster);
    request.set_comment("maintenance");
    request.set_expires_unix_ms(UnixMs(3600));
    v1::Silence response;
    grpc::Status status = stub_->CreateSilence(&context, request, &response);
    if (created != nullptr) {
      *created = response;
    }
    return status;
  }

  TempDir dir_;
  FakeClock clock_{At(0)};
  std::shared_ptr<ScriptedSource> source_ = std::make_shared<ScriptedSource>();
  std::shared_ptr<CapturingNotifier::Sent> sent_ = std::make_shared<CapturingNotifier::Sent>();
  std::unique_ptr<AlerterService> service_;
  std::unique_ptr<v1::AlertService::Stub> stub_;
};

// Two clusters interleaved in one stream: quorum loss in one fires for that cluster only (the
// cluster on the alert and on its notification); the gRPC queries filter by cluster.
TEST_F(AlerterServiceTest, TwoClustersInterleavedAlertPerCluster) {
  Start(Config());
  Feed(0, {Healthy("a", 0), Healthy("b", 0)});
  Feed(10, {QuorumLost("a", 10), Healthy("b", 10)});
  Feed(20, {Healthy("b", 20), QuorumLost("a", 20)});

  const std::set<std::string> fired = Sent();
  EXPECT_EQ(fired.count("QuorumLost/a/"), 1u);
  EXPECT_EQ(fired.count("NoLeader/a/"), 1u);
  for (const std::string& key : fired) {
    EXPECT_EQ(key.find("/b/"), std::string::npos) << key;
  }
  EXPECT_EQ(Active("").count("QuorumLost/a/"), 1u);
  EXPECT_EQ(Active("a"), Active(""));
  EXPECT_TRUE(Active("b").empty());
  EXPECT_TRUE(Active("nobody").empty());
  grpc::StatusCode code = grpc::StatusCode::OK;
  Active("not a name", &code);
  EXPECT_EQ(code, grpc::StatusCode::INVALID_ARGUMENT);

  // The history: by cluster, across pages.
  auto history = [&](const std::string& cluster, const std::string& token, uint32_t page_size,
                     v1::AlertHistoryResponse* response) {
    grpc::ClientContext context;
    v1::AlertHistoryRequest request;
    request.set_cluster(cluster);
    request.set_page_token(token);
    request.set_page_size(page_size);
    return stub_->QueryHistory(&context, request, response);
  };
  v1::AlertHistoryResponse all;
  ASSERT_TRUE(history("", "", 1000, &all).ok());
  const int of_a = all.alerts_size();
  EXPECT_GE(of_a, 3);  // NoLeader, QuorumLost, MemberUnavailable x2 (+ the cluster-wide one)
  int paged = 0;
  std::string token;
  do {
    v1::AlertHistoryResponse page;
    ASSERT_TRUE(history("a", token, 1, &page).ok());
    for (const auto& a : page.alerts()) {
      EXPECT_EQ(a.cluster(), "a");
      ++paged;
    }
    token = page.next_page_token();
  } while (!token.empty() && paged <= of_a);
  EXPECT_EQ(paged, of_a);
  v1::AlertHistoryResponse of_b;
  ASSERT_TRUE(history("b", "", 100, &of_b).ok());
  EXPECT_EQ(of_b.alerts_size(), 0);
  EXPECT_EQ(history("-b", "", 100, &of_b).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Health counts the clusters; a cluster whose snapshots stopped is named.
  EXPECT_EQ(service_->Stats().clusters, 2u);
  clock_.Advance(std::chrono::seconds(11));  // past snapshot_timeout (10 s) for both
  Feed(31, {QuorumLost("a", 31)});           // a still comes, b stopped
  grpc::ClientContext context;
  v1::ServiceHealth health;
  ASSERT_TRUE(stub_->GetHealth(&context, v1::ListAlertsRequest(), &health).ok());
  EXPECT_NE(health.detail().find("evaluating 2 clusters"), std::string::npos) << health.detail();
  EXPECT_NE(health.detail().find("no snapshot of cluster b for more than"), std::string::npos)
      << health.detail();
  EXPECT_TRUE(health.ok()) << health.detail();
}

// A silence of cluster a mutes a's alerts only; one without a cluster mutes every cluster's.
// ListSilences gives a cluster its own and the every-cluster ones.
TEST_F(AlerterServiceTest, SilencesPerCluster) {
  Start(Config());
  v1::Silence of_a;
  ASSERT_TRUE(CreateSilence("a", &of_a).ok());
  EXPECT_EQ(of_a.cluster(), "a");
  EXPECT_EQ(CreateSilence("bad/name").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Feed(0, {Healthy("a", 0), Healthy("b", 0)});
  Feed(10, {QuorumLost("a", 10), QuorumLost("b", 10)});
  std::set<std::string> fired = Sent();
  EXPECT_EQ(fired.count("QuorumLost/b/"), 1u);
  EXPECT_EQ(fired.count("QuorumLost/a/"), 0u) << "silenced";
  const uint64_t silenced_a = service_->Stats().silenced;
  EXPECT_GT(silenced_a, 0u);

  ASSERT_TRUE(CreateSilence("").ok());
  Feed(20, {QuorumLost("c", 20), QuorumLost("d", 20)});
  fired = Sent();
  for (const std::string& key : fired) {
    EXPECT_EQ(key.find("/c/"), std::string::npos) << key;
    EXPECT_EQ(key.find("/d/"), std::string::npos) << key;
  }
  EXPECT_GT(service_->Stats().silenced, silenced_a);

  auto list = [&](const std::string& cluster) {
    grpc::ClientContext context;
    v1::ListSilencesRequest request;
    request.set_cluster(cluster);
    v1::ListSilencesResponse response;
    EXPECT_TRUE(stub_->ListSilences(&context, request, &response).ok());
    std::multiset<std::string> clusters;
    for (const auto& s : response.silences()) {
      clusters.insert(s.cluster());
    }
    return clusters;
  };
  EXPECT_EQ(list(""), (std::multiset<std::string>{"", "a"}));
  EXPECT_EQ(list("a"), (std::multiset<std::string>{"", "a"}));
  EXPECT_EQ(list("b"), (std::multiset<std::string>{""}));
  grpc::ClientContext context;
  v1::ListSilencesRequest bad;
  bad.set_cluster(std::string(64, 'x'));
  v1::ListSilencesResponse response;
  EXPECT_EQ(stub_->ListSilences(&context, bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A cluster with its own RuleSet (cluster_rules) is judged by it; the others by `rules`.
TEST_F(AlerterServiceTest, PerClusterThresholdsApplyToThatClusterOnly) {
  AlerterConfig config = Config();
  const std::string file =
      "defaults: {for: 0}\nclusters:\n  a:\n    rules:\n      WalFsyncSlow: {threshold_ms: 500}\n";
  RuleSet of_a = RuleSet::Defaults({});
  ASSERT_TRUE(of_a.ApplyText(file, "rules.yaml", "a").ok());
  config.cluster_rules.emplace("a", std::move(of_a));
  Start(std::move(config));
  auto slow = [](const std::string& cluster, double t) {
    v1::ClusterSnapshot s = Healthy(cluster, t);
    SetLatency(Member(s, "etcd-2").mutable_wal_fsync(), 300);
    return s;
  };
  Feed(0, {slow("a", 0), slow("b", 0)});
  EXPECT_EQ(Sent(), (std::set<std::string>{"WalFsyncSlow/b/etcd-2"}));
}

// Open alerts and rule states come back to the engine of their cluster. Rule states saved
// before clusters had names go to the first cluster with none of its own, and their unnamed
// rows are then replaced by that cluster's.
TEST_F(AlerterServiceTest, RestoresPerClusterAndAdoptsUnnamedRuleStates) {
  {
    // What a previous run left: a's quorum alert, notified; unnamed rule states.
    AlertEngine before(RulesWithoutFor(), EngineOptions{});
    v1::ClusterSnapshot elections = Healthy("a", 0);
    elections.set_leader_changes_total(1);
    before.Evaluate(elections, At(0), {});
    elections = QuorumLost("a", 60);
    elections.set_leader_changes_total(3);
    Evaluation e = before.Evaluate(elections, At(60), {});
    auto store = AlertStore::Open(dir_.File("alerts.db"));
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->Record(e, {}).ok());
    ASSERT_TRUE((*store)->SaveRuleStates({{"", before.SaveRuleStates()}}, UnixMs(60)).ok());
  }
  Start(Config());
  EXPECT_EQ(Active("a").count("QuorumLost/a/"), 1u) << "listed before a's first snapshot";
  Feed(70, {Healthy("b", 70), QuorumLost("a", 70)});
  EXPECT_TRUE(Sent().empty()) << "a's alerts were notified by the previous run";
  EXPECT_EQ(Active("a").count("QuorumLost/a/"), 1u);
  Stop();

  auto store = AlertStore::Open(dir_.File("alerts.db"));
  ASSERT_TRUE(store.ok());
  auto states = (*store)->LoadRuleStates();
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(states->count(""), 0u) << "the unnamed states were adopted";
  ASSERT_EQ(states->count("b"), 1u) << "b came first and had none of its own";
  bool elections_kept = false;
  for (const RuleState& s : states->at("b")) {
    elections_kept |= s.rule == kFrequentLeaderElections;
  }
  EXPECT_TRUE(elections_kept);
}

// At most kMaxClusters engines: the snapshots of further clusters are dropped and counted, and
// the health says so.
TEST_F(AlerterServiceTest, AtMostMaxClustersEngines) {
  Start(Config());
  std::vector<v1::ClusterSnapshot> snapshots;
  for (std::size_t i = 0; i <= kMaxClusters; ++i) {
    snapshots.push_back(Healthy("c" + std::to_string(i), 0));
  }
  snapshots.push_back(QuorumLost("c" + std::to_string(kMaxClusters), 0));
  snapshots.push_back(QuorumLost("c0", 0));
  Feed(0, std::move(snapshots));
  const AlerterStats stats = service_->Stats();
  EXPECT_EQ(stats.clusters, kMaxClusters);
  EXPECT_EQ(stats.dropped_snapshots, 2u);
  EXPECT_EQ(stats.snapshots, kMaxClusters + 1);
  EXPECT_EQ(Sent().count("QuorumLost/c0/"), 1u);
  EXPECT_EQ(Sent().count("QuorumLost/c1000/"), 0u);
  grpc::ClientContext context;
  v1::ServiceHealth health;
  ASSERT_TRUE(stub_->GetHealth(&context, v1::ListAlertsRequest(), &health).ok());
  EXPECT_NE(health.detail().find("2 snapshots of clusters beyond 1000 dropped"), std::string::npos)
      << health.detail();
}

}  // namespace
}  // namespace etcdmon::alerter
