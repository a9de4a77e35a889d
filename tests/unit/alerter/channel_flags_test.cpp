// ChannelFlags: flags and variables into a ChannelConfig, and one error line per problem,
// none of which shows a secret.

#include "etcdmon/alerter/channel_flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <fstream>

#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::alerter {
namespace {

using namespace std::chrono_literals;

// Sets a variable for one test and restores the previous state.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) {
      old_ = old;
      had_ = true;
    }
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_.c_str(), old_.c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::string old_;
  bool had_ = false;
};

class ChannelFlagsTest : public ::testing::Test {
 protected:
  // Parses `args` and builds the config.
  Result<ChannelConfig> Parse(std::vector<std::string> args) {
    app_ = std::make_unique<CLI::App>("test");
    flags_ = std::make_unique<ChannelFlags>(*app_);
    args.insert(args.begin(), "test");
    std::vector<const char*> argv;
    for (const auto& a : args) {
      argv.push_back(a.c_str());
    }
    try {
      app_->parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      return Status::InvalidArgument(std::string("CLI11: ") + e.what());
    }
    return flags_->Build();
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << content;
    return path;
  }

  etcdmon::testing::TempDir dir_;
  std::unique_ptr<CLI::App> app_;
  std::unique_ptr<ChannelFlags> flags_;
};

// Without flags: only the console, with a 10s timeout.
TEST_F(ChannelFlagsTest, Defaults) {
  auto config = Parse({});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->console);
  EXPECT_EQ(config->timeout, 10s);
  EXPECT_FALSE(config->webhook);
  EXPECT_FALSE(config->slack);
  EXPECT_FALSE(config->pagerduty);
  EXPECT_FALSE(config->email);
}

// Every channel from flags and secret files (a trailing line break dropped).
TEST_F(ChannelFlagsTest, EveryChannelFromFlags) {
  auto config = Parse({"--console-notifications=false", "--notify-timeout=3s",
                       "--webhook-url=https://hooks.example.com/x?token=1",
                       "--webhook-token-file=" + WriteFile("token", "tok\n"),
                       "--webhook-hmac-secret-file=" + WriteFile("hmac", "key"),
                       "--slack-webhook-url=https://hooks.slack.com/services/T/B/C",
                       "--pagerduty-routing-key-file=" + WriteFile("pd", "rk\r\n"),
                       "--pagerduty-url=http://127.0.0.1:9/v2/enqueue",
                       "--smtp-url=smtps://mail.example.com:465", "--smtp-from=a@example.com",
                       "--smtp-to=b@example.com, c@example.com", "--smtp-user=alerts",
                       "--smtp-password-file=" + WriteFile("pw", "pw\n"),
                       "--smtp-ca-file=" + WriteFile("ca.pem", "x")});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->console);
  EXPECT_EQ(config->timeout, 3s);
  ASSERT_TRUE(config->webhook);
  EXPECT_EQ(config->webhook->url.Reveal(), "https://hooks.example.com/x?token=1");
  EXPECT_EQ(config->webhook->bearer_token.Reveal(), "tok");
  EXPECT_EQ(config->webhook->hmac_secret.Reveal(), "key");
  ASSERT_TRUE(config->slack);
  EXPECT_EQ(config->slack->webhook_url.Reveal(), "https://hooks.slack.com/services/T/B/C");
  ASSERT_TRUE(config->pagerduty);
  EXPECT_EQ(config->pagerduty->routing_key.Reveal(), "rk");
  EXPECT_EQ(config->pagerduty->url, "http://127.0.0.1:9/v2/enqueue");
  ASSERT_TRUE(config->email);
  EXPECT_EQ(config->email->url, "smtps://mail.example.com:465");
  EXPECT_EQ(config->email->from, "a@example.com");
  EXPECT_EQ(config->email->to, (std::vector<std::string>{"b@example.com", "c@example.com"}));
  EXPECT_EQ(config->email->username, "alerts");
  EXPECT_EQ(config->email->password.Reveal(), "pw");
  EXPECT_EQ(config->email->ca_file, dir_.File("ca.pem"));
}

// Variables supply URLs and secrets; a flag beats its variable, a secret file beats the
// variable holding the secret.
TEST_F(ChannelFlagsTest, EnvironmentAndPrecedence) {
  ScopedEnv url("WEBHOOK_URL", "http://env.example.com/hook");
  ScopedEnv token("WEBHOOK_TOKEN", "env-token");
  ScopedEnv hmac("WEBHOOK_HMAC_SECRET", "env-hmac");
  ScopedEnv slack("SLACK_WEBHOOK_URL", "https://hooks.slack.com/env");
  ScopedEnv pd("PAGERDUTY_ROUTING_KEY", "env-rk");
  ScopedEnv smtp("SMTP_URL", "smtp://127.0.0.1:2525");
  ScopedEnv password("SMTP_PASSWORD", "env-pw");
  auto config =
      Parse({"--webhook-url=http://flag.example.com/hook",
             "--webhook-token-file=" + WriteFile("token", "file-token"),
             "--smtp-from=a@example.com", "--smtp-to=b@example.com", "--smtp-user=alerts"});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->webhook->url.Reveal(), "http://flag.example.com/hook");
  EXPECT_EQ(config->webhook->bearer_token.Reveal(), "file-token");
  EXPECT_EQ(config->webhook->hmac_secret.Reveal(), "env-hmac");
  EXPECT_EQ(config->slack->webhook_url.Reveal(), "https://hooks.slack.com/env");
  EXPECT_EQ(config->pagerduty->routing_key.Reveal(), "env-rk");
  EXPECT_EQ(config->email->url, "smtp://127.0.0.1:2525");
  EXPECT_EQ(config->email->password.Reveal(), "env-pw");
}

// Each problem is one line naming its flag; secrets and webhook URLs are never printed.
TEST_F(ChannelFlagsTest, ReportsEveryProblemWithoutSecrets) {
  const struct {
    std::vector<std::string> args;
    std::string expected;  // a substring of one error line
  } cases[] = {
      {{"--webhook-url=ftp://hooks.example.com/SECRETPATH"},
       "--webhook-url: not an http:// or https:// URL"},
      {{"--slack-webhook-url=hooks.slack.com/services/SECRETPATH"},
       "--slack-webhook-url: not an http:// or https:// URL"},
      {{"--webhook-token-file=" + WriteFile("t", "SECRETTOKEN")},
       "a webhook token without --webhook-url"},
      {{"--webhook-url=http://h/x", "--webhook-token-file=/nonexistent/token"},
       "--webhook-token-file"},
      {{"--webhook-url=http://h/x", "--webhook-token-file=" + WriteFile("empty", "")},
       "file is empty"},
      {{"--pagerduty-url=http://127.0.0.1/v2/enqueue"}, "needs a routing key"},
      {{"--pagerduty-routing-key-file=" + WriteFile("rk", "SECRETKEY"), "--pagerduty-url=x"},
       "--pagerduty-url \"x\": not an http:// or https:// URL"},
      {{"--smtp-url=http://mail:25", "--smtp-from=a@b.c", "--smtp-to=d@e.f"},
       "want smtp://host:port or smtps://host:port"},
      {{"--smtp-url=smtp://user:SECRETPW@mail:25", "--smtp-from=a@b.c", "--smtp-to=d@e.f"},
       "no credentials in the URL"},
      {{"--smtp-url=smtp://mail:25", "--smtp-to=d@e.f"}, "--smtp-url: needs --smtp-from"},
      {{"--smtp-url=smtp://mail:25", "--smtp-from=a@b.c"}, "--smtp-url: needs --smtp-to"},
      {{"--smtp-url=smtp://mail:25", "--smtp-from=a@b.c", "--smtp-to=d@e.f,nobody"},
       "--smtp-to \"nobody\": not a plain address"},
      {{"--smtp-url=smtp://mail:25", "--smtp-from=a@b.c", "--smtp-to=d@e_f.g"},
       "--smtp-to \"d@e_f.g\": not a plain address"},
      {{"--smtp-url=smtp://mail:25", "--smtp-from=a(b)@b.c", "--smtp-to=d@e.f"},
       "--smtp-from \"a(b)@b.c\": not a plain address"},
      {{"--smtp-url=smtp://mail:25", "--smtp-from=a@b.c", "--smtp-to=d@e.f",
        "--smtp-password-file=" + WriteFile("pw", "SECRETPW")},
       "--smtp-password-file: a password without --smtp-user"},
      {{"--smtp-url=smtp://mail:25", "--smtp-from=a@b.c", "--smtp-to=d@e.f", "--smtp-user=u"},
       "--smtp-user: no password"},
      {{"--smtp-to=d@e.f"}, "--smtp-to: needs --smtp-url"},
      {{"--notify-timeout=0s"}, "--notify-timeout"},
      {{"--console-notifications=maybe"}, "--console-notifications"},
  };
  for (const auto& c : cases) {
    auto config = Parse(c.args);
    ASSERT_FALSE(config.ok()) << c.expected;
    const std::string message = config.status().message();
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_EQ(message.find("SECRET"), std::string::npos) << message;
  }
}

// Several problems are reported together, one line each.
TEST_F(ChannelFlagsTest, ReportsProblemsTogether) {
  auto config = Parse({"--webhook-url=nope", "--smtp-url=smtp://mail:25", "--notify-timeout=x"});
  ASSERT_FALSE(config.ok());
  const std::string message = config.status().message();
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n') + 1, 4) << message;
}

}  // namespace
}  // namespace etcdmon::alerter
