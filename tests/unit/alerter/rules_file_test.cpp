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
                                  kMonitorStorageFailing,
                                  kClusterIdentityConflict};
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
      "rules.yaml:14: unknown key \"alerts\" (known: rules, defaults, clusters)",
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

// A `clusters:` section changes one cluster's rules over the top level's: its defaults come
// before any rule's own setting, its rules after the top level's; other clusters and the top
// level are unchanged.
TEST(RuleSetTest, ClusterSectionAppliesToItsClusterOnly) {
  const std::string text = R"(defaults:
  for: 1m
rules:
  WalFsyncSlow: {threshold_ms: 200, for: 10m}
  DiskUsageHigh: {threshold_percent: 85}
clusters:
  prod:
    defaults: {for: 2m}
    rules:
      WalFsyncSlow: {threshold_ms: 500}
      DatabaseFragmented: {enabled: false}
  staging:
)";
  RuleSet top = RuleSet::Defaults({});
  ASSERT_TRUE(top.ApplyText(text, "r.yaml").ok());
  RuleSet prod = RuleSet::Defaults({});
  const Status applied = prod.ApplyText(text, "r.yaml", "prod");
  ASSERT_TRUE(applied.ok()) << applied.ToString();
  RuleSet staging = RuleSet::Defaults({});
  ASSERT_TRUE(staging.ApplyText(text, "r.yaml", "staging").ok());
  RuleSet unknown = RuleSet::Defaults({});
  ASSERT_TRUE(unknown.ApplyText(text, "r.yaml", "elsewhere").ok());

  EXPECT_EQ(Get(prod, kWalFsyncSlow).Parameter("threshold_ms"), 500);
  EXPECT_EQ(Get(prod, kWalFsyncSlow).for_duration, milliseconds(600000)) << "the rule's own for";
  EXPECT_EQ(Get(prod, kNoLeader).for_duration, milliseconds(120000)) << "the cluster's default";
  EXPECT_EQ(Get(prod, kDiskUsageHigh).Parameter("threshold_percent"), 85);
  EXPECT_FALSE(Get(prod, kDatabaseFragmented).enabled);
  for (const RuleSet* other : {&top, &staging, &unknown}) {
    EXPECT_EQ(Get(*other, kWalFsyncSlow).Parameter("threshold_ms"), 200);
    EXPECT_EQ(Get(*other, kNoLeader).for_duration, milliseconds(60000));
    EXPECT_TRUE(Get(*other, kDatabaseFragmented).enabled);
  }

  auto names = ClustersOfRulesText(text, "r.yaml");
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(*names, (std::vector<std::string>{"prod", "staging"})) << "in file order";
  auto none = ClustersOfRulesText("rules: {}\n", "r.yaml");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  testing::TempDir dir;
  const std::string path = dir.File("rules.yaml");
  std::ofstream(path) << text;
  RuleSet from_file = RuleSet::Defaults({});
  ASSERT_TRUE(from_file.ApplyFile(path, "prod").ok());
  EXPECT_EQ(Get(from_file, kWalFsyncSlow).Parameter("threshold_ms"), 500);
  auto file_names = ClustersOfRulesFile(path);
  ASSERT_TRUE(file_names.ok());
  EXPECT_EQ(file_names->size(), 2u);
  EXPECT_EQ(ClustersOfRulesFile(dir.File("missing.yaml")).status().code(), StatusCode::kNotFound);
}

// Errors in the clusters section name their line, whichever cluster the file is applied for
// (every section is checked), and nothing is applied.
TEST(RuleSetTest, ClusterSectionErrors) {
  const std::string text = R"(clusters:
  prod:
    rules:
      WalFsyncSlow: {threshold_ms: fast}
      NoSuchRule: {}
    alerts: {}
  "bad name":
    rules: {}
  staging:
    defaults: {severity: critical}
  qa: [1]
  dev:
    rules:
      CertificateExpiringSoon: {critical_days: 20}
)";
  const char* expected[] = {
      "r.yaml:4: threshold_ms: \"fast\" is not a number",
      "r.yaml:5: clusters: prod: unknown rule \"NoSuchRule\"",
      "r.yaml:6: clusters: prod: unknown key \"alerts\" (known: rules, defaults)",
      "r.yaml:7: clusters: invalid cluster name",
      "r.yaml:10: clusters: staging: defaults: unknown key \"severity\"",
      "r.yaml:11: clusters: qa: want a mapping",
      "critical_days must not exceed warning_days",
  };
  for (std::string_view cluster : {"", "prod", "staging", "other"}) {
    SCOPED_TRACE(std::string(cluster));
    RuleSet set = RuleSet::Defaults({});
    const Status status = set.ApplyText(text, "r.yaml", cluster);
    ASSERT_EQ(status.code(), StatusCode::kInvalidArgument);
    for (const char* line : expected) {
      EXPECT_NE(status.message().find(line), std::string::npos) << "missing: " << line << "\nin:\n"
                                                                << status.message();
    }
    EXPECT_EQ(Get(set, kWalFsyncSlow).Parameter("threshold_ms"), 100) << "nothing applied";
  }
  EXPECT_EQ(ClustersOfRulesText(text, "r.yaml").status().code(), StatusCode::kInvalidArgument);

  RuleSet set = RuleSet::Defaults({});
  EXPECT_NE(
      set.ApplyText("clusters: [prod]\n", "r.yaml").message().find("clusters: want a mapping"),
      std::string::npos);
  std::string many = "clusters:\n";
  for (std::size_t i = 0; i <= kMaxRulesFileClusters; ++i) {
    many += "  c" + std::to_string(i) + ":\n";
  }
  const Status too_many = set.ApplyText(many, "r.yaml");
  EXPECT_EQ(too_many.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_many.message().find("at most 1000 clusters"), std::string::npos)
      << too_many.message();
  std::string enough = "clusters:\n";
  for (std::size_t i = 0; i < kMaxRulesFileClusters; ++i) {
    enough += "  c" + std::to_string(i) + ":\n";
  }
  auto names = ClustersOfRulesText(enough, "r.yaml");
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(names->size(), kMaxRulesFileClusters);
}

}  // namespace
}  // namespace etcdmon::alerter
