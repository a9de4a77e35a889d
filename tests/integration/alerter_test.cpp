// The alerter on a real 3-member cluster: real collectors and aggregator (in process) publish
// snapshots over ZeroMQ; the alerter evaluates them and notifies a local webhook receiver and a
// local SMTP sink. Faults are real: members stopped, a rolling restart, the alerter SIGKILLed.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "etcdmon/alerter/channels.h"
#include "etcdmon/alerter/rules.h"
#include "etcdmon/alerter/service.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/http_server.h"
#include "etcdmon/testing/monitor_stack.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/smtp_sink.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/testing/webhook_notifications.h"
#include "etcdmonitor/v1/services.grpc.pb.h"

namespace etcdmon::alerter {
namespace {

using namespace std::chrono_literals;
using testing::MonitorStack;
using testing::WaitFor;

using Received = testing::WebhookNotification;
using testing::DescribeNotifications;
using testing::HasNotification;
using testing::WebhookNotifications;

// Three members shared by the suite; each case starts its own monitor stack on them.
class AlerterClusterTest : public testing::EtcdClusterSuite<AlerterClusterTest> {
 protected:
  void SetUp() override {
    EtcdClusterSuite::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    RestartStoppedMembers();  // a previous case may have stopped some
    if (HasFatalFailure()) {
      return;
    }
    stack_ = std::make_unique<MonitorStack>(cluster(), dir_.path());
    Status started = stack_->StartAndWaitHealthy();
    ASSERT_TRUE(started.ok()) << started.message();
    webhook_.Set("/hook", testing::CannedResponse{testing::CannedResponse::Action::kRespond, 200,
                                                  "text/plain", "ok"});
    ASSERT_TRUE(webhook_.Start().ok());
    ASSERT_TRUE(smtp_.Start().ok());
  }

  void TearDown() override {
    for (size_t i = 0; i < cluster().size(); ++i) {
      (void)cluster().Resume(i);  // a member a case stopped with SIGSTOP would hang the suite
    }
    if (alerter_) alerter_->Stop();
    alerter_.reset();
    stack_.reset();
  }

  ChannelConfig Channels() {
    ChannelConfig channels;
    channels.console = false;
    channels.webhook = WebhookConfig{config::Secret(webhook_.Url("/hook")), {}, {}};
    EmailConfig email;
    email.url = smtp_.Url();
    email.from = "alerts@example.test";
    email.to = {"oncall@example.test"};
    email.allow_plaintext = true;  // the sink offers no STARTTLS
    channels.email = email;
    channels.timeout = 5s;
    return channels;
  }

  AlerterConfig Config(const std::string& rules_yaml) {
    AlerterConfig config;
    config.snapshot_endpoint = stack_->aggregator().publish_endpoint();
    config.grpc_address = "127.0.0.1:0";
    config.db_path = dir_.File("alerts.db");
    config.rules = RuleSet::Defaults(config::AlertThresholds{});
    Status applied = config.rules.ApplyText(rules_yaml, "test-rules.yaml");
    EXPECT_TRUE(applied.ok()) << applied.message();
    config.api_token = config::Secret("test-token");
    config.dispatcher.initial_backoff = 100ms;
    return config;
  }

  void StartAlerter(const std::string& rules_yaml) { StartAlerter(Config(rules_yaml)); }

  void StartAlerter(AlerterConfig config) {
    auto channels = MakeNotifiers(Channels(), nullptr, SystemClock::Instance());
    ASSERT_TRUE(channels.ok()) << channels.status().message();
    auto service = AlerterService::Create(std::move(config), std::move(channels).value(),
                                          testing::QuietLogger("alerter"));
    ASSERT_TRUE(service.ok()) << service.status().message();
    alerter_ = std::move(service).value();
    ASSERT_TRUE(alerter_->Start().ok());
    channel_ = grpc::CreateChannel(alerter_->grpc_address(), grpc::InsecureChannelCredentials());
    stub_ = etcdmonitor::v1::AlertService::NewStub(channel_);
  }

  // Waits until the alerter has evaluated `count` more snapshots.
  bool WaitForEvaluations(uint64_t count) {
    const uint64_t target = alerter_->Stats().snapshots + count;
    return WaitFor([&] { return alerter_->Stats().snapshots >= target; });
  }

  testing::TempDir dir_;
  std::unique_ptr<MonitorStack> stack_;
  testing::HttpServer webhook_;
  testing::SmtpSink smtp_;
  std::unique_ptr<AlerterService> alerter_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<etcdmonitor::v1::AlertService::Stub> stub_;
};

// The outage rules notify at once here, so the test waits for etcd, not for `for` durations.
constexpr char kOutageRules[] = R"(
rules:
  NoLeader: {for: 0s}
  QuorumLost: {for: 0s}
  MemberUnavailable: {for: 0s}
)";

// A channel that hangs fills its queue (here bounded to one notification, without the critical
// reserve): what it drops is counted and shows in the alerter's health, while the other channel
// (email) keeps delivering.
TEST_F(AlerterClusterTest, DroppedNotificationsShowInHealthAndSpareOtherChannels) {
  testing::CannedResponse hang;
  hang.action = testing::CannedResponse::Action::kHang;
  webhook_.Set("/hook", hang);
  AlerterConfig config = Config(kOutageRules);
  config.dispatcher.max_queue = 1;
  config.dispatcher.critical_reserve = 0;
  config.dispatcher.max_attempts = 1;
  StartAlerter(std::move(config));
  ASSERT_TRUE(WaitForEvaluations(3));

  ASSERT_TRUE(cluster().Stop(1).ok());
  ASSERT_TRUE(cluster().Stop(2).ok());
  // QuorumLost, NoLeader and three MemberUnavailable: five notifications for each channel, the
  // webhook's first hanging, one queued, the rest dropped.
  std::string detail;
  EXPECT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext c;
        etcdmonitor::v1::ListAlertsRequest request;
        etcdmonitor::v1::ServiceHealth health;
        if (!stub_->GetHealth(&c, request, &health).ok()) {
          return false;
        }
        detail = health.detail();
        return detail.find("notifications dropped or grouped: webhook/") != std::string::npos;
      },
      60s))
      << detail;
  EXPECT_TRUE(smtp_.WaitForMessages(2, 60s)) << smtp_.messages().size();
}

// Quorum lost: two of three members stopped. QuorumLost, NoLeader and MemberUnavailable (per
// member, and cluster-wide critical) fire and reach the webhook and the mailbox; bringing the
// members back resolves them; no notification is sent twice.
TEST_F(AlerterClusterTest, QuorumLossFiresAndResolvesOnWebhookAndEmail) {
  StartAlerter(kOutageRules);
  ASSERT_TRUE(WaitForEvaluations(3));
  EXPECT_TRUE(WebhookNotifications(webhook_).empty())
      << DescribeNotifications(WebhookNotifications(webhook_));

  ASSERT_TRUE(cluster().Stop(1).ok());
  ASSERT_TRUE(cluster().Stop(2).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto got = WebhookNotifications(webhook_);
        return HasNotification(got, "firing", "QuorumLost") &&
               HasNotification(got, "firing", "NoLeader") &&
               HasNotification(got, "firing", "MemberUnavailable", cluster().Name(1)) &&
               HasNotification(got, "firing", "MemberUnavailable", cluster().Name(2)) &&
               HasNotification(got, "firing", "MemberUnavailable", "");
      },
      60s))
      << DescribeNotifications(WebhookNotifications(webhook_));
  for (const Received& r : WebhookNotifications(webhook_)) {
    if (r.alert == "MemberUnavailable" && r.member.empty()) {
      EXPECT_EQ(r.severity, "critical") << "fewer than --min-available-nodes healthy";
    }
    if (r.alert == "QuorumLost" || r.alert == "NoLeader") {
      EXPECT_EQ(r.severity, "critical");
    }
  }
  // The same alerts by email.
  ASSERT_TRUE(WaitFor(
      [&] {
        bool quorum = false, leader = false;
        for (const testing::SmtpMessage& m : smtp_.messages()) {
          const std::string subject = m.Header("Subject");
          quorum = quorum || subject.find("QuorumLost") != std::string::npos;
          leader = leader || subject.find("NoLeader") != std::string::npos;
        }
        return quorum && leader;
      },
      30s));

  // The active alerts over gRPC.
  {
    grpc::ClientContext context;
    etcdmonitor::v1::ListAlertsRequest request;
    etcdmonitor::v1::ListAlertsResponse response;
    ASSERT_TRUE(stub_->ListActiveAlerts(&context, request, &response).ok());
    std::set<std::string> firing;
    for (const auto& a : response.alerts()) {
      if (a.state() == "firing") firing.insert(a.rule());
    }
    EXPECT_TRUE(firing.count("QuorumLost") && firing.count("NoLeader")) << response.DebugString();
  }

  ASSERT_TRUE(cluster().Restart(1).ok());
  ASSERT_TRUE(cluster().Restart(2).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto got = WebhookNotifications(webhook_);
        return HasNotification(got, "resolved", "QuorumLost") &&
               HasNotification(got, "resolved", "NoLeader") &&
               HasNotification(got, "resolved", "MemberUnavailable", cluster().Name(1)) &&
               HasNotification(got, "resolved", "MemberUnavailable", cluster().Name(2)) &&
               HasNotification(got, "resolved", "MemberUnavailable", "");
      },
      60s))
      << DescribeNotifications(WebhookNotifications(webhook_));
  ASSERT_TRUE(alerter_->WaitDeliveriesIdle(30s));

  // Nothing twice: one firing and one resolved notification per alert key, every id unique.
  std::map<std::pair<std::string, std::string>, int> count;
  std::set<int64_t> ids;
  for (const Received& r : WebhookNotifications(webhook_)) {
    EXPECT_NE(r.kind, "repeat");
    ++count[{r.fingerprint, r.kind}];
    EXPECT_TRUE(ids.insert(r.notification_id).second) << "notification sent twice";
  }
  for (const auto& [key, n] : count) {
    EXPECT_EQ(n, 1) << key.first << " " << key.second << "\n"
                    << DescribeNotifications(WebhookNotifications(webhook_));
  }

  // The history has every alert resolved, with its deliveries.
  grpc::ClientContext context;
  etcdmonitor::v1::AlertHistoryRequest request;
  request.set_rule("QuorumLost");
  etcdmonitor::v1::AlertHistoryResponse response;
  ASSERT_TRUE(stub_->QueryHistory(&context, request, &response).ok());
  ASSERT_GE(response.alerts_size(), 1);
  EXPECT_EQ(response.alerts(0).state(), "resolved");
  std::set<std::string> delivered;
  for (const auto& d : response.alerts(0).deliveries()) {
    if (d.state() == "delivered") delivered.insert(d.kind() + "/" + d.channel());
  }
  EXPECT_EQ(delivered, (std::set<std::string>{"firing/email", "firing/webhook", "resolved/email",
                                              "resolved/webhook"}));
}

// A healthy rolling restart: each member in turn stopped (etcd hands leadership over when the
// leader stops) and started again. Every rule notifies at once (`for: 0s`); only per-member
// MemberUnavailable warnings may come out. Exceptions, each with its default `for`:
//  - NoLeader and QuorumLost (10 s): a leader's restart always causes an election, during which
//    no member has a leader for a moment; their `for` is what tells an election from an outage;
//  - WalFsyncSlow and RequestLatencyDegraded measure this host's disk and load, not the restart;
//  - GrpcErrorRateHigh: requests in flight while leadership moves do fail (etcd answers
//    Unavailable); that is real, and its `for` (5 minutes) is what keeps a restart quiet;
//  - CollectorStale gets 3 s: at this test's 200 ms interval a collector whose member is down
//    spends its 1 s dial timeout per sample, longer than the 3 intervals after which it counts
//    as silent (with the defaults, 10 s and 5 s, that cannot happen).
TEST_F(AlerterClusterTest, RollingRestartRaisesOnlyMemberWarnings) {
  StartAlerter(R"(
defaults:
  for: 0s
rules:
  NoLeader: {for: 10s}
  QuorumLost: {for: 10s}
  WalFsyncSlow: {for: 5m}
  RequestLatencyDegraded: {for: 5m}
  GrpcErrorRateHigh: {for: 5m}
  CollectorStale: {for: 3s}
)");
  ASSERT_TRUE(WaitForEvaluations(3));
  for (size_t i = 0; i < cluster().size(); ++i) {
    ASSERT_TRUE(cluster().Stop(i).ok());
    ASSERT_TRUE(stack_->WaitForSnapshot([&](const etcdmonitor::v1::ClusterSnapshot& s) {
      for (const auto& m : s.members()) {
        if (m.name() == cluster().Name(i)) return !m.reachable();
      }
      return false;
    })) << "member "
        << i << " never seen down";
    ASSERT_TRUE(cluster().Restart(i).ok());
    ASSERT_TRUE(stack_->WaitForSnapshot(
        [&](const etcdmonitor::v1::ClusterSnapshot& s) {
          return s.healthy_members() == 3 && s.has_leader() && s.quorum_ok();
        },
        60s))
        << "member " << i << " never came back";
  }
  ASSERT_TRUE(WaitForEvaluations(5));
  ASSERT_TRUE(alerter_->WaitDeliveriesIdle(30s));

  const auto got = WebhookNotifications(webhook_);
  std::set<std::string> warned;
  for (const Received& r : got) {
    EXPECT_EQ(r.alert, "MemberUnavailable") << DescribeNotifications(got);
    EXPECT_EQ(r.severity, "warning") << DescribeNotifications(got);
    EXPECT_FALSE(r.member.empty()) << DescribeNotifications(got);
    if (r.kind == "firing") warned.insert(r.member);
  }
  // Each member was down long enough for its collector to say so.
  const AlerterStats stats = alerter_->Stats();
  EXPECT_EQ(warned.size(), 3u) << DescribeNotifications(got) << "snapshots " << stats.snapshots
                               << " notifications " << stats.notifications << " delivered "
                               << stats.deliveries_ok << " failed " << stats.deliveries_failed;
}

// The alerter killed with SIGKILL while alerts fire: the new process neither forgets them (they
// resolve when the cluster recovers) nor sends their firing notifications again.
TEST_F(AlerterClusterTest, SigkilledAlerterNeitherForgetsNorResends) {
  const std::string rules_file = dir_.File("rules.yaml");
  std::ofstream(rules_file) << kOutageRules;
  const std::string db = dir_.File("alerts-process.db");
  auto ports = testing::PickFreeLoopbackPorts(1);
  ASSERT_TRUE(ports.ok());
  const std::string grpc_address = "127.0.0.1:" + std::to_string((*ports)[0]);
  std::vector<std::string> args = {
      ETCDMON_ALERTER_BINARY,          "--snapshots=" + stack_->aggregator().publish_endpoint(),
      "--grpc-listen=" + grpc_address, "--db=" + db,
      "--rules-file=" + rules_file,    "--webhook-url=" + webhook_.Url("/hook"),
      "--console-notifications=false", "--log-level=info"};
  auto first = std::make_unique<testing::ChildProcess>(args, dir_.File("alerter-1.log"));
  ASSERT_TRUE(first->ok()) << first->status().message();
  ASSERT_TRUE(cluster().Stop(1).ok());
  ASSERT_TRUE(cluster().Stop(2).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto got = WebhookNotifications(webhook_);
        return HasNotification(got, "firing", "QuorumLost") &&
               HasNotification(got, "firing", "NoLeader");
      },
      60s))
      << DescribeNotifications(WebhookNotifications(webhook_));
  // Let every firing notification of this outage arrive and be recorded, then kill. (One the
  // process dies between delivering and recording is sent again after the restart, by design:
  // delivery is at least once. What this test proves is that a recorded one is not.)
  ASSERT_TRUE(WaitFor(
      [&] {
        return HasNotification(WebhookNotifications(webhook_), "firing", "MemberUnavailable", "");
      },
      60s));
  const std::string first_log = dir_.File("alerter-1.log");
  ASSERT_TRUE(WaitFor([&] { return testing::EveryDeliveryIsRecorded(first_log, webhook_); }))
      << testing::ReadWholeFile(first_log);
  const size_t before_kill = WebhookNotifications(webhook_).size();
  ASSERT_TRUE(first->Stop(SIGKILL, 10s).ok());

  const int64_t restarted_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
  testing::ChildProcess second(args, dir_.File("alerter-2.log"));
  ASSERT_TRUE(second.ok()) << second.status().message();
  // The restarted alerter evaluates snapshots of the same outage for two seconds (~10 of them):
  // time for a wrongful re-send of what was already notified. Its health tells how far it got.
  auto stub = etcdmonitor::v1::AlertService::NewStub(
      grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext c;
        etcdmonitor::v1::ListAlertsRequest request;
        etcdmonitor::v1::ServiceHealth health;
        return stub->GetHealth(&c, request, &health).ok() &&
               health.last_update_unix_ms() >= restarted_ms + 2000;
      },
      60s));
  EXPECT_GE(webhook_.requests().size(), before_kill);
  ASSERT_TRUE(cluster().Restart(1).ok());
  ASSERT_TRUE(cluster().Restart(2).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto got = WebhookNotifications(webhook_);
        return HasNotification(got, "resolved", "QuorumLost") &&
               HasNotification(got, "resolved", "NoLeader");
      },
      60s))
      << DescribeNotifications(WebhookNotifications(webhook_));
  Result<int> stopped = second.Stop(SIGTERM, 10s);
  ASSERT_TRUE(stopped.ok());
  EXPECT_TRUE(WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0)
      << testing::DescribeWaitStatus(*stopped);

  std::map<std::pair<std::string, std::string>, int> count;
  for (const Received& r : WebhookNotifications(webhook_)) ++count[{r.fingerprint, r.kind}];
  for (const auto& [key, n] : count) {
    EXPECT_EQ(n, 1) << key.first << " " << key.second << "\n"
                    << DescribeNotifications(WebhookNotifications(webhook_));
  }
}

// Silences over gRPC: a token is required to create and to expire one; a silence holds back a
// firing notification, and once expired no longer does (the notification follows at once).
TEST_F(AlerterClusterTest, SilenceNeedsATokenAndMutesNotifications) {
  StartAlerter(kOutageRules);
  etcdmonitor::v1::Silence silence;
  silence.set_member(cluster().Name(2));
  silence.set_comment("planned reboot of " + cluster().Name(2));
  silence.set_expires_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count() +
                              600000);
  for (const char* token : {"", "wrong-token"}) {  // none, and a wrong one
    SCOPED_TRACE(token);
    grpc::ClientContext context;
    if (*token != '\0') context.AddMetadata("etcdmon-api-token", std::string("Bearer ") + token);
    etcdmonitor::v1::Silence created;
    EXPECT_EQ(stub_->CreateSilence(&context, silence, &created).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("etcdmon-api-token", "Bearer test-token");
    etcdmonitor::v1::Silence bad = silence;
    bad.set_rule("NoSuchRule");
    etcdmonitor::v1::Silence created;
    EXPECT_EQ(stub_->CreateSilence(&context, bad, &created).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  grpc::ClientContext context;
  context.AddMetadata("etcdmon-api-token", "Bearer test-token");
  etcdmonitor::v1::Silence created;
  ASSERT_TRUE(stub_->CreateSilence(&context, silence, &created).ok());
  EXPECT_EQ(created.id().size(), 16u);

  grpc::ClientContext list_context;
  etcdmonitor::v1::ListAlertsRequest list_request;
  etcdmonitor::v1::ListSilencesResponse silences;
  ASSERT_TRUE(
      stub_->ListSilences(&list_context, etcdmonitor::v1::ListSilencesRequest(), &silences).ok());
  ASSERT_EQ(silences.silences_size(), 1);
  EXPECT_EQ(silences.silences(0).id(), created.id());

  // The silenced member goes down: its alert fires (visible over gRPC) but nobody is notified.
  ASSERT_TRUE(cluster().Stop(2).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext c;
        etcdmonitor::v1::ListAlertsResponse active;
        if (!stub_->ListActiveAlerts(&c, list_request, &active).ok()) return false;
        for (const auto& a : active.alerts()) {
          if (a.rule() == "MemberUnavailable" && a.member() == cluster().Name(2) &&
              a.state() == "firing") {
            return true;
          }
        }
        return false;
      },
      60s));
  ASSERT_TRUE(WaitForEvaluations(5));
  ASSERT_TRUE(alerter_->WaitDeliveriesIdle(10s));
  EXPECT_TRUE(WebhookNotifications(webhook_).empty())
      << DescribeNotifications(WebhookNotifications(webhook_));
  EXPECT_GE(alerter_->Stats().silenced, 1u);

  // Expiring needs the token as creating does; an unknown id is NOT_FOUND.
  etcdmonitor::v1::ExpireSilenceRequest expire;
  expire.set_id(created.id());
  for (const char* token : {"", "wrong-token"}) {  // none, and a wrong one
    SCOPED_TRACE(token);
    grpc::ClientContext c;
    if (*token != '\0') c.AddMetadata("etcdmon-api-token", std::string("Bearer ") + token);
    etcdmonitor::v1::Silence out;
    EXPECT_EQ(stub_->ExpireSilence(&c, expire, &out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext c;
    c.AddMetadata("etcdmon-api-token", "Bearer test-token");
    etcdmonitor::v1::ExpireSilenceRequest unknown;
    unknown.set_id("ffffffffffffffff");
    etcdmonitor::v1::Silence out;
    EXPECT_EQ(stub_->ExpireSilence(&c, unknown, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // Expired, the silence stops holding the alert back at the next evaluation: the firing
  // notification goes out.
  const int64_t before_expiry = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
  etcdmonitor::v1::Silence expired;
  {
    grpc::ClientContext c;
    c.AddMetadata("etcdmon-api-token", "Bearer test-token");
    ASSERT_TRUE(stub_->ExpireSilence(&c, expire, &expired).ok());
  }
  EXPECT_EQ(expired.id(), created.id());
  EXPECT_EQ(expired.member(), cluster().Name(2));
  EXPECT_GE(expired.expires_unix_ms(), before_expiry);
  EXPECT_LT(expired.expires_unix_ms(), created.expires_unix_ms());
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& n : WebhookNotifications(webhook_)) {
          if (n.kind == "firing" && n.alert == "MemberUnavailable" &&
              n.member == cluster().Name(2)) {
            return true;
          }
        }
        return false;
      },
      30s))
      << DescribeNotifications(WebhookNotifications(webhook_));
  // Expiring again is fine and changes nothing; the row stays, listed with include_expired only.
  {
    grpc::ClientContext c;
    c.AddMetadata("etcdmon-api-token", "Bearer test-token");
    etcdmonitor::v1::Silence again;
    ASSERT_TRUE(stub_->ExpireSilence(&c, expire, &again).ok());
    EXPECT_EQ(again.expires_unix_ms(), expired.expires_unix_ms());
  }
  {
    grpc::ClientContext c;
    etcdmonitor::v1::ListSilencesResponse active;
    ASSERT_TRUE(stub_->ListSilences(&c, etcdmonitor::v1::ListSilencesRequest(), &active).ok());
    EXPECT_EQ(active.silences_size(), 0);
  }
  {
    grpc::ClientContext c;
    etcdmonitor::v1::ListSilencesRequest all_request;
    all_request.set_include_expired(true);
    etcdmonitor::v1::ListSilencesResponse all;
    ASSERT_TRUE(stub_->ListSilences(&c, all_request, &all).ok());
    ASSERT_EQ(all.silences_size(), 1);
    EXPECT_EQ(all.silences(0).id(), created.id());
    EXPECT_EQ(all.silences(0).expires_unix_ms(), expired.expires_unix_ms());
  }
  ASSERT_TRUE(cluster().Restart(2).ok());
}

// A member stopped with SIGSTOP is down, not a blind monitor: its collector still sends a sample
// every interval ("timed out", reachable=false), so MemberUnavailable fires for it and
// CollectorStale never does. (Its samples used to wait out the 5 s request timeout, longer than
// the stale window: the member went stale and only CollectorStale fired.)
TEST_F(AlerterClusterTest, StoppedMemberIsUnavailableNotStale) {
  StartAlerter(R"(
rules:
  MemberUnavailable: {for: 1s}
  CollectorStale: {for: 0s}
)");
  ASSERT_TRUE(WaitForEvaluations(3));
  const size_t stopped = 2;
  ASSERT_TRUE(cluster().Pause(stopped).ok());
  const bool fired = WaitFor(
      [&] {
        return HasNotification(WebhookNotifications(webhook_), "firing", "MemberUnavailable",
                               cluster().Name(stopped));
      },
      60s);
  EXPECT_TRUE(WaitForEvaluations(20));  // a while longer, still stopped
  const std::vector<Received> got = WebhookNotifications(webhook_);
  ASSERT_TRUE(cluster().Resume(stopped).ok());
  EXPECT_TRUE(fired) << DescribeNotifications(got);
  EXPECT_FALSE(HasNotification(got, "firing", "CollectorStale")) << DescribeNotifications(got);
  EXPECT_TRUE(cluster().WaitHealthy(stopped, 20s).ok());
}

}  // namespace
}  // namespace etcdmon::alerter
