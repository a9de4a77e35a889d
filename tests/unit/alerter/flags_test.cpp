// ParseAlerterCommandLine: the alerter's flags and variables (its own, the quickstart's
// thresholds, the rule flags and the channel flags) into an AlerterCommandLine, a flag beating
// its variable, one `error:` line per bad value (exit code 2), help (exit 0). The channel flags'
// own cases are in channel_flags_test.cpp.

#include "etcdmon/alerter/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "etcdmon/alerter/rules.h"
#include "etcdmon/testing/command_line.h"
#include "etcdmon/testing/scoped_env.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::alerter {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

using Parsed = testing::ParsedCommandLine<AlerterCommandLine>;
using testing::Lines;
using testing::Millis;

Parsed Parse(const std::vector<std::string>& args) {
  return testing::ParseCommandLineForTest(ParseAlerterCommandLine, "etcd-monitor-alerter", args);
}

// A rule parameter of the parsed rules, as text ("" for an unknown rule).
std::string RuleParameter(const AlerterCommandLine& line, std::string_view rule,
                          std::string_view parameter) {
  const RuleSpec* spec = line.alerter.rules.Find(rule);
  if (spec == nullptr) {
    return "";
  }
  std::ostringstream text;
  text << spec->Parameter(parameter);
  return text.str();
}

class AlerterFlagsTest : public ::testing::Test {
 protected:
  // Every variable the alerter reads, cleared for each test and restored afterwards.
  etcdmon::testing::ScopedEnv env_{
      "LOG_LEVEL",     "LOG_FORMAT",          "API_TOKEN",         "WEBHOOK_URL",
      "WEBHOOK_TOKEN", "WEBHOOK_HMAC_SECRET", "SLACK_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY",
      "SMTP_URL",      "SMTP_PASSWORD"};

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << content;
    return path;
  }

  etcdmon::testing::TempDir dir_;
};

// Without flags or variables: the documented defaults, the default rules, the console channel.
TEST_F(AlerterFlagsTest, Defaults) {
  Parsed parsed = Parse({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_TRUE(parsed.err.empty());
  const AlerterCommandLine& line = parsed.result.value();
  const AlerterConfig& c = line.alerter;
  EXPECT_EQ(c.snapshot_endpoint, "tcp://127.0.0.1:5556");
  EXPECT_EQ(c.curve_server_key, "");
  EXPECT_EQ(c.grpc_address, "127.0.0.1:5558");
  EXPECT_EQ(c.db_path, "etcd-monitor-data/alerts.db");
  EXPECT_EQ(c.store.history_retention, 720h);
  EXPECT_EQ(c.repeat_interval, 4h);
  EXPECT_TRUE(c.api_token.empty());
  EXPECT_EQ(RuleParameter(line, kRequestLatencyDegraded, "threshold_ms"), "100");
  EXPECT_EQ(RuleParameter(line, kDatabaseNearQuota, "max_db_size_mb"), "8192");
  EXPECT_EQ(RuleParameter(line, kMemberUnavailable, "min_available_nodes"), "0");
  EXPECT_EQ(RuleParameter(line, kFrequentLeaderElections, "max_changes"), "3");
  EXPECT_TRUE(line.channels.console);
  EXPECT_FALSE(line.channels.webhook);
  EXPECT_EQ(line.log.level, "info");
  EXPECT_EQ(line.log.format, "text");
}

// Each flag lands in its field.
TEST_F(AlerterFlagsTest, EveryFlagSetsItsField) {
  Result<transport::CurveKeyPair> keys = transport::GenerateCurveKeyPair();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  const std::string key_file = WriteFile("aggregator.pub", keys->public_key + "\n");
  const std::string token_file = WriteFile("token", "tok-from-file\n");
  const std::string rules_file = WriteFile("rules.yaml",
                                           "rules:\n  WalFsyncSlow:\n    "
                                           "threshold_ms: 250\n");
  struct Case {
    std::string arg;
    std::function<std::string(const AlerterCommandLine&)> field;
    std::string want;
  };
  const Case cases[] = {
      {"--snapshots=tcp://agg:6556", [](const auto& l) { return l.alerter.snapshot_endpoint; },
       "tcp://agg:6556"},
      {"--curve-server-key-file=" + key_file,
       [](const auto& l) { return l.alerter.curve_server_key; }, keys->public_key},
      {"--grpc-listen=127.0.0.1:6558", [](const auto& l) { return l.alerter.grpc_address; },
       "127.0.0.1:6558"},
      {"--db=/var/lib/a.db", [](const auto& l) { return l.alerter.db_path; }, "/var/lib/a.db"},
      {"--history-retention=48h",
       [](const auto& l) { return Millis(l.alerter.store.history_retention); }, "172800000ms"},
      {"--repeat-interval=30m", [](const auto& l) { return Millis(l.alerter.repeat_interval); },
       "1800000ms"},
      {"--api-token-file=" + token_file,
       [](const auto& l) { return std::string(l.alerter.api_token.Reveal()); }, "tok-from-file"},
      {"--rules-file=" + rules_file,
       [](const auto& l) { return RuleParameter(l, kWalFsyncSlow, "threshold_ms"); }, "250"},
      {"--max-latency-ms=250",
       [](const auto& l) { return RuleParameter(l, kRequestLatencyDegraded, "threshold_ms"); },
       "250"},
      {"--max-db-size-mb=1024",
       [](const auto& l) { return RuleParameter(l, kDatabaseNearQuota, "max_db_size_mb"); },
       "1024"},
      {"--min-available-nodes=3",
       [](const auto& l) { return RuleParameter(l, kMemberUnavailable, "min_available_nodes"); },
       "3"},
      {"--max-leader-changes=7",
       [](const auto& l) { return RuleParameter(l, kFrequentLeaderElections, "max_changes"); },
       "7"},
      {"--console-notifications=false",
       [](const auto& l) { return std::string(l.channels.console ? "on" : "off"); }, "off"},
      {"--webhook-url=https://hooks.example.com/x",
       [](const auto& l) {
         return l.channels.webhook ? std::string(l.channels.webhook->url.Reveal()) : "";
       },
       "https://hooks.example.com/x"},
      {"--log-level=debug", [](const auto& l) { return l.log.level; }, "debug"},
      {"--log-format=json", [](const auto& l) { return l.log.format; }, "json"},
  };
  for (const Case& c : cases) {
    Parsed parsed = Parse({c.arg});
    ASSERT_TRUE(parsed.result.ok()) << c.arg << ": " << parsed.err;
    EXPECT_EQ(c.field(parsed.result.value()), c.want) << c.arg;
  }
}

// A variable supplies the value when its flag is absent; the flag (for the token: the token
// file) beats it.
TEST_F(AlerterFlagsTest, FlagBeatsVariable) {
  const std::string token_file = WriteFile("token", "from-flag\n");
  struct Case {
    const char* env;
    std::string env_value;
    std::string arg;
    std::string flag_value;
    std::function<std::string(const AlerterCommandLine&)> field;
  };
  const Case cases[] = {
      {"API_TOKEN", "from-env", "--api-token-file=" + token_file, "from-flag",
       [](const auto& l) { return std::string(l.alerter.api_token.Reveal()); }},
      {"WEBHOOK_URL", "https://env.example.com/", "--webhook-url=https://flag.example.com/",
       "https://flag.example.com/",
       [](const auto& l) {
         return l.channels.webhook ? std::string(l.channels.webhook->url.Reveal()) : "";
       }},
      {"LOG_LEVEL", "warn", "--log-level=error", "error",
       [](const auto& l) { return l.log.level; }},
      {"LOG_FORMAT", "json", "--log-format=text", "text",
       [](const auto& l) { return l.log.format; }},
  };
  testing::ExpectFlagBeatsVariable(env_, Parse, cases, [](const Case& c) { return c.arg; });
}

// A bad value gives exit code 2 and exactly one `error:` line naming the flag and the value
// (or, for a file, the path).
TEST_F(AlerterFlagsTest, EachBadValueIsOneErrorLine) {
  const std::string empty_token = WriteFile("empty-token", "");
  const std::string not_a_key = WriteFile("not-a-key", "hello\n");
  using Case = testing::BadValueCase;
  const Case cases[] = {
      {{"--snapshots", ""}, "--snapshots", "must not be empty"},
      {{"--curve-server-key-file=/no/such/key"}, "--curve-server-key-file", "\"/no/such/key\""},
      {{"--curve-server-key-file=" + not_a_key}, "--curve-server-key-file", not_a_key},
      {{"--grpc-listen=5558"}, "--grpc-listen", "\"5558\""},
      {{"--db", ""}, "--db", "must not be empty"},
      {{"--history-retention=forever"}, "--history-retention", "\"forever\""},
      {{"--repeat-interval=0s"}, "--repeat-interval", "\"0s\""},
      {{"--api-token-file=/no/such/token"}, "--api-token-file", "\"/no/such/token\""},
      {{"--api-token-file=" + empty_token}, "--api-token-file", empty_token},
      {{"--rules-file=/no/such/rules.yaml"}, "--rules-file", "\"/no/such/rules.yaml\""},
      {{"--max-latency-ms=0"}, "--max-latency-ms", "\"0\""},
      {{"--max-db-size-mb=big"}, "--max-db-size-mb", "\"big\""},
      {{"--min-available-nodes=1001"}, "--min-available-nodes", "\"1001\""},
      {{"--max-leader-changes=-1"}, "--max-leader-changes", "\"-1\""},
      {{"--notify-timeout=later"}, "--notify-timeout", "\"later\""},
      {{"--console-notifications=maybe"}, "--console-notifications", "\"maybe\""},
      {{"--log-level=loud"}, "--log-level", "\"loud\""},
  };
  testing::ExpectEachBadValueIsOneErrorLine(Parse, cases);
}

// A bad rules file stops the start with the file's own line and reason.
TEST_F(AlerterFlagsTest, BadRulesFileNamesItsLine) {
  const std::string rules = WriteFile("rules.yaml", "rules:\n  NoSuchRule: {}\n");
  Parsed parsed = Parse({"--rules-file=" + rules});
  EXPECT_EQ(parsed.result.exit_code(), config::kExitUsage);
  ASSERT_THAT(Lines(parsed.err), SizeIs(1)) << parsed.err;
  EXPECT_THAT(parsed.err, StartsWith("error: " + rules + ":"));
  EXPECT_THAT(parsed.err, HasSubstr("NoSuchRule"));
}

// --rules-file with a clusters: section gives each cluster named there its own RuleSet: the
// thresholds, then the file's top level, then the cluster's section.
TEST_F(AlerterFlagsTest, RulesFileClustersFillClusterRules) {
  const std::string rules =
      WriteFile("rules.yaml",
                "rules:\n  WalFsyncSlow: {threshold_ms: 200}\n"
                "clusters:\n"
                "  prod:\n    rules:\n      WalFsyncSlow: {threshold_ms: 500}\n"
                "  staging:\n    defaults: {for: 2m}\n");
  Parsed parsed = Parse({"--rules-file=" + rules, "--max-latency-ms=250"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const AlerterConfig& c = parsed.result.value().alerter;
  EXPECT_EQ(c.rules.Find(kWalFsyncSlow)->Parameter("threshold_ms"), 200);
  ASSERT_EQ(c.cluster_rules.size(), 2u);
  const RuleSet& prod = c.cluster_rules.at("prod");
  EXPECT_EQ(prod.Find(kWalFsyncSlow)->Parameter("threshold_ms"), 500);
  EXPECT_EQ(prod.Find(kRequestLatencyDegraded)->Parameter("threshold_ms"), 250) << "thresholds";
  const RuleSet& staging = c.cluster_rules.at("staging");
  EXPECT_EQ(staging.Find(kWalFsyncSlow)->Parameter("threshold_ms"), 200);
  EXPECT_EQ(staging.Find(kNoLeader)->for_duration, 2min);

  const std::string bad = WriteFile("bad.yaml", "clusters:\n  prod:\n    rules: {Nope: {}}\n");
  Parsed refused = Parse({"--rules-file=" + bad});
  EXPECT_EQ(refused.result.exit_code(), config::kExitUsage);
  ASSERT_THAT(Lines(refused.err), SizeIs(1)) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr(bad + ":3: clusters: prod: unknown rule \"Nope\""));
}

// API_TOKEN's value is never printed, nor is a token file's content.
TEST_F(AlerterFlagsTest, TokenNeverPrinted) {
  env_.Set("API_TOKEN", "very-secret");
  Parsed parsed = Parse({"--repeat-interval=never"});
  EXPECT_EQ(parsed.result.exit_code(), config::kExitUsage);
  EXPECT_THAT(parsed.err, Not(HasSubstr("very-secret")));
}

// An unknown flag is a usage error too.
TEST_F(AlerterFlagsTest, UnknownFlagIsAUsageError) {
  testing::ExpectUnknownFlagIsOneErrorLine(Parse);
}

// --help prints the flags on stdout and exits 0 without running.
TEST_F(AlerterFlagsTest, HelpExitsZero) {
  testing::ExpectHelpNamesFlags(
      Parse, {"--snapshots", "--curve-server-key-file", "--grpc-listen", "--db",
              "--history-retention", "--rules-file", "--repeat-interval", "--api-token-file",
              "--max-latency-ms", "--max-db-size-mb", "--min-available-nodes",
              "--max-leader-changes", "--webhook-url", "--smtp-url", "--log-level"});
}

}  // namespace
}  // namespace etcdmon::alerter

namespace etcdmon::alerter {
namespace {

// A token-bearing URL typed on the command line is used, with one warning naming the file and
// variable forms and never the URL; a plain URL, a URL in the variable and a URL in a private
// file say nothing; a URL file that others can read is warned about.
TEST_F(AlerterFlagsTest, TokenBearingUrlsOnTheCommandLineAreWarnedAbout) {
  const std::string token = "HOOKTOKEN0123456789abcdef";
  const std::string slack = "https://hooks.slack.com/services/T0/B0/" + token;
  Parsed slack_flag = Parse({"--slack-webhook-url=" + slack});
  ASSERT_TRUE(slack_flag.result.ok()) << slack_flag.err;
  ASSERT_THAT(Lines(slack_flag.err), SizeIs(1)) << slack_flag.err;
  EXPECT_THAT(slack_flag.err, StartsWith("warning: --slack-webhook-url: "));
  EXPECT_THAT(slack_flag.err, HasSubstr("--slack-webhook-url-file"));
  EXPECT_THAT(slack_flag.err, HasSubstr("SLACK_WEBHOOK_URL"));
  EXPECT_THAT(slack_flag.err, Not(HasSubstr(token)));

  for (const std::string& url : {"https://alerts.example.com/hook?token=" + token,
                                 "https://user:" + token + "@alerts.example.com/hook",
                                 "https://alerts.example.com/hook/" + token}) {
    Parsed webhook = Parse({"--webhook-url=" + url});
    ASSERT_TRUE(webhook.result.ok()) << webhook.err;
    ASSERT_THAT(Lines(webhook.err), SizeIs(1)) << url << ": " << webhook.err;
    EXPECT_THAT(webhook.err, StartsWith("warning: --webhook-url: "));
    EXPECT_THAT(webhook.err, HasSubstr("--webhook-url-file"));
    EXPECT_THAT(webhook.err, Not(HasSubstr(token)));
  }
  Parsed plain = Parse({"--webhook-url=http://127.0.0.1:9000/alerts"});
  ASSERT_TRUE(plain.result.ok()) << plain.err;
  EXPECT_TRUE(plain.err.empty()) << plain.err;

  env_.Set("WEBHOOK_URL", "https://alerts.example.com/hook?token=" + token);
  Parsed from_env = Parse({});
  ASSERT_TRUE(from_env.result.ok()) << from_env.err;
  EXPECT_TRUE(from_env.err.empty()) << from_env.err;
  env_.Unset("WEBHOOK_URL");

  const std::string file = WriteFile("webhook.url", "https://alerts.example.com/hook/" + token);
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  Parsed from_file = Parse({"--webhook-url-file=" + file});
  ASSERT_TRUE(from_file.result.ok()) << from_file.err;
  EXPECT_TRUE(from_file.err.empty()) << from_file.err;
  ASSERT_TRUE(from_file.result.value().channels.webhook.has_value());
  EXPECT_EQ(from_file.result.value().channels.webhook->url.Reveal(),
            "https://alerts.example.com/hook/" + token);

  ASSERT_EQ(chmod(file.c_str(), 0604), 0);
  Parsed readable = Parse({"--webhook-url-file=" + file});
  ASSERT_TRUE(readable.result.ok()) << readable.err;
  ASSERT_THAT(Lines(readable.err), SizeIs(1)) << readable.err;
  EXPECT_THAT(readable.err, StartsWith("warning: " + file + ": mode 0604"));

  Parsed both = Parse({"--webhook-url-file=" + file, "--webhook-url=http://127.0.0.1:9/x"});
  EXPECT_EQ(both.result.exit_code(), config::kExitUsage);
  EXPECT_THAT(both.err, HasSubstr("error: --webhook-url-file: give the URL once"));
}

// --smtp-allow-plaintext reaches the email channel; never with a password.
TEST_F(AlerterFlagsTest, SmtpAllowPlaintext) {
  const std::vector<std::string> email{"--smtp-url=smtp://127.0.0.1:2525",
                                       "--smtp-from=a@example.com", "--smtp-to=b@example.com"};
  Parsed strict = Parse(email);
  ASSERT_TRUE(strict.result.ok()) << strict.err;
  EXPECT_FALSE(strict.result.value().channels.email->allow_plaintext);
  std::vector<std::string> args = email;
  args.push_back("--smtp-allow-plaintext");
  Parsed allowed = Parse(args);
  ASSERT_TRUE(allowed.result.ok()) << allowed.err;
  EXPECT_TRUE(allowed.result.value().channels.email->allow_plaintext);
  const std::string password = WriteFile("smtp.password", "pw");
  ASSERT_EQ(chmod(password.c_str(), 0600), 0);
  args.push_back("--smtp-user=alerts");
  args.push_back("--smtp-password-file=" + password);
  Parsed with_password = Parse(args);
  EXPECT_EQ(with_password.result.exit_code(), config::kExitUsage);
  EXPECT_THAT(with_password.err, HasSubstr("error: --smtp-allow-plaintext: not with --smtp-user"));
  Parsed alone = Parse({"--smtp-allow-plaintext"});
  EXPECT_THAT(alone.err, HasSubstr("error: --smtp-allow-plaintext: needs --smtp-url"));
}

}  // namespace
}  // namespace etcdmon::alerter
