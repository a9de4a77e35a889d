#include "etcdmon/aggregator/service.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "cluster_identity.h"
#include "etcdmon/aggregator/startup.h"
#include "etcdmon/files/directory_lock.h"
#include "etcdmon/files/private_files.h"
#include "etcdmon/metrics/catalogue.h"
#include "etcdmon/rpc/server.h"
#include "etcdmon/transport/batch_receiver.h"
#include "etcdmon/transport/collector_keys.h"
#include "etcdmon/transport/snapshot_channel.h"
#include "history_schema.h"
#include "model_points.h"
#include "monitor_grpc.h"
#include "tick_points_hold.h"

namespace etcdmon::aggregator {

namespace {

// gRPC servers get this long to finish in-flight calls on Stop().
constexpr std::chrono::milliseconds kGrpcShutdownGrace{500};
// Bounds of the ingest path's series id cache (AggregatorService::Impl::sample_series): members
// (labels come from collectors), and entries per member (a sample yields fewer metrics).
constexpr std::size_t kMaxCachedMembers = 4096;
constexpr std::size_t kMaxCachedSeriesPerMember = 256;
// How often the ingest path looks for cache entries of members gone for the raw retention.
constexpr int64_t kCacheSweepEveryMs = 60 * 1000;
// The store counts as failing while a write failed within this many ticks: on a full disk some
// writes still pass (SQLite reuses the WAL's space after a checkpoint), and the state must not
// flap with them.
constexpr int64_t kStorageFailingForTicks = 30;
// Collectors whose latest taken sequence the ingest path remembers at once (model_taken).
constexpr std::size_t kMaxModelTakenCollectors = 4096;
// Ticks whose points may wait for the store; beyond, the oldest tick's are dropped (counted).
constexpr size_t kMaxTicksToStore = 120;
// Rows of roll-up and retention work per maintenance step (HistoryStore::Maintain's budget).
constexpr size_t kMaintenanceStepRows = 2000;
// How long an identity binding (a cluster name's etcd cluster id, a member's cluster) holds
// without a sample confirming it; see ClusterIdentity.
constexpr std::chrono::minutes kIdentityHold{5};
// Identity conflicts a snapshot lists: those refused this recently.
constexpr int64_t kConflictListMs = 10 * 60 * 1000;
// At most this many cluster names in an error message.
constexpr std::size_t kMaxNamesInError = 20;

// Says loudly, once at start, when anyone who reaches the ingest socket can send as any collector.
void WarnAboutOpenIngest(const AggregatorConfig& c, spdlog::logger& logger) {
  if (c.ingest_endpoint.rfind("inproc://", 0) == 0) {
    return;  // inside one process (the all-in-one binary): nothing to reach from outside
  }
  if (c.curve_secret_key.empty()) {
    logger.warn(
        "ingest_unauthenticated curve=off listen={} risk=\"anyone who can reach this endpoint can "
        "send samples as any collector\" fix=\"give --curve-secret-key-file and --collector-keys "
        "(etcd-monitor keygen)\"",
        c.ingest_endpoint);
  } else if (c.collector_keys_file.empty()) {
    logger.warn(
        "ingest_any_key_accepted curve=on collector_keys=none listen={} risk=\"any client that "
        "knows this server's public key can send samples as any collector\" fix=\"give "
        "--collector-keys FILE\"",
        c.ingest_endpoint);
  }
}

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

struct AggregatorService::Impl {
  AggregatorConfig config;
  std::shared_ptr<spdlog::logger> logger;
  Clock& clock;

  // Construction order is dependency order; destruction runs backwards, so the store outlives
  // everything that writes to it, and the lock (one process per history file) the store.
  std::unique_ptr<files::DirectoryLock> history_lock;
  std::unique_ptr<HistoryStore> store;
  // Reads the history on its own connection; stopped before the store closes. Null: off.
  std::unique_ptr<RemoteWriteSender> remote_write;
  // One model per cluster. The map is guarded by clusters_mu; an entry is shared so that the
  // ingest and gRPC threads can use one the tick thread forgets meanwhile.
  struct ClusterEntry {
    ClusterEntry(std::string n, const ModelConfig& model_config, Clock& clock)
        : name(std::move(n)), model(WithName(model_config, name), clock) {}
    static ModelConfig WithName(ModelConfig c, const std::string& name) {
      c.cluster = name;
      return c;
    }
    const std::string name;
    ClusterModel model;  // thread-safe
    // The aggregator's clock when a batch of this cluster last came (or the entry was made
    // from the history); the cluster is forgotten after the raw retention without one.
    std::atomic<int64_t> last_heard_ms{0};
    std::atomic<bool> ever_heard{false};  // a batch came (the default cluster may never hear)
    bool from_history = false;            // set before the entry is shared

    // Tick state: touched only by the tick thread.
    etcdmonitor::v1::ClusterSnapshot tick_snapshot;
    bool was_starting_up = true;

    // Guarded by Impl::snapshot_mu.
    etcdmonitor::v1::ClusterSnapshot latest;
    bool have_latest = false;
    etcdmonitor::v1::BenchmarkSummary last_benchmark;
    bool have_benchmark = false;
    bool new_benchmark = false;  // its points are not in history yet
  };
  mutable std::mutex clusters_mu;
  std::map<std::string, std::shared_ptr<ClusterEntry>, std::less<>> clusters;  // clusters_mu
  detail::ClusterIdentity identity{kIdentityHold};
  std::atomic<uint64_t> clusters_refused{0};
  std::atomic<uint64_t> identity_conflicts{0};
  std::unique_ptr<transport::SnapshotPublisher> publisher;
  std::unique_ptr<transport::BatchReceiver> receiver;
  std::unique_ptr<detail::MonitorGrpcService> grpc_service;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;

  // Ingest state: touched only by the receiver's I/O thread. The group is what the receiver
  // staged since its last commit; its storage is kept across groups.
  //
  // sample_series: per member label, the series ids of the values its samples yield, in the
  // order first seen. A member's samples yield the same metrics in the same order sample after
  // sample, so value i is checked against entry i with one comparison of names instead of a
  // lookup by (metric, member) in the store's maps under the store's mutex. Ids are never
  // reused, so an entry stays right for the file's life. Bounded: kMaxCachedMembers labels,
  // kMaxCachedSeriesPerMember entries each (a sample yields a few dozen metrics), and a member
  // not heard of for the raw retention is dropped (its samples would be refused as too old).
  struct CachedSeries {
    std::vector<std::pair<std::string, SeriesId>> ids;  // (metric, id)
    int64_t used_ms = 0;                                // the aggregator's clock, last sample
  };
  using ClusterSeriesCache = std::unordered_map<std::string, CachedSeries>;  // by member label
  std::unordered_map<std::string, ClusterSeriesCache> sample_series;         // by cluster
  std::size_t sample_series_members = 0;       // member labels over every cluster of sample_series
  std::size_t sample_series_entries = 0;       // ids over every member of sample_series
  const std::string* stage_cluster = nullptr;  // the cluster of the batch being staged
  int64_t stage_now_ms = 0;                    // the clock when the batch in hand was staged
  int64_t last_cache_sweep_ms = 0;
  WriteBatch pending_write;         // the group's points, and one marker per collector: its highest
  std::size_t pending_count = 0;    // batches staged for storing
  uint64_t pending_duplicates = 0;  // batches of the group acked without storing
  // The group being committed (the receiver commits in the background: Seal, Commit, Discard).
  // sealed_write and its counts are the committer's from Seal() until Commit() returns; the
  // receiver never seals again before that. sealed_markers, the I/O thread's copy of the sealed
  // group's markers, makes a batch resent while its first copy is being committed a duplicate.
  WriteBatch sealed_write;
  std::size_t sealed_count = 0;
  uint64_t sealed_duplicates = 0;
  std::vector<WriteBatch::Committed> sealed_markers;
  // Per collector, the highest sequence the model took (it takes a batch when it arrives, before
  // its commit): a batch resent because its commit failed is stored, but not taken twice.
  // Touched only by the receiver's I/O thread.
  std::unordered_map<std::string, uint64_t> model_taken;

  // Tick state: touched only by the tick thread.
  std::vector<DerivedPoint> tick_points;
  // The tick's derived points, per cluster, handed to the maintenance thread to store: the tick
  // never waits for the store (a WAL checkpoint or a long ingest commit can hold it for 100s
  // of ms), so a snapshot goes out on time whatever the disk does.
  struct ClusterPoints {
    std::string cluster;
    std::vector<DerivedPoint> points;
  };
  std::vector<ClusterPoints> tick_out;  // being filled by the tick in progress
  // Guarded by mu: ticks' points waiting for the maintenance thread; a bounded backlog.
  std::deque<std::vector<ClusterPoints>> points_to_store;
  // Guarded by mu: when the maintenance thread writes points_to_store (while it is not empty);
  // set by the tick that found it empty, see TickPointsHold.
  std::chrono::steady_clock::time_point store_points_at;
  uint64_t tick_points_dropped = 0;  // guarded by mu: ticks whose points were not stored
  WriteBatch tick_write;             // the maintenance thread's
  std::vector<std::shared_ptr<ClusterEntry>> tick_clusters;

  // Guards every ClusterEntry's latest snapshot and benchmark.
  mutable std::mutex snapshot_mu;

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;  // guarded by mu
  bool tick_soon = false;       // guarded by mu: ingest saw a leadership change; tick now
  bool started = false;         // guarded by mu
  bool stopped = false;         // guarded by mu
  std::thread tick_thread;
  // Roll-ups and retention, and the ticks' points: on a thread of their own, so neither a
  // fleet's maintenance (it can need most of a core) nor a slow store delays a tick.
  std::thread maintenance_thread;

  std::atomic<uint64_t> batches_stored{0};
  std::atomic<uint64_t> series_refused{0};
  std::atomic<uint64_t> series_cached{0};
  std::atomic<uint64_t> batches_duplicate{0};
  std::atomic<uint64_t> store_failures{0};
  std::atomic<uint64_t> ingest_commits{0};
  std::atomic<uint64_t> ticks{0};
  std::atomic<uint64_t> maintenance_steps{0};
  std::atomic<uint64_t> tick_store_failures{0};
  std::atomic<int64_t> last_tick_ms{0};
  mutable std::mutex tick_cost_mu;
  std::array<int64_t, 512> tick_cost_us{};  // guarded by tick_cost_mu; a ring
  std::size_t tick_cost_next = 0;           // guarded by tick_cost_mu

  // The history writes' outcome (ingest groups, tick points, maintenance), for the snapshot's
  // `storage` and the health detail. Written by the ingest and the tick threads.
  mutable std::mutex storage_mu;
  uint64_t storage_failures = 0;        // guarded by storage_mu
  int64_t last_storage_failure_ms = 0;  // guarded by storage_mu; the clock, 0: none
  std::string last_storage_error;       // guarded by storage_mu
  bool storage_failure_logged = false;  // guarded by storage_mu; no success since

  Impl(AggregatorConfig c, std::shared_ptr<spdlog::logger> l, Clock& k)
      : config(std::move(c)), logger(std::move(l)), clock(k) {}

  // Appends derived points to `out` as stored records; a point whose series cannot be created
  // (bounds) is skipped with one warning per failure, never failing the batch.
  void AppendRecords(const std::string& cluster, const std::vector<DerivedPoint>& points,
                     WriteBatch& out) {
    for (const DerivedPoint& p : points) {
      Result<SeriesId> series = store->Series(cluster, p.metric, p.member);
      if (!series.ok()) {
        SeriesRefused(series.status());
        continue;
      }
      out.points.push_back({*series, p.unix_ms, p.value});
    }
  }

  // A new series the store refused (the series limit, a bad name): its point is dropped, never
  // the batch. Counted; only the first refusal is a warning, so a flood cannot flood the log.
  void SeriesRefused(const Status& why) {
    if (series_refused.fetch_add(1, std::memory_order_relaxed) == 0) {
      logger->warn("series_refused error=\"{}\" (later refusals are counted in series_refused)",
                   why.message());
    } else {
      logger->debug("series_refused error=\"{}\"", why.message());
    }
  }

  // Drops the id cache of members not heard of for the raw retention, at most once a minute.
  void SweepSeriesCache() {
    if (stage_now_ms - last_cache_sweep_ms < kCacheSweepEveryMs) {
      return;
    }
    last_cache_sweep_ms = stage_now_ms;
    const int64_t unused_before = stage_now_ms - config.history.raw_retention.count();
    for (auto cluster = sample_series.begin(); cluster != sample_series.end();) {
      ClusterSeriesCache& members = cluster->second;
      for (auto it = members.begin(); it != members.end();) {
        if (it->second.used_ms < unused_before) {
          sample_series_entries -= it->second.ids.size();
          --sample_series_members;
          it = members.erase(it);
        } else {
          ++it;
        }
      }
      cluster = members.empty() ? sample_series.erase(cluster) : std::next(cluster);
    }
    series_cached.store(sample_series_entries, std::memory_order_relaxed);
  }

  // Appends the values of one sample to pending_write as stored records: its series ids come
  // from sample_series, else from the store (then cached); a value whose series cannot be
  // created is skipped with a warning, as in AppendRecords. No DerivedPoint is built per value.
  class SampleRecorder final : public detail::SamplePointVisitor {
   public:
    explicit SampleRecorder(Impl& impl) : impl_(impl) {}

    void Member(const std::string& label, int64_t unix_ms) override {
      member_ = &label;
      at_ = unix_ms;
      position_ = 0;
      const std::string& cluster = *impl_.stage_cluster;
      auto members = impl_.sample_series.find(cluster);
      if (members == impl_.sample_series.end() ||
          members->second.find(label) == members->second.end()) {
        if (impl_.sample_series_members >= kMaxCachedMembers) {
          impl_.sample_series.clear();  // many members come and go: start over, not grow
          impl_.sample_series_entries = 0;
          impl_.sample_series_members = 0;
        }
        members = impl_.sample_series.try_emplace(cluster).first;
      }
      auto cached = members->second.find(label);
      if (cached == members->second.end()) {
        cached = members->second.emplace(label, CachedSeries()).first;
        ++impl_.sample_series_members;
      }
      cached->second.used_ms = impl_.stage_now_ms;
      ids_ = &cached->second.ids;
    }

    void Point(std::string_view metric, double value) override {
      std::vector<std::pair<std::string, SeriesId>>& ids = *ids_;
      const std::size_t i = position_++;
      SeriesId id = 0;
      if (i < ids.size() && ids[i].first == metric) {
        id = ids[i].second;
      } else {
        // Another layout than the first sample's (a probe failed, no status): search the rest.
        for (const auto& [known_metric, known_id] : ids) {
          if (known_metric == metric) {
            id = known_id;
            break;
          }
        }
      }
      if (id == 0) {
        Result<SeriesId> series = impl_.store->Series(*impl_.stage_cluster, metric, *member_);
        if (!series.ok()) {
          impl_.SeriesRefused(series.status());
          return;
        }
        id = *series;
        if (ids.size() < kMaxCachedSeriesPerMember) {
          ids.emplace_back(std::string(metric), id);
          ++impl_.sample_series_entries;
        }
      }
      impl_.pending_write.points.push_back({id, at_, value});
    }

   private:
    Impl& impl_;
    const std::string* member_ = nullptr;
    int64_t at_ = 0;
    std::vector<std::pair<std::string, SeriesId>>* ids_ = nullptr;
    std::size_t position_ = 0;
  };

  // The marker of `collector` in `markers` (a group's), or null. A group holds few collectors,
  // so a scan beats a map that would allocate per group.
  static WriteBatch::Committed* MarkerOf(std::vector<WriteBatch::Committed>& markers,
                                         const std::string& collector) {
    for (WriteBatch::Committed& c : markers) {
      if (c.collector_id == collector) {
        return &c;
      }
    }
    return nullptr;
  }

  // The cluster a batch belongs to: its own name, or the default cluster's for collectors that
  // name none (the receiver's checks refused bad names).
  const std::string& ClusterOf(const etcdmonitor::v1::SampleBatch& batch) const {
    return batch.cluster().empty() ? config.model.cluster : batch.cluster();
  }

  std::shared_ptr<ClusterEntry> FindCluster(std::string_view name) const {
    std::lock_guard<std::mutex> lock(clusters_mu);
    auto it = clusters.find(name);
    return it == clusters.end() ? nullptr : it->second;
  }

  // Creates the entry of a cluster on its first batch; null beyond kMaxClusters (counted, the
  // first refusal warned).
  std::shared_ptr<ClusterEntry> FindOrAddCluster(const std::string& name, int64_t now_ms) {
    std::lock_guard<std::mutex> lock(clusters_mu);
    auto it = clusters.find(name);
    if (it != clusters.end()) {
      return it->second;
    }
    if (clusters.size() >= kMaxClusters) {
      if (clusters_refused.fetch_add(1, std::memory_order_relaxed) == 0) {
        logger->warn(
            "cluster_refused cluster={} limit={} (samples of clusters beyond the limit are "
            "dropped; later refusals are counted)",
            name, kMaxClusters);
      }
      return nullptr;
    }
    auto entry = std::make_shared<ClusterEntry>(name, config.model, clock);
    entry->last_heard_ms.store(now_ms, std::memory_order_relaxed);
    clusters.emplace(name, entry);
    logger->info("cluster_added cluster={} clusters={}", name, clusters.size());
    return entry;
  }

  // The names of the clusters, for errors: at most kMaxNamesInError, then how many more.
  std::string ClusterNames() const {
    std::lock_guard<std::mutex> lock(clusters_mu);
    std::string names;
    std::size_t listed = 0;
    for (const auto& [name, entry] : clusters) {
      if (listed == kMaxNamesInError) {
        names += " and " + std::to_string(clusters.size() - listed) + " more";
        break;
      }
      names += (listed++ == 0 ? "" : ", ") + name;
    }
    return names;
  }

  // What an empty cluster name in a request means: the only cluster.
  Result<std::string> ResolveCluster(const std::string& name) const {
    if (!name.empty()) {
      return name;
    }
    {
      std::lock_guard<std::mutex> lock(clusters_mu);
      if (clusters.size() == 1) {
        return clusters.begin()->first;
      }
    }
    return Status::FailedPrecondition("several clusters are monitored (" + ClusterNames() +
                                      "): name one");
  }

  Status LatestSnapshot(const std::string& name, etcdmonitor::v1::ClusterSnapshot& out) const {
    std::shared_ptr<ClusterEntry> entry = FindCluster(name);
    if (!entry) {
      return Status::NotFound("no cluster named \"" + name.substr(0, 64) +
                              "\" is monitored (clusters: " + ClusterNames() + ")");
    }
    std::lock_guard<std::mutex> lock(snapshot_mu);
    if (!entry->have_latest) {
      return Status::Unavailable("no snapshot yet: the aggregator has not ticked");
    }
    out = entry->latest;
    return Status::Ok();
  }

  void ListLatest(etcdmonitor::v1::ListClustersResponse& out) const {
    std::vector<std::shared_ptr<ClusterEntry>> entries;
    {
      std::lock_guard<std::mutex> lock(clusters_mu);
      for (const auto& [name, entry] : clusters) {
        entries.push_back(entry);
      }
    }
    std::lock_guard<std::mutex> lock(snapshot_mu);
    for (const auto& entry : entries) {
      if (entry->have_latest) {
        *out.add_clusters() = entry->latest;
      }
    }
  }

  // A sample refused for its identity: counted; the first refusal per aggregator run is a
  // warning (the alert says the rest).
  void IdentityRefused(const std::string& cluster, const std::string& collector,
                       const etcdmonitor::v1::MemberSample& sample) {
    if (identity_conflicts.fetch_add(1, std::memory_order_relaxed) == 0) {
      logger->warn(
          "identity_conflict cluster={} collector={} endpoint={} (samples whose etcd cluster id "
          "or member id contradicts their cluster name are refused; see the "
          "ClusterIdentityConflict alert)",
          cluster, collector.substr(0, 64), sample.endpoint().substr(0, 128));
    }
  }

  // What the history store would refuse of a batch, checked before anything of it is staged:
  // such a batch fails alone here rather than failing the whole group's transaction. The
  // receiver's ValidateBatch refuses all of this (and more) earlier; this guards the store
  // whoever calls Stage.
  static Status CheckStorable(const etcdmonitor::v1::SampleBatch& batch) {
    const std::string& collector = batch.collector_id();
    if (collector.empty() || collector.size() > detail::kMaxNameBytes ||
        collector.find('\0') != std::string::npos) {
      return Status::InvalidArgument("batch refused: collector id of " +
                                     std::to_string(collector.size()) +
                                     " bytes is empty, too long or holds a NUL");
    }
    if (batch.sequence() == 0 ||
        batch.sequence() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::InvalidArgument("batch refused: sequence " + std::to_string(batch.sequence()) +
                                     " is outside 1..2^63-1");
    }
    for (const auto& sample : batch.samples()) {
      const int64_t at = sample.collected_at_unix_ms();
      if (at < detail::kMinUnixMs || at > detail::kMaxUnixMs) {
        return Status::InvalidArgument("batch refused: collected_at " + std::to_string(at) +
                                       " ms is outside what the history stores");
      }
    }
    return Status::Ok();
  }

  // The receiver's handler (its I/O thread): stages one batch into the group that Commit()
  // writes. A sequence at or below the collector's highest committed or staged one is a
  // duplicate: acknowledged with the group, not stored again (what one transaction per batch
  // would decide too).
  Status Stage(etcdmonitor::v1::SampleBatch& batch) {
    ETCDMON_RETURN_IF_ERROR(CheckStorable(batch));
    const std::string& collector = batch.collector_id();
    const uint64_t sequence = batch.sequence();
    WriteBatch::Committed* marker = MarkerOf(pending_write.committed, collector);
    const WriteBatch::Committed* being_committed = MarkerOf(sealed_markers, collector);
    const uint64_t staged = std::max(marker == nullptr ? 0 : marker->sequence,
                                     being_committed == nullptr ? 0 : being_committed->sequence);
    if (sequence <= std::max(store->HighestCommitted(collector), staged)) {
      ++pending_duplicates;
      return Status::Ok();
    }
    const std::size_t points_before = pending_write.points.size();
    stage_now_ms = UnixMs(clock.Now());
    SweepSeriesCache();
    const std::string& cluster = ClusterOf(batch);
    // The model judged the batch first (TakeIntoModel): a cluster it could not take, or a
    // sample whose identity it refused, is not stored either; the batch is still acknowledged.
    const bool modelled = FindCluster(cluster) != nullptr;
    stage_cluster = &cluster;
    try {
      SampleRecorder recorder(*this);
      for (const auto& sample : batch.samples()) {
        if (modelled && identity.Accept(cluster, collector, sample, stage_now_ms,
                                        /*record=*/false)) {
          detail::VisitSamplePoints(sample, recorder);
        }
      }
      if (marker != nullptr) {
        marker->sequence = sequence;
      } else {
        pending_write.committed.push_back({collector, sequence});
      }
    } catch (...) {
      pending_write.points.resize(points_before);  // not staged: leave the group as it was
      throw;
    }
    ++pending_count;
    return Status::Ok();
  }

  // The receiver's observer (its I/O thread): the model takes every valid batch as it arrives,
  // before and whatever its commit, held back or not: what the monitor sees must not depend on
  // the disk (a full one would otherwise turn every member stale). A batch it took already (a
  // resend, after a failed commit or a lost ack) is not taken again. Arrival order: the model
  // ignores a sample older than the member's latest.
  void TakeIntoModel(const etcdmonitor::v1::SampleBatch& batch) {
    const std::string& collector = batch.collector_id();
    auto taken = model_taken.find(collector);
    const uint64_t seen = std::max(store->HighestCommitted(collector),
                                   taken == model_taken.end() ? 0 : taken->second);
    if (batch.sequence() <= seen) {
      return;
    }
    const int64_t now_ms = UnixMs(clock.Now());
    std::shared_ptr<ClusterEntry> entry = FindOrAddCluster(ClusterOf(batch), now_ms);
    bool leadership_changed = false;
    if (entry) {
      entry->last_heard_ms.store(now_ms, std::memory_order_relaxed);
      entry->ever_heard.store(true, std::memory_order_relaxed);
      for (const auto& sample : batch.samples()) {
        if (identity.Accept(entry->name, collector, sample, now_ms, /*record=*/true)) {
          leadership_changed = entry->model.Ingest(collector, sample) || leadership_changed;
        } else {
          IdentityRefused(entry->name, collector, sample);
        }
      }
      if (batch.has_stats()) {
        entry->model.IngestStats(collector, batch.stats());
      }
    }
    if (leadership_changed) {
      // A member went down or came back, or names another leader: publish now rather than at
      // the next tick, so that a lost leader reaches the alerter up to a tick sooner.
      {
        std::lock_guard<std::mutex> lock(mu);
        tick_soon = true;
      }
      cv.notify_all();
    }
    if (taken != model_taken.end()) {
      taken->second = batch.sequence();
    } else {
      if (model_taken.size() >= kMaxModelTakenCollectors) {
        model_taken.clear();  // at worst a resent batch is taken twice: the model ignores
                              // samples not newer than what it has
      }
      model_taken.emplace(collector, batch.sequence());
    }
  }

  // A history write failed: counted and remembered for the snapshot's `storage`. Only the first
  // failure after a success is an error in the log (a full disk fails every write); `what` says
  // which write.
  void StorageFailed(std::string_view what, const Status& why) {
    bool first = false;
    {
      std::lock_guard<std::mutex> lock(storage_mu);
      ++storage_failures;
      last_storage_failure_ms = UnixMs(clock.Now());
      last_storage_error = why.message();
      first = !storage_failure_logged;
      storage_failure_logged = true;
    }
    if (first) {
      logger->error(
          "storage_failing write={} error=\"{}\" (samples are monitored but not stored nor "
          "acknowledged; later failures are counted in storage.failures_total)",
          what, why.message());
    } else {
      logger->debug("storage_failed write={} error=\"{}\"", what, why.message());
    }
  }

  // A history write that did write succeeded: after failures, says so once.
  void StorageSucceeded() {
    uint64_t failures = 0;
    {
      std::lock_guard<std::mutex> lock(storage_mu);
      if (!storage_failure_logged) {
        return;
      }
      storage_failure_logged = false;
      failures = storage_failures;
    }
    logger->info("storage_recovered failures_total={}", failures);
  }

  // Fills the snapshot's `storage`.
  void FillStorageState(etcdmonitor::v1::StorageState& out) const {
    const int64_t now = UnixMs(clock.Now());
    std::lock_guard<std::mutex> lock(storage_mu);
    out.set_failures_total(storage_failures);
    out.set_last_error(last_storage_error);
    out.set_last_failure_unix_ms(last_storage_failure_ms);
    out.set_failing(last_storage_failure_ms > 0 &&
                    now - last_storage_failure_ms <= kStorageFailingForTicks * config.tick.count());
  }

  // The receiver's seal (its I/O thread): the staged group becomes the one Commit() writes, and
  // the next batch starts a new group. No commit is in flight.
  void Seal() {
    std::swap(sealed_write, pending_write);
    pending_write.points.clear();  // the previous sealed group's, written already
    pending_write.committed.clear();
    sealed_markers.assign(sealed_write.committed.begin(), sealed_write.committed.end());
    sealed_count = std::exchange(pending_count, 0);
    sealed_duplicates = std::exchange(pending_duplicates, 0);
    series_cached.store(sample_series_entries, std::memory_order_relaxed);
  }

  // The receiver's discard (its I/O thread), after a failed commit: the group staged since the
  // seal is dropped unacknowledged, and the failed group's markers no longer make its batches
  // duplicates (they are resent and must be stored then). The model took their samples already.
  void Discard() {
    pending_write.points.clear();
    pending_write.committed.clear();
    pending_count = 0;
    pending_duplicates = 0;
    sealed_markers.clear();
  }

  // The receiver's commit callback (its committer thread): the sealed group in one transaction.
  // OK means durably stored (the receiver then acks every batch of the group); on failure
  // nothing is acked and the group is dropped (the collectors resend).
  Status Commit() {
    const bool writes = !sealed_write.points.empty() || !sealed_write.committed.empty();
    const Status s = store->Write(sealed_write);
    if (!s.ok()) {
      store_failures.fetch_add(sealed_count, std::memory_order_relaxed);
      StorageFailed("ingest", s);
      return s;
    }
    if (writes) {
      StorageSucceeded();
    }
    batches_stored.fetch_add(sealed_count, std::memory_order_relaxed);
    batches_duplicate.fetch_add(sealed_duplicates, std::memory_order_relaxed);
    ingest_commits.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }

  // The clusters to tick now. Forgets a cluster unheard of for the raw retention (its history
  // stays), and the default cluster while it never heard from a collector and others exist (a
  // fleet whose collectors all name their cluster has no "default").
  void ClustersToTick(int64_t now_ms) {
    tick_clusters.clear();
    std::vector<std::string> forgotten;
    {
      std::lock_guard<std::mutex> lock(clusters_mu);
      for (auto it = clusters.begin(); it != clusters.end();) {
        const ClusterEntry& e = *it->second;
        const bool unused_default =
            !e.ever_heard.load(std::memory_order_relaxed) && !e.from_history;
        const bool silent = now_ms - e.last_heard_ms.load(std::memory_order_relaxed) >
                            config.history.raw_retention.count();
        if (clusters.size() > 1 && (unused_default || silent)) {
          forgotten.push_back(it->first);
          it = clusters.erase(it);
          continue;
        }
        tick_clusters.push_back(it->second);
        ++it;
      }
    }
    for (const std::string& name : forgotten) {
      identity.Forget(name);
      logger->info("cluster_forgotten cluster={}", name);
    }
  }

  void Tick() {
    const int64_t now_ms = UnixMs(clock.Now());
    ClustersToTick(now_ms);
    // What every cluster's snapshot shares: the aggregator's own state.
    google::protobuf::Map<std::string, uint64_t> rejected;
    for (const auto& [reason, count] : receiver->Stats().RejectedByReason()) {
      rejected[std::string(reason)] = count;
    }
    // Points whose new series was refused (the series limit, or a name the store refuses).
    rejected["series_limit"] = series_refused.load(std::memory_order_relaxed);
    rejected["cluster_limit"] = clusters_refused.load(std::memory_order_relaxed);
    etcdmonitor::v1::StorageState storage;
    FillStorageState(storage);
    etcdmonitor::v1::RemoteWriteState remote;
    if (remote_write) {
      const RemoteWriteStats rw = remote_write->Stats();
      remote.set_samples_sent_total(rw.samples_sent);
      remote.set_samples_rejected_total(rw.samples_rejected);
      remote.set_samples_dropped_total(rw.samples_dropped);
      remote.set_failures_total(rw.failures);
      remote.set_lag_seconds(rw.lag_seconds);
      remote.set_last_success_unix_ms(rw.last_success_unix_ms);
    }
    tick_out.clear();
    for (const auto& entry : tick_clusters) {
      TickCluster(*entry, rejected, storage, remote, now_ms);
    }
    tick_clusters.clear();
    if (!tick_out.empty()) {
      bool dropped = false;
      std::size_t points = 0;
      for (const ClusterPoints& c : tick_out) {
        points += c.points.size();
      }
      const auto hold = detail::TickPointsHold(points, config.history.rollup_delay);
      {
        std::lock_guard<std::mutex> lock(mu);
        if (points_to_store.empty()) {
          store_points_at = clock.SteadyNow() + hold;
        }
        if (points_to_store.size() >= kMaxTicksToStore) {
          points_to_store.pop_front();  // the store is far behind: the oldest tick's go
          dropped = ++tick_points_dropped == 1;
        }
        points_to_store.push_back(std::move(tick_out));
      }
      tick_out = {};
      cv.notify_all();
      if (dropped) {
        logger->warn(
            "tick_points_dropped reason=\"the history store is {} ticks behind\" (later drops "
            "are counted in tick_store_failures)",
            kMaxTicksToStore);
      }
    }
    ticks.fetch_add(1, std::memory_order_relaxed);
    last_tick_ms.store(UnixMs(clock.Now()), std::memory_order_relaxed);
  }

  void TickCluster(ClusterEntry& entry,
                   const google::protobuf::Map<std::string, uint64_t>& rejected,
                   const etcdmonitor::v1::StorageState& storage,
                   const etcdmonitor::v1::RemoteWriteState& remote, int64_t now_ms) {
    etcdmonitor::v1::ClusterSnapshot& snapshot = entry.tick_snapshot;
    tick_points.clear();
    entry.model.Tick(snapshot, tick_points);
    snapshot.set_tick_interval_ms(config.tick.count());
    if (snapshot.starting_up()) {
      // The cluster-wide values describe the part of the cluster sampled so far: not history.
      tick_points.erase(std::remove_if(tick_points.begin(), tick_points.end(),
                                       [](const DerivedPoint& p) { return p.member.empty(); }),
                        tick_points.end());
    } else if (entry.was_starting_up) {
      entry.was_starting_up = false;
      logger->info("model_started_up cluster={} members={} fresh={}", entry.name,
                   snapshot.member_count(), snapshot.fresh_members());
    }
    *snapshot.mutable_ingest_rejected() = rejected;
    *snapshot.mutable_storage() = storage;
    if (remote_write) {
      *snapshot.mutable_remote_write() = remote;
    }
    identity.Fill(entry.name, now_ms - kConflictListMs, snapshot);
    {
      std::lock_guard<std::mutex> lock(snapshot_mu);
      if (entry.have_benchmark) {
        *snapshot.mutable_last_benchmark() = entry.last_benchmark;
      }
      if (entry.new_benchmark) {
        entry.new_benchmark = false;
        const etcdmonitor::v1::BenchmarkSummary& b = entry.last_benchmark;
        const int64_t at = b.finished_unix_ms();
        tick_points.push_back({metrics::kBenchmarkOpsPerSecond, "", at, b.ops_per_second()});
        tick_points.push_back({metrics::kBenchmarkLatencyP50, "", at, b.p50_ms()});
        tick_points.push_back({metrics::kBenchmarkLatencyP99, "", at, b.p99_ms()});
        tick_points.push_back(
            {metrics::kBenchmarkFailedOps, "", at, static_cast<double>(b.failed())});
      }
    }
    if (Status s = publisher->Publish(snapshot); !s.ok()) {
      logger->warn("publish_failed cluster={} error=\"{}\"", entry.name, s.message());
    }
    {
      std::lock_guard<std::mutex> lock(snapshot_mu);
      entry.latest = snapshot;
      entry.have_latest = true;
    }
    // While blind (no fresh sample from any member: just started, or every collector gone) the
    // tick's cluster values say "unknown", not "no leader, zero members": they are published
    // (the snapshot says it is blind) but not written to history as if measured.
    if (snapshot.fresh_members() > 0 && !tick_points.empty()) {
      tick_out.push_back({entry.name, tick_points});
    }
  }

  // The cost of the latest ticks, on the real steady clock (a measurement, not a decision: a
  // fake clock would say 0), for Stats() and the health detail.
  void RecordTickDuration(std::chrono::steady_clock::duration d) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    std::lock_guard<std::mutex> lock(tick_cost_mu);
    tick_cost_us[tick_cost_next++ % tick_cost_us.size()] = us;
  }

  // (p50, p99, max) of the recorded tick durations in µs; zeros before the first tick.
  std::array<int64_t, 3> TickCost() const {
    std::vector<int64_t> recent;
    {
      std::lock_guard<std::mutex> lock(tick_cost_mu);
      const std::size_t n = std::min<std::size_t>(tick_cost_next, tick_cost_us.size());
      recent.assign(tick_cost_us.begin(), tick_cost_us.begin() + static_cast<std::ptrdiff_t>(n));
    }
    if (recent.empty()) {
      return {0, 0, 0};
    }
    std::sort(recent.begin(), recent.end());
    auto at = [&](double q) {
      return recent[std::min(recent.size() - 1, static_cast<std::size_t>(q * recent.size()))];
    };
    return {at(0.5), at(0.99), recent.back()};
  }

  // The ticks' points, every cluster's of every waiting tick in one transaction.
  void StoreTickPoints(const std::deque<std::vector<ClusterPoints>>& ticks_points) {
    tick_write.points.clear();
    tick_write.committed.clear();
    for (const std::vector<ClusterPoints>& tick : ticks_points) {
      for (const ClusterPoints& c : tick) {
        AppendRecords(c.cluster, c.points, tick_write);
      }
    }
    if (tick_write.points.empty()) {
      return;
    }
    if (Status s = store->Write(tick_write); !s.ok()) {
      tick_store_failures.fetch_add(ticks_points.size(), std::memory_order_relaxed);
      StorageFailed("tick", s);
    } else {
      StorageSucceeded();
    }
  }

  // Maintenance in small steps (each holds the store's writer for a few ms at most, so ingest
  // commits and tick writes interleave), back to back while work is left, else once a tick.
  // The ticks' points are written once store_points_at has come (a fleet's are held a few
  // ticks: see TickPointsHold), and at stop.
  void MaintenanceLoop() {
    auto next = clock.SteadyNow();
    std::deque<std::vector<ClusterPoints>> to_store;
    while (true) {
      bool due = false;
      {
        std::unique_lock<std::mutex> lock(mu);
        for (;;) {
          const auto now = clock.SteadyNow();
          // Stop only once the ticks' points are stored.
          if (!points_to_store.empty() && (stop_requested || now >= store_points_at)) {
            to_store.swap(points_to_store);
          }
          due = !stop_requested && now >= next;
          if (due || stop_requested || !to_store.empty()) {
            break;
          }
          // Until the next step or write; a tick handing over the first points may bring the
          // write forward.
          const auto wake = points_to_store.empty() ? next : std::min(next, store_points_at);
          const std::size_t waiting = points_to_store.size();
          clock.WaitUntil(lock, cv, wake, [this, waiting] {
            return stop_requested || points_to_store.size() != waiting;
          });
        }
        if (to_store.empty() && stop_requested) {
          return;
        }
      }
      if (!to_store.empty()) {
        StoreTickPoints(to_store);
        to_store.clear();
        if (!due) {
          continue;  // maintenance keeps its own schedule
        }
      }
      Result<bool> more = store->Maintain(clock.Now(), kMaintenanceStepRows);
      if (!more.ok()) {
        StorageFailed("maintenance", more.status());
      }
      maintenance_steps.fetch_add(1, std::memory_order_relaxed);
      const auto now = clock.SteadyNow();
      next = more.ok() && *more ? now : now + config.tick;
    }
  }

  void TickLoop() {
    auto next = clock.SteadyNow();
    while (true) {
      bool early = false;
      {
        std::unique_lock<std::mutex> lock(mu);
        if (clock.WaitUntil(lock, cv, next, [this] { return stop_requested || tick_soon; })) {
          if (stop_requested) {
            return;
          }
          early = true;
        }
        tick_soon = false;
      }
      const auto tick_start = std::chrono::steady_clock::now();
      Tick();
      RecordTickDuration(std::chrono::steady_clock::now() - tick_start);
      if (early) {
        continue;  // an extra tick: the regular ones keep their schedule
      }
      next += config.tick;
      const auto now = clock.SteadyNow();
      if (next < now) {
        next = now;  // a slow tick does not make ticks pile up
      }
    }
  }

  void FillHealth(etcdmonitor::v1::ServiceHealth& health) const {
    const int64_t last = last_tick_ms.load(std::memory_order_relaxed);
    const int64_t now = UnixMs(clock.Now());
    const int64_t tick_ms = config.tick.count();
    const bool ticking = last > 0 && now - last <= 3 * tick_ms;
    const bool storing = store_failures.load() == 0 || batches_stored.load() > 0;
    health.set_ok(ticking && storing);
    health.set_last_update_unix_ms(last);
    std::string detail = ticking ? "ticking" : "not ticking";
    detail += "; batches_stored=" + std::to_string(batches_stored.load());
    detail += " store_failures=" + std::to_string(store_failures.load());
    etcdmonitor::v1::StorageState storage;
    FillStorageState(storage);
    if (storage.failing()) {
      detail += " storage=failing (\"" + storage.last_error() + "\")";
    }
    detail += " frames_rejected=" + std::to_string(receiver->Stats().rejected_total());
    const std::array<int64_t, 3> cost = TickCost();
    {
      std::lock_guard<std::mutex> lock(clusters_mu);
      detail += " clusters=" + std::to_string(clusters.size());
    }
    detail += " tick_p50_us=" + std::to_string(cost[0]) +
              " tick_p99_us=" + std::to_string(cost[1]) + " tick_max_us=" + std::to_string(cost[2]);
    health.set_detail(detail);
  }
};

AggregatorService::AggregatorService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AggregatorService::~AggregatorService() { Stop(); }

Result<std::unique_ptr<AggregatorService>> AggregatorService::Create(
    AggregatorConfig config, std::shared_ptr<spdlog::logger> logger, Clock& clock) {
  if (config.tick.count() <= 0) {
    return Status::InvalidArgument("the tick must be positive");
  }
  if (!logger) {
    logger = spdlog::default_logger();
  }
  auto impl = std::make_unique<Impl>(std::move(config), std::move(logger), clock);
  AggregatorConfig& c = impl->config;

  // The history file's directory is created, as a first start on a fresh host expects.
  const std::filesystem::path parent = std::filesystem::path(c.history.path).parent_path();
  if (!parent.empty()) {
    if (Status made = files::MakePrivateDirectory(parent.string()); !made.ok()) {
      return Status::InvalidArgument("cannot create the history directory: " + made.message());
    }
  }
  // Before the store opens: a second aggregator on the file would write the same history.
  Result<std::unique_ptr<files::DirectoryLock>> lock =
      files::DirectoryLock::AcquireForDatabase(c.history.path);
  if (!lock.ok()) {
    return lock.status();
  }
  impl->history_lock = std::move(lock).value();
  // A history file from before clusters had names served this aggregator's default cluster.
  c.history.legacy_cluster = c.model.cluster;
  Result<std::unique_ptr<HistoryStore>> store = HistoryStore::Open(c.history);
  if (!store.ok()) {
    return store.status();
  }
  impl->store = std::move(store).value();
  if (!c.remote_write.url.empty()) {
    Result<std::unique_ptr<RemoteWriteSender>> sender =
        RemoteWriteSender::Create(c.remote_write, c.history.path, impl->logger, clock);
    if (!sender.ok()) {
      return sender.status();
    }
    impl->remote_write = std::move(sender).value();
  }
  // A watermark no genuine collector can have reached (they number from their clock in µs; see
  // transport::BatchLimits) was forged before batches were checked: forget it, or that
  // collector's batches stay "duplicates" for good.
  const uint64_t sequence_horizon =
      static_cast<uint64_t>(UnixMs(clock.Now()) + c.max_clock_skew.count()) * 1000;
  Result<std::vector<std::string>> forged = impl->store->ForgetCommittedAbove(sequence_horizon);
  if (!forged.ok()) {
    return forged.status();
  }
  for (const std::string& collector : *forged) {
    impl->logger->warn(
        "forged_watermark_forgotten collector={} reason=\"its committed sequence is above the "
        "clock in microseconds; its next batches are stored again\"",
        collector.substr(0, 64));
  }
  // The model forgets members not heard of for as long as the history keeps their raw points,
  // and ignores samples the ingest checks would refuse as from the future.
  c.model.forget_after = c.history.raw_retention;
  c.model.max_clock_skew = c.max_clock_skew;
  // The default cluster from the start, and every cluster the previous run was still sampling:
  // after a restart each model waits for the members sampled last (start-up).
  std::vector<std::string> names{c.model.cluster};
  if (Result<std::vector<std::string>> stored = impl->store->Clusters(); stored.ok()) {
    for (std::string& name : *stored) {
      if (name != c.model.cluster && names.size() < kMaxClusters) {
        names.push_back(std::move(name));
      }
    }
  } else {
    impl->logger->warn("history_clusters_unknown error=\"{}\"", stored.status().message());
  }
  const int64_t now_ms = UnixMs(clock.Now());
  for (const std::string& name : names) {
    Result<std::vector<std::string>> expected =
        MembersSampledLast(*impl->store, name, clock.Now(), c.model.expected_interval);
    if (!expected.ok()) {
      impl->logger->warn(
          "model_expected_members_unknown cluster={} error=\"{}\" (the start-up waits for the "
          "member lists only)",
          name, expected.status().message());
    } else if (expected->empty() && name != c.model.cluster) {
      continue;  // not sampled lately: it comes back with its next batch
    }
    auto entry = std::make_shared<Impl::ClusterEntry>(name, c.model, clock);
    entry->last_heard_ms.store(now_ms, std::memory_order_relaxed);
    if (expected.ok()) {
      impl->logger->info("model_expects_members cluster={} count={}", name, expected->size());
      entry->from_history = !expected->empty();
      entry->model.ExpectMembers(std::move(expected).value());
    }
    impl->clusters.emplace(name, std::move(entry));
  }

  transport::SnapshotPublisherOptions pub;
  pub.endpoint = c.publish_endpoint;
  pub.curve_secret_key = c.curve_secret_key;
  pub.context = c.zmq_context;
  Result<std::unique_ptr<transport::SnapshotPublisher>> publisher =
      transport::SnapshotPublisher::Create(pub);
  if (!publisher.ok()) {
    return publisher.status();
  }
  impl->publisher = std::move(publisher).value();

  transport::BatchReceiverOptions ingest;
  ingest.endpoint = c.ingest_endpoint;
  ingest.curve_secret_key = c.curve_secret_key;
  ingest.context = c.zmq_context;
  ingest.logger = impl->logger;
  ingest.clock = &clock;
  ingest.max_peers = c.max_ingest_peers;
  if (!c.collector_keys_file.empty()) {
    Result<transport::CollectorKeys> keys = transport::CollectorKeys::Load(c.collector_keys_file);
    if (!keys.ok()) {
      return keys.status();
    }
    ingest.collector_keys = std::make_shared<const transport::CollectorKeys>(std::move(*keys));
  }
  WarnAboutOpenIngest(c, *impl->logger);
  // Samples older than the raw retention would be pruned at once; resends after an outage are
  // legitimately old, so the age bound is the retention, not the skew.
  ingest.limits.max_clock_skew = c.max_clock_skew;
  ingest.limits.max_sample_age = c.history.raw_retention;
  Impl* raw = impl.get();
  // Group commit in the background: the batches that arrive while a group is being written
  // share the next transaction, and are read, checked, modelled and staged meanwhile.
  ingest.seal = [raw] { raw->Seal(); };
  ingest.commit = [raw] { return raw->Commit(); };
  ingest.discard = [raw] { raw->Discard(); };
  ingest.observe = [raw](const etcdmonitor::v1::SampleBatch& batch) { raw->TakeIntoModel(batch); };
  Result<std::unique_ptr<transport::BatchReceiver>> receiver = transport::BatchReceiver::Create(
      ingest, [raw](etcdmonitor::v1::SampleBatch& batch) { return raw->Stage(batch); });
  if (!receiver.ok()) {
    return receiver.status();
  }
  impl->receiver = std::move(receiver).value();

  detail::MonitorGrpcService::ClusterSource source;
  source.resolve = [raw](const std::string& name) { return raw->ResolveCluster(name); };
  source.snapshot = [raw](const std::string& name, etcdmonitor::v1::ClusterSnapshot& out) {
    return raw->LatestSnapshot(name, out);
  };
  source.list = [raw](etcdmonitor::v1::ListClustersResponse& out) { raw->ListLatest(out); };
  impl->grpc_service = std::make_unique<detail::MonitorGrpcService>(
      *impl->store, std::move(source),
      [raw](etcdmonitor::v1::ServiceHealth& out) { raw->FillHealth(out); });
  Result<rpc::StartedServer> server =
      rpc::StartServer(c.grpc_address, *impl->grpc_service, c.grpc_security);
  if (!server.ok()) {
    return server.status();
  }
  impl->grpc_server = std::move(server->server);
  impl->grpc_port = server->port;
  return std::unique_ptr<AggregatorService>(new AggregatorService(std::move(impl)));
}

Status AggregatorService::Start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->started) {
    return Status::FailedPrecondition("aggregator already started");
  }
  ETCDMON_RETURN_IF_ERROR(impl_->receiver->Start());
  impl_->started = true;
  impl_->tick_thread = std::thread([this] { impl_->TickLoop(); });
  impl_->maintenance_thread = std::thread([this] { impl_->MaintenanceLoop(); });
  if (impl_->remote_write) {
    ETCDMON_RETURN_IF_ERROR(impl_->remote_write->Start());
  }
  impl_->logger->info(
      "aggregator_started ingest={} publish={} grpc={} grpc_auth={} db={} tick_ms={} curve={} "
      "collector_keys={}",
      impl_->receiver->endpoint(), impl_->publisher->endpoint(), grpc_address(),
      rpc::DescribeSecurity(impl_->config.grpc_security), impl_->config.history.path,
      impl_->config.tick.count(), impl_->config.curve_secret_key.empty() ? "off" : "on",
      impl_->config.collector_keys_file.empty() ? "none" : impl_->config.collector_keys_file);
  return Status::Ok();
}

void AggregatorService::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped) {
      return;
    }
    impl_->stopped = true;
    impl_->stop_requested = true;
  }
  impl_->cv.notify_all();
  // 1. stop accepting: ingest and gRPC; 2. finish the tick in progress; 3. the store closes when
  // the Impl is destroyed, after every writer is gone.
  impl_->receiver->Stop();
  impl_->grpc_server->Shutdown(std::chrono::system_clock::now() + kGrpcShutdownGrace);
  if (impl_->tick_thread.joinable()) {
    impl_->tick_thread.join();
  }
  if (impl_->maintenance_thread.joinable()) {
    impl_->maintenance_thread.join();  // a step in progress ends within its budget
  }
  {
    // Points of a tick that ended after the maintenance thread's last look.
    std::deque<std::vector<Impl::ClusterPoints>> left;
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      left.swap(impl_->points_to_store);
    }
    impl_->StoreTickPoints(left);
  }
  if (impl_->remote_write) {
    impl_->remote_write->Stop();  // a request in flight ends within its timeout
  }
  const AggregatorStats s = Stats();
  impl_->logger->info("aggregator_stopped batches_stored={} duplicates={} ticks={}",
                      s.batches_stored, s.batches_duplicate, s.ticks);
}

Status AggregatorService::ReloadCollectorKeys() {
  const std::string& path = impl_->config.collector_keys_file;
  if (path.empty()) {
    return Status::FailedPrecondition("no --collector-keys file to reload");
  }
  Result<transport::CollectorKeys> keys = transport::CollectorKeys::Load(path);
  if (!keys.ok()) {
    impl_->logger->error(
        "collector_keys_reload_failed file={} error=\"{}\" (the previous list stays)", path,
        keys.status().message());
    return keys.status();
  }
  const std::size_t key_count = keys->key_count();
  const std::size_t id_count = keys->id_count();
  ETCDMON_RETURN_IF_ERROR(impl_->receiver->SetCollectorKeys(
      std::make_shared<const transport::CollectorKeys>(std::move(*keys))));
  impl_->logger->info("collector_keys_loaded file={} keys={} ids={}", path, key_count, id_count);
  return Status::Ok();
}

void AggregatorService::RecordBenchmark(const std::string& cluster,
                                        const etcdmonitor::v1::BenchmarkSummary& summary) {
  std::shared_ptr<Impl::ClusterEntry> entry = impl_->FindCluster(cluster);
  if (!entry) {
    impl_->logger->warn("benchmark_ignored cluster={} reason=\"no such cluster is monitored\"",
                        cluster.substr(0, 64));
    return;
  }
  std::lock_guard<std::mutex> lock(impl_->snapshot_mu);
  entry->last_benchmark = summary;
  entry->have_benchmark = true;
  entry->new_benchmark = true;
}

AggregatorStats AggregatorService::Stats() const {
  AggregatorStats s;
  s.batches_stored = impl_->batches_stored.load();
  s.batches_duplicate = impl_->batches_duplicate.load();
  s.store_failures = impl_->store_failures.load();
  s.ingest_commits = impl_->ingest_commits.load();
  const transport::BatchReceiverStats ingest = impl_->receiver->Stats();
  s.frames_rejected = ingest.rejected_total();
  for (const uint64_t n : ingest.invalid) {
    s.batches_invalid += n;
  }
  s.series_refused = impl_->series_refused.load();
  s.series_cached = impl_->series_cached.load();
  {
    std::lock_guard<std::mutex> lock(impl_->clusters_mu);
    s.clusters = impl_->clusters.size();
  }
  s.clusters_refused = impl_->clusters_refused.load();
  s.identity_conflicts = impl_->identity_conflicts.load();
  s.ticks = impl_->ticks.load();
  s.tick_store_failures = impl_->tick_store_failures.load();
  const std::array<int64_t, 3> cost = impl_->TickCost();
  s.tick_p50_us = cost[0];
  s.tick_p99_us = cost[1];
  s.tick_max_us = cost[2];
  s.last_tick =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(impl_->last_tick_ms.load()));
  if (impl_->remote_write) {
    s.remote_write = impl_->remote_write->Stats();
  }
  return s;
}

std::string AggregatorService::ingest_endpoint() const { return impl_->receiver->endpoint(); }
std::string AggregatorService::publish_endpoint() const { return impl_->publisher->endpoint(); }
std::shared_ptr<grpc::Channel> AggregatorService::InProcessChannel() {
  return impl_->grpc_server->InProcessChannel(grpc::ChannelArguments());
}

std::string AggregatorService::grpc_address() const {
  return rpc::BoundAddress(impl_->config.grpc_address, impl_->grpc_port);
}

}  // namespace etcdmon::aggregator
