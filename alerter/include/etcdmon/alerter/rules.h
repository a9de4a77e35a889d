#pragma once

// The alert rules: which rules exist, their defaults (from the quickstart's threshold flags) and
// the optional rules file (YAML or JSON) that changes them. The engine (engine.h) evaluates them.
//
// A rules file, e.g.:
//
//   defaults:
//     for: 1m                  # replaces every rule's built-in `for` unless the rule sets its own
//     channels: [console]
//   rules:
//     WalFsyncSlow: {threshold_ms: 200, for: 10m, channels: [pagerduty]}
//     DatabaseFragmented: {enabled: false}
//   clusters:                  # optional: settings of one cluster (by name) over the above
//     prod:
//       defaults: {for: 2m}
//       rules:
//         WalFsyncSlow: {threshold_ms: 500}
//
// A cluster's set is built in this order: the top-level defaults, the cluster's defaults, the
// top-level rules, the cluster's rules. So a rule's own setting beats any defaults wherever it
// is written, and the cluster's beats the top level's at the same level.
//
// Every rule's parameters are listed in docs/architecture.md ("The alert rules").

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/alerter/alert.h"
#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"

namespace etcdmon::alerter {

// The rule ids: the spelling of rules files, alert keys and notifications.
inline constexpr std::string_view kNoLeader = "NoLeader";
inline constexpr std::string_view kFrequentLeaderElections = "FrequentLeaderElections";
inline constexpr std::string_view kWalFsyncSlow = "WalFsyncSlow";
inline constexpr std::string_view kDatabaseNearQuota = "DatabaseNearQuota";
inline constexpr std::string_view kMemberUnavailable = "MemberUnavailable";
inline constexpr std::string_view kProposalFailureRateHigh = "ProposalFailureRateHigh";
inline constexpr std::string_view kDiskUsageHigh = "DiskUsageHigh";
inline constexpr std::string_view kMemoryUsageHigh = "MemoryUsageHigh";
inline constexpr std::string_view kRequestLatencyDegraded = "RequestLatencyDegraded";
inline constexpr std::string_view kPendingProposalsHigh = "PendingProposalsHigh";
inline constexpr std::string_view kSplitBrain = "SplitBrain";
inline constexpr std::string_view kQuorumLost = "QuorumLost";
inline constexpr std::string_view kEtcdAlarmActive = "EtcdAlarmActive";
inline constexpr std::string_view kCertificateExpiringSoon = "CertificateExpiringSoon";
inline constexpr std::string_view kDatabaseQuotaExhaustionSoon = "DatabaseQuotaExhaustionSoon";
inline constexpr std::string_view kDatabaseFragmented = "DatabaseFragmented";
inline constexpr std::string_view kRevisionDivergence = "RevisionDivergence";
inline constexpr std::string_view kGrpcErrorRateHigh = "GrpcErrorRateHigh";
inline constexpr std::string_view kCollectorStale = "CollectorStale";
inline constexpr std::string_view kMonitorStorageFailing = "MonitorStorageFailing";
inline constexpr std::string_view kClusterIdentityConflict = "ClusterIdentityConflict";

/// A rules file larger than this is refused unread.
inline constexpr std::size_t kMaxRulesFileBytes = 1024 * 1024;
/// A rules file's `clusters:` section names at most this many clusters (kMaxClusters).
inline constexpr std::size_t kMaxRulesFileClusters = kMaxClusters;

/// How a rule parameter is written in a rules file.
enum class ParameterKind {
  kNumber,    // a number: 2.5
  kDuration,  // a Go-style duration string: "5m"; `value` holds milliseconds
};

/// One named, rule-specific setting ("threshold_ms", "resolve_percent", ...).
struct RuleParameter {
  std::string name;
  ParameterKind kind = ParameterKind::kNumber;
  double value = 0;  // kDuration: milliseconds
  double min = 0;    // the inclusive range a rules file may set (kDuration: milliseconds)
  double max = 0;
};

/// One rule as configured: its defaults, changed by the flags and the rules file.
struct RuleSpec {
  std::string id;
  /// The severity of the rule's alerts. MemberUnavailable: of the per-member alert (the
  /// cluster-wide one is always critical); CertificateExpiringSoon: above `critical_days` (below
  /// it the alert is critical).
  Severity severity = Severity::kWarning;
  /// How long the condition must hold before the alert fires (pending until then).
  std::chrono::milliseconds for_duration{0};
  bool enabled = true;
  /// Channel names to notify; empty: every configured channel.
  std::vector<std::string> channels;
  /// The rule's own parameters, all declared with their defaults (a file can only change them).
  std::vector<RuleParameter> parameters;

  /// The declared parameter `name`, or nullptr.
  const RuleParameter* FindParameter(std::string_view name) const;
  /// The value of a declared parameter (a duration in milliseconds); asserts it is declared.
  double Parameter(std::string_view name) const;
};

/// Every rule the alerter knows, in a fixed order, with their current settings. A value type;
/// not safe for concurrent mutation.
class RuleSet {
 public:
  /// Every rule enabled with its built-in defaults and the quickstart thresholds:
  /// --max-latency-ms (RequestLatencyDegraded threshold_ms), --max-db-size-mb (DatabaseNearQuota
  /// max_db_size_mb), --min-available-nodes (MemberUnavailable), --max-leader-changes
  /// (FrequentLeaderElections max_changes).
  static RuleSet Defaults(const config::AlertThresholds& thresholds);

  /// Applies a rules file (YAML or JSON): its top-level defaults and rules, then, when
  /// `cluster` is not empty and the file has a section for it under `clusters:`, that section
  /// on top (in the order the header comment gives). The whole file is checked whatever
  /// `cluster` is, every cluster's section included. On error nothing is changed and the status
  /// (InvalidArgument; NotFound/PermissionDenied when unreadable) lists every problem, one line
  /// each: "path:line: reason". Files over kMaxRulesFileBytes are refused.
  Status ApplyFile(const std::string& path, std::string_view cluster = {});
  /// The same for text; `source` names it in the errors.
  Status ApplyText(std::string_view text, std::string_view source, std::string_view cluster = {});

  const std::vector<RuleSpec>& rules() const { return rules_; }
  /// The rule `id`, or nullptr.
  const RuleSpec* Find(std::string_view id) const;

 private:
  std::vector<RuleSpec> rules_;
};

/// The cluster names under a rules file's `clusters:` section, in file order (empty without
/// one). The whole file is checked as RuleSet::ApplyFile does; its errors are returned the same.
Result<std::vector<std::string>> ClustersOfRulesFile(const std::string& path);
/// The same for text; `source` names it in the errors.
Result<std::vector<std::string>> ClustersOfRulesText(std::string_view text,
                                                     std::string_view source);

}  // namespace etcdmon::alerter
