#include "etcdmon/alerter/engine.h"

#include <algorithm>
#include <set>

#include "rule.h"

namespace etcdmon::alerter {
namespace {

namespace v1 = etcdmonitor::v1;

// The health the snapshot gives `member` (a label as MemberLabel spells it); unspecified when
// the member is not in the snapshot.
v1::MemberHealth HealthOf(const v1::ClusterSnapshot& snapshot, const std::string& member) {
  for (const auto& m : snapshot.members()) {
    if (detail::MemberLabel(m) == member) {
      return m.health();
    }
  }
  return v1::MEMBER_HEALTH_UNSPECIFIED;
}

bool SameValues(const std::vector<AlertValue>& a, const std::vector<AlertValue>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const AlertValue& x, const AlertValue& y) {
                      return x.name == y.name && x.value == y.value;
                    });
}

}  // namespace

bool Silence::Matches(const AlertKey& key, int64_t now_unix_ms) const {
  return (rule.empty() || rule == key.rule) && (member.empty() || member == key.member) &&
         (cluster.empty() || cluster == key.cluster) && created_unix_ms <= now_unix_ms &&
         now_unix_ms < expires_unix_ms;
}

AlertEngine::AlertEngine(RuleSet rules, EngineOptions options)
    : rules_(std::move(rules)), options_(options) {
  evaluators_.reserve(rules_.rules().size());
  for (const RuleSpec& spec : rules_.rules()) {
    evaluators_.push_back(spec.enabled ? detail::MakeRule(spec) : nullptr);
  }
}

AlertEngine::~AlertEngine() = default;

void AlertEngine::Restore(std::vector<Alert> active) {
  for (Alert& alert : active) {
    if (alert.state == AlertState::kResolved) {
      continue;
    }
    if (alert.fingerprint.empty()) {
      alert.fingerprint = Fingerprint(alert.key);
    }
    Tracked tracked;
    tracked.notified_severity = alert.severity;
    tracked.alert = std::move(alert);
    AlertKey key = tracked.alert.key;
    active_[std::move(key)] = std::move(tracked);
  }
}

std::vector<RuleState> AlertEngine::SaveRuleStates() const {
  std::vector<RuleState> out;
  const auto& specs = rules_.rules();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (evaluators_[i] == nullptr) {
      continue;
    }
    std::string state = evaluators_[i]->SaveState();
    if (!state.empty()) {
      out.push_back(RuleState{specs[i].id, std::move(state)});
    }
  }
  return out;
}

std::vector<std::string> AlertEngine::RestoreRuleStates(const std::vector<RuleState>& states) {
  std::vector<std::string> failed;
  const auto& specs = rules_.rules();
  for (const RuleState& saved : states) {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].id != saved.rule || evaluators_[i] == nullptr) {
        continue;
      }
      if (!evaluators_[i]->LoadState(saved.state)) {
        evaluators_[i] = detail::MakeRule(specs[i]);  // whatever was half-loaded is dropped
        failed.push_back(saved.rule);
      }
    }
  }
  return failed;
}

Evaluation AlertEngine::Evaluate(const v1::ClusterSnapshot& snapshot,
                                 std::chrono::system_clock::time_point now,
                                 const std::vector<Silence>& silences) {
  Evaluation result;
  if (snapshot.starting_up()) {
    // The aggregator has just started and sees part of the cluster: a member missing from the
    // snapshot is not a member back to health, a half-counted membership not a lost quorum.
    return result;
  }
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const bool blind = snapshot.fresh_members() == 0;
  std::set<AlertKey> changed_keys;
  std::vector<Alert> resolved;

  // Ends an alert: a pending one is dropped, a firing one resolves (and is notified as resolved
  // only when its firing was notified).
  auto clear = [&](std::map<AlertKey, Tracked>::iterator it) {
    Alert& alert = it->second.alert;
    if (alert.state == AlertState::kPending) {
      result.dropped.push_back(it->first);
    } else {
      alert.state = AlertState::kResolved;
      alert.resolved_unix_ms = now_ms;
      if (alert.last_notified_unix_ms != 0) {
        result.notifications.push_back(Notification{0, NotificationKind::kResolved, alert, now_ms});
      }
      resolved.push_back(std::move(alert));
    }
    changed_keys.erase(it->first);
    return active_.erase(it);
  };

  std::vector<detail::Observation> observations;
  std::vector<AlertKey> observed;
  const auto& specs = rules_.rules();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const RuleSpec& spec = specs[i];
    detail::Rule* rule = evaluators_[i].get();
    if (rule != nullptr && blind && !rule->EvaluatesWhenBlind()) {
      continue;  // blind: nothing new is known, every alert keeps its state
    }
    observations.clear();
    observed.clear();
    if (rule != nullptr) {
      rule->Evaluate(snapshot, now_ms, observations);
    }
    for (detail::Observation& o : observations) {
      AlertKey key{spec.id, snapshot.cluster(), std::move(o.member)};
      auto it = active_.find(key);
      if (o.verdict == detail::Verdict::kClear) {
        continue;  // unobserved below: cleared
      }
      observed.push_back(key);
      if (it == active_.end()) {
        if (o.verdict != detail::Verdict::kFiring) {
          continue;  // between the thresholds with no alert: nothing starts
        }
        Tracked tracked;
        Alert& alert = tracked.alert;
        alert.key = key;
        alert.fingerprint = Fingerprint(key);
        alert.severity = o.severity;
        alert.summary = std::move(o.summary);
        alert.values = std::move(o.values);
        alert.channels = spec.channels;
        alert.pending_since_unix_ms = now_ms;
        if (spec.for_duration.count() <= 0) {
          alert.state = AlertState::kFiring;
          alert.firing_since_unix_ms = now_ms;
        }
        changed_keys.insert(key);
        active_.emplace(std::move(key), std::move(tracked));
        continue;
      }
      Alert& alert = it->second.alert;
      bool changed = false;
      if (o.verdict == detail::Verdict::kFiring && alert.state == AlertState::kPending &&
          now_ms - alert.pending_since_unix_ms >= spec.for_duration.count()) {
        alert.state = AlertState::kFiring;
        alert.firing_since_unix_ms = now_ms;
        changed = true;
      }
      // Holding keeps the state, but the summary and values still tell the latest numbers.
      if (alert.severity != o.severity) {
        alert.severity = o.severity;
        changed = true;
      }
      if (alert.summary != o.summary) {
        alert.summary = std::move(o.summary);
        changed = true;
      }
      if (!SameValues(alert.values, o.values)) {
        alert.values = std::move(o.values);
        changed = true;
      }
      if (alert.channels != spec.channels) {
        alert.channels = spec.channels;
        changed = true;
      }
      if (changed) {
        changed_keys.insert(key);
      }
    }
    // Active alerts of this rule the snapshot no longer supports end, unless their member is
    // stale (we are blind to it) or unreachable (its numbers are missing, not fine).
    for (auto it = active_.lower_bound(AlertKey{spec.id, "", ""});
         it != active_.end() && it->first.rule == spec.id;) {
      const AlertKey& key = it->first;
      const bool keep = key.cluster != snapshot.cluster() ||
                        std::find(observed.begin(), observed.end(), key) != observed.end();
      if (keep) {
        ++it;
        continue;
      }
      if (rule != nullptr && !key.member.empty()) {
        const v1::MemberHealth health = HealthOf(snapshot, key.member);
        if (health == v1::STALE || (health == v1::UNREACHABLE && rule->HoldsWhileUnreachable())) {
          ++it;
          continue;
        }
      }
      it = clear(it);
    }
  }
  // Alerts restored for rules this configuration does not know end too.
  for (auto it = active_.begin(); it != active_.end();) {
    it = rules_.Find(it->first.rule) == nullptr ? clear(it) : std::next(it);
  }

  // Notifications of firing alerts: first firing, escalation, repeat; silences hold them back.
  const int64_t repeat_ms = options_.repeat_interval.count();
  for (auto& [key, tracked] : active_) {
    Alert& alert = tracked.alert;
    if (alert.state != AlertState::kFiring) {
      continue;
    }
    NotificationKind kind = NotificationKind::kFiring;
    if (alert.last_notified_unix_ms == 0) {
      kind = NotificationKind::kFiring;
    } else if (alert.severity == Severity::kCritical &&
               tracked.notified_severity == Severity::kWarning) {
      kind = NotificationKind::kFiring;  // escalated since it was notified
    } else if (now_ms - alert.last_notified_unix_ms >= repeat_ms) {
      kind = NotificationKind::kRepeat;
    } else {
      continue;
    }
    // Named: C++17 lambdas cannot capture a structured binding (clang refuses).
    const AlertKey& alert_key = key;
    const bool silenced = std::any_of(silences.begin(), silences.end(), [&](const Silence& s) {
      return s.Matches(alert_key, now_ms);
    });
    if (silenced) {
      if (tracked.silenced_reported_unix_ms == 0 ||
          now_ms - tracked.silenced_reported_unix_ms >= repeat_ms) {
        tracked.silenced_reported_unix_ms = now_ms;
        result.silenced.push_back(Notification{0, kind, alert, now_ms});
      }
      continue;
    }
    alert.last_notified_unix_ms = now_ms;
    tracked.notified_severity = alert.severity;
    tracked.silenced_reported_unix_ms = 0;
    result.notifications.push_back(Notification{0, kind, alert, now_ms});
    changed_keys.insert(key);  // last_notified_unix_ms must reach the store
  }

  result.changed = std::move(resolved);
  for (const AlertKey& key : changed_keys) {
    result.changed.push_back(active_.at(key).alert);
  }
  std::sort(result.changed.begin(), result.changed.end(),
            [](const Alert& a, const Alert& b) { return a.key < b.key; });
  return result;
}

std::vector<Alert> AlertEngine::Active() const {
  std::vector<Alert> out;
  out.reserve(active_.size());
  for (const auto& [key, tracked] : active_) {
    out.push_back(tracked.alert);
  }
  return out;
}

}  // namespace etcdmon::alerter
