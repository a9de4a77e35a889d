// The HTTP channels (webhook, Slack, PagerDuty) and the console channel, checked field by field
// at a local receiver.

#include "etcdmon/alerter/channels.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "channel_test_util.h"
#include "etcdmon/logging/logging.h"
#include "etcdmon/testing/http_server.h"

namespace etcdmon::alerter {
namespace {

using namespace std::chrono_literals;
using etcdmon::testing::CannedResponse;
using etcdmon::testing::HttpServer;
using testing::MakeNotification;
using Json = nlohmann::json;

std::string HmacSha256Hex(const std::string& key, const std::string& body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest, &length);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(buf, sizeof(buf), "%02x", digest[i]);
    hex += buf;
  }
  return hex;
}

class HttpChannelTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  // The single recorded request's body as JSON.
  Json OnlyRequestJson() {
    const auto requests = server_.requests();
    EXPECT_EQ(requests.size(), 1u);
    if (requests.empty()) {
      return Json();
    }
    return Json::parse(requests.back().body, nullptr, /*allow_exceptions=*/false);
  }

  HttpServer server_;
  FakeClock clock_;
};

// The webhook document carries every field of the contract, with RFC 3339 UTC times.
TEST_F(HttpChannelTest, WebhookFiringDocument) {
  server_.Set("/hook", CannedResponse::With(200));
  auto notifier = NewWebhookNotifier({config::Secret(server_.Url("/hook")), {}, {}}, 5s, clock_);
  ASSERT_TRUE(notifier.ok()) << notifier.status().ToString();
  EXPECT_EQ((*notifier)->name(), "webhook");
  const Notification n = MakeNotification();
  ASSERT_TRUE((*notifier)->Send(n).ok());

  const auto request = server_.requests().at(0);
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/hook");
  EXPECT_EQ(request.Header("Content-Type"), "application/json");
  EXPECT_EQ(request.Header("Authorization"), "");
  EXPECT_EQ(request.Header("X-Etcd-Monitor-Signature"), "");
  const Json doc = OnlyRequestJson();
  ASSERT_TRUE(doc.is_object()) << request.body;
  EXPECT_EQ(doc["version"], "1");
  EXPECT_EQ(doc["status"], "firing");
  EXPECT_EQ(doc["kind"], "firing");
  EXPECT_EQ(doc["alert"], "MemberUnavailable");
  EXPECT_EQ(doc["severity"], "critical");
  EXPECT_EQ(doc["cluster"], "prod");
  EXPECT_EQ(doc["member"], "etcd-2");
  EXPECT_EQ(doc["summary"], n.alert.summary);
  EXPECT_EQ(doc["labels"], (Json{{"alertname", "MemberUnavailable"},
                                 {"cluster", "prod"},
                                 {"member", "etcd-2"},
                                 {"severity", "critical"}}));
  EXPECT_EQ(doc["values"], (Json{{"reachable", 0}, {"fsync_p99_ms", 142.5}}));
  EXPECT_EQ(doc["fingerprint"], n.alert.fingerprint);
  EXPECT_EQ(doc["starts_at"], "2023-11-14T22:12:20.000Z");
  EXPECT_FALSE(doc.contains("ends_at"));
  EXPECT_EQ(doc["notification_id"], 7);
  EXPECT_EQ(doc["sent_at"], "2023-11-14T22:13:20.000Z");
}

// A resolved notification says so and carries ends_at; a pending-only alert starts at
// pending_since; a repeat is "firing" with kind "repeat".
TEST_F(HttpChannelTest, WebhookResolvedAndRepeat) {
  server_.Set("/hook", CannedResponse::With(204));
  auto notifier = NewWebhookNotifier({config::Secret(server_.Url("/hook")), {}, {}}, 5s, clock_);
  ASSERT_TRUE(notifier.ok());
  ASSERT_TRUE((*notifier)->Send(MakeNotification(NotificationKind::kResolved)).ok());
  Notification repeat = MakeNotification(NotificationKind::kRepeat, 8);
  repeat.alert.firing_since_unix_ms = 0;
  ASSERT_TRUE((*notifier)->Send(repeat).ok());

  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  const Json resolved = Json::parse(requests[0].body);
  EXPECT_EQ(resolved["status"], "resolved");
  EXPECT_EQ(resolved["kind"], "resolved");
  EXPECT_EQ(resolved["ends_at"], "2023-11-14T22:13:19.000Z");
  const Json repeated = Json::parse(requests[1].body);
  EXPECT_EQ(repeated["status"], "firing");
  EXPECT_EQ(repeated["kind"], "repeat");
  EXPECT_EQ(repeated["starts_at"], "2023-11-14T22:11:50.000Z");
  EXPECT_EQ(repeated["notification_id"], 8);
}

// The bearer token goes in Authorization; the signature is HMAC-SHA256 of the exact body.
TEST_F(HttpChannelTest, WebhookBearerTokenAndHmac) {
  server_.Set("/hook", CannedResponse::With(200));
  const std::string token = "tok-123";
  const std::string key = "hmac-key-456";
  auto notifier = NewWebhookNotifier(
      {config::Secret(server_.Url("/hook")), config::Secret(token), config::Secret(key)}, 5s,
      clock_);
  ASSERT_TRUE(notifier.ok());
  ASSERT_TRUE((*notifier)->Send(MakeNotification()).ok());
  const auto request = server_.requests().at(0);
  EXPECT_EQ(request.Header("Authorization"), "Bearer " + token);
  EXPECT_EQ(request.Header("X-Etcd-Monitor-Signature"),
            "sha256=" + HmacSha256Hex(key, request.body));
  EXPECT_NE(HmacSha256Hex(key, request.body), HmacSha256Hex("other", request.body));
}

// HTTP outcomes: 2xx delivered; 5xx, 408 and 429 retryable; other 4xx permanent.
TEST_F(HttpChannelTest, WebhookStatusMapping) {
  const struct {
    int status;
    StatusCode expected;
  } cases[] = {
      {200, StatusCode::kOk},
      {202, StatusCode::kOk},
      {500, StatusCode::kUnavailable},
      {503, StatusCode::kUnavailable},
      {408, StatusCode::kUnavailable},
      {429, StatusCode::kUnavailable},
      {400, StatusCode::kInvalidArgument},
      {404, StatusCode::kInvalidArgument},
      {401, StatusCode::kFailedPrecondition},
      {403, StatusCode::kFailedPrecondition},
      {302, StatusCode::kFailedPrecondition},
  };
  auto notifier = NewWebhookNotifier({config::Secret(server_.Url("/hook")), {}, {}}, 5s, clock_);
  ASSERT_TRUE(notifier.ok());
  for (const auto& c : cases) {
    server_.Set("/hook", CannedResponse::With(c.status, "reason"));
    const Status status = (*notifier)->Send(MakeNotification());
    EXPECT_EQ(status.code(), c.expected) << c.status << ": " << status.ToString();
    if (!status.ok()) {
      EXPECT_NE(status.message().find("HTTP " + std::to_string(c.status)), std::string::npos)
          << status.message();
      EXPECT_EQ(IsRetryable(status), c.expected == StatusCode::kUnavailable) << c.status;
    }
  }
}

// A receiver that does not answer within the timeout is DeadlineExceeded (retryable).
TEST_F(HttpChannelTest, WebhookTimeoutIsRetryable) {
  CannedResponse hang;
  hang.action = CannedResponse::Action::kHang;
  server_.Set("/hook", hang);
  auto notifier = NewWebhookNotifier({config::Secret(server_.Url("/hook")), {}, {}}, 200ms, clock_);
  ASSERT_TRUE(notifier.ok());
  const Status status = (*notifier)->Send(MakeNotification());
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status.ToString();
  EXPECT_TRUE(IsRetryable(status));
}

// Only http(s) URLs make a webhook, and the refusal does not print the URL's path.
TEST_F(HttpChannelTest, WebhookRejectsOtherSchemes) {
  auto notifier =
      NewWebhookNotifier({config::Secret("ftp://example.com/s3cr3t"), {}, {}}, 5s, clock_);
  ASSERT_FALSE(notifier.ok());
  EXPECT_EQ(notifier.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(notifier.status().message().find("s3cr3t"), std::string::npos)
      << notifier.status().message();
}

// Slack: a text line plus one attachment coloured by severity whose blocks hold the details.
TEST_F(HttpChannelTest, SlackMessage) {
  server_.Set("/services/T0/B0/xyz", CannedResponse::With(200, "ok"));
  auto notifier = NewSlackNotifier({config::Secret(server_.Url("/services/T0/B0/xyz"))}, 5s);
  ASSERT_TRUE(notifier.ok()) << notifier.status().ToString();
  EXPECT_EQ((*notifier)->name(), "slack");
  Notification n = MakeNotification();
  n.alert.summary = "member <etcd-2> & co unreachable";
  ASSERT_TRUE((*notifier)->Send(n).ok());
  Notification warning = MakeNotification(NotificationKind::kFiring);
  warning.alert.severity = Severity::kWarning;
  ASSERT_TRUE((*notifier)->Send(warning).ok());
  ASSERT_TRUE((*notifier)->Send(MakeNotification(NotificationKind::kResolved)).ok());

  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
  const Json critical = Json::parse(requests[0].body);
  EXPECT_EQ(critical["text"],
            "[FIRING critical] MemberUnavailable cluster=prod member=etcd-2: " + n.alert.summary);
  ASSERT_EQ(critical["attachments"].size(), 1u);
  const Json& attachment = critical["attachments"][0];
  EXPECT_EQ(attachment["color"], "#E01E5A");
  const Json& blocks = attachment["blocks"];
  ASSERT_GE(blocks.size(), 3u);
  EXPECT_EQ(blocks[0]["type"], "section");
  const std::string text = blocks[0]["text"]["text"];
  EXPECT_NE(text.find("member &lt;etcd-2&gt; &amp; co unreachable"), std::string::npos) << text;
  ASSERT_EQ(blocks[0]["fields"].size(), 4u);
  EXPECT_EQ(blocks[0]["fields"][0]["text"], "*Severity*\ncritical");
  EXPECT_EQ(blocks[0]["fields"][1]["text"], "*Cluster*\nprod");
  EXPECT_EQ(blocks[0]["fields"][2]["text"], "*Member*\netcd-2");
  EXPECT_EQ(blocks[0]["fields"][3]["text"], "*Since*\n2023-11-14T22:12:20.000Z");
  EXPECT_EQ(blocks[1]["text"]["text"], "*Values*\n`reachable` = 0\n`fsync_p99_ms` = 142.5");
  EXPECT_EQ(blocks[2]["type"], "context");
  const std::string context = blocks[2]["elements"][0]["text"];
  EXPECT_NE(context.find(n.alert.fingerprint), std::string::npos) << context;

  EXPECT_EQ(Json::parse(requests[1].body)["attachments"][0]["color"], "#ECB22E");
  const Json resolved = Json::parse(requests[2].body);
  EXPECT_EQ(resolved["attachments"][0]["color"], "#2EB67D");
  EXPECT_EQ(resolved["text"].get<std::string>().rfind("[RESOLVED critical] ", 0), 0u);
}

// PagerDuty: trigger, then resolve with the same dedup_key; 202 is success.
TEST_F(HttpChannelTest, PagerDutyTriggerThenResolve) {
  server_.Set("/v2/enqueue", CannedResponse::With(202, "{\"status\":\"success\"}"));
  auto notifier =
      NewPagerDutyNotifier({config::Secret("R0UTINGKEY"), server_.Url("/v2/enqueue")}, 5s);
  ASSERT_TRUE(notifier.ok()) << notifier.status().ToString();
  EXPECT_EQ((*notifier)->name(), "pagerduty");
  const Notification firing = MakeNotification();
  ASSERT_TRUE((*notifier)->Send(firing).ok());
  ASSERT_TRUE((*notifier)->Send(MakeNotification(NotificationKind::kRepeat)).ok());
  ASSERT_TRUE((*notifier)->Send(MakeNotification(NotificationKind::kResolved)).ok());

  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  const Json trigger = Json::parse(requests[0].body);
  EXPECT_EQ(trigger["routing_key"], "R0UTINGKEY");
  EXPECT_EQ(trigger["event_action"], "trigger");
  EXPECT_EQ(trigger["dedup_key"], firing.alert.fingerprint);
  const Json& payload = trigger["payload"];
  EXPECT_EQ(payload["summary"],
            "[critical] MemberUnavailable cluster=prod member=etcd-2: " + firing.alert.summary);
  EXPECT_EQ(payload["source"], "etcd-2");
  EXPECT_EQ(payload["severity"], "critical");
  EXPECT_EQ(payload["component"], "etcd");
  EXPECT_EQ(payload["group"], "prod");
  EXPECT_EQ(payload["class"], "MemberUnavailable");
  EXPECT_EQ(payload["timestamp"], "2023-11-14T22:12:20.000Z");
  EXPECT_EQ(payload["custom_details"]["reachable"], 0);
  EXPECT_EQ(payload["custom_details"]["fsync_p99_ms"], 142.5);
  EXPECT_EQ(Json::parse(requests[1].body)["event_action"], "trigger");
  const Json resolve = Json::parse(requests[2].body);
  EXPECT_EQ(resolve["event_action"], "resolve");
  EXPECT_EQ(resolve["dedup_key"], firing.alert.fingerprint);
  EXPECT_EQ(resolve["routing_key"], "R0UTINGKEY");
}

// A cluster-wide warning alert is sent with the cluster as source and severity warning.
TEST_F(HttpChannelTest, PagerDutyClusterWideWarning) {
  server_.Set("/v2/enqueue", CannedResponse::With(202));
  auto notifier = NewPagerDutyNotifier({config::Secret("key"), server_.Url("/v2/enqueue")}, 5s);
  ASSERT_TRUE(notifier.ok());
  Notification n = MakeNotification();
  n.alert.key.member.clear();
  n.alert.severity = Severity::kWarning;
  ASSERT_TRUE((*notifier)->Send(n).ok());
  const Json payload = Json::parse(server_.requests().at(0).body)["payload"];
  EXPECT_EQ(payload["source"], "prod");
  EXPECT_EQ(payload["severity"], "warning");
}

// A PagerDuty 400 (invalid event) is permanent; a 429 is retried.
TEST_F(HttpChannelTest, PagerDutyRejectionIsPermanent) {
  auto notifier = NewPagerDutyNotifier({config::Secret("key"), server_.Url("/v2/enqueue")}, 5s);
  ASSERT_TRUE(notifier.ok());
  server_.Set("/v2/enqueue", CannedResponse::With(400, "{\"status\":\"invalid event\"}"));
  EXPECT_FALSE(IsRetryable((*notifier)->Send(MakeNotification())));
  server_.Set("/v2/enqueue", CannedResponse::With(429));
  EXPECT_TRUE(IsRetryable((*notifier)->Send(MakeNotification())));
}

// The console channel logs one line with every field, in text and in json format.
TEST(ConsoleChannelTest, LogsOneStructuredLine) {
  for (const char* format : {"text", "json"}) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    config::LogConfig log;
    log.format = format;
    auto logger = logging::MakeLogger("alerts", log, sink);
    ASSERT_TRUE(logger.ok()) << logger.status().ToString();
    auto notifier = NewConsoleNotifier(*logger);
    EXPECT_EQ(notifier->name(), "console");
    const Notification n = MakeNotification();
    ASSERT_TRUE(notifier->Send(n).ok());
    (*logger)->flush();
    const std::string line = out.str();
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
    for (const std::string& field :
         {std::string("alert kind=firing"), std::string("rule=MemberUnavailable"),
          std::string("severity=critical"), std::string("cluster=prod"),
          std::string("member=etcd-2"), std::string("unreachable: connection refused"),
          std::string("reachable=0,fsync_p99_ms=142.5"), "fingerprint=" + n.alert.fingerprint,
          std::string("notification_id=7"), std::string("alerts")}) {
      EXPECT_NE(line.find(field), std::string::npos) << format << ": " << field << " in " << line;
    }
    if (std::string(format) == "json") {
      const Json doc = Json::parse(line, nullptr, false);
      ASSERT_TRUE(doc.is_object()) << line;
      EXPECT_EQ(doc["logger"], "alerts");
      EXPECT_EQ(doc["level"], "warn");
    }
  }
}

// MakeNotifiers creates the configured channels in a fixed order.
TEST(MakeNotifiersTest, CreatesConfiguredChannels) {
  FakeClock clock;
  ChannelConfig config;
  config.webhook = WebhookConfig{config::Secret("http://127.0.0.1:1/hook"), {}, {}};
  config.slack = SlackConfig{config::Secret("https://hooks.slack.example/services/x")};
  config.pagerduty = PagerDutyConfig{config::Secret("key"), "http://127.0.0.1:1/v2/enqueue"};
  EmailConfig email;
  email.url = "smtp://127.0.0.1:1";
  email.from = "alerts@example.com";
  email.to = {"oncall@example.com"};
  config.email = email;
  auto logger = logging::MakeLogger("alerts", config::LogConfig{},
                                    std::make_shared<spdlog::sinks::ostream_sink_mt>(std::cerr));
  ASSERT_TRUE(logger.ok());
  auto notifiers = MakeNotifiers(config, *logger, clock);
  ASSERT_TRUE(notifiers.ok()) << notifiers.status().ToString();
  std::vector<std::string> names;
  for (const auto& n : *notifiers) {
    names.push_back(n->name());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"console", "webhook", "slack", "pagerduty", "email"}));

  config.console = false;
  config.slack->webhook_url = config::Secret("not a url");
  EXPECT_EQ(MakeNotifiers(config, nullptr, clock).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace etcdmon::alerter
