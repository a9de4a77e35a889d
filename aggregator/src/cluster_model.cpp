#include "etcdmon/aggregator/cluster_model.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "etcdmon/metrics/member.h"
#include "etcdmon/proto/schema.h"
#include "etcdmonitor/v1/samples.pb.h"
#include "etcdmonitor/v1/snapshot.pb.h"
#include "model_judge.h"
#include "model_member.h"
#include "model_points.h"
#include "model_registry.h"
#include "model_snapshot.h"

namespace etcdmon::aggregator {
namespace {

namespace v1 = etcdmonitor::v1;
using detail::MemberRecord;

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

// The model is three parts over one member registry: the registry folds samples in (identity,
// per-sample derivations), the judge decides leadership and health, the builder fills the
// snapshot. A tick runs registry, judge and builder steps in a fixed order (Tick).
struct ClusterModel::Impl {
  Impl(ModelConfig c, Clock& clk);

  bool Ingest(std::string_view collector_id, const v1::MemberSample& sample);
  void Tick(v1::ClusterSnapshot& out, std::vector<DerivedPoint>& points);
  bool StartupComplete(int64_t now) const;

  // Set once in the constructor.
  const ModelConfig config;
  Clock& clock;
  const int64_t created_ms;
  const int64_t startup_grace_ms;  // the stale threshold: kStaleIntervals intervals

  std::mutex mu;
  // Everything below is guarded by mu. Declared in dependency order: the judge and the builder
  // hold references to what comes before them.
  detail::MemberRegistry registry;
  detail::ClusterJudge judge;
  detail::SnapshotBuilder builder;
  bool starting_up = true;            // see ClusterModel::ExpectMembers; never true again
  std::vector<std::string> expected;  // labels of the members a previous run sampled last
};

ClusterModel::Impl::Impl(ModelConfig c, Clock& clk)
    : config(std::move(c)),
      clock(clk),
      created_ms(UnixMs(clock.Now())),
      startup_grace_ms(detail::kStaleIntervals *
                       std::max<int64_t>(1, config.expected_interval.count())),
      registry(std::max<int64_t>(1, config.expected_interval.count()),
               std::max<int64_t>(1, config.latency_window.count()),
               {std::max<int64_t>(1, config.max_clock_skew.count()),
                std::max<int64_t>(1, config.forget_after.count()),
                std::max<std::size_t>(1, config.max_members)}),
      judge(registry, std::max<int64_t>(1, config.term_conflict_grace.count())),
      builder(registry, judge, std::max<int64_t>(1, config.latency_window.count())) {}

bool ClusterModel::Impl::Ingest(std::string_view collector_id, const v1::MemberSample& sample) {
  std::lock_guard<std::mutex> lock(mu);
  return registry.Ingest(collector_id, sample, UnixMs(clock.Now()));
}

void ClusterModel::Impl::Tick(v1::ClusterSnapshot& out, std::vector<DerivedPoint>& points) {
  std::lock_guard<std::mutex> lock(mu);
  const int64_t now = UnixMs(clock.Now());
  out.Clear();
  out.set_schema_version(proto::kSchemaVersion);
  out.set_cluster(config.cluster);
  out.set_tick_unix_ms(now);

  if (starting_up && StartupComplete(now)) {
    starting_up = false;
    expected.clear();
    expected.shrink_to_fit();
  }
  out.set_starting_up(starting_up);
  registry.Classify(now, /*count_unidentified=*/!starting_up);
  const detail::LeaderChoice leader = judge.JudgeLeadership(out);
  judge.CollectAlarms();
  const uint32_t known_down = judge.JudgeMembers(now, out);
  judge.CountLeaderChanges(leader, out);
  builder.LatencyWindows(now, out);
  builder.FillMembers(now, out);
  builder.FillDivergence(*out.mutable_divergence());
  judge.Verdict(known_down, out);
  builder.FillCollectors(now, out);

  detail::AppendClusterPoints(out, points);
  for (int i = 0; i < out.members_size(); ++i) {
    MemberRecord& r = *registry.members()[static_cast<std::size_t>(i)];
    if (!r.dirty && r.health == r.emitted_health) {
      continue;
    }
    // Rates and histogram windows belong to the sample they were computed at.
    const bool new_rates = r.dirty && r.rates.valid && r.latest.at_ms == r.sample_ms;
    detail::AppendMemberPoints(out.members(i), r.label, r.dirty, new_rates, now, points);
    r.emitted_health = r.health;
    r.dirty = false;
  }
}

bool ClusterModel::Impl::StartupComplete(int64_t now) const {
  if (now - created_ms >= startup_grace_ms) {
    return true;  // bounded: a member without a collector, or all down, waits no longer
  }
  bool any_list = false;
  for (const auto& r : registry.members()) {
    if (!r->sampled) {
      return false;  // named by a member list, no sample of it yet
    }
    any_list = any_list || r->has_member_list;
  }
  if (!any_list) {
    return false;  // the membership is not known yet
  }
  // A previous run may have labelled a member otherwise than the member lists name it now (by
  // its endpoint while it was down): any of its identities will do.
  for (const std::string& label : expected) {
    const bool seen = std::any_of(registry.members().begin(), registry.members().end(),
                                  [&](const std::unique_ptr<MemberRecord>& r) {
                                    return r->name == label || r->endpoint == label ||
                                           (r->id != 0 && metrics::HexId(r->id) == label);
                                  });
    if (!seen) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

ClusterModel::ClusterModel(ModelConfig config, Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(config), clock)) {}

ClusterModel::~ClusterModel() = default;

bool ClusterModel::Ingest(std::string_view collector_id, const v1::MemberSample& sample) {
  return impl_->Ingest(collector_id, sample);
}

void ClusterModel::ExpectMembers(std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  labels.erase(std::remove(labels.begin(), labels.end(), std::string()), labels.end());
  impl_->expected = std::move(labels);
}

void ClusterModel::IngestStats(std::string_view collector_id, const v1::CollectorStats& stats) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->registry.IngestStats(collector_id, stats, UnixMs(impl_->clock.Now()));
}

void ClusterModel::Tick(v1::ClusterSnapshot& out, std::vector<DerivedPoint>& points) {
  impl_->Tick(out, points);
}

void ClusterModel::SamplePoints(const v1::MemberSample& sample, std::vector<DerivedPoint>& out) {
  detail::AppendSamplePoints(sample, out);
}

}  // namespace etcdmon::aggregator
