// The dispatcher: fan-out, retries with backoff on a fake clock, the queue bound, isolation of a
// hanging channel, and stopping; with fake channels and with real HTTP channels.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "channel_test_util.h"
#include "etcdmon/alerter/channels.h"
#include "etcdmon/alerter/notifier.h"
#include "etcdmon/logging/logging.h"
#include "etcdmon/testing/http_server.h"
#include "etcdmon/testing/smtp_sink.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::alerter {
namespace {

using namespace std::chrono_literals;
using etcdmon::testing::CannedResponse;
using etcdmon::testing::HttpServer;
using etcdmon::testing::WaitFor;
using testing::MakeNotification;

// A channel whose outcomes are scripted (the last repeats) and that can be held inside Send()
// until released. Records the fake time of every Send().
class ScriptedNotifier final : public Notifier {
 public:
  ScriptedNotifier(std::string name, std::vector<Status> outcomes, Clock& clock)
      : name_(std::move(name)), outcomes_(std::move(outcomes)), clock_(clock) {}

  const std::string& name() const override { return name_; }

  Status Send(const Notification& n) override {
    std::unique_lock<std::mutex> lock(mu_);
    sent_ids_.push_back(n.id);
    sent_summaries_.push_back(n.alert.summary);
    send_times_.push_back(clock_.SteadyNow());
    in_send_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !held_; });
    in_send_ = false;
    const Status status = outcomes_[std::min(calls_, outcomes_.size() - 1)];
    ++calls_;
    return status;
  }

  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  bool WaitInSend() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return in_send_; });
  }
  std::vector<int64_t> sent_ids() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_ids_;
  }
  std::vector<std::string> sent_summaries() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_summaries_;
  }
  std::vector<std::chrono::steady_clock::time_point> send_times() const {
    std::lock_guard<std::mutex> lock(mu_);
    return send_times_;
  }

 private:
  const std::string name_;
  const std::vector<Status> outcomes_;
  Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool in_send_ = false;
  std::size_t calls_ = 0;
  std::vector<int64_t> sent_ids_;
  std::vector<std::string> sent_summaries_;
  std::vector<std::chrono::steady_clock::time_point> send_times_;
};

// Collects every reported attempt, in the order reported.
class AttemptLog {
 public:
  DeliveryObserver Observer() {
    return [this](const Notification&, const DeliveryAttempt& attempt) {
      std::lock_guard<std::mutex> lock(mu_);
      attempts_.push_back(attempt);
    };
  }
  std::vector<DeliveryAttempt> attempts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }
  std::vector<DeliveryAttempt> For(const std::string& channel) const {
    std::vector<DeliveryAttempt> out;
    for (const auto& a : attempts()) {
      if (a.channel == channel) {
        out.push_back(a);
      }
    }
    return out;
  }
  std::size_t Finals(const std::string& channel) const {
    std::size_t n = 0;
    for (const auto& a : For(channel)) {
      n += a.final ? 1 : 0;
    }
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<DeliveryAttempt> attempts_;
};

std::vector<std::unique_ptr<Notifier>> Channels(std::vector<ScriptedNotifier*> notifiers) {
  std::vector<std::unique_ptr<Notifier>> out;
  for (ScriptedNotifier* n : notifiers) {
    out.emplace_back(n);
  }
  return out;
}

// Advances the fake clock in small steps until `done` holds (bounded in real time).
template <typename Done>
bool AdvanceUntil(FakeClock& clock, Done done, std::chrono::milliseconds step = 100ms) {
  return WaitFor([&] {
    if (done()) {
      return true;
    }
    clock.Advance(step);
    return false;
  });
}

// Every channel gets an alert without a channel list; an alert naming channels reaches only
// those (unknown names are ignored).
TEST(DispatcherTest, FansOutToNamedChannels) {
  FakeClock clock;
  auto* a = new ScriptedNotifier("console", {Status::Ok()}, clock);
  auto* b = new ScriptedNotifier("webhook", {Status::Ok()}, clock);
  AttemptLog log;
  Dispatcher dispatcher(Channels({a, b}), {}, log.Observer(), clock);
  EXPECT_EQ(dispatcher.channel_names(), (std::vector<std::string>{"console", "webhook"}));

  dispatcher.Dispatch(MakeNotification(NotificationKind::kFiring, 1));
  Notification only_webhook = MakeNotification(NotificationKind::kFiring, 2);
  only_webhook.alert.channels = {"webhook", "pager"};
  dispatcher.Dispatch(only_webhook);
  dispatcher.DispatchTo("console", MakeNotification(NotificationKind::kFiring, 3));
  ASSERT_TRUE(dispatcher.WaitIdle(30s));

  EXPECT_EQ(a->sent_ids(), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(b->sent_ids(), (std::vector<int64_t>{1, 2}));
  const auto attempts = log.attempts();
  ASSERT_EQ(attempts.size(), 4u);
  for (const auto& attempt : attempts) {
    EXPECT_TRUE(attempt.status.ok());
    EXPECT_TRUE(attempt.final);
    EXPECT_EQ(attempt.attempt, 1u);
    EXPECT_EQ(attempt.unix_ms, testing::kNowUnixMs);
  }
}

// Retryable failures are retried after a backoff that doubles (fake time), until delivered.
// The clock moves only by the expected backoffs, each once the previous attempt was reported:
// a longer backoff would never let the next attempt start.
TEST(DispatcherTest, RetriesWithDoublingBackoff) {
  FakeClock clock;
  auto* flaky = new ScriptedNotifier(
      "webhook", {Status::Unavailable("x"), Status::DeadlineExceeded("y"), Status::Ok()}, clock);
  AttemptLog log;
  DispatcherOptions options;
  options.initial_backoff = 1s;
  options.max_backoff = 10s;
  Dispatcher dispatcher(Channels({flaky}), options, log.Observer(), clock);
  dispatcher.Dispatch(MakeNotification());
  ASSERT_TRUE(WaitFor([&] { return log.attempts().size() == 1; }));
  clock.Advance(1s);
  ASSERT_TRUE(WaitFor([&] { return log.attempts().size() == 2; }));
  clock.Advance(2s);
  ASSERT_TRUE(WaitFor([&] { return log.attempts().size() == 3; }));

  const auto attempts = log.For("webhook");
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].attempt, 1u);
  EXPECT_FALSE(attempts[0].final);
  EXPECT_EQ(attempts[1].attempt, 2u);
  EXPECT_FALSE(attempts[1].final);
  EXPECT_EQ(attempts[2].attempt, 3u);
  EXPECT_TRUE(attempts[2].final);
  EXPECT_TRUE(attempts[2].status.ok());
  const auto times = flaky->send_times();
  ASSERT_EQ(times.size(), 3u);
  EXPECT_EQ(times[1] - times[0], 1s);
  EXPECT_EQ(times[2] - times[1], 2s);
}

// A channel that keeps failing gives up after max_attempts; the backoff stops at max_backoff.
TEST(DispatcherTest, GivesUpAfterMaxAttempts) {
  FakeClock clock;
  auto* failing = new ScriptedNotifier("webhook", {Status::Unavailable("down")}, clock);
  AttemptLog log;
  DispatcherOptions options;
  options.max_attempts = 4;
  options.initial_backoff = 1s;
  options.max_backoff = 2s;
  Dispatcher dispatcher(Channels({failing}), options, log.Observer(), clock);
  dispatcher.Dispatch(MakeNotification());
  std::size_t seen = 1;
  for (const auto backoff : {1s, 2s, 2s}) {
    ASSERT_TRUE(WaitFor([&] { return log.attempts().size() == seen; }));
    clock.Advance(backoff);
    ++seen;
  }
  ASSERT_TRUE(WaitFor([&] { return log.Finals("webhook") == 1; }));
  const auto attempts = log.For("webhook");
  ASSERT_EQ(attempts.size(), 4u);
  EXPECT_TRUE(attempts.back().final);
  EXPECT_EQ(attempts.back().attempt, 4u);
  EXPECT_EQ(attempts.back().status.code(), StatusCode::kUnavailable);
}

// A permanent failure is reported final after one attempt.
TEST(DispatcherTest, PermanentFailureIsNotRetried) {
  FakeClock clock;
  auto* rejecting =
      new ScriptedNotifier("webhook", {Status::InvalidArgument("HTTP 400"), Status::Ok()}, clock);
  AttemptLog log;
  Dispatcher dispatcher(Channels({rejecting}), {}, log.Observer(), clock);
  dispatcher.Dispatch(MakeNotification());
  ASSERT_TRUE(dispatcher.WaitIdle(30s));
  const auto attempts = log.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_TRUE(attempts[0].final);
  EXPECT_EQ(attempts[0].status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rejecting->sent_ids().size(), 1u);
}

// A full queue drops its oldest notification, reported as a final failed attempt 0; the rest
// are delivered in order.
// A warning of its own rule: `id` picks the rule too, so the per-rule limit never groups them.
Notification Warning(int64_t id, const std::string& rule = "") {
  Notification n = MakeNotification(NotificationKind::kFiring, id);
  n.alert.severity = Severity::kWarning;
  n.alert.key.rule = rule.empty() ? "Rule" + std::to_string(id) : rule;
  return n;
}

Notification Critical(int64_t id) { return MakeNotification(NotificationKind::kFiring, id); }

uint64_t DropCount(const Dispatcher& dispatcher, const std::string& channel, Severity severity,
                   const std::string& reason) {
  for (const DroppedCount& d : dispatcher.dropped()) {
    if (d.channel == channel && d.severity == severity && d.reason == reason) {
      return d.count;
    }
  }
  return 0;
}

TEST(DispatcherTest, FullQueueDropsOldestAmongEquals) {
  FakeClock clock;
  auto* slow = new ScriptedNotifier("webhook", {Status::Ok()}, clock);
  slow->Hold();
  AttemptLog log;
  DispatcherOptions options;
  options.max_queue = 2;
  Dispatcher dispatcher(Channels({slow}), options, log.Observer(), clock);
  dispatcher.Dispatch(Warning(1));
  ASSERT_TRUE(slow->WaitInSend());  // 1 is in flight, not queued
  for (int64_t id = 2; id <= 5; ++id) {
    dispatcher.Dispatch(Warning(id));
  }
  const auto dropped = log.attempts();
  ASSERT_EQ(dropped.size(), 2u);
  for (std::size_t i = 0; i < dropped.size(); ++i) {
    EXPECT_EQ(dropped[i].notification_id, static_cast<int64_t>(i + 2));
    EXPECT_EQ(dropped[i].attempt, 0u);
    EXPECT_TRUE(dropped[i].final);
    EXPECT_EQ(dropped[i].status.code(), StatusCode::kResourceExhausted);
  }
  slow->Release();
  ASSERT_TRUE(dispatcher.WaitIdle(30s));
  EXPECT_EQ(slow->sent_ids(), (std::vector<int64_t>{1, 4, 5}));
  EXPECT_EQ(DropCount(dispatcher, "webhook", Severity::kWarning, "queue_full"), 2u);
}

// The storm of the issue: a slow channel, 10,000 warnings, then one critical. The critical
// takes the place of the oldest warning and is delivered; the drops are counted by severity.
TEST(DispatcherTest, StormOfWarningsDoesNotPushOutACritical) {
  FakeClock clock;
  auto* slow = new ScriptedNotifier("webhook", {Status::Ok()}, clock);
  slow->Hold();
  AttemptLog log;
  DispatcherOptions options;  // the defaults: a queue of 1000
  Dispatcher dispatcher(Channels({slow}), options, log.Observer(), clock);
  dispatcher.Dispatch(Warning(1));
  ASSERT_TRUE(slow->WaitInSend());
  constexpr int64_t kWarnings = 10000;
  for (int64_t id = 2; id <= kWarnings; ++id) {
    dispatcher.Dispatch(Warning(id, "Rule" + std::to_string(id % 2000)));
  }
  constexpr int64_t kCriticalId = 1000000;
  dispatcher.Dispatch(Critical(kCriticalId));
  slow->Release();
  ASSERT_TRUE(WaitFor([&] {
    const std::vector<int64_t> sent = slow->sent_ids();
    return std::find(sent.begin(), sent.end(), kCriticalId) != sent.end();
  }));
  ASSERT_TRUE(dispatcher.WaitIdle(60s));
  // Queued: 1000 warnings, then the critical took the oldest one's place.
  const uint64_t dropped = kWarnings - 1 - options.max_queue + 1;
  EXPECT_EQ(DropCount(dispatcher, "webhook", Severity::kWarning, "queue_full"), dropped);
  EXPECT_EQ(DropCount(dispatcher, "webhook", Severity::kCritical, "queue_full"), 0u);
  EXPECT_EQ(slow->sent_ids().size(), 1 + options.max_queue);
  std::size_t reported = 0;
  for (const DeliveryAttempt& a : log.attempts()) {
    if (a.attempt == 0) {  // dropped
      reported += a.status.code() == StatusCode::kResourceExhausted ? 1 : 0;
      EXPECT_NE(a.notification_id, kCriticalId) << "the critical was dropped";
    }
  }
  EXPECT_EQ(reported, dropped);
}

// A warning never displaces a critical: with the queue full of criticals, the warning is the
// one dropped.
TEST(DispatcherTest, WarningNeverDisplacesACritical) {
  FakeClock clock;
  auto* slow = new ScriptedNotifier("webhook", {Status::Ok()}, clock);
  slow->Hold();
  DispatcherOptions options;
  options.max_queue = 2;
  Dispatcher dispatcher(Channels({slow}), options, nullptr, clock);
  dispatcher.Dispatch(Critical(1));
  ASSERT_TRUE(slow->WaitInSend());
  dispatcher.Dispatch(Critical(2));
  dispatcher.Dispatch(Critical(3));
  dispatcher.Dispatch(Warning(4));
  slow->Release();
  ASSERT_TRUE(dispatcher.WaitIdle(30s));
  EXPECT_EQ(slow->sent_ids(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(DropCount(dispatcher, "webhook", Severity::kWarning, "queue_full"), 1u);
}

// A queue of nothing but criticals grows into the reserve; past it, the oldest critical goes
// (memory stays bounded), and is counted.
TEST(DispatcherTest, CriticalsUseTheReserveThenDropTheOldest) {
  FakeClock clock;
  auto* slow = new ScriptedNotifier("webhook", {Status::Ok()}, clock);
  slow->Hold();
  DispatcherOptions options;
  options.max_queue = 2;
  options.critical_reserve = 2;
  Dispatcher dispatcher(Channels({slow}), options, nullptr, clock);
  dispatcher.Dispatch(Critical(1));
  ASSERT_TRUE(slow->WaitInSend());
  for (int64_t id = 2; id <= 6; ++id) {
    dispatcher.Dispatch(Critical(id));
  }
  slow->Release();
  ASSERT_TRUE(dispatcher.WaitIdle(30s));
  EXPECT_EQ(slow->sent_ids(), (std::vector<int64_t>{1, 3, 4, 5, 6}));
  EXPECT_EQ(DropCount(dispatcher, "webhook", Severity::kCritical, "queue_full"), 1u);
}

// One rule's storm: the first rule_burst warnings go out one by one, the rest of the interval's
// are grouped into one summary sent when the interval ends; a critical of the same rule is
// never held back.
TEST(DispatcherTest, RateLimitGroupsOneRulesStormIntoASummary) {
  FakeClock clock;
  auto* channel = new ScriptedNotifier("webhook", {Status::Ok()}, clock);
  AttemptLog log;
  DispatcherOptions options;
  options.rule_burst = 10;
  options.rule_interval = 60s;
  Dispatcher dispatcher(Channels({channel}), options, log.Observer(), clock);
  for (int64_t id = 1; id <= 100; ++id) {
    dispatcher.Dispatch(Warning(id, "HighLatency"));
  }
  Notification critical = Critical(500);
  critical.alert.key.rule = "HighLatency";
  dispatcher.Dispatch(critical);
  ASSERT_TRUE(WaitFor([&] { return channel->sent_ids().size() == 11; }));
  std::vector<int64_t> expected{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 500};
  EXPECT_EQ(channel->sent_ids(), expected);
  EXPECT_EQ(DropCount(dispatcher, "webhook", Severity::kWarning, "grouped"), 89u);

  clock.Advance(59s);
  EXPECT_FALSE(dispatcher.WaitIdle(200ms)) << "the summary is still held";
  ASSERT_TRUE(AdvanceUntil(clock, [&] { return channel->sent_ids().size() == 12; }));
  EXPECT_EQ(channel->sent_ids().back(), 100);
  EXPECT_THAT(channel->sent_summaries().back(),
              ::testing::StartsWith("[90 notifications of rule HighLatency grouped"));
  ASSERT_TRUE(dispatcher.WaitIdle(30s));
  // A new interval: warnings go out one by one again.
  dispatcher.Dispatch(Warning(101, "HighLatency"));
  ASSERT_TRUE(WaitFor([&] { return channel->sent_ids().size() == 13; }));
}

// Stop() does not wait out a backoff (the fake clock never moves here), reports no final
// attempt for the interrupted delivery, and later dispatches are ignored.
TEST(DispatcherTest, StopDoesNotWaitOutBackoff) {
  FakeClock clock;
  auto* failing = new ScriptedNotifier("webhook", {Status::Unavailable("down")}, clock);
  AttemptLog log;
  DispatcherOptions options;
  options.initial_backoff = std::chrono::hours(1);
  Dispatcher dispatcher(Channels({failing}), options, log.Observer(), clock);
  dispatcher.Dispatch(MakeNotification());
  ASSERT_TRUE(WaitFor([&] { return log.attempts().size() == 1; }));
  dispatcher.Stop();
  EXPECT_EQ(log.Finals("webhook"), 0u);
  dispatcher.Dispatch(MakeNotification());
  dispatcher.Stop();
  EXPECT_EQ(failing->sent_ids().size(), 1u);
}

// Lifecycle edge cases: no channels, stop twice, destroy without stop.
TEST(DispatcherTest, LifecycleEdgeCases) {
  FakeClock clock;
  {
    Dispatcher empty({}, {}, nullptr, clock);
    empty.Dispatch(MakeNotification());
    EXPECT_TRUE(empty.WaitIdle(1s));
    EXPECT_TRUE(empty.channel_names().empty());
  }
  {
    Dispatcher d(Channels({new ScriptedNotifier("console", {Status::Ok()}, clock)}), {}, nullptr,
                 clock);
    d.Dispatch(MakeNotification());
    d.Stop();
    d.Stop();
  }
  {
    Dispatcher d(Channels({new ScriptedNotifier("console", {Status::Ok()}, clock)}), {}, nullptr,
                 clock);
    d.Dispatch(MakeNotification());
  }
}

class DispatcherHttpTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  std::unique_ptr<Notifier> Webhook(std::chrono::milliseconds timeout = 10s) {
    auto webhook =
        NewWebhookNotifier({config::Secret(server_.Url("/hook")), {}, {}}, timeout, clock_);
    EXPECT_TRUE(webhook.ok()) << webhook.status().ToString();
    return webhook.ok() ? std::move(webhook).value() : nullptr;
  }

  HttpServer server_;
  FakeClock clock_;
  AttemptLog log_;
};

// A receiver answering 500 then 200 gets the notification delivered once, after two attempts.
TEST_F(DispatcherHttpTest, RetriesA500Once) {
  CannedResponse failure;
  failure.status = 500;
  CannedResponse ok;
  server_.SetSequence("/hook", {failure, ok});
  std::vector<std::unique_ptr<Notifier>> channels;
  channels.push_back(Webhook());
  Dispatcher dispatcher(std::move(channels), {}, log_.Observer(), clock_);
  dispatcher.Dispatch(MakeNotification());
  ASSERT_TRUE(AdvanceUntil(clock_, [&] { return log_.Finals("webhook") == 1; }));
  ASSERT_TRUE(dispatcher.WaitIdle(30s));

  const auto attempts = log_.attempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].status.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(attempts[0].final);
  EXPECT_TRUE(attempts[1].status.ok()) << attempts[1].status.ToString();
  EXPECT_TRUE(attempts[1].final);
  EXPECT_EQ(server_.requests().size(), 2u);
  // The same document both times, but for the time it was sent.
  auto first = nlohmann::json::parse(server_.requests()[0].body);
  auto second = nlohmann::json::parse(server_.requests()[1].body);
  first.erase("sent_at");
  second.erase("sent_at");
  EXPECT_EQ(first, second);
}

// A 400 is not retried: one request, one final failed attempt.
TEST_F(DispatcherHttpTest, DoesNotRetryA400) {
  CannedResponse bad;
  bad.status = 400;
  server_.Set("/hook", bad);
  std::vector<std::unique_ptr<Notifier>> channels;
  channels.push_back(Webhook());
  Dispatcher dispatcher(std::move(channels), {}, log_.Observer(), clock_);
  dispatcher.Dispatch(MakeNotification());
  ASSERT_TRUE(dispatcher.WaitIdle(30s));
  const auto attempts = log_.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_TRUE(attempts[0].final);
  EXPECT_EQ(attempts[0].status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server_.requests().size(), 1u);
}

// A burst of notifications reaches the receiver complete and in order over one connection.
// The time taken is recorded (never asserted) as the property burst_ms.
TEST_F(DispatcherHttpTest, DeliversABurstInOrder) {
  CannedResponse ok;
  server_.Set("/hook", ok);
  std::vector<std::unique_ptr<Notifier>> channels;
  channels.push_back(Webhook());
  constexpr int64_t kCount = 500;
  DispatcherOptions options;
  options.max_queue = kCount;
  Dispatcher dispatcher(std::move(channels), options, log_.Observer(), clock_);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t id = 1; id <= kCount; ++id) {
    dispatcher.Dispatch(MakeNotification(NotificationKind::kFiring, id));
  }
  ASSERT_TRUE(dispatcher.WaitIdle(60s));
  RecordProperty("burst_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - start)
                                                  .count()));
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), static_cast<std::size_t>(kCount));
  for (int64_t id = 1; id <= kCount; ++id) {
    EXPECT_EQ(nlohmann::json::parse(requests[id - 1].body)["notification_id"], id);
  }
  EXPECT_EQ(log_.Finals("webhook"), static_cast<std::size_t>(kCount));
  EXPECT_EQ(server_.connections_accepted(), 1u);
}

// A hanging webhook does not delay the console: the console's attempt is reported while the
// webhook's request is still in progress (it can only end once the receiver is stopped, long
// before its 10-minute timeout).
TEST_F(DispatcherHttpTest, HangingChannelDoesNotDelayOthers) {
  CannedResponse hang;
  hang.action = CannedResponse::Action::kHang;
  server_.Set("/hook", hang);
  std::ostringstream console_out;
  auto logger = logging::MakeLogger("alerts", config::LogConfig{},
                                    std::make_shared<spdlog::sinks::ostream_sink_mt>(console_out));
  ASSERT_TRUE(logger.ok());
  std::vector<std::unique_ptr<Notifier>> channels;
  channels.push_back(Webhook(std::chrono::minutes(10)));  // first: it is dispatched first
  channels.push_back(NewConsoleNotifier(*logger));
  DispatcherOptions options;
  options.max_attempts = 1;
  Dispatcher dispatcher(std::move(channels), options, log_.Observer(), clock_);

  dispatcher.Dispatch(MakeNotification());
  ASSERT_TRUE(server_.WaitForRequests(1));  // the webhook attempt is under way
  ASSERT_TRUE(WaitFor([&] { return log_.Finals("console") == 1; }));
  EXPECT_TRUE(log_.For("webhook").empty());

  server_.Stop();  // the only way the webhook attempt can end now
  ASSERT_TRUE(WaitFor([&] { return log_.Finals("webhook") == 1; }));
  const auto attempts = log_.attempts();
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].channel, "console");
  EXPECT_TRUE(attempts[0].status.ok());
  EXPECT_EQ(attempts[1].channel, "webhook");
  EXPECT_FALSE(attempts[1].status.ok());
}

// No secret (URL paths, tokens, keys, passwords) reaches an error or the console log, even
// when a receiver echoes it back.
TEST_F(DispatcherHttpTest, SecretsStayOutOfErrorsAndLogs) {
  const std::string webhook_path = "/hooks/WEBHOOKPATHSECRET";
  const std::string token = "BEARERTOKENSECRET";
  const std::string hmac_key = "HMACKEYSECRET";
  const std::string slack_path = "/services/SLACKPATHSECRET";
  const std::string routing_key = "ROUTINGKEYSECRET";
  const std::string smtp_password = "SMTPPASSWORDSECRET";
  const std::vector<std::string> secrets = {"WEBHOOKPATHSECRET", token,       hmac_key,
                                            "SLACKPATHSECRET",   routing_key, smtp_password};
  CannedResponse echo;
  echo.status = 401;
  echo.body = "denied: " + token + " " + hmac_key + " " + webhook_path;
  server_.Set(webhook_path, echo);
  echo.status = 404;
  echo.body = "no_service " + slack_path;
  server_.Set(slack_path, echo);
  echo.status = 400;
  echo.body = "invalid routing key " + routing_key;
  server_.Set("/v2/enqueue", echo);

  etcdmon::testing::SmtpSinkOptions smtp_options;
  smtp_options.username = "alerts";
  smtp_options.password = smtp_password;
  etcdmon::testing::SmtpSink sink(smtp_options);  // no TLS: the password must not be sent
  ASSERT_TRUE(sink.Start().ok());

  ChannelConfig config;
  config.webhook = WebhookConfig{config::Secret(server_.Url(webhook_path)), config::Secret(token),
                                 config::Secret(hmac_key)};
  config.slack = SlackConfig{config::Secret(server_.Url(slack_path))};
  config.pagerduty = PagerDutyConfig{config::Secret(routing_key), server_.Url("/v2/enqueue")};
  EmailConfig email;
  email.url = sink.Url();
  email.from = "a@example.com";
  email.to = {"b@example.com"};
  email.username = "alerts";
  email.password = config::Secret(smtp_password);
  // A server without STARTTLS is refused when the channel is made; the error holds no secret.
  auto email_refused = NewEmailNotifier(email, 10s, clock_);
  EXPECT_EQ(email_refused.status().code(), StatusCode::kFailedPrecondition);
  config.timeout = 10s;
  std::ostringstream console_out;
  auto logger = logging::MakeLogger("alerts", config::LogConfig{"debug", "text"},
                                    std::make_shared<spdlog::sinks::ostream_sink_mt>(console_out));
  ASSERT_TRUE(logger.ok());
  auto notifiers = MakeNotifiers(config, *logger, clock_);
  ASSERT_TRUE(notifiers.ok()) << notifiers.status().ToString();

  // A second webhook whose receiver is gone: the connection error must not name the path.
  HttpServer gone;
  ASSERT_TRUE(gone.Start().ok());
  const std::string gone_url = gone.Url(webhook_path);
  gone.Stop();
  auto refused = NewWebhookNotifier({config::Secret(gone_url), {}, {}}, 10s, clock_);
  ASSERT_TRUE(refused.ok());

  std::vector<std::string> errors = {email_refused.status().ToString()};
  for (auto* list : {&*notifiers}) {
    for (auto& notifier : *list) {
      const Status status = notifier->Send(MakeNotification());
      if (notifier->name() != "console") {
        EXPECT_FALSE(status.ok()) << notifier->name();
      }
      errors.push_back(notifier->name() + ": " + status.ToString());
    }
  }
  const Status refused_status = (*refused)->Send(MakeNotification());
  EXPECT_EQ(refused_status.code(), StatusCode::kUnavailable) << refused_status.ToString();
  errors.push_back(refused_status.ToString());
  (*logger)->flush();
  errors.push_back(console_out.str());
  ASSERT_EQ(server_.requests().size(), 3u);  // every HTTP channel reached its receiver

  for (const std::string& text : errors) {
    for (const std::string& secret : secrets) {
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in: " << text;
    }
  }
}

}  // namespace
}  // namespace etcdmon::alerter
