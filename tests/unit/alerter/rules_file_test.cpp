// RuleSet: defaults from the quickstart thresholds, rules files in YAML and JSON, and their
// errors with line numbers.

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "etcdmon/alerter/rules.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::alerter {
namespace {

using std::chrono::milliseconds;

const RuleSpec& Get(const RuleSet& set, std::string_view id) {
  const RuleSpec* spec = set.Find(id);
  EXPECT_NE(spec, nullptr) << id;
  static const RuleSpec kNone;
  return spec != nullptr ? *spec : kNone;
}

// Every rule of the issue exists, enabled, with a severity and a `for`.
TEST(RuleSetTest, DefaultsListEveryRule) {
  const RuleSet set = RuleSet::Defaults({});
  const std::string_view ids[] = {kNoLeader,
                                  kFrequentLeaderElections,
                                  kWalFsyncSlow,
                                  kDatabaseNearQuota,
                                  kMemberUnavailable,
                                  kProposalFailureRateHigh,
                                  kDiskUsageHigh,
                                  kMemoryUsageHigh,
                                  kRequestLatencyDegraded,
                                  kPendingProposalsHigh,
                                  kSplitBrain,
                                  kQuorumLost,
                                  kEtcdAlarmActive,
                                  kCertificateExpiringSoon,
                                  kDatabaseQuotaExhaustionSoon,
                                  kDatabaseFragmented,
                                  kRevisionDivergence,
                                  kGrpcErrorRateHigh,
                                  kCollectorStale,
                                  kMonitorStorageFailing};
  EXPECT_EQ(set.rules().size(), std::size(ids));
  for (std::string_view id : ids) {
    EXPECT_TRUE(Get(set, id).enabled) << id;
  }
  EXPECT_EQ(Get(set, kNoLeader).severity, Severity::kCritical);
  EXPECT_EQ(Get(set, kNoLeader).for_duration, milliseconds(10000));
  EXPECT_EQ(Get(set, kMemberUnavailable).for_duration, milliseconds(60000));
  EXPECT_EQ(Get(set, kWalFsyncSlow).Parameter("threshold_ms"), 100);
  EXPECT_EQ(Get(set, kDiskUsageHigh).severity, Severity::kWarning);
}

// The quickstart's threshold flags become the rules' parameters.
TEST(RuleSetTest, DefaultsTakeThresholdFlags) {
  config::AlertThresholds thresholds;
  thresholds.max_latency = milliseconds(250);
  thresholds.max_db_size_bytes = 1024ULL * 1024 * 1024;
  thresholds.min_available_nodes = 3;
  thresholds.max_leader_changes = 7;
  const RuleSet set = RuleSet::Defaults(thresholds);
  EXPECT_EQ(Get(set, kRequestLatencyDegraded).Parameter("threshold_ms"), 250);
  EXPECT_EQ(Get(set, kRequestLatencyDegraded).Parameter("relative_floor_ms"), 62.5);
  EXPECT_EQ(Get(set, kDatabaseNearQuota).Parameter("max_db_size_mb"), 1024);
  EXPECT_EQ(Get(set, kMemberUnavailable).Parameter("min_available_nodes"), 3);
  EXPECT_EQ(Get(set, kFrequentLeaderElections).Parameter("max_changes"), 7);
}

// A YAML file changes thresholds, `for`, severity, channels and enabled per rule; `defaults`
// apply to the others.
TEST(RuleSetTest, YamlChangesRules) {
  RuleSet set = RuleSet::Defaults({});
  const Status status = set.ApplyText(R"(
defaults:
  for: 30s
  channels: [console]
rules:
  WalFsyncSlow:
    threshold_ms: 250
    for: 10m
    severity: warning
    channels: [pagerduty, slack]
  DatabaseFragmented: {enabled: false}
  CertificateExpiringSoon: {warning_days: 30, critical_days: 7}
  ProposalFailureRateHigh: {window: 30m}
  NoLeader:
)",
                                      "rules.yaml");
  ASSERT_TRUE(status.ok()) << status.ToString();
  const RuleSpec& fsync = Get(set, kWalFsyncSlow);
  EXPECT_EQ(fsync.Parameter("threshold_ms"), 250);
  EXPECT_EQ(fsync.for_duration, milliseconds(600000));
  EXPECT_EQ(fsync.severity, Severity::kWarning);
  EXPECT_EQ(fsync.channels, (std::vector<std::string>{"pagerduty", "slack"}));
  EXPECT_FALSE(Get(set, kDatabaseFragmented).enabled);
  EXPECT_EQ(Get(set, kCertificateExpiringSoon).Parameter("warning_days"), 30);
  EXPECT_EQ(Get(set, kProposalFailureRateHigh).Parameter("window"), 30 * 60000);
  EXPECT_EQ(Get(set, kNoLeader).for_duration, milliseconds(30000));
  EXPECT_EQ(Get(set, kNoLeader).channels, std::vector<std::string>{"console"});
}

// JSON is YAML: the same parser reads it.
TEST(RuleSetTest, JsonFile) {
  RuleSet set = RuleSet::Defaults({});
  const Status status = set.ApplyText(
      R"({"rules": {"DiskUsageHigh": {"threshold_percent": 90, "for": "1m", "enabled": true}}})",
      "rules.json");
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(Get(set, kDiskUsageHigh).Parameter("threshold_percent"), 90);
  EXPECT_EQ(Get(set, kDiskUsageHigh).for_duration, milliseconds(60000));
}

// Every problem of a file is reported at once, each with its line, and nothing is applied.
TEST(RuleSetTest, ErrorsNameFileAndLineAllTogether) {
  RuleSet set = RuleSet::Defaults({});
  const Status status = set.ApplyText(R"(rules:
  WalFsyncSlow:
    threshold_ms: 250
    for: 5x
  NoLeadr: {}
  DiskUsageHigh:
    threshold_percent: lots
    colour: red
  MemoryUsageHigh:
    threshold_percent: 150
    severity: urgent
    channels: [console, carrier-pigeon]
  WalFsyncSlow: {}
alerts: {}
)",
                                      "rules.yaml");
  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument);
  const std::string& m = status.message();
  const char* expected[] = {
      "rules.yaml:4: for: invalid duration \"5x\"",
      "rules.yaml:5: unknown rule \"NoLeadr\"",
      "rules.yaml:7: threshold_percent: \"lots\" is not a number",
      "rules.yaml:8: DiskUsageHigh: unknown key \"colour\"",
      "rules.yaml:10: threshold_percent: 150 out of range 1..100",
      "rules.yaml:11: severity: invalid severity \"urgent\"",
      "rules.yaml:12: channels: unknown channel \"carrier-pigeon\"",
      "rules.yaml:13: duplicate key \"WalFsyncSlow\"",
      "rules.yaml:14: unknown key \"alerts\" (known: rules, defaults)",
  };
  for (const char* line : expected) {
    EXPECT_NE(m.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << m;
  }
  EXPECT_EQ(Get(set, kWalFsyncSlow).Parameter("threshold_ms"), 100) << "nothing applied";
}

// A syntax error names its line.
TEST(RuleSetTest, SyntaxErrorHasLine) {
  RuleSet set = RuleSet::Defaults({});
  const Status status =
      set.ApplyText("rules:\n  NoLeader: {for: 1m\n  WalFsyncSlow: {}\n", "r.yaml");
  ASSERT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().rfind("r.yaml:", 0), 0u) << status.message();
  EXPECT_NE(status.message().find(":3:"), std::string::npos) << status.message();
}

// Wrong shapes and inconsistent parameters are errors.
TEST(RuleSetTest, WrongShapesAreErrors) {
  struct {
    const char* text;
    const char* error;
  } const cases[] = {
      {"- a\n- b\n", "want a mapping"},
      {"rules: [NoLeader]\n", "rules: want a mapping"},
      {"rules:\n  NoLeader: 5\n", "NoLeader: want a mapping"},
      {"rules:\n  NoLeader: {enabled: maybe}\n", "enabled: invalid boolean"},
      {"rules:\n  NoLeader: {channels: slack}\n", "channels: want a list"},
      {"rules:\n  WalFsyncSlow: {threshold_ms: [1]}\n", "threshold_ms: want a number"},
      {"rules:\n  ProposalFailureRateHigh: {window: 2h}\n", "window: \"2h\" out of range"},
      {"rules:\n  CertificateExpiringSoon: {critical_days: 20}\n",
       "critical_days must not exceed warning_days"},
      {"defaults: {severity: critical}\n", "defaults: unknown key \"severity\""},
  };
  for (const auto& c : cases) {
    RuleSet set = RuleSet::Defaults({});
    const Status status = set.ApplyText(c.text, "f");
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(status.message().find(c.error), std::string::npos) << c.text << status.message();
  }
}

// An empty file changes nothing.
TEST(RuleSetTest, EmptyFileChangesNothing) {
  RuleSet set = RuleSet::Defaults({});
  EXPECT_TRUE(set.ApplyText("", "empty.yaml").ok());
  EXPECT_TRUE(set.ApplyText("# only a comment\n", "c.yaml").ok());
  EXPECT_EQ(Get(set, kWalFsyncSlow).Parameter("threshold_ms"), 100);
}

// Files are read from disk; missing and oversized ones are refused.
TEST(RuleSetTest, ApplyFileReadsAndBoundsSize) {
  testing::TempDir dir;
  const std::string path = dir.File("rules.yaml");
  std::ofstream(path) << "rules:\n  QuorumLost: {for: 0}\n";
  RuleSet set = RuleSet::Defaults({});
  const Status ok = set.ApplyFile(path);
  ASSERT_TRUE(ok.ok()) << ok.ToString();
  EXPECT_EQ(Get(set, kQuorumLost).for_duration, milliseconds(0));

  EXPECT_EQ(set.ApplyFile(dir.File("missing.yaml")).code(), StatusCode::kNotFound);

  const std::string big = dir.File("big.yaml");
  std::ofstream(big) << std::string(kMaxRulesFileBytes + 1, '#');
  const Status too_big = set.ApplyFile(big);
  EXPECT_EQ(too_big.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_big.message().find("larger than"), std::string::npos);
  EXPECT_EQ(set.ApplyText(std::string(kMaxRulesFileBytes + 1, '#'), "t").code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace etcdmon::alerter
