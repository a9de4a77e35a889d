#include "render.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "etcdmon/aggregator/metric_names.h"

namespace etcdmon::gateway::detail {
namespace {

namespace v1 = etcdmonitor::v1;
namespace names = etcdmon::aggregator;
using nlohmann::json;

// Names the catalogue (metric_names.h) does not have: the services' own state.
constexpr std::string_view kSnapshotAge = "etcd_monitor_snapshot_age_seconds";
constexpr std::string_view kAggregatorUp = "etcd_monitor_aggregator_up";
constexpr std::string_view kAlerterUp = "etcd_monitor_alerter_up";
constexpr std::string_view kAlertsFiring = "etcd_monitor_alerts_firing";
constexpr std::string_view kCollectorUp = "etcd_monitor_collector_up";
constexpr std::string_view kCollectorSamples = "etcd_monitor_collector_samples_received_total";
constexpr std::string_view kCollectorQueue = "etcd_monitor_collector_queue_depth";
constexpr std::string_view kCollectorDropped = "etcd_monitor_collector_dropped_batches_total";
constexpr std::string_view kCollectorResent = "etcd_monitor_collector_resent_batches_total";
constexpr std::string_view kCollectorErrors = "etcd_monitor_collector_errors_total";
constexpr std::string_view kMemberAlarm = "etcd_member_alarm";

double Flag(bool b) { return b ? 1.0 : 0.0; }

std::string_view HelpOf(std::string_view name) {
  const names::MetricInfo* info = names::FindMetric(name);
  return info != nullptr ? info->help : std::string_view();
}

bool IsCounter(std::string_view name) {
  return name.size() > 6 && name.substr(name.size() - 6) == "_total";
}

// Appends series of one member (or of the cluster, member "").
class SeriesWriter {
 public:
  SeriesWriter(std::vector<Series>& out, std::string member)
      : out_(out), member_(std::move(member)) {}

  void Add(std::string_view name, double value) {
    if (!std::isfinite(value)) {
      return;
    }
    out_.push_back(Series{name, HelpOf(name), IsCounter(name), member_, value});
  }

  void Percentiles(bool present, const v1::LatencyPercentiles& p, std::string_view p50,
                   std::string_view p95, std::string_view p99) {
    if (!present) {
      return;
    }
    if (!p50.empty()) {
      Add(p50, p.p50_ms());
    }
    Add(p95, p.p95_ms());
    Add(p99, p.p99_ms());
  }

  void Rates(const v1::Rates& r) {
    Add(names::kGrpcErrorRatio, r.grpc_error_ratio());
    Add(names::kProposalsCommittedRate, r.proposals_committed_per_second());
    Add(names::kProposalsAppliedRate, r.proposals_applied_per_second());
    Add(names::kProposalsFailedRate, r.proposals_failed_per_second());
    Add(names::kProposalFailureRatio, r.proposal_failure_ratio());
    Add(names::kDbGrowthRate, r.db_growth_bytes_per_second());
  }

 private:
  std::vector<Series>& out_;
  std::string member_;
};

void ClusterSeries(const v1::ClusterSnapshot& s, std::vector<Series>& out) {
  SeriesWriter w(out, "");
  w.Add(names::kClusterHealthy, Flag(s.healthy()));
  w.Add(names::kClusterHasLeader, Flag(s.has_leader()));
  w.Add(names::kClusterMemberCount, s.member_count());
  w.Add(names::kClusterQuorumSize, s.quorum_size());
  w.Add(names::kLeaderChangesTotal, static_cast<double>(s.leader_changes_total()));
  w.Percentiles(s.has_read_latency(), s.read_latency(), names::kReadLatencyP50,
                names::kReadLatencyP95, names::kReadLatencyP99);
  w.Percentiles(s.has_write_latency(), s.write_latency(), names::kWriteLatencyP50,
                names::kWriteLatencyP95, names::kWriteLatencyP99);
  w.Add(names::kRequestRate, s.request_rate_per_second());
  if (s.db_size_bytes() > 0) {
    w.Add(names::kDbSize, static_cast<double>(s.db_size_bytes()));
  }
  w.Add(names::kProposalsPending, static_cast<double>(s.proposals_pending()));
  w.Percentiles(s.has_wal_fsync(), s.wal_fsync(), {}, names::kWalFsyncP95, names::kWalFsyncP99);
  w.Percentiles(s.has_backend_commit(), s.backend_commit(), {}, names::kBackendCommitP95,
                names::kBackendCommitP99);
  w.Add(names::kClusterHealthyMembers, s.healthy_members());
  w.Add(names::kClusterQuorumOk, Flag(s.quorum_ok()));
  w.Add(names::kClusterLeaderAgreement, Flag(s.leader_agreement()));
  w.Add(names::kClusterSplitBrain, Flag(s.split_brain().detected()));
  if (s.has_leader()) {
    w.Add(names::kClusterRaftTerm, static_cast<double>(s.raft_term()));
  }
  w.Add(names::kClusterUnreachableMembers, s.unreachable_members());
  w.Add(names::kClusterStaleMembers, s.stale_members());
  w.Add(names::kClusterAlarmsActive, s.alarm_details_size());
  w.Add(names::kRevisionSpread, static_cast<double>(s.divergence().revision().spread()));
  w.Add(names::kRaftIndexSpread, static_cast<double>(s.divergence().raft_index().spread()));
  w.Add(names::kAppliedIndexSpread, static_cast<double>(s.divergence().applied_index().spread()));
  w.Add(names::kDivergenceGrowing, Flag(s.divergence().growing()));
  if (s.has_last_benchmark()) {
    const v1::BenchmarkSummary& b = s.last_benchmark();
    w.Add(names::kBenchmarkOpsPerSecond, b.ops_per_second());
    w.Add(names::kBenchmarkLatencyP50, b.p50_ms());
    w.Add(names::kBenchmarkLatencyP99, b.p99_ms());
    w.Add(names::kBenchmarkFailedOps, static_cast<double>(b.failed()));
  }
  if (s.has_rates()) {
    w.Rates(s.rates());
  }
  if (s.has_db_quota_used_percent()) {
    w.Add(names::kDbQuotaUsedPercent, s.db_quota_used_percent());
  }
  if (s.has_db_seconds_to_quota()) {
    w.Add(names::kDbSecondsToQuota, s.db_seconds_to_quota());
  }
  if (s.has_certificate_expires_in_seconds()) {
    w.Add(names::kCertificateExpirySeconds,
          static_cast<double>(s.certificate_expires_in_seconds()));
  }
  w.Percentiles(s.has_grpc_read_latency(), s.grpc_read_latency(), names::kGrpcReadLatencyP50,
                names::kGrpcReadLatencyP95, names::kGrpcReadLatencyP99);
  w.Percentiles(s.has_grpc_write_latency(), s.grpc_write_latency(), names::kGrpcWriteLatencyP50,
                names::kGrpcWriteLatencyP95, names::kGrpcWriteLatencyP99);
}

void MemberSeries(const v1::MemberState& m, std::vector<Series>& out) {
  SeriesWriter w(out, MemberLabel(m));
  w.Add(names::kMemberHealthy, Flag(m.health() == v1::HEALTHY));
  w.Add(names::kMemberStale, Flag(m.health() == v1::STALE));
  w.Add(names::kMemberIsLeader, Flag(m.is_leader()));
  if (!m.sampled()) {
    return;  // known from member lists only: nothing measured
  }
  w.Add(names::kMemberUp, Flag(m.reachable()));
  // A member that does not answer now: what the snapshot still shows of it is from older
  // samples, and its gauges are not exported as if current. etcd's own counters keep their last
  // value (a counter does not go stale; rate() and increase() over them stay right).
  const bool current = !m.figures_stale();
  if (current && m.reachable() && m.has_raft_term()) {
    w.Add(names::kMemberHasLeader, Flag(m.leader_id() != 0));
    w.Add(names::kMemberRaftTerm, static_cast<double>(m.raft_term()));
    w.Add(names::kMemberRaftIndex, static_cast<double>(m.raft_index()));
    w.Add(names::kMemberRaftAppliedIndex, static_cast<double>(m.raft_applied_index()));
    w.Add(names::kMemberApplyLag, static_cast<double>(m.apply_lag()));
    w.Add(names::kMemberRevision, static_cast<double>(m.revision()));
  }
  if (current && m.db_size_bytes() > 0) {
    w.Add(names::kDbSize, static_cast<double>(m.db_size_bytes()));
    w.Add(names::kDbSizeInUse, static_cast<double>(m.db_size_in_use_bytes()));
  }
  if (m.has_rates()) {
    // etcd's own counters, passed on as the member exposes them.
    w.Add(names::kProposalsCommitted, static_cast<double>(m.proposals_committed_total()));
    w.Add(names::kProposalsApplied, static_cast<double>(m.proposals_applied_total()));
    w.Add(names::kProposalsFailed, static_cast<double>(m.proposals_failed_total()));
    w.Add(names::kMemberLeaderChangesSeen, static_cast<double>(m.leader_changes_seen_total()));
  }
  if (current && m.has_rates()) {
    w.Add(names::kProposalsPending, static_cast<double>(m.proposals_pending()));
    w.Add(names::kRequestRate, m.rates().requests_per_second());
    w.Rates(m.rates());
  }
  if (current) {
    w.Percentiles(m.has_read_latency(), m.read_latency(), names::kReadLatencyP50,
                  names::kReadLatencyP95, names::kReadLatencyP99);
    w.Percentiles(m.has_write_latency(), m.write_latency(), names::kWriteLatencyP50,
                  names::kWriteLatencyP95, names::kWriteLatencyP99);
    w.Percentiles(m.has_wal_fsync(), m.wal_fsync(), {}, names::kWalFsyncP95, names::kWalFsyncP99);
    w.Percentiles(m.has_backend_commit(), m.backend_commit(), {}, names::kBackendCommitP95,
                  names::kBackendCommitP99);
    w.Percentiles(m.has_grpc_read_latency(), m.grpc_read_latency(), names::kGrpcReadLatencyP50,
                  names::kGrpcReadLatencyP95, names::kGrpcReadLatencyP99);
    w.Percentiles(m.has_grpc_write_latency(), m.grpc_write_latency(), names::kGrpcWriteLatencyP50,
                  names::kGrpcWriteLatencyP95, names::kGrpcWriteLatencyP99);
    if (m.db_quota_bytes() > 0) {
      w.Add(names::kDbQuotaBytes, static_cast<double>(m.db_quota_bytes()));
    }
    if (m.has_db_quota_used_percent()) {
      w.Add(names::kDbQuotaUsedPercent, m.db_quota_used_percent());
    }
    if (m.has_db_seconds_to_quota()) {
      w.Add(names::kDbSecondsToQuota, m.db_seconds_to_quota());
    }
    if (m.has_db_fragmentation_ratio()) {
      w.Add(names::kDbFragmentation, m.db_fragmentation_ratio());
    }
  }
  if (m.has_disk_used_percent()) {
    w.Add(names::kDiskUsagePercent, m.disk_used_percent());
  }
  if (m.has_memory_used_percent()) {
    w.Add(names::kMemoryUsagePercent, m.memory_used_percent());
  }
  if (m.has_certificate_expires_in_seconds()) {
    w.Add(names::kCertificateExpirySeconds,
          static_cast<double>(m.certificate_expires_in_seconds()));
  }
}

// Groups series into families (one per name, in order of first appearance).
class FamilyBuilder {
 public:
  explicit FamilyBuilder(std::string cluster) : cluster_(std::move(cluster)) {}

  prometheus::MetricFamily& Family(std::string_view name, std::string_view help, bool counter) {
    auto [it, inserted] = index_.try_emplace(std::string(name), families_.size());
    if (inserted) {
      prometheus::MetricFamily f;
      f.name = std::string(name);
      f.help = help.empty() ? std::string(name) : std::string(help);
      f.type = counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      families_.push_back(std::move(f));
    }
    return families_[it->second];
  }

  void Add(std::string_view name, std::string_view help, bool counter, double value,
           std::initializer_list<std::pair<const char*, std::string>> labels = {}) {
    prometheus::MetricFamily& f = Family(name, help, counter);
    prometheus::ClientMetric m;
    m.label.reserve(labels.size() + 1);
    m.label.push_back({"cluster", cluster_});
    for (const auto& [label, label_value] : labels) {
      m.label.push_back({label, label_value});
    }
    if (counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    f.metric.push_back(std::move(m));
  }

  // Families collected from a prometheus::Registry get the cluster label too.
  void AddForeign(prometheus::MetricFamily&& family) {
    for (prometheus::ClientMetric& m : family.metric) {
      m.label.insert(m.label.begin(), {"cluster", cluster_});
    }
    families_.push_back(std::move(family));
  }

  std::string Serialize() const {
    std::ostringstream text;
    prometheus::TextSerializer().Serialize(text, families_);
    return text.str();
  }

 private:
  std::string cluster_;
  std::vector<prometheus::MetricFamily> families_;
  std::unordered_map<std::string, size_t> index_;
};

json Latency(bool present, const v1::LatencyPercentiles& p, bool with_p50 = true) {
  if (!present) {
    return nullptr;
  }
  json j = {{"p95_ms", p.p95_ms()}, {"p99_ms", p.p99_ms()}, {"count", p.count()}};
  if (with_p50) {
    j["p50_ms"] = p.p50_ms();
  }
  return j;
}

json TimeOrNull(int64_t unix_ms) {
  return unix_ms > 0 ? json(FormatRfc3339(unix_ms)) : json(nullptr);
}

std::string HealthName(v1::MemberHealth health) {
  switch (health) {
    case v1::HEALTHY:
      return "healthy";
    case v1::UNHEALTHY:
      return "unhealthy";
    case v1::UNREACHABLE:
      return "unreachable";
    case v1::STALE:
      return "stale";
    default:
      return "unknown";
  }
}

std::string SplitBrainKindName(int kind) {
  switch (kind) {
    case v1::SAME_TERM_DIFFERENT_LEADERS:
      return "same_term_different_leaders";
    case v1::MULTIPLE_LEADERS:
      return "multiple_leaders";
    case v1::CLUSTER_ID_MISMATCH:
      return "cluster_id_mismatch";
    case v1::DIVERGENT_TERMS:
      return "divergent_terms";
    default:
      return "unspecified";
  }
}

std::string ClusterStateName(v1::ClusterState state) {
  switch (state) {
    case v1::CLUSTER_HEALTHY:
      return "healthy";
    case v1::CLUSTER_DEGRADED:
      return "degraded";
    case v1::CLUSTER_NO_LEADER:
      return "no_leader";
    case v1::CLUSTER_NO_QUORUM:
      return "no_quorum";
    case v1::CLUSTER_SPLIT_BRAIN:
      return "split_brain";
    case v1::CLUSTER_STALE:
      return "stale";
    default:
      return "unknown";
  }
}

// A value the snapshot may not know: JSON null when absent.
template <typename T>
json Known(bool present, const T& value) {
  return present ? json(value) : json(nullptr);
}

json MemberJson(const v1::MemberState& m) {
  // What the member said in its newest sample is null when that sample did not answer (or it
  // was never sampled): unknown is not zero. Figures from older samples are marked by
  // figures_stale and figures_as_of.
  json j = {
      {"id", HexId(m.id())},
      {"name", m.name()},
      {"label", MemberLabel(m)},
      {"endpoint", m.endpoint()},
      {"health", HealthName(m.health())},
      {"reason", m.reason()},
      {"is_leader", m.is_leader()},
      {"is_learner", m.is_learner()},
      {"sampled", m.sampled()},
      {"in_member_list", m.in_member_list()},
      {"reachable", m.reachable()},
      {"error", m.error()},
      {"errors", m.errors()},
      {"cluster_id", Known(m.has_cluster_id(), HexId(m.cluster_id()))},
      {"leader_id", Known(m.has_leader_id(), HexId(m.leader_id()))},
      {"raft_term", Known(m.has_raft_term(), m.raft_term())},
      {"raft_index", Known(m.has_raft_index(), m.raft_index())},
      {"raft_applied_index", Known(m.has_raft_applied_index(), m.raft_applied_index())},
      {"apply_lag", Known(m.has_apply_lag(), m.apply_lag())},
      {"revision", Known(m.has_revision(), m.revision())},
      {"db_size_bytes", Known(m.has_db_size_bytes(), m.db_size_bytes())},
      {"db_size_in_use_bytes", Known(m.has_db_size_in_use_bytes(), m.db_size_in_use_bytes())},
      {"db_quota_bytes", Known(m.db_quota_bytes() > 0, m.db_quota_bytes())},
      {"version", Known(m.has_version(), m.version())},
      {"peer_urls", m.peer_urls()},
      {"client_urls", m.client_urls()},
      {"alarms", m.alarms()},
      {"collector_id", m.collector_id()},
      {"last_sample", TimeOrNull(m.last_sample_unix_ms())},
      {"last_received", TimeOrNull(m.last_received_unix_ms())},
      {"read_latency", Latency(m.has_read_latency(), m.read_latency())},
      {"write_latency", Latency(m.has_write_latency(), m.write_latency())},
      {"figures_as_of", TimeOrNull(m.last_answered_unix_ms())},
      {"figures_stale", m.figures_stale()},
  };
  j["disk_used_percent"] = m.has_disk_used_percent() ? json(m.disk_used_percent()) : json(nullptr);
  // Why disk_used_percent is null (the member's data dir is not known here, ...); null with it.
  j["disk_unknown_reason"] =
      m.disk_unknown_reason().empty() ? json(nullptr) : json(m.disk_unknown_reason());
  j["memory_used_percent"] =
      m.has_memory_used_percent() ? json(m.memory_used_percent()) : json(nullptr);
  j["certificate_expires_in_seconds"] = m.has_certificate_expires_in_seconds()
                                            ? json(m.certificate_expires_in_seconds())
                                            : json(nullptr);
  return j;
}

json AlertJson(const v1::AlertRecord& a) {
  return {{"fingerprint", a.fingerprint()},
          {"rule", a.rule()},
          {"severity", a.severity()},
          {"state", a.state()},
          {"cluster", a.cluster()},
          {"member", a.member()},
          {"summary", a.summary()},
          {"started_at", TimeOrNull(a.started_unix_ms())},
          {"resolved_at", TimeOrNull(a.resolved_unix_ms())}};
}

}  // namespace

std::string FormatRfc3339(int64_t unix_ms) {
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

std::string HexId(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string MemberLabel(const v1::MemberState& m) {
  if (!m.name().empty()) {
    return m.name();
  }
  if (m.id() != 0) {
    return HexId(m.id());
  }
  return m.endpoint();
}

EtcdReachability ReachabilityOf(const v1::ClusterSnapshot& snapshot) {
  EtcdReachability out;
  if (snapshot.members_size() == 0) {
    out.detail = "no etcd member known yet";
    return out;
  }
  int answering = 0;
  std::string first_error;
  for (const v1::MemberState& m : snapshot.members()) {
    if (m.reachable() && m.health() != v1::UNREACHABLE && m.health() != v1::STALE) {
      ++answering;
    } else if (first_error.empty()) {
      const std::string& why = !m.error().empty() ? m.error() : m.reason();
      first_error = MemberLabel(m) + ": " + (why.empty() ? std::string("no answer") : why);
    }
  }
  const std::string counts =
      std::to_string(answering) + " of " + std::to_string(snapshot.members_size());
  out.ok = answering > 0;
  out.detail = out.ok ? counts + " members answer"
                      : "no etcd member answers: " + counts + " reachable (" + first_error + ")";
  return out;
}

void SnapshotSeries(const v1::ClusterSnapshot& snapshot, std::vector<Series>& out) {
  ClusterSeries(snapshot, out);
  for (const v1::MemberState& m : snapshot.members()) {
    MemberSeries(m, out);
  }
}

std::string RenderPrometheus(const v1::ClusterSnapshot* snapshot, const ServiceState& state,
                             std::vector<prometheus::MetricFamily> own,
                             const std::string& cluster_fallback) {
  FamilyBuilder b(snapshot != nullptr && !snapshot->cluster().empty() ? snapshot->cluster()
                                                                      : cluster_fallback);
  if (snapshot != nullptr) {
    std::vector<Series> series;
    series.reserve(64 + 48 * static_cast<size_t>(snapshot->members_size()));
    SnapshotSeries(*snapshot, series);
    for (const Series& s : series) {
      if (s.member.empty()) {
        b.Add(s.name, s.help, s.counter, s.value);
      } else {
        b.Add(s.name, s.help, s.counter, s.value, {{"member", s.member}});
      }
    }
    for (const v1::AlarmState& alarm : snapshot->alarm_details()) {
      const std::string member =
          alarm.member_name().empty() ? HexId(alarm.member_id()) : alarm.member_name();
      b.Add(kMemberAlarm, "1 while the member has this etcd alarm raised", false, 1.0,
            {{"member", member}, {"type", alarm.type()}});
    }
    for (const v1::CollectorState& c : snapshot->collectors()) {
      b.Add(kCollectorUp, "1 when the collector sent a sample within 3 intervals", false,
            Flag(!c.stale()), {{"collector", c.id()}});
      b.Add(kCollectorSamples, "Samples the aggregator took from the collector", true,
            static_cast<double>(c.samples_received()), {{"collector", c.id()}});
      if (c.has_stats()) {
        b.Add(kCollectorQueue, "Batches the collector holds unacknowledged", false,
              static_cast<double>(c.queue_depth()), {{"collector", c.id()}});
        b.Add(kCollectorDropped, "Batches the collector dropped (queue full)", true,
              static_cast<double>(c.dropped_batches_total()), {{"collector", c.id()}});
        b.Add(kCollectorResent, "Batches the collector resent", true,
              static_cast<double>(c.resent_batches_total()), {{"collector", c.id()}});
        b.Add(kCollectorErrors, "Errors of the collector's sources", true,
              static_cast<double>(c.errors_total()), {{"collector", c.id()}});
      }
    }
  }
  if (state.has_snapshot) {
    b.Add(kSnapshotAge, "Seconds since the tick of the newest cluster snapshot", false,
          state.snapshot_age_seconds);
  }
  b.Add(kAggregatorUp, "1 when the aggregator answers and reports itself healthy", false,
        Flag(state.aggregator_up));
  if (state.alerter_configured) {
    b.Add(kAlerterUp, "1 when the alerter answers", false, Flag(state.alerter_up));
    for (const auto& [severity, count] : state.firing_by_severity) {
      b.Add(kAlertsFiring, "Alerts firing, by severity", false, static_cast<double>(count),
            {{"severity", severity}});
    }
  }
  for (prometheus::MetricFamily& f : own) {
    b.AddForeign(std::move(f));
  }
  return b.Serialize();
}

std::string RenderStatusJson(const v1::ClusterSnapshot& s) {
  json evidence = json::array();
  for (const v1::Evidence& e : s.split_brain().evidence()) {
    evidence.push_back({{"member_id", HexId(e.member_id())},
                        {"member_name", e.member_name()},
                        {"statement", e.statement()},
                        {"kind", SplitBrainKindName(e.kind())},
                        {"raft_term", e.raft_term()},
                        {"leader_id", HexId(e.leader_id())},
                        {"cluster_id", HexId(e.cluster_id())},
                        {"sample_time", TimeOrNull(e.sample_unix_ms())}});
  }
  json kinds = json::array();
  for (int kind : s.split_brain().kinds()) {
    kinds.push_back(SplitBrainKindName(kind));
  }
  json alarms = json::array();
  for (const v1::AlarmState& a : s.alarm_details()) {
    alarms.push_back({{"member_id", HexId(a.member_id())},
                      {"member_name", a.member_name()},
                      {"type", a.type()}});
  }
  json healthy_members = json::array();
  for (const v1::MemberState& m : s.members()) {
    if (m.health() == v1::HEALTHY) {
      healthy_members.push_back(MemberLabel(m));
    }
  }
  json leader = nullptr;
  if (s.has_leader()) {
    leader = {
        {"id", HexId(s.leader_id())}, {"name", s.leader_name()}, {"endpoint", s.leader_endpoint()}};
  }
  json j = {
      {"cluster", s.cluster()},
      {"cluster_id", HexId(s.cluster_id())},
      {"state", ClusterStateName(s.state())},
      {"healthy", s.healthy()},
      {"degraded", s.degraded()},
      {"health_reason", s.health_reason()},
      {"has_leader", s.has_leader()},
      {"leader", leader},
      {"raft_term", s.raft_term()},
      {"member_count", s.member_count()},
      {"voting_members", s.voting_members()},
      {"learners", s.learners()},
      {"quorum_size", s.quorum_size()},
      {"quorum_ok", s.quorum_ok()},
      {"healthy_members", s.healthy_members()},
      {"healthy_member_names", healthy_members},
      {"unreachable_members", s.unreachable_members()},
      {"stale_members", s.stale_members()},
      {"fresh_members", s.fresh_members()},
      {"split_brain",
       {{"detected", s.split_brain().detected()},
        {"reason", s.split_brain().reason()},
        {"kinds", kinds},
        {"evidence", evidence}}},
      {"leader_changes", s.leader_changes_total()},
      {"leader_changes_from_counters", s.leader_changes_from_counters()},
      {"leader_changes_observed", s.leader_changes_observed()},
      {"alarms", alarms},
      {"last_update", FormatRfc3339(s.tick_unix_ms())},
  };
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RenderMembersJson(const v1::ClusterSnapshot& s) {
  json members = json::array();
  for (const v1::MemberState& m : s.members()) {
    members.push_back(MemberJson(m));
  }
  json j = {{"cluster", s.cluster()},
            {"member_count", s.member_count()},
            {"members", members},
            {"last_update", FormatRfc3339(s.tick_unix_ms())}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RenderLeaderJson(const v1::ClusterSnapshot& s) {
  json leader = nullptr;
  if (s.has_leader()) {
    for (const v1::MemberState& m : s.members()) {
      if (m.id() == s.leader_id()) {
        leader = MemberJson(m);
        break;
      }
    }
    if (leader.is_null()) {
      leader = {{"id", HexId(s.leader_id())},
                {"name", s.leader_name()},
                {"endpoint", s.leader_endpoint()}};
    }
  }
  json j = {{"cluster", s.cluster()},
            {"has_leader", s.has_leader()},
            {"leader", leader},
            {"raft_term", s.raft_term()},
            {"leader_agreement", s.leader_agreement()},
            {"leader_followers", s.leader_followers()},
            {"leader_changes", s.leader_changes_total()},
            {"last_update", FormatRfc3339(s.tick_unix_ms())}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RenderCurrentJson(const v1::ClusterSnapshot& s, const std::vector<Series>& series) {
  json cluster = json::object();
  json members = json::object();
  for (const Series& v : series) {
    if (v.member.empty()) {
      cluster[std::string(v.name)] = v.value;
    } else {
      members[v.member][std::string(v.name)] = v.value;
    }
  }
  json j = {{"cluster", s.cluster()},
            {"cluster_metrics", cluster},
            {"members", members},
            {"last_update", FormatRfc3339(s.tick_unix_ms())}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RenderLatencyJson(const v1::ClusterSnapshot& s) {
  json members = json::array();
  for (const v1::MemberState& m : s.members()) {
    // The windows of a member that does not answer now are kept, marked stale.
    members.push_back(
        {{"member", MemberLabel(m)},
         {"read", Latency(m.has_read_latency(), m.read_latency())},
         {"write", Latency(m.has_write_latency(), m.write_latency())},
         {"wal_fsync", Latency(m.has_wal_fsync(), m.wal_fsync(), false)},
         {"backend_commit", Latency(m.has_backend_commit(), m.backend_commit(), false)},
         {"figures_as_of", TimeOrNull(m.last_answered_unix_ms())},
         {"figures_stale", m.figures_stale()}});
  }
  json j = {{"cluster", s.cluster()},
            {"read", Latency(s.has_read_latency(), s.read_latency())},
            {"write", Latency(s.has_write_latency(), s.write_latency())},
            {"wal_fsync", Latency(s.has_wal_fsync(), s.wal_fsync(), false)},
            {"backend_commit", Latency(s.has_backend_commit(), s.backend_commit(), false)},
            {"members", members},
            {"last_update", FormatRfc3339(s.tick_unix_ms())}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RenderAlertsJson(const google::protobuf::RepeatedPtrField<v1::AlertRecord>& alerts,
                             const std::string& next_page_token, bool with_token) {
  json list = json::array();
  for (const v1::AlertRecord& a : alerts) {
    list.push_back(AlertJson(a));
  }
  json j = {{"alerts", list}};
  if (with_token) {
    j["next_page_token"] = next_page_token;
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {
json SilenceJson(const v1::Silence& s) {
  return {{"id", s.id()},
          {"rule", s.rule()},
          {"member", s.member()},
          {"comment", s.comment()},
          {"created_at", TimeOrNull(s.created_unix_ms())},
          {"expires_at", TimeOrNull(s.expires_unix_ms())}};
}
}  // namespace

std::string RenderSilencesJson(const v1::ListSilencesResponse& silences) {
  json list = json::array();
  for (const v1::Silence& s : silences.silences()) {
    list.push_back(SilenceJson(s));
  }
  return json{{"silences", list}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RenderSilenceJson(const v1::Silence& silence) {
  return SilenceJson(silence).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string RenderHistoryJson(const v1::HistoryResponse& h) {
  json points = json::array();
  for (const v1::HistoryPoint& p : h.points()) {
    points.push_back({{"time", FormatRfc3339(p.unix_ms())},
                      {"value", p.value()},
                      {"min", p.min()},
                      {"max", p.max()},
                      {"count", p.count()}});
  }
  json j = {{"metric", h.metric()},
            {"member", h.member()},
            {"resolution", h.resolution()},
            {"points", points}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace etcdmon::gateway::detail
