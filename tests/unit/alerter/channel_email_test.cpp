// The email channel against the SMTP sink: headers and body, TLS (STARTTLS, required unless
// plaintext is allowed) and AUTH, header and command injection, and how refusals and failures
// map to retryable or permanent errors.

#include <gtest/gtest.h>

#include <algorithm>

#include "channel_test_util.h"
#include "etcdmon/alerter/channels.h"
#include "etcdmon/testing/smtp_sink.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/testing/test_certs.h"

namespace etcdmon::alerter {
namespace {

using namespace std::chrono_literals;
using etcdmon::testing::SmtpSink;
using etcdmon::testing::SmtpSinkOptions;
using testing::MakeNotification;

constexpr const char* kPassword = "pa55-SMTP-secret";

EmailConfig MakeConfig(const SmtpSink& sink) {
  EmailConfig config;
  config.url = sink.Url();
  config.from = "etcd-monitor@example.com";
  config.to = {"oncall@example.com", "dba@example.com"};
  return config;
}

// For the plain sink (no STARTTLS): --smtp-allow-plaintext.
EmailConfig PlaintextConfig(const SmtpSink& sink) {
  EmailConfig config = MakeConfig(sink);
  config.allow_plaintext = true;
  return config;
}

bool SentAuth(const SmtpSink& sink) {
  for (const std::string& command : sink.commands()) {
    if (command.rfind("AUTH", 0) == 0) {
      return true;
    }
  }
  return false;
}

class EmailChannelTest : public ::testing::Test {
 protected:
  std::unique_ptr<Notifier> MakeNotifier(EmailConfig config,
                                         std::chrono::milliseconds timeout = 10s) {
    auto notifier = NewEmailNotifier(std::move(config), timeout, clock_);
    EXPECT_TRUE(notifier.ok()) << notifier.status().ToString();
    return notifier.ok() ? std::move(notifier).value() : nullptr;
  }

  FakeClock clock_;
};

// A firing notification becomes one message with the envelope, headers and body expected.
TEST_F(EmailChannelTest, SendsMessageWithHeadersAndValues) {
  SmtpSink sink;
  ASSERT_TRUE(sink.Start().ok());
  auto notifier = MakeNotifier(PlaintextConfig(sink));
  ASSERT_NE(notifier, nullptr);
  EXPECT_EQ(notifier->name(), "email");
  const Notification n = MakeNotification();
  const Status status = notifier->Send(n);
  ASSERT_TRUE(status.ok()) << status.ToString();

  const auto messages = sink.messages();
  ASSERT_EQ(messages.size(), 1u);
  const auto& m = messages[0];
  EXPECT_EQ(m.mail_from, "etcd-monitor@example.com");
  EXPECT_EQ(m.rcpt_to, (std::vector<std::string>{"oncall@example.com", "dba@example.com"}));
  EXPECT_EQ(m.auth_user, "");
  EXPECT_EQ(m.Header("Date"), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(m.Header("From"), "etcd-monitor@example.com");
  EXPECT_EQ(m.Header("To"), "oncall@example.com, dba@example.com");
  EXPECT_EQ(m.Header("Subject"), "[FIRING critical] MemberUnavailable cluster=prod member=etcd-2");
  const std::string message_id = m.Header("Message-ID");
  EXPECT_EQ(message_id.front(), '<');
  EXPECT_EQ(message_id.back(), '>');
  EXPECT_NE(message_id.find(n.alert.fingerprint), std::string::npos) << message_id;
  EXPECT_EQ(m.Header("Content-Type"), "text/plain; charset=utf-8");
  const std::string body = m.Body();
  for (const std::string& line :
       {std::string("FIRING critical: MemberUnavailable\r\n"), std::string("cluster:     prod\r\n"),
        std::string("member:      etcd-2\r\n"),
        std::string("since:       2023-11-14T22:12:20.000Z\r\n"),
        "summary:     " + n.alert.summary + "\r\n", std::string("  reachable = 0\r\n"),
        std::string("  fsync_p99_ms = 142.5\r\n"), "fingerprint: " + n.alert.fingerprint}) {
    EXPECT_NE(body.find(line), std::string::npos) << line << " in:\n" << body;
  }
}

// A resolved notification says RESOLVED and when; a summary with lines starting with dots
// survives dot-stuffing; line breaks in header material cannot add headers.
TEST_F(EmailChannelTest, ResolvedDotsAndHeaderInjection) {
  SmtpSink sink;
  ASSERT_TRUE(sink.Start().ok());
  auto notifier = MakeNotifier(PlaintextConfig(sink));
  ASSERT_NE(notifier, nullptr);
  Notification n = MakeNotification(NotificationKind::kResolved);
  n.alert.summary = "first line\n.hidden line\n.";
  n.alert.key.cluster = "prod\r\nBcc: evil@example.com";
  ASSERT_TRUE(notifier->Send(n).ok());
  ASSERT_EQ(sink.messages().size(), 1u);
  const auto m = sink.messages()[0];
  EXPECT_EQ(m.Header("Subject").rfind("[RESOLVED critical] MemberUnavailable cluster=prod", 0), 0u)
      << m.Header("Subject");
  EXPECT_EQ(m.Header("Bcc"), "");
  EXPECT_NE(m.Body().find("resolved:    2023-11-14T22:13:19.000Z\r\n"), std::string::npos);
  EXPECT_NE(m.Body().find("summary:     first line\r\n.hidden line\r\n.\r\n"), std::string::npos)
      << m.Body();
}

// SMTP replies: 5xx is permanent, 4xx retryable; a silent server runs into the timeout; a
// server that is gone is retryable.
TEST_F(EmailChannelTest, RefusalsAndFailures) {
  SmtpSink sink;
  ASSERT_TRUE(sink.Start().ok());
  auto notifier = MakeNotifier(PlaintextConfig(sink), 500ms);
  ASSERT_NE(notifier, nullptr);

  sink.SetDataReply(554);
  Status status = notifier->Send(MakeNotification());
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_FALSE(IsRetryable(status));
  EXPECT_NE(status.message().find("554"), std::string::npos) << status.message();

  sink.SetDataReply(451);
  status = notifier->Send(MakeNotification());
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
  EXPECT_TRUE(IsRetryable(status));

  sink.SetDataReply(250);
  sink.SetRcptReply(550);
  status = notifier->Send(MakeNotification());
  EXPECT_FALSE(IsRetryable(status)) << status.ToString();

  sink.SetRcptReply(250);
  sink.SetHangAfterData(true);
  status = notifier->Send(MakeNotification());
  EXPECT_EQ(status.code(), StatusCode::kDeadlineExceeded) << status.ToString();
  EXPECT_TRUE(sink.messages().empty());

  sink.Stop();
  status = notifier->Send(MakeNotification());
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
}

// With a password configured, a server without STARTTLS is refused when the channel is made:
// no AUTH at all, the password never crosses the network in the clear; plaintext cannot be
// allowed together with a password.
TEST_F(EmailChannelTest, NeverSendsPasswordWithoutTls) {
  SmtpSinkOptions options;
  options.username = "alerts";
  options.password = kPassword;
  SmtpSink sink(options);
  ASSERT_TRUE(sink.Start().ok());
  EmailConfig config = MakeConfig(sink);
  config.username = "alerts";
  config.password = config::Secret(kPassword);
  auto notifier = NewEmailNotifier(config, 10s, clock_);
  EXPECT_EQ(notifier.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(notifier.status().message().find(kPassword), std::string::npos);
  config.allow_plaintext = true;
  EXPECT_EQ(NewEmailNotifier(config, 10s, clock_).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(SentAuth(sink));
  EXPECT_TRUE(sink.messages().empty());
}

// STARTTLS is required by default: a server that does not offer it is refused at start, with an
// error naming the server and the way out, and no mail is sent; --smtp-allow-plaintext delivers.
TEST_F(EmailChannelTest, ServerWithoutStartTlsIsRefusedUnlessPlaintextIsAllowed) {
  SmtpSink sink;
  ASSERT_TRUE(sink.Start().ok());
  auto refused = NewEmailNotifier(MakeConfig(sink), 10s, clock_);
  ASSERT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("does not offer STARTTLS"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("--smtp-allow-plaintext"), std::string::npos);
  EXPECT_NE(refused.status().message().find(sink.Url()), std::string::npos);
  EXPECT_TRUE(sink.messages().empty());
  const auto commands = sink.commands();
  EXPECT_EQ(std::count_if(commands.begin(), commands.end(),
                          [](const std::string& c) { return c.rfind("MAIL", 0) == 0; }),
            0);

  auto allowed = MakeNotifier(PlaintextConfig(sink));
  ASSERT_NE(allowed, nullptr);
  ASSERT_TRUE(allowed->Send(MakeNotification()).ok());
  ASSERT_EQ(sink.messages().size(), 1u);
  EXPECT_FALSE(sink.messages()[0].tls);
}

// Every text of a notification is attacker-influenced (rule, cluster and member names, summary,
// value names): line breaks and other control characters stay inside one harmless header or
// body line; nothing adds a header, a recipient or an SMTP command.
TEST_F(EmailChannelTest, HeaderAndCommandInjectionStayHarmless) {
  SmtpSink sink;
  ASSERT_TRUE(sink.Start().ok());
  auto notifier = MakeNotifier(PlaintextConfig(sink));
  ASSERT_NE(notifier, nullptr);
  Notification n = MakeNotification();
  n.alert.key.rule = "Rule\r\nBcc: rule@evil.example";
  n.alert.key.cluster = "prod\nX-Injected: yes";
  n.alert.key.member = "m1\x01\x7f\rReply-To: member@evil.example";
  n.alert.summary = "sum\r\n.\r\nMAIL FROM:<evil@evil.example>\r\nRCPT TO:<victim@evil.example>";
  n.alert.values = {{"v\r\nCc: value@evil.example", 1}};
  ASSERT_TRUE(notifier->Send(n).ok());
  ASSERT_EQ(sink.messages().size(), 1u);
  const auto m = sink.messages()[0];
  for (const char* header : {"Bcc", "Cc", "X-Injected", "Reply-To"}) {
    EXPECT_EQ(m.Header(header), "") << header;
  }
  EXPECT_EQ(m.rcpt_to, (std::vector<std::string>{"oncall@example.com", "dba@example.com"}));
  const std::string subject = m.Header("Subject");
  EXPECT_EQ(subject,
            "[FIRING critical] Rule  Bcc: rule@evil.example cluster=prod X-Injected: yes "
            "member=m1   Reply-To: member@evil.example");
  // The header holds no control character at all.
  const std::string header = m.data.substr(0, m.data.find("\r\n\r\n"));
  for (char c : header) {
    if (c != '\r' && c != '\n') {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << int(c);
    }
  }
  const auto commands = sink.commands();
  EXPECT_EQ(std::count_if(commands.begin(), commands.end(),
                          [](const std::string& c) { return c.rfind("MAIL", 0) == 0; }),
            1);
  EXPECT_EQ(std::count_if(commands.begin(), commands.end(),
                          [](const std::string& c) { return c.rfind("RCPT", 0) == 0; }),
            2);
  EXPECT_NE(m.Body().find("MAIL FROM:<evil@evil.example>"), std::string::npos)
      << "the summary is kept as text";
}

class EmailTlsTest : public EmailChannelTest {
 protected:
  void SetUp() override {
    auto certs = etcdmon::testing::GenerateTestCertificates(dir_.File("certs"));
    ASSERT_TRUE(certs.ok()) << certs.status().ToString();
    certs_ = *certs;
  }

  SmtpSinkOptions TlsOptions(bool with_auth) const {
    SmtpSinkOptions options;
    options.tls_cert_file = certs_.server_cert;
    options.tls_key_file = certs_.server_key;
    if (with_auth) {
      options.username = "alerts";
      options.password = kPassword;
    }
    return options;
  }

  etcdmon::testing::TempDir dir_;
  etcdmon::testing::TestCertificates certs_;
};

// STARTTLS is used when offered, then AUTH; the message arrives over TLS from the user.
TEST_F(EmailTlsTest, StartTlsThenAuth) {
  SmtpSink sink(TlsOptions(true));
  ASSERT_TRUE(sink.Start().ok());
  EmailConfig config = MakeConfig(sink);
  config.username = "alerts";
  config.password = config::Secret(kPassword);
  config.ca_file = certs_.ca_cert;
  auto notifier = MakeNotifier(config);
  ASSERT_NE(notifier, nullptr);
  const Status status = notifier->Send(MakeNotification());
  ASSERT_TRUE(status.ok()) << status.ToString();
  ASSERT_EQ(sink.messages().size(), 1u);
  EXPECT_TRUE(sink.messages()[0].tls);
  EXPECT_EQ(sink.messages()[0].auth_user, "alerts");
  const auto commands = sink.commands();
  const auto starttls = std::find(commands.begin(), commands.end(), "STARTTLS");
  ASSERT_NE(starttls, commands.end());
  const auto auth = std::find_if(commands.begin(), commands.end(),
                                 [](const std::string& c) { return c.rfind("AUTH", 0) == 0; });
  ASSERT_NE(auth, commands.end());
  EXPECT_LT(starttls - commands.begin(), auth - commands.begin());
}

// Without a password, STARTTLS is still used when offered.
TEST_F(EmailTlsTest, StartTlsWithoutAuth) {
  SmtpSink sink(TlsOptions(false));
  ASSERT_TRUE(sink.Start().ok());
  EmailConfig config = MakeConfig(sink);
  config.ca_file = certs_.ca_cert;
  auto notifier = MakeNotifier(config);
  ASSERT_NE(notifier, nullptr);
  ASSERT_TRUE(notifier->Send(MakeNotification()).ok());
  ASSERT_EQ(sink.messages().size(), 1u);
  EXPECT_TRUE(sink.messages()[0].tls);
}

// A certificate from an untrusted CA fails verification before any AUTH; a wrong password is
// refused (permanent) and never quoted.
TEST_F(EmailTlsTest, UntrustedCertificateAndWrongPassword) {
  SmtpSink sink(TlsOptions(true));
  ASSERT_TRUE(sink.Start().ok());
  EmailConfig config = MakeConfig(sink);
  config.username = "alerts";
  config.password = config::Secret(kPassword);
  config.ca_file = certs_.other_ca_cert;
  auto untrusting = MakeNotifier(config);
  ASSERT_NE(untrusting, nullptr);
  Status status = untrusting->Send(MakeNotification());
  EXPECT_FALSE(status.ok());
  EXPECT_FALSE(SentAuth(sink));
  EXPECT_TRUE(sink.messages().empty());

  config.ca_file = certs_.ca_cert;
  config.password = config::Secret("wrong-Pa55word");
  auto wrong = MakeNotifier(config);
  ASSERT_NE(wrong, nullptr);
  status = wrong->Send(MakeNotification());
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  EXPECT_EQ(status.message().find("wrong-Pa55word"), std::string::npos) << status.message();
  EXPECT_GE(sink.auth_failures(), 1u);
  EXPECT_TRUE(sink.messages().empty());
}

// The factory refuses incomplete or malformed settings.
TEST(EmailChannelCreateTest, RejectsBadConfig) {
  FakeClock clock;
  EmailConfig good;
  good.url = "smtp://127.0.0.1:2525";
  good.from = "a@example.com";
  good.to = {"b@example.com"};
  ASSERT_TRUE(NewEmailNotifier(good, 1s, clock).ok());

  EmailConfig c = good;
  c.url = "http://127.0.0.1:2525";
  EXPECT_EQ(NewEmailNotifier(c, 1s, clock).status().code(), StatusCode::kInvalidArgument);
  c = good;
  c.to.clear();
  EXPECT_EQ(NewEmailNotifier(c, 1s, clock).status().code(), StatusCode::kInvalidArgument);
  for (const char* bad :
       {"b@example.com>\r\nRCPT TO:<x@y", "b@example.com\r\nBcc: x@y", "b@exa mple.com",
        "\"b\"@example.com", "b@exa_mple.com", "b@example.com\x01", "@example.com", "b@",
        "b@example.com,c@example.com", "b<c>@example.com"}) {
    c = good;
    c.to = {bad};
    EXPECT_EQ(NewEmailNotifier(c, 1s, clock).status().code(), StatusCode::kInvalidArgument) << bad;
    c = good;
    c.from = bad;
    EXPECT_EQ(NewEmailNotifier(c, 1s, clock).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  c = good;
  c.to = {std::string(250, 'a') + "@example.com"};
  EXPECT_EQ(NewEmailNotifier(c, 1s, clock).status().code(), StatusCode::kInvalidArgument);
  c = good;
  c.username = "alerts";
  EXPECT_EQ(NewEmailNotifier(c, 1s, clock).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace etcdmon::alerter
