// Threshold rules evaluated per member: latencies, disk, memory, database size and growth,
// fragmentation, proposals, gRPC errors, certificates. Each fires above (or below) its threshold
// and resolves only past its resolve threshold (hysteresis).

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>

#include "rule.h"

namespace etcdmon::alerter::detail {
namespace {

namespace v1 = etcdmonitor::v1;

constexpr double kMiB = 1024.0 * 1024.0;

// Calls `judge(member)` for every member whose newest sample is fresh and answered: the
// figures of a member that does not answer now (its latencies, rates) are from older samples
// and must not be reported as current. Stale and unreachable members are skipped (the engine
// keeps their alerts as they are).
template <typename Judge>
void ForAnsweringMembers(const v1::ClusterSnapshot& snapshot, Judge&& judge) {
  for (const auto& member : snapshot.members()) {
    if (member.health() != v1::STALE && member.health() != v1::UNREACHABLE && member.reachable()) {
      judge(member);
    }
  }
}

// Calls `judge(member)` for every member with a fresh sample, answered or not: for what the
// collector measures beside the member (its host) or what stays true while it is down (the
// certificate's expiry).
template <typename Judge>
void ForFreshMembers(const v1::ClusterSnapshot& snapshot, Judge&& judge) {
  for (const auto& member : snapshot.members()) {
    if (member.health() != v1::STALE) {
      judge(member);
    }
  }
}

Observation& Observe(std::vector<Observation>& out, const v1::MemberState& member, Verdict verdict,
                     Severity severity) {
  Observation& o = out.emplace_back();
  o.member = MemberLabel(member);
  o.verdict = verdict;
  o.severity = severity;
  return o;
}

// The rules of the shape "a member's value above a threshold", with hysteresis: one row each.
struct ThresholdRow {
  std::string_view rule;  // the rule id
  const char* parameter;  // the threshold's parameter in the RuleSpec
  // The value is the host's (the collector measures it whether or not etcd answers): judged
  // for every fresh member, not only answering ones.
  bool of_the_host;
  // The member's value; false when it has none now.
  bool (*value)(const v1::MemberState& member, double* value);
  // What the value is, for the summary: "WAL fsync p99 12 ms".
  std::string (*describe)(const v1::MemberState& member, double value);
  const char* value_name;  // the value's name among the alert's values
  const char* unit;        // after the threshold in the summary
};

const ThresholdRow kThresholdRows[] = {
    {kWalFsyncSlow, "threshold_ms", false,
     [](const v1::MemberState& m, double* value) {
       if (!m.has_wal_fsync() || m.wal_fsync().count() == 0) {
         return false;
       }
       *value = m.wal_fsync().p99_ms();
       return true;
     },
     [](const v1::MemberState&, double value) {
       return "WAL fsync p99 " + FormatValue(value) + " ms";
     },
     "wal_fsync_p99_ms", " ms"},
    {kDiskUsageHigh, "threshold_percent", true,
     [](const v1::MemberState& m, double* value) {
       if (!m.has_disk_used_percent()) {
         return false;
       }
       *value = m.disk_used_percent();
       return true;
     },
     [](const v1::MemberState& m, double value) {
       return "data disk " + FormatValue(value) + "% used (" +
              FormatBytes(static_cast<double>(m.disk_used_bytes())) + " of " +
              FormatBytes(static_cast<double>(m.disk_total_bytes())) + ")";
     },
     "disk_used_percent", "%"},
    {kMemoryUsageHigh, "threshold_percent", true,
     [](const v1::MemberState& m, double* value) {
       if (!m.has_memory_used_percent()) {
         return false;
       }
       *value = m.memory_used_percent();
       return true;
     },
     [](const v1::MemberState&, double value) {
       return "host memory " + FormatValue(value) + "% used";
     },
     "memory_used_percent", "%"},
    {kPendingProposalsHigh, "threshold", false,
     [](const v1::MemberState& m, double* value) {
       if (!m.reachable()) {
         return false;  // the count is not known
       }
       *value = static_cast<double>(m.proposals_pending());
       return true;
     },
     [](const v1::MemberState&, double value) { return FormatValue(value) + " proposals pending"; },
     "proposals_pending", ""},
};

// One row of kThresholdRows: fires above the threshold, resolves below resolve_percent of it.
class ThresholdRule final : public Rule {
 public:
  ThresholdRule(const RuleSpec& spec, const ThresholdRow& row)
      : row_(row),
        severity_(spec.severity),
        threshold_(spec.Parameter(row.parameter)),
        resolve_fraction_(spec.Parameter("resolve_percent") / 100) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    auto judge = [&](const v1::MemberState& member) {
      double value = 0;
      if (!row_.value(member, &value)) {
        return;
      }
      const Verdict verdict =
          AboveWithHysteresis(value, threshold_, threshold_ * resolve_fraction_);
      if (verdict == Verdict::kClear) {
        return;
      }
      Observation& o = Observe(out, member, verdict, severity_);
      o.summary = o.member + ": " + row_.describe(member, value) +
                  (verdict == Verdict::kFiring ? " > " : ", threshold ") + FormatValue(threshold_) +
                  row_.unit;
      o.values = {{row_.value_name, value}, {"threshold", threshold_}};
    };
    if (row_.of_the_host) {
      ForFreshMembers(snapshot, judge);
    } else {
      ForAnsweringMembers(snapshot, judge);
    }
  }

 private:
  const ThresholdRow& row_;  // an element of kThresholdRows (static storage)
  Severity severity_;
  double threshold_;
  double resolve_fraction_;
};

// Failed unary requests / all unary requests; Watch streams and Canceled are excluded by the
// aggregator. Below min_requests_per_second a few failures would be a large ratio of nothing.
class GrpcErrorRateHighRule final : public Rule {
 public:
  explicit GrpcErrorRateHighRule(const RuleSpec& spec)
      : severity_(spec.severity),
        threshold_percent_(spec.Parameter("threshold_percent")),
        min_rate_(spec.Parameter("min_requests_per_second")),
        resolve_fraction_(spec.Parameter("resolve_percent") / 100) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    ForAnsweringMembers(snapshot, [&](const v1::MemberState& member) {
      if (!member.has_rates() || member.rates().requests_per_second() < min_rate_) {
        return;
      }
      const auto& rates = member.rates();
      const double percent = rates.grpc_error_ratio() * 100;
      const Verdict verdict =
          AboveWithHysteresis(percent, threshold_percent_, threshold_percent_ * resolve_fraction_);
      if (verdict == Verdict::kClear) {
        return;
      }
      Observation& o = Observe(out, member, verdict, severity_);
      o.summary = o.member + ": " + FormatValue(percent) + "% of unary gRPC requests failed (" +
                  FormatValue(rates.grpc_errors_per_second()) + "/s of " +
                  FormatValue(rates.requests_per_second()) + "/s), threshold " +
                  FormatValue(threshold_percent_) + "%";
      o.values = {{"grpc_error_percent", percent},
                  {"requests_per_second", rates.requests_per_second()}};
    });
  }

 private:
  Severity severity_;
  double threshold_percent_;
  double min_rate_;
  double resolve_fraction_;
};

// Failed proposals counted over a trailing window per member (as etcd's own mixin does), so
// the few proposals an election fails do not alert.
class ProposalFailureRateHighRule final : public Rule {
 public:
  explicit ProposalFailureRateHighRule(const RuleSpec& spec)
      : severity_(spec.severity),
        threshold_(spec.Parameter("threshold")),
        window_minutes_(static_cast<int>(std::lround(spec.Parameter("window") / 60000))),
        resolve_fraction_(spec.Parameter("resolve_percent") / 100) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t now,
                std::vector<Observation>& out) override {
    ForAnsweringMembers(snapshot, [&](const v1::MemberState& member) {
      if (!member.reachable() || !member.has_rates()) {
        return;  // the counter is not known now; a later value counts from the last known one
      }
      CounterWindow* window = WindowOf(MemberLabel(member), now);
      if (window == nullptr) {
        return;
      }
      window->Observe(now, member.proposals_failed_total());
      const double failed = window->Increase(now, window_minutes_);
      const Verdict verdict =
          AboveWithHysteresis(failed, threshold_, threshold_ * resolve_fraction_);
      if (verdict == Verdict::kClear) {
        return;
      }
      Observation& o = Observe(out, member, verdict, severity_);
      o.summary = o.member + ": " + FormatValue(failed) + " proposals failed in the last " +
                  std::to_string(window_minutes_) + " min, threshold " + FormatValue(threshold_);
      o.values = {{"proposals_failed", failed}, {"threshold", threshold_}};
    });
    Forget(now);
  }

  std::string SaveState() const override {
    return SavePerMemberState(kStateFormat, members_, [](StateWriter& w, const Entry& entry) {
      w.Int(entry.last_seen_unix_ms);
      entry.window.Save(w);
    });
  }
  bool LoadState(std::string_view state) override {
    return LoadPerMemberState(state, kStateFormat, kMaxMembers, members_,
                              [](StateReader& r, Entry& entry) {
                                return r.Int(entry.last_seen_unix_ms) && entry.window.Load(r);
                              });
  }

 private:
  struct Entry {
    CounterWindow window;
    int64_t last_seen_unix_ms = 0;
  };
  static constexpr std::size_t kMaxMembers = 256;
  static constexpr int64_t kStateFormat = 1;

  CounterWindow* WindowOf(const std::string& member, int64_t now) {
    auto it = members_.find(member);
    if (it == members_.end()) {
      if (members_.size() >= kMaxMembers) {
        return nullptr;
      }
      it = members_.emplace(member, Entry{}).first;
    }
    it->second.last_seen_unix_ms = now;
    return &it->second.window;
  }
  // Members gone for longer than the window (removed from the cluster) are forgotten.
  void Forget(int64_t now) {
    for (auto it = members_.begin(); it != members_.end();) {
      it = now - it->second.last_seen_unix_ms > 3600 * 1000 ? members_.erase(it) : std::next(it);
    }
  }

  Severity severity_;
  double threshold_;
  int window_minutes_;
  double resolve_fraction_;
  std::map<std::string, Entry> members_;
};

// db size >= threshold_percent of the smaller of etcd's quota and --max-db-size-mb.
class DatabaseNearQuotaRule final : public Rule {
 public:
  explicit DatabaseNearQuotaRule(const RuleSpec& spec)
      : severity_(spec.severity),
        threshold_percent_(spec.Parameter("threshold_percent")),
        max_db_bytes_(spec.Parameter("max_db_size_mb") * kMiB),
        resolve_fraction_(spec.Parameter("resolve_percent") / 100) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    ForAnsweringMembers(snapshot, [&](const v1::MemberState& member) {
      if (member.db_size_bytes() <= 0) {
        return;
      }
      double limit = max_db_bytes_;
      const char* limit_name = "--max-db-size-mb";
      if (member.db_quota_bytes() > 0 && static_cast<double>(member.db_quota_bytes()) < limit) {
        limit = static_cast<double>(member.db_quota_bytes());
        limit_name = "quota";
      }
      const double percent = static_cast<double>(member.db_size_bytes()) / limit * 100;
      const Verdict verdict = AboveWithHysteresis(percent, threshold_percent_,
                                                  threshold_percent_ * resolve_fraction_, true);
      if (verdict == Verdict::kClear) {
        return;
      }
      Observation& o = Observe(out, member, verdict, severity_);
      o.summary = o.member + ": db size " +
                  FormatBytes(static_cast<double>(member.db_size_bytes())) + " is " +
                  FormatValue(percent) + "% of the " + FormatBytes(limit) + " " + limit_name +
                  ", threshold " + FormatValue(threshold_percent_) + "%";
      o.values = {{"db_size_bytes", static_cast<double>(member.db_size_bytes())},
                  {"limit_bytes", limit},
                  {"used_percent", percent}};
    });
  }

 private:
  Severity severity_;
  double threshold_percent_;
  double max_db_bytes_;
  double resolve_fraction_;
};

// The quota is reached within `horizon` at the current growth (the aggregator's estimate).
class DatabaseQuotaExhaustionSoonRule final : public Rule {
 public:
  explicit DatabaseQuotaExhaustionSoonRule(const RuleSpec& spec)
      : severity_(spec.severity),
        horizon_seconds_(spec.Parameter("horizon") / 1000),
        resolve_fraction_(spec.Parameter("resolve_percent") / 100) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    ForAnsweringMembers(snapshot, [&](const v1::MemberState& member) {
      if (!member.has_db_seconds_to_quota()) {
        return;  // not growing
      }
      const double seconds = member.db_seconds_to_quota();
      const Verdict verdict =
          BelowWithHysteresis(seconds, horizon_seconds_, horizon_seconds_ / resolve_fraction_);
      if (verdict == Verdict::kClear) {
        return;
      }
      Observation& o = Observe(out, member, verdict, severity_);
      o.summary = o.member + ": db quota reached in " + FormatSeconds(seconds) + " at " +
                  FormatBytes(member.rates().db_growth_bytes_per_second() * 3600) +
                  "/h growth (db " + FormatBytes(static_cast<double>(member.db_size_bytes())) +
                  "), threshold " + FormatSeconds(horizon_seconds_);
      o.values = {{"seconds_to_quota", seconds},
                  {"growth_bytes_per_second", member.rates().db_growth_bytes_per_second()}};
    });
  }

 private:
  Severity severity_;
  double horizon_seconds_;
  double resolve_fraction_;
};

// Much of the backend file is free space: a defragmentation would give it back.
class DatabaseFragmentedRule final : public Rule {
 public:
  explicit DatabaseFragmentedRule(const RuleSpec& spec)
      : severity_(spec.severity),
        in_use_percent_(spec.Parameter("in_use_percent")),
        min_size_bytes_(spec.Parameter("min_size_mb") * kMiB),
        resolve_fraction_(spec.Parameter("resolve_percent") / 100) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    ForAnsweringMembers(snapshot, [&](const v1::MemberState& member) {
      const double size = static_cast<double>(member.db_size_bytes());
      const double in_use = static_cast<double>(member.db_size_in_use_bytes());
      if (size <= 0 || in_use <= 0) {
        return;
      }
      const double percent = in_use / size * 100;
      Verdict verdict = Verdict::kHolding;
      if (percent < in_use_percent_ && size > min_size_bytes_) {
        verdict = Verdict::kFiring;
      } else if (percent >= in_use_percent_ / resolve_fraction_ ||
                 size < min_size_bytes_ * resolve_fraction_) {
        verdict = Verdict::kClear;
      }
      if (verdict == Verdict::kClear) {
        return;
      }
      Observation& o = Observe(out, member, verdict, severity_);
      o.summary = o.member + ": only " + FormatValue(percent) + "% of the " + FormatBytes(size) +
                  " db in use (" + FormatBytes(size - in_use) +
                  " reclaimable); run `etcd-monitor ctl defrag` on it";
      o.values = {{"in_use_percent", percent}, {"db_size_bytes", size}};
    });
  }

 private:
  Severity severity_;
  double in_use_percent_;
  double min_size_bytes_;
  double resolve_fraction_;
};

// The served certificate expires soon: the spec's severity below warning_days, critical below
// critical_days. A renewed certificate resolves it.
class CertificateExpiringSoonRule final : public Rule {
 public:
  explicit CertificateExpiringSoonRule(const RuleSpec& spec)
      : severity_(spec.severity),
        warning_seconds_(spec.Parameter("warning_days") * 86400),
        critical_seconds_(spec.Parameter("critical_days") * 86400),
        resolve_fraction_(spec.Parameter("resolve_percent") / 100) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t,
                std::vector<Observation>& out) override {
    ForFreshMembers(snapshot, [&](const v1::MemberState& member) {
      if (!member.has_certificate_expires_in_seconds()) {
        return;
      }
      const double seconds = static_cast<double>(member.certificate_expires_in_seconds());
      const Verdict verdict =
          BelowWithHysteresis(seconds, warning_seconds_, warning_seconds_ / resolve_fraction_);
      if (verdict == Verdict::kClear) {
        return;
      }
      const bool critical = seconds < critical_seconds_;
      Observation& o = Observe(out, member, verdict, critical ? Severity::kCritical : severity_);
      const std::string subject =
          member.certificate_subject().empty() ? "" : " (" + member.certificate_subject() + ")";
      o.summary = o.member + ": TLS certificate" + subject +
                  (seconds < 0 ? " expired " + FormatSeconds(-seconds) + " ago"
                               : " expires in " + FormatSeconds(seconds)) +
                  ", threshold " +
                  FormatValue((critical ? critical_seconds_ : warning_seconds_) / 86400) + " days";
      o.values = {{"expires_in_seconds", seconds}};
    });
  }

 private:
  Severity severity_;
  double warning_seconds_;
  double critical_seconds_;
  double resolve_fraction_;
};

// Read or write p99 above an absolute threshold, or `baseline_factor` times its own 1 h
// baseline (the median of per-minute mean p99s of the past hour). The relative condition needs
// min_baseline of history and a p99 above relative_floor_ms, so 1 ms → 3 ms is no alert, and
// it waits restart_grace after the member was last unreachable.
class RequestLatencyDegradedRule final : public Rule {
 public:
  explicit RequestLatencyDegradedRule(const RuleSpec& spec)
      : severity_(spec.severity),
        threshold_ms_(spec.Parameter("threshold_ms")),
        factor_(spec.Parameter("baseline_factor")),
        floor_ms_(spec.Parameter("relative_floor_ms")),
        min_baseline_minutes_(
            static_cast<int>(std::lround(spec.Parameter("min_baseline") / 60000))),
        restart_grace_ms_(spec.Parameter("restart_grace")),
        resolve_fraction_(spec.Parameter("resolve_percent") / 100) {}

  void Evaluate(const v1::ClusterSnapshot& snapshot, int64_t now,
                std::vector<Observation>& out) override {
    ForFreshMembers(snapshot, [&](const v1::MemberState& member) {
      const std::array<const v1::LatencyPercentiles*, kSeries> series = {
          member.has_read_latency() ? &member.read_latency() : nullptr,
          member.has_write_latency() ? &member.write_latency() : nullptr,
          member.has_grpc_read_latency() ? &member.grpc_read_latency() : nullptr,
          member.has_grpc_write_latency() ? &member.grpc_write_latency() : nullptr};
      Entry* entry = EntryOf(MemberLabel(member), now);
      if (entry == nullptr) {
        return;
      }
      if (!member.reachable()) {
        entry->last_down_unix_ms = now;
        return;
      }
      // A member just back from a restart warms up (caches, catching up): for restart_grace
      // only the absolute threshold judges it.
      const bool warming_up =
          entry->last_down_unix_ms != 0 && now - entry->last_down_unix_ms < restart_grace_ms_;
      Verdict worst = Verdict::kClear;
      double worst_ratio = -1;
      std::string summary;
      std::vector<AlertValue> values;
      for (std::size_t i = 0; i < kSeries; ++i) {
        if (series[i] == nullptr || series[i]->count() == 0) {
          continue;
        }
        const double p99 = series[i]->p99_ms();
        int minutes = 0;
        const double baseline =
            entry->baselines[i].MedianOfMeans(now, MinuteWindow::kMinutes, &minutes);
        entry->baselines[i].Add(now, p99);
        const Verdict absolute =
            AboveWithHysteresis(p99, threshold_ms_, threshold_ms_ * resolve_fraction_);
        Verdict relative = Verdict::kClear;
        const double relative_threshold = std::max(factor_ * baseline, floor_ms_);
        if (!warming_up && minutes >= min_baseline_minutes_ && baseline > 0) {
          relative =
              AboveWithHysteresis(p99, relative_threshold, relative_threshold * resolve_fraction_);
        }
        const Verdict verdict = std::min(absolute, relative);  // kFiring < kHolding < kClear
        if (verdict == Verdict::kClear) {
          continue;
        }
        values.push_back({std::string(kNames[i]) + "_p99_ms", p99});
        const bool is_absolute = absolute <= relative;
        const double ratio = p99 / (is_absolute ? threshold_ms_ : relative_threshold);
        if (verdict < worst || (verdict == worst && ratio > worst_ratio)) {
          worst = verdict;
          worst_ratio = ratio;
          summary = std::string(kNames[i]) + " p99 " + FormatValue(p99) + " ms";
          if (is_absolute) {
            summary += (verdict == Verdict::kFiring ? " > " : ", threshold ") +
                       FormatValue(threshold_ms_) + " ms";
          } else {
            summary += " is " + FormatValue(p99 / baseline) + "x its 1 h baseline " +
                       FormatValue(baseline) + " ms";
            values.push_back({std::string(kNames[i]) + "_baseline_ms", baseline});
          }
        }
      }
      if (worst == Verdict::kClear) {
        return;
      }
      Observation& o = Observe(out, member, worst, severity_);
      o.summary = o.member + ": " + summary;
      o.values = std::move(values);
    });
    for (auto it = members_.begin(); it != members_.end();) {
      it = now - it->second.last_seen_unix_ms > 3600 * 1000 ? members_.erase(it) : std::next(it);
    }
  }

  std::string SaveState() const override {
    return SavePerMemberState(kStateFormat, members_, [](StateWriter& w, const Entry& entry) {
      w.Int(entry.last_seen_unix_ms);
      w.Int(entry.last_down_unix_ms);
      for (const MinuteWindow& baseline : entry.baselines) {
        baseline.Save(w);
      }
    });
  }
  bool LoadState(std::string_view state) override {
    return LoadPerMemberState(
        state, kStateFormat, kMaxMembers, members_, [](StateReader& r, Entry& entry) {
          if (!r.Int(entry.last_seen_unix_ms) || !r.Int(entry.last_down_unix_ms)) {
            return false;
          }
          for (MinuteWindow& baseline : entry.baselines) {
            if (!baseline.Load(r)) {
              return false;
            }
          }
          return true;
        });
  }

 private:
  static constexpr int64_t kStateFormat = 1;
  static constexpr std::size_t kSeries = 4;
  static constexpr std::array<const char*, kSeries> kNames = {"read", "write", "gRPC read",
                                                              "gRPC write"};
  static constexpr std::size_t kMaxMembers = 256;
  struct Entry {
    std::array<MinuteWindow, kSeries> baselines;
    int64_t last_seen_unix_ms = 0;
    int64_t last_down_unix_ms = 0;  // latest snapshot that showed it unreachable; 0: never
  };

  Entry* EntryOf(const std::string& member, int64_t now) {
    auto it = members_.find(member);
    if (it == members_.end()) {
      if (members_.size() >= kMaxMembers) {
        return nullptr;
      }
      it = members_.emplace(member, Entry{}).first;
    }
    it->second.last_seen_unix_ms = now;
    return &it->second;
  }

  Severity severity_;
  double threshold_ms_;
  double factor_;
  double floor_ms_;
  int min_baseline_minutes_;
  double restart_grace_ms_;
  double resolve_fraction_;
  std::map<std::string, Entry> members_;
};

}  // namespace

std::unique_ptr<Rule> MakeMemberRule(const RuleSpec& spec) {
  const std::string_view id = spec.id;
  for (const ThresholdRow& row : kThresholdRows) {
    if (id == row.rule) {
      return std::make_unique<ThresholdRule>(spec, row);
    }
  }
  if (id == kGrpcErrorRateHigh) return std::make_unique<GrpcErrorRateHighRule>(spec);
  if (id == kProposalFailureRateHigh) return std::make_unique<ProposalFailureRateHighRule>(spec);
  if (id == kDatabaseNearQuota) return std::make_unique<DatabaseNearQuotaRule>(spec);
  if (id == kDatabaseQuotaExhaustionSoon) {
    return std::make_unique<DatabaseQuotaExhaustionSoonRule>(spec);
  }
  if (id == kDatabaseFragmented) return std::make_unique<DatabaseFragmentedRule>(spec);
  if (id == kCertificateExpiringSoon) return std::make_unique<CertificateExpiringSoonRule>(spec);
  if (id == kRequestLatencyDegraded) return std::make_unique<RequestLatencyDegradedRule>(spec);
  return nullptr;
}

}  // namespace etcdmon::alerter::detail
