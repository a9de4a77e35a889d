#pragma once

// The rule evaluators behind AlertEngine: one object per enabled rule, holding the rule's own
// bounded history. Private to the alerter.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/alerter/alert.h"
#include "etcdmon/alerter/rules.h"
#include "etcdmon/metrics/member.h"
#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::alerter::detail {

/// What a rule says about one alert instance in one snapshot.
enum class Verdict {
  kFiring,   // the condition holds
  kHolding,  // between the resolve and the firing threshold, or not knowable now: keep the state
  kClear,    // the condition is false: a pending alert is dropped, a firing one resolves
};

struct Observation {
  std::string member;  // empty: cluster-wide
  Verdict verdict = Verdict::kClear;
  Severity severity = Severity::kWarning;
  std::string summary;  // one line, member named, values with units
  std::vector<AlertValue> values;
};

/// One rule's evaluator. Single-threaded (owned by AlertEngine).
class Rule {
 public:
  virtual ~Rule() = default;
  /// Appends one observation per alert instance the snapshot tells something about; an active
  /// alert with no observation is cleared (unless its member is stale). Called for blind
  /// snapshots only when EvaluatesWhenBlind().
  virtual void Evaluate(const etcdmonitor::v1::ClusterSnapshot& snapshot, int64_t now_unix_ms,
                        std::vector<Observation>& out) = 0;
  virtual bool EvaluatesWhenBlind() const { return false; }
  /// Whether an unobserved alert about an UNREACHABLE member keeps its state (its data may just
  /// be missing while the member is down) rather than being cleared.
  virtual bool HoldsWhileUnreachable() const { return true; }
  /// The rule's trailing history as text, so that a restart does not start it empty (a rule
  /// whose verdict needs the past would resolve while its condition still holds); empty for a
  /// rule that keeps none.
  virtual std::string SaveState() const { return {}; }
  /// Loads what SaveState wrote (in another process). False when it does not parse: the caller
  /// then replaces the rule with a fresh one.
  virtual bool LoadState(std::string_view state) { return state.empty(); }
};

/// The text of a saved rule state: space-separated tokens; strings as <length>:<bytes>.
class StateWriter {
 public:
  void Int(int64_t value);
  void Double(double value);
  void String(std::string_view value);
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

/// Reads what StateWriter wrote; every call is false on malformed input (and stays false).
class StateReader {
 public:
  explicit StateReader(std::string_view in) : in_(in) {}
  bool Int(int64_t& value);
  bool Double(double& value);
  bool String(std::string& value);
  /// True when every token was read without an error.
  bool Done() const;

 private:
  bool Token(std::string_view& token);
  std::string_view in_;
  bool failed_ = false;
};

/// The saved state of a rule that keeps an entry per member: a format number, the count, then
/// each member's label and what `save(writer, entry)` writes.
template <typename Entry, typename SaveEntry>
std::string SavePerMemberState(int64_t format, const std::map<std::string, Entry>& members,
                               SaveEntry save) {
  StateWriter w;
  w.Int(format);
  w.Int(static_cast<int64_t>(members.size()));
  for (const auto& [label, entry] : members) {
    w.String(label);
    save(w, entry);
  }
  return w.Take();
}

/// Reads what SavePerMemberState wrote into `members` (`load(reader, entry)` reads one entry);
/// false on another format, more than `max_members` entries or malformed input.
template <typename Entry, typename LoadEntry>
bool LoadPerMemberState(std::string_view state, int64_t format, std::size_t max_members,
                        std::map<std::string, Entry>& members, LoadEntry load) {
  StateReader r(state);
  int64_t saved_format = 0, count = 0;
  if (!r.Int(saved_format) || saved_format != format || !r.Int(count) || count < 0 ||
      count > static_cast<int64_t>(max_members)) {
    return false;
  }
  for (int64_t i = 0; i < count; ++i) {
    std::string label;
    Entry entry;
    if (!r.String(label) || !load(r, entry)) {
      return false;
    }
    members[label] = std::move(entry);
  }
  return r.Done();
}

/// The evaluator of `spec`, or nullptr for an unknown id.
std::unique_ptr<Rule> MakeRule(const RuleSpec& spec);

// Factories, one per source file.
std::unique_ptr<Rule> MakeClusterRule(const RuleSpec& spec);
std::unique_ptr<Rule> MakeMemberRule(const RuleSpec& spec);

/// The verdict of "value above threshold" with hysteresis: firing above `fire` (at or above when
/// `inclusive`), clear below `resolve`, holding in between.
Verdict AboveWithHysteresis(double value, double fire, double resolve, bool inclusive = false);
/// The mirror image: firing below `fire`, clear at or above `resolve`.
Verdict BelowWithHysteresis(double value, double fire, double resolve);

/// The member's label, as the aggregator and the gateway write it (common/metrics).
using metrics::MemberLabel;

/// "3d 4h", "2h 10m", "45s".
std::string FormatSeconds(double seconds);
/// "812 MiB", "7.5 GiB".
std::string FormatBytes(double bytes);

/// Values per wall-clock minute over the last hour, in a fixed ring (no allocation): the sum and
/// count of what was added in each minute.
class MinuteWindow {
 public:
  static constexpr int kMinutes = 60;

  void Add(int64_t now_unix_ms, double value);
  /// The sum of the minutes in the trailing `minutes` (the current minute included).
  double Sum(int64_t now_unix_ms, int minutes) const;
  /// The median of the per-minute means of the previous `minutes` (the current minute excluded)
  /// and how many minutes had data.
  double MedianOfMeans(int64_t now_unix_ms, int minutes, int* minutes_with_data) const;

  void Save(StateWriter& out) const;
  bool Load(StateReader& in);

 private:
  struct Bucket {
    int64_t minute = -1;
    double sum = 0;
    uint32_t count = 0;
  };
  std::array<Bucket, kMinutes> buckets_{};
};

/// The increases of a monotonic counter per minute (a decrease is a reset: the new value is the
/// increase). The first value seen is only a starting point: what happened before is unknown.
/// So is a value seen more than kMaxGapMs after the previous one (the alerter was stopped, or
/// the member unobserved, in between): when that increase happened is unknown, and counting it
/// as now would fire on an old burst.
class CounterWindow {
 public:
  static constexpr int64_t kMaxGapMs = 5 * 60 * 1000;

  void Observe(int64_t now_unix_ms, uint64_t total);
  double Increase(int64_t now_unix_ms, int minutes) const {
    return window_.Sum(now_unix_ms, minutes);
  }

  void Save(StateWriter& out) const;
  bool Load(StateReader& in);

 private:
  std::optional<uint64_t> last_total_;
  int64_t last_unix_ms_ = 0;  // when last_total_ was seen
  MinuteWindow window_;
};

}  // namespace etcdmon::alerter::detail
