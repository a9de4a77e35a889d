#pragma once

// The alert engine: evaluates the rules on every ClusterSnapshot and runs each alert's lifecycle
// (pending → firing after `for` → resolved, with hysteresis), deduplicated by (rule, cluster,
// member). It decides what to notify; it neither stores nor delivers (the store and the
// dispatcher do).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/alerter/alert.h"
#include "etcdmon/alerter/rules.h"

namespace etcdmonitor::v1 {
class ClusterSnapshot;
}  // namespace etcdmonitor::v1

namespace etcdmon::alerter {

namespace detail {
class Rule;
}  // namespace detail

/// Mutes notifications of matching alerts until it expires. An empty rule, member or cluster
/// matches every rule, member or cluster (silences stored before clusters had names have none).
struct Silence {
  std::string id, rule, member, comment;
  int64_t created_unix_ms = 0, expires_unix_ms = 0;
  std::string cluster =
      {};  // last, so that {id, rule, member, comment, created, expires} still reads

  /// True when it covers `key` at `now_unix_ms` (created at or before it, not yet expired).
  bool Matches(const AlertKey& key, int64_t now_unix_ms) const;
};

struct EngineOptions {
  /// A still-firing alert is notified again this long after its last notification.
  std::chrono::milliseconds repeat_interval{std::chrono::hours(4)};
};

/// What one evaluation changed.
struct Evaluation {
  /// Every alert whose state, severity, summary, values or last notification time changed (new
  /// pending, firing, notified, resolved), as it now is, sorted by key.
  std::vector<Alert> changed;
  /// Pending alerts whose condition cleared before `for` passed (never notified).
  std::vector<AlertKey> dropped;
  /// To deliver now: firing, repeat, resolved. Ids are 0 (the store assigns them).
  std::vector<Notification> notifications;
  /// Firing or repeat notifications that were due now but a silence matched.
  std::vector<Notification> silenced;
};

/// One rule's trailing history as saved text (see AlertEngine::SaveRuleStates).
struct RuleState {
  std::string rule;   // the rule id
  std::string state;  // opaque to all but the rule
};

/// Single-threaded: owned by the loop that receives snapshots. Rules keep bounded histories
/// (leader changes and proposal failures per minute, a latency baseline per member, members
/// seen without a leader) in memory; SaveRuleStates()/RestoreRuleStates() carry them across a
/// restart, and the alerts themselves come back through Restore().
///
/// Notifications: one firing notification when `for` has passed (none while silenced: it comes
/// when the silence expires and the alert still fires), one more when a firing alert escalates
/// from warning to critical, a repeat every repeat_interval after the last one, and one resolved
/// notification, only for alerts that were notified as firing (silences do not hold back a
/// resolve: receivers close what they were told about).
///
/// Blind snapshots (no fresh member) change only CollectorStale; every other alert keeps its
/// state. An alert about a member that is STALE in the snapshot keeps its state too. A snapshot
/// of an aggregator still starting up (`starting_up`: it has not seen every member yet) changes
/// nothing at all: no rule is evaluated, nothing fires, resolves or repeats.
class AlertEngine {
 public:
  AlertEngine(RuleSet rules, EngineOptions options);
  ~AlertEngine();
  AlertEngine(const AlertEngine&) = delete;
  AlertEngine& operator=(const AlertEngine&) = delete;

  /// Loads the pending/firing alerts the store kept across a restart (others are ignored), so
  /// what was notified is not notified again and what fires is not forgotten. Call before the
  /// first Evaluate().
  void Restore(std::vector<Alert> active);

  /// The trailing histories of the rules that keep one, to persist (a rule with nothing to
  /// carry over is left out).
  std::vector<RuleState> SaveRuleStates() const;

  /// Loads histories a previous run saved (call before the first Evaluate()). States of rules
  /// this configuration does not enable are ignored; returns the ids of the rules whose state
  /// did not parse (they start empty).
  std::vector<std::string> RestoreRuleStates(const std::vector<RuleState>& states);

  /// Evaluates every enabled rule on `snapshot` at `now`.
  Evaluation Evaluate(const etcdmonitor::v1::ClusterSnapshot& snapshot,
                      std::chrono::system_clock::time_point now,
                      const std::vector<Silence>& silences);

  /// Pending and firing alerts, sorted by key.
  std::vector<Alert> Active() const;

  const RuleSet& rules() const { return rules_; }

 private:
  struct Tracked {
    Alert alert;
    // The latest time a due notification was reported as silenced, so that it is reported once
    // per due time, not on every evaluation; 0: none.
    int64_t silenced_reported_unix_ms = 0;
    // The severity of the latest firing/repeat notification: an escalation notifies again.
    Severity notified_severity = Severity::kWarning;
  };

  RuleSet rules_;
  EngineOptions options_;
  // One evaluator per rule of rules_, same order; null for a disabled rule.
  std::vector<std::unique_ptr<detail::Rule>> evaluators_;
  std::map<AlertKey, Tracked> active_;
};

}  // namespace etcdmon::alerter
