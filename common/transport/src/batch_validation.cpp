#include "etcdmon/transport/batch_validation.h"

#include <limits>

#include "etcdmon/config/cluster_name.h"

namespace etcdmon::transport {
namespace {

namespace v1 = etcdmonitor::v1;

constexpr uint64_t kMaxStorableSequence =
    static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

bool IsCollectorIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

bool HasControlCharacter(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return true;
    }
  }
  return false;
}

// What the log shows of an attacker's string: bounded, control characters escaped.
std::string Printable(std::string_view s) {
  constexpr std::size_t kShown = 64;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kShown; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u == 0x7f || u == '"' || u == '\\') {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += s[i];
    }
  }
  if (s.size() > kShown) {
    out += "...";
  }
  return out;
}

// One batch's checks; the first problem found wins.
class Checker {
 public:
  Checker(const BatchLimits& limits, int64_t now_unix_ms) : limits_(limits), now_(now_unix_ms) {}

  BatchVerdict verdict;

  bool ok() const { return verdict.ok(); }

  void Fail(BatchProblem problem, std::string detail) {
    if (ok()) {
      verdict.problem = problem;
      verdict.detail = std::move(detail);
    }
  }

  void CollectorId(std::string_view id) {
    if (id.empty() || id.size() > limits_.max_collector_id_bytes) {
      Fail(BatchProblem::kBadCollectorId, "collector_id is " + std::to_string(id.size()) +
                                              " bytes, want 1.." +
                                              std::to_string(limits_.max_collector_id_bytes));
      return;
    }
    for (char c : id) {
      if (!IsCollectorIdChar(c)) {
        Fail(BatchProblem::kBadCollectorId,
             "collector_id \"" + Printable(id) + "\" has a character outside [A-Za-z0-9_.:-]");
        return;
      }
    }
  }

  // Empty is the aggregator's default cluster; a name becomes a history key and a label.
  void Cluster(std::string_view name) {
    if (name.empty()) {
      return;
    }
    if (Status s = config::ValidateClusterName(name); !s.ok()) {
      Fail(BatchProblem::kBadName, "cluster: " + s.message());
    }
  }

  void Sequence(uint64_t sequence) {
    if (sequence == 0 || sequence > kMaxStorableSequence) {
      Fail(BatchProblem::kSequenceRange,
           "sequence " + std::to_string(sequence) + " is outside 1..2^63-1");
      return;
    }
    // Collectors number from their wall clock in microseconds; nothing genuine is ahead of ours
    // by more than the skew. Saturating, so that a clock near the end of time cannot overflow.
    const int64_t skew_ms = limits_.max_clock_skew.count();
    const int64_t horizon_ms = now_ > std::numeric_limits<int64_t>::max() / 1000 - skew_ms
                                   ? std::numeric_limits<int64_t>::max() / 1000
                                   : now_ + skew_ms;
    const uint64_t horizon_us = horizon_ms <= 0 ? 0 : static_cast<uint64_t>(horizon_ms) * 1000;
    if (sequence > horizon_us) {
      Fail(BatchProblem::kSequenceRange,
           "sequence " + std::to_string(sequence) +
               " is ahead of the aggregator's clock in microseconds plus the skew (" +
               std::to_string(horizon_us) + ")");
    }
  }

  // A sample's time, or the batch's sent_at (0: unset; stamped at enqueue, so a batch resent
  // after an outage carries an old one: only its future is checked).
  void Time(std::string_view field, int64_t unix_ms, bool is_sent_at) {
    if (is_sent_at && unix_ms == 0) {
      return;
    }
    if (unix_ms < 0) {
      Fail(BatchProblem::kTooOld,
           std::string(field) + " " + std::to_string(unix_ms) + " ms is negative");
      return;
    }
    const int64_t skew_ms = limits_.max_clock_skew.count();
    if (unix_ms > now_ && unix_ms - now_ > skew_ms) {
      Fail(BatchProblem::kClockSkew, std::string(field) + " " + std::to_string(unix_ms) +
                                         " ms is " + std::to_string(unix_ms - now_) +
                                         " ms ahead of the aggregator's clock (skew " +
                                         std::to_string(skew_ms) + " ms allowed)");
      return;
    }
    if (is_sent_at) {
      return;
    }
    const int64_t age_ms = limits_.max_sample_age.count();
    if (unix_ms < now_ && now_ - unix_ms > age_ms) {
      Fail(BatchProblem::kTooOld, std::string(field) + " " + std::to_string(unix_ms) + " ms is " +
                                      std::to_string(now_ - unix_ms) + " ms old (at most " +
                                      std::to_string(age_ms) + " ms)");
    }
  }

  void Name(std::string_view field, std::string_view name, bool may_be_empty = true) {
    if (name.empty() && !may_be_empty) {
      Fail(BatchProblem::kBadName, std::string(field) + " is empty");
    } else if (name.size() > limits_.max_name_bytes) {
      Fail(BatchProblem::kBadName, std::string(field) + " is " + std::to_string(name.size()) +
                                       " bytes, over the limit of " +
                                       std::to_string(limits_.max_name_bytes));
    } else if (HasControlCharacter(name)) {
      Fail(BatchProblem::kBadName,
           std::string(field) + " \"" + Printable(name) + "\" has a control character");
    }
  }

  void Text(std::string_view field, std::string_view text) {
    if (text.size() > limits_.max_text_bytes) {
      Fail(BatchProblem::kBadName, std::string(field) + " is " + std::to_string(text.size()) +
                                       " bytes, over the limit of " +
                                       std::to_string(limits_.max_text_bytes));
    }
  }

  // Returns false (and fails) when `count` entries of `field` are over `limit`.
  bool Count(std::string_view field, std::size_t count, std::size_t limit) {
    if (count > limit) {
      Fail(BatchProblem::kTooManySamples, std::string(field) + " has " + std::to_string(count) +
                                              " entries, over the limit of " +
                                              std::to_string(limit));
      return false;
    }
    return true;
  }
  bool Entries(std::string_view field, std::size_t count) {
    return Count(field, count, limits_.max_entries_per_sample);
  }

  template <typename Repeated>
  void Labels(std::string_view metric, const Repeated& labels) {
    if (!Entries(metric, static_cast<std::size_t>(labels.size()))) {
      return;
    }
    for (const v1::Label& label : labels) {
      Name("label name", label.name(), /*may_be_empty=*/false);
      Name("label value", label.value());
    }
  }

  void Sample(const v1::MemberSample& s) {
    Time("collected_at_unix_ms", s.collected_at_unix_ms(), /*is_sent_at=*/false);
    // The endpoint is what a sample is about; without it (and without name and id) its points
    // would land on the cluster-wide series.
    Name("endpoint", s.endpoint(), /*may_be_empty=*/false);
    Name("member_name", s.member_name());
    Text("error", s.error());
    Text("health_reason", s.health_reason());
    if (!ok()) {
      return;
    }
    if (s.has_status()) {
      Name("status.version", s.status().version());
      if (Count("status.errors", static_cast<std::size_t>(s.status().errors_size()),
                limits_.max_errors_per_sample)) {
        for (const std::string& e : s.status().errors()) {
          Text("status.errors", e);
        }
      }
    }
    if (Entries("alarms", static_cast<std::size_t>(s.alarms_size()))) {
      for (const v1::Alarm& a : s.alarms()) {
        Name("alarm type", a.type());
      }
    }
    if (Count("members", static_cast<std::size_t>(s.members_size()),
              limits_.max_members_per_sample)) {
      for (const v1::MemberInfo& m : s.members()) {
        Name("members.name", m.name());
        if (Entries("members.peer_urls", static_cast<std::size_t>(m.peer_urls_size())) &&
            Entries("members.client_urls", static_cast<std::size_t>(m.client_urls_size()))) {
          for (const std::string& url : m.peer_urls()) {
            Name("members.peer_urls", url);
          }
          for (const std::string& url : m.client_urls()) {
            Name("members.client_urls", url);
          }
        }
      }
    }
    if (Entries("probes", static_cast<std::size_t>(s.probes_size()))) {
      for (const v1::Probe& p : s.probes()) {
        Text("probe error", p.error());
      }
    }
    if (Entries("scalars", static_cast<std::size_t>(s.scalars_size()))) {
      for (const v1::ScalarMetric& m : s.scalars()) {
        Name("scalar name", m.name(), /*may_be_empty=*/false);
        Labels("scalar labels", m.labels());
        if (!ok()) {
          return;
        }
      }
    }
    if (Entries("histograms", static_cast<std::size_t>(s.histograms_size()))) {
      for (const v1::HistogramMetric& h : s.histograms()) {
        Name("histogram name", h.name(), /*may_be_empty=*/false);
        Labels("histogram labels", h.labels());
        Entries("histogram buckets", static_cast<std::size_t>(h.buckets_size()));
        if (!ok()) {
          return;
        }
      }
    }
    Text("host.disk_unknown_reason", s.host().disk_unknown_reason());
    Text("certificate.subject", s.certificate().subject());
    if (Count("errors", static_cast<std::size_t>(s.errors_size()), limits_.max_errors_per_sample)) {
      for (const v1::SampleError& e : s.errors()) {
        Name("errors.source", e.source());
        Text("errors.message", e.message());
      }
    }
  }

  void Stats(const v1::CollectorStats& stats) {
    if (Entries("stats.errors_by_kind", stats.errors_by_kind().size())) {
      for (const auto& [kind, count] : stats.errors_by_kind()) {
        Name("stats.errors_by_kind key", kind);
      }
    }
  }

 private:
  const BatchLimits& limits_;
  const int64_t now_;
};

}  // namespace

std::string_view BatchProblemName(BatchProblem problem) {
  switch (problem) {
    case BatchProblem::kNone:
      return "none";
    case BatchProblem::kBadCollectorId:
      return "bad_collector_id";
    case BatchProblem::kSequenceRange:
      return "sequence_range";
    case BatchProblem::kClockSkew:
      return "clock_skew";
    case BatchProblem::kTooOld:
      return "too_old";
    case BatchProblem::kTooManySamples:
      return "too_many_samples";
    case BatchProblem::kBadName:
      return "bad_name";
  }
  return "unknown";
}

BatchVerdict ValidateBatch(const v1::SampleBatch& batch, const BatchLimits& limits,
                           int64_t now_unix_ms) {
  Checker check(limits, now_unix_ms);
  check.CollectorId(batch.collector_id());
  check.Cluster(batch.cluster());
  check.Sequence(batch.sequence());
  check.Time("sent_at_unix_ms", batch.sent_at_unix_ms(), /*is_sent_at=*/true);
  check.Count("samples", static_cast<std::size_t>(batch.samples_size()), limits.max_samples);
  for (const v1::MemberSample& sample : batch.samples()) {
    if (!check.ok()) {
      break;
    }
    check.Sample(sample);
  }
  if (check.ok() && batch.has_stats()) {
    check.Stats(batch.stats());
  }
  return std::move(check.verdict);
}

}  // namespace etcdmon::transport
