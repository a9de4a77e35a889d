#include "render.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "etcdmon/metrics/catalogue.h"
#include "etcdmon/metrics/member.h"
#include "etcdmon/metrics/snapshot_values.h"

namespace etcdmon::gateway::detail {
namespace {

namespace v1 = etcdmonitor::v1;
using nlohmann::json;

double Flag(bool b) { return b ? 1.0 : 0.0; }

constexpr std::string_view kIdentityConflicts = "etcd_monitor_cluster_identity_conflicts_total";
constexpr std::string_view kIdentityConflictsHelp =
    "Samples the aggregator refused because their identity contradicts the cluster's (another "
    "etcd cluster id, or a member seen under another cluster name)";

// The catalogue entry of one of the services' own metrics, found at compile time.
template <const std::string_view& kName>
const metrics::MetricInfo& Own() {
  static_assert(metrics::IsServiceMetric(kName), "not in the catalogue");
  static constexpr const metrics::MetricInfo* kInfo = metrics::FindServiceMetric(kName);
  return *kInfo;
}

// Collects the snapshot's values that are current. A member that does not answer now keeps
// older figures in the snapshot; they are not exported as if current (what lasts, etcd's
// counters and the host's figures, is).
class SeriesCollector final : public metrics::SnapshotVisitor {
 public:
  explicit SeriesCollector(std::vector<Series>& out) : out_(out) {}

  void BeginMember(const v1::MemberState& member) override {
    member_ = metrics::MemberLabel(member);
  }

  void Value(const metrics::MetricInfo& metric, double value, metrics::ValueSource /*source*/,
             bool current) override {
    if (!current || !std::isfinite(value)) {
      return;
    }
    out_.push_back(Series{metric.name, metric.help, metric.kind == metrics::MetricKind::kCounter,
                          member_, value});
  }

 private:
  std::vector<Series>& out_;
  std::string member_;  // "" for the cluster's values
};

// Groups series into families (one per name, in order of first appearance), whatever order
// the series come in: the samples of one family stay together across clusters, as the text
// format requires.
class FamilyBuilder {
 public:
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

  // `cluster` empty: no cluster label (the aggregator-wide series).
  void Add(const std::string& cluster, std::string_view name, std::string_view help, bool counter,
           double value, std::initializer_list<std::pair<const char*, std::string>> labels = {}) {
    prometheus::MetricFamily& f = Family(name, help, counter);
    prometheus::ClientMetric m;
    m.label.reserve(labels.size() + 1);
    if (!cluster.empty()) {
      m.label.push_back({"cluster", cluster});
    }
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

  void Add(const std::string& cluster, const metrics::MetricInfo& metric, double value,
           std::initializer_list<std::pair<const char*, std::string>> labels = {}) {
    Add(cluster, metric.name, metric.help, metric.kind == metrics::MetricKind::kCounter, value,
        labels);
  }

  // Families collected from a prometheus::Registry, with the cluster label when not empty.
  void AddForeign(prometheus::MetricFamily&& family, const std::string& cluster) {
    if (!cluster.empty()) {
      for (prometheus::ClientMetric& m : family.metric) {
        m.label.insert(m.label.begin(), {"cluster", cluster});
      }
    }
    families_.push_back(std::move(family));
  }

  std::string Serialize() const {
    std::ostringstream text;
    prometheus::TextSerializer().Serialize(text, families_);
    return text.str();
  }

 private:
  std::vector<prometheus::MetricFamily> families_;
  std::unordered_map<std::string, size_t> index_;
};

// Every current value of one cluster's snapshot, with its cluster label.
void AddSnapshotSeries(FamilyBuilder& b, const std::string& cluster,
                       const v1::ClusterSnapshot& snapshot,
                       const std::vector<Series>* kept_series = nullptr) {
  std::vector<Series> computed;
  if (kept_series == nullptr) {
    computed.reserve(64 + 48 * static_cast<size_t>(snapshot.members_size()));
    SnapshotSeries(snapshot, computed);
  }
  const std::vector<Series>& series = kept_series != nullptr ? *kept_series : computed;
  for (const Series& s : series) {
    if (s.member.empty()) {
      b.Add(cluster, s.name, s.help, s.counter, s.value);
    } else {
      b.Add(cluster, s.name, s.help, s.counter, s.value, {{"member", s.member}});
    }
  }
  for (const v1::AlarmState& alarm : snapshot.alarm_details()) {
    const std::string member =
        alarm.member_name().empty() ? HexId(alarm.member_id()) : alarm.member_name();
    b.Add(cluster, Own<metrics::kMemberAlarm>(), 1.0, {{"member", member}, {"type", alarm.type()}});
  }
  for (const v1::CollectorState& c : snapshot.collectors()) {
    b.Add(cluster, Own<metrics::kCollectorUp>(), Flag(!c.stale()), {{"collector", c.id()}});
    b.Add(cluster, Own<metrics::kCollectorSamples>(), static_cast<double>(c.samples_received()),
          {{"collector", c.id()}});
    if (c.has_stats()) {
      b.Add(cluster, Own<metrics::kCollectorQueue>(), static_cast<double>(c.queue_depth()),
            {{"collector", c.id()}});
      b.Add(cluster, Own<metrics::kCollectorDropped>(),
            static_cast<double>(c.dropped_batches_total()), {{"collector", c.id()}});
      b.Add(cluster, Own<metrics::kCollectorResent>(),
            static_cast<double>(c.resent_batches_total()), {{"collector", c.id()}});
      b.Add(cluster, Own<metrics::kCollectorErrors>(), static_cast<double>(c.errors_total()),
            {{"collector", c.id()}});
    }
  }
  // Sorted: a protobuf map has no stable order, a scrape should.
  const std::map<std::string, uint64_t> rejected(snapshot.ingest_rejected().begin(),
                                                 snapshot.ingest_rejected().end());
  for (const auto& [reason, count] : rejected) {
    b.Add(cluster, Own<metrics::kIngestRejected>(), static_cast<double>(count),
          {{"reason", reason}});
  }
  b.Add(cluster, Own<metrics::kStorageFailures>(),
        static_cast<double>(snapshot.storage().failures_total()));
  b.Add(cluster, Own<metrics::kStorageFailing>(), Flag(snapshot.storage().failing()));
  b.Add(cluster, kIdentityConflicts, kIdentityConflictsHelp, /*counter=*/true,
        static_cast<double>(snapshot.identity_conflicts_total()));
}

// The remote_write sender's figures: aggregator-wide, so without a cluster label.
void AddRemoteWrite(FamilyBuilder& b, const v1::RemoteWriteState& rw) {
  const std::string none;
  b.Add(none, "etcd_monitor_remote_write_samples_sent_total",
        "Samples the aggregator's remote_write sender delivered", true,
        static_cast<double>(rw.samples_sent_total()));
  b.Add(none, "etcd_monitor_remote_write_samples_rejected_total",
        "Samples the remote_write receiver refused (4xx)", true,
        static_cast<double>(rw.samples_rejected_total()));
  b.Add(none, "etcd_monitor_remote_write_samples_dropped_total",
        "Samples pruned by retention before the remote_write sender sent them", true,
        static_cast<double>(rw.samples_dropped_total()));
  b.Add(none, "etcd_monitor_remote_write_failures_total",
        "remote_write requests that failed and are retried", true,
        static_cast<double>(rw.failures_total()));
  b.Add(none, "etcd_monitor_remote_write_lag_seconds",
        "Seconds between now and the oldest point not yet sent (0: caught up)", false,
        rw.lag_seconds());
  b.Add(none, "etcd_monitor_remote_write_last_success_timestamp_seconds",
        "Unix time of the newest successful remote_write request (0: none since start)", false,
        static_cast<double>(rw.last_success_unix_ms()) / 1000.0);
}

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

}  // namespace

json TimeOrNull(int64_t unix_ms) {
  return unix_ms > 0 ? json(FormatRfc3339(unix_ms)) : json(nullptr);
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
      {"health", metrics::HealthName(m.health())},
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
  SeriesCollector collector(out);
  metrics::VisitSnapshot(snapshot, collector);
}

std::string RenderFleetPrometheus(
    const std::vector<ClusterExport>& clusters, const FleetServices& services,
    std::vector<prometheus::MetricFamily> own, const std::string& cluster_fallback,
    const std::vector<std::pair<std::string, uint64_t>>& fallback_firing) {
  FamilyBuilder b;
  for (const ClusterExport& c : clusters) {
    if (!c.stale) {
      AddSnapshotSeries(b, c.name, *c.snapshot, c.series);
    }
  }
  for (const ClusterExport& c : clusters) {
    b.Add(c.name, Own<metrics::kSnapshotAge>(), c.age_seconds);
    b.Add(c.name, Own<metrics::kSnapshotStale>(), Flag(c.stale));
  }
  // The services' series, per cluster (a dashboard filters them by its cluster).
  std::vector<const std::string*> labels;
  for (const ClusterExport& c : clusters) {
    labels.push_back(&c.name);
  }
  if (clusters.empty()) {
    labels.push_back(&cluster_fallback);
  }
  for (const std::string* label : labels) {
    b.Add(*label, Own<metrics::kAggregatorUp>(), Flag(services.aggregator_up));
  }
  if (services.alerter_configured) {
    for (const std::string* label : labels) {
      b.Add(*label, Own<metrics::kAlerterUp>(), Flag(services.alerter_up));
    }
    for (const ClusterExport& c : clusters) {
      for (const auto& [severity, count] :
           c.firing_by_severity.value_or(std::vector<std::pair<std::string, uint64_t>>{})) {
        b.Add(c.name, Own<metrics::kAlertsFiring>(), static_cast<double>(count),
              {{"severity", severity}});
      }
    }
    if (clusters.empty()) {
      for (const auto& [severity, count] : fallback_firing) {
        b.Add(cluster_fallback, Own<metrics::kAlertsFiring>(), static_cast<double>(count),
              {{"severity", severity}});
      }
    }
  }
  // The sender serves every cluster: its figures once, from the newest snapshot carrying them.
  const v1::ClusterSnapshot* remote_write = nullptr;
  for (const ClusterExport& c : clusters) {
    if (c.snapshot->has_remote_write() &&
        (remote_write == nullptr || c.snapshot->tick_unix_ms() > remote_write->tick_unix_ms())) {
      remote_write = c.snapshot;
    }
  }
  if (remote_write != nullptr) {
    AddRemoteWrite(b, remote_write->remote_write());
  }
  const std::string& own_label = clusters.size() == 1 ? clusters.front().name
                                 : clusters.empty()   ? cluster_fallback
                                                      : std::string();
  for (prometheus::MetricFamily& f : own) {
    b.AddForeign(std::move(f), own_label);
  }
  return b.Serialize();
}

std::string RenderPrometheus(const v1::ClusterSnapshot* snapshot, const ServiceState& state,
                             std::vector<prometheus::MetricFamily> own,
                             const std::string& cluster_fallback) {
  FleetServices services;
  services.aggregator_up = state.aggregator_up;
  services.alerter_configured = state.alerter_configured;
  services.alerter_up = state.alerter_up;
  std::vector<ClusterExport> clusters;
  if (snapshot != nullptr && state.has_snapshot) {
    ClusterExport c;
    c.snapshot = snapshot;
    c.name = !snapshot->cluster().empty() ? snapshot->cluster() : cluster_fallback;
    c.stale = state.snapshot_stale;
    c.age_seconds = state.snapshot_age_seconds;
    c.firing_by_severity = state.firing_by_severity;
    clusters.push_back(std::move(c));
    return RenderFleetPrometheus(clusters, services, std::move(own), cluster_fallback);
  }
  if (snapshot != nullptr) {
    // A snapshot without its age (the renderer's tests): its values, no age series.
    FamilyBuilder b;
    const std::string name = !snapshot->cluster().empty() ? snapshot->cluster() : cluster_fallback;
    if (!state.snapshot_stale) {
      AddSnapshotSeries(b, name, *snapshot);
    }
    b.Add(name, Own<metrics::kAggregatorUp>(), Flag(state.aggregator_up));
    if (state.alerter_configured) {
      b.Add(name, Own<metrics::kAlerterUp>(), Flag(state.alerter_up));
      for (const auto& [severity, count] : state.firing_by_severity) {
        b.Add(name, Own<metrics::kAlertsFiring>(), static_cast<double>(count),
              {{"severity", severity}});
      }
    }
    if (snapshot->has_remote_write()) {
      AddRemoteWrite(b, snapshot->remote_write());
    }
    for (prometheus::MetricFamily& f : own) {
      b.AddForeign(std::move(f), name);
    }
    return b.Serialize();
  }
  return RenderFleetPrometheus(clusters, services, std::move(own), cluster_fallback,
                               state.firing_by_severity);
}

Freshness FreshnessOf(const v1::ClusterSnapshot& snapshot, int64_t now_unix_ms,
                      std::chrono::milliseconds fallback) {
  const int64_t allowed =
      snapshot.tick_interval_ms() > 0 ? 3 * snapshot.tick_interval_ms() : fallback.count();
  Freshness f;
  const int64_t age = now_unix_ms - snapshot.tick_unix_ms();
  f.age_seconds = std::max<double>(0, static_cast<double>(age) / 1000.0);
  f.stale_since_unix_ms = snapshot.tick_unix_ms() + allowed;
  f.stale = age > allowed;
  return f;
}

std::string RenderStatusJson(const v1::ClusterSnapshot& s, const Freshness& freshness) {
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
      {"starting_up", s.starting_up()},
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
      {"stale", freshness.stale},
      {"stale_since",
       freshness.stale ? json(FormatRfc3339(freshness.stale_since_unix_ms)) : json()},
      {"snapshot_age_seconds", freshness.age_seconds},
  };
  if (freshness.stale) {
    // The aggregator stopped publishing: what it last said is history, not the cluster's state.
    j["state"] = "stale";
    j["healthy"] = false;
    j["health_reason"] = "no snapshot from the aggregator since " +
                         FormatRfc3339(s.tick_unix_ms()) + ": the data is stale";
  }
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

std::string ClusterStateWord(const v1::ClusterSnapshot& snapshot, const Freshness& freshness) {
  return freshness.stale ? "stale" : ClusterStateName(snapshot.state());
}

namespace {

// The order of GET /api/v1/clusters: the worst state first.
int StateRank(const std::string& state) {
  if (state == "no_quorum" || state == "split_brain") {
    return 0;
  }
  if (state == "no_leader") {
    return 1;
  }
  if (state == "stale") {
    return 2;
  }
  if (state == "degraded") {
    return 3;
  }
  if (state == "healthy") {
    return 5;
  }
  return 4;  // unknown
}

}  // namespace

std::string RenderClustersJson(const std::vector<ClusterSummary>& clusters) {
  struct Row {
    int rank;
    uint64_t critical;
    const std::string* name;
    json document;
  };
  std::vector<Row> rows;
  rows.reserve(clusters.size());
  for (const ClusterSummary& c : clusters) {
    const v1::ClusterSnapshot& s = *c.snapshot;
    const std::string state = ClusterStateWord(s, c.freshness);
    json firing = nullptr;
    uint64_t critical = 0;
    if (c.firing.has_value()) {
      firing = json::object();
      for (const char* severity : {"critical", "warning", "info"}) {
        auto it = c.firing->find(severity);
        firing[severity] = it != c.firing->end() ? it->second : 0;
      }
      critical = firing["critical"].get<uint64_t>();
    }
    json row = {{"name", c.name},
                {"state", state},
                {"healthy", s.healthy() && !c.freshness.stale},
                {"cluster_id", HexId(s.cluster_id())},
                {"leader", s.has_leader() ? json(s.leader_name()) : json(nullptr)},
                {"members_up", s.healthy_members()},
                {"members_total", s.member_count()},
                {"quorum_ok", s.quorum_ok()},
                {"alerts_firing", firing},
                {"last_update_unix_ms", s.tick_unix_ms()},
                {"last_update", FormatRfc3339(s.tick_unix_ms())}};
    rows.push_back(Row{StateRank(state), critical, &c.name, std::move(row)});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    if (a.rank != b.rank) {
      return a.rank < b.rank;
    }
    if (a.critical != b.critical) {
      return a.critical > b.critical;
    }
    return *a.name < *b.name;
  });
  json list = json::array();
  for (Row& r : rows) {
    list.push_back(std::move(r.document));
  }
  const size_t count = list.size();
  json j = {{"clusters", std::move(list)}, {"count", count}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace etcdmon::gateway::detail
