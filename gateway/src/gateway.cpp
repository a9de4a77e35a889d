#include "etcdmon/gateway/gateway.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "api.h"
#include "etcdmon/config/cluster_name.h"
#include "http_server.h"
#include "render.h"

namespace etcdmon::gateway {
namespace {

namespace v1 = etcdmonitor::v1;
using detail::RenderedState;
using SteadyClock = std::chrono::steady_clock;

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::shared_ptr<const std::string> Share(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

}  // namespace

struct GatewayService::Impl {
  Impl(GatewayConfig c, GatewayBackends b, std::shared_ptr<spdlog::logger> l, Clock& k)
      : config(std::move(c)),
        backends(b),
        logger(std::move(l)),
        clock(k),
        snapshots_counter(prometheus::BuildCounter()
                              .Name("etcd_monitor_gateway_snapshots_received_total")
                              .Help("Cluster snapshots the gateway took (stream or poll)")
                              .Register(registry)
                              .Add({})),
        snapshot_errors_counter(prometheus::BuildCounter()
                                    .Name("etcd_monitor_gateway_snapshot_errors_total")
                                    .Help("Bad snapshot frames and failed snapshot polls")
                                    .Register(registry)
                                    .Add({})),
        api(config, backends, registry, clock),
        server(config, api, logger) {}

  // One cluster the refresher knows.
  struct Cluster {
    std::shared_ptr<const v1::ClusterSnapshot> snapshot;  // never null
    // The documents of `snapshot` but its status (which shows the age, so is rendered at every
    // render); null until rendered.
    std::shared_ptr<const RenderedState> rendered;
    std::vector<detail::Series> series;  // of `snapshot`, for /metrics; set with `rendered`
  };

  void Run();
  // Keeps `incoming` when it is newer than its cluster's snapshot; returns whether it did.
  bool Take(v1::ClusterSnapshot&& incoming);
  // Every snapshot the feed has ready, after waiting up to `wait` for the first; whether any
  // was new.
  bool DrainFeed(std::chrono::milliseconds wait);
  // The aggregator's clusters: their snapshots taken, the clusters it no longer lists
  // forgotten; whether any snapshot was new. An aggregator without ListClusters (older) is
  // asked GetSnapshot of its only cluster.
  bool PollClusters();
  void AddOwnBenchmark(v1::ClusterSnapshot& s) const;
  void PollDependencies();
  void Render();
  void WaitForPollTurn(std::chrono::milliseconds timeout);

  const GatewayConfig config;
  const GatewayBackends backends;
  std::shared_ptr<spdlog::logger> logger;
  Clock& clock;
  prometheus::Registry registry;  // the gateway's own counters
  prometheus::Counter& snapshots_counter;
  prometheus::Counter& snapshot_errors_counter;
  detail::Api api;
  detail::HttpServer server;

  // Owned by the refresher thread.
  std::map<std::string, Cluster> clusters;  // by name; at most kMaxClusters
  bool clusters_changed = false;            // one was forgotten since the last render
  // A snapshot of a cluster not kept before came: the aggregator's set of clusters changed, so
  // it is listed again at the next refresh rather than within 30 s. Otherwise the default
  // cluster, which the aggregator drops once named clusters report, would be listed (stale) for
  // up to that long beside a fleet's clusters.
  bool list_soon = false;
  detail::FleetServices services;
  // Firing alerts by cluster and severity; nullopt while the alerter is unknown or down.
  std::optional<std::map<std::string, std::map<std::string, uint64_t>>> firing;
  detail::DependencyState dependencies;
  uint64_t dropped_clusters = 0;  // snapshots refused beyond kMaxClusters

  std::atomic<uint64_t> snapshots_received{0};
  std::atomic<uint64_t> snapshot_errors{0};
  std::atomic<uint64_t> renders{0};

  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;  // guarded by mu
  bool started = false;   // guarded by mu
  std::thread refresher;
};

bool GatewayService::Impl::Take(v1::ClusterSnapshot&& incoming) {
  if (incoming.cluster().empty()) {
    incoming.set_cluster(std::string(config::kDefaultClusterName));
  }
  auto it = clusters.find(incoming.cluster());
  if (it != clusters.end()) {
    // The same tick again (the feed and a poll), or a little older (a poll answered before the
    // feed delivered what it had queued): not news. Much older: the aggregator restarted with
    // its clock behind, and its snapshots are the news from now on.
    const int64_t kept = it->second.snapshot->tick_unix_ms();
    const int64_t reorder_window = incoming.tick_interval_ms() > 0
                                       ? 3 * incoming.tick_interval_ms()
                                       : static_cast<int64_t>(config.stale_after.count());
    if (incoming.tick_unix_ms() <= kept && kept - incoming.tick_unix_ms() <= reorder_window) {
      return false;
    }
  }
  if (it == clusters.end() && clusters.size() >= kMaxClusters) {
    if (dropped_clusters++ % 1000 == 0) {
      logger->warn("too_many_clusters limit={} dropped_snapshots={} cluster={}", kMaxClusters,
                   dropped_clusters, incoming.cluster());
    }
    return false;
  }
  list_soon = list_soon || it == clusters.end();
  AddOwnBenchmark(incoming);
  const std::string name = incoming.cluster();
  Cluster& c = clusters[name];
  c.snapshot = std::make_shared<const v1::ClusterSnapshot>(std::move(incoming));
  c.rendered = nullptr;
  snapshots_received.fetch_add(1, std::memory_order_relaxed);
  snapshots_counter.Increment();
  dependencies.last_snapshot_error.clear();
  return true;
}

bool GatewayService::Impl::DrainFeed(std::chrono::milliseconds wait) {
  // Bounded, so that a flood cannot keep the refresher from rendering: one tick of every
  // cluster the gateway keeps, and more.
  constexpr int kMostPerDrain = 4 * static_cast<int>(kMaxClusters);
  bool any = false;
  v1::ClusterSnapshot incoming;
  for (int i = 0; i < kMostPerDrain; ++i) {
    Result<bool> next = backends.feed->Next(incoming, i == 0 ? wait : std::chrono::milliseconds(0));
    if (!next.ok()) {
      snapshot_errors.fetch_add(1, std::memory_order_relaxed);
      snapshot_errors_counter.Increment();
      logger->warn("bad_snapshot_frame error=\"{}\"", next.status().message());
      continue;
    }
    if (!*next) {
      break;
    }
    any = Take(std::move(incoming)) || any;
    incoming.Clear();
  }
  return any;
}

bool GatewayService::Impl::PollClusters() {
  Result<std::vector<v1::ClusterSnapshot>> listed = backends.monitor->ListClusters();
  if (!listed.ok()) {
    Result<v1::ClusterSnapshot> only = backends.monitor->GetSnapshot("");
    if (!only.ok()) {
      snapshot_errors.fetch_add(1, std::memory_order_relaxed);
      snapshot_errors_counter.Increment();
      dependencies.last_snapshot_error = only.status().message();
      return false;
    }
    return Take(std::move(only).value());
  }
  std::set<std::string> names;
  bool any = false;
  for (v1::ClusterSnapshot& s : *listed) {
    names.insert(s.cluster().empty() ? std::string(config::kDefaultClusterName) : s.cluster());
    any = Take(std::move(s)) || any;
  }
  for (auto it = clusters.begin(); it != clusters.end();) {
    if (names.count(it->first) == 0) {
      logger->info("cluster_forgotten cluster={} reason=\"the aggregator no longer lists it\"",
                   it->first);
      it = clusters.erase(it);
      clusters_changed = true;
    } else {
      ++it;
    }
  }
  return any;
}

void GatewayService::Impl::PollDependencies() {
  Result<v1::ServiceHealth> health = backends.monitor->GetHealth();
  dependencies.aggregator_checked = true;
  if (health.ok()) {
    dependencies.aggregator_ok = health->ok();
    dependencies.aggregator_detail = health->detail().empty() ? "ok" : health->detail();
    dependencies.aggregator_last_update_unix_ms = health->last_update_unix_ms();
  } else {
    dependencies.aggregator_ok = false;
    dependencies.aggregator_detail = health.status().message();
  }
  services.aggregator_up = dependencies.aggregator_ok;
  services.alerter_configured = backends.alerts != nullptr;
  firing.reset();
  if (backends.alerts != nullptr) {
    // Every cluster's at once, grouped here: one call per refresh whatever the fleet's size.
    Result<v1::ListAlertsResponse> alerts = backends.alerts->ListActiveAlerts("");
    dependencies.alerter_checked = true;
    dependencies.alerter_ok = alerts.ok();
    dependencies.alerter_detail = alerts.ok() ? "ok" : alerts.status().message();
    services.alerter_up = alerts.ok();
    if (alerts.ok()) {
      firing.emplace();
      for (const v1::AlertRecord& a : alerts->alerts()) {
        if (a.state() != "firing") {
          continue;
        }
        // An alert without a cluster (recorded before clusters had names) is the only
        // cluster's, else the default one's.
        std::string cluster = a.cluster();
        if (cluster.empty()) {
          cluster = clusters.size() == 1 ? clusters.begin()->first
                                         : std::string(config::kDefaultClusterName);
        }
        ++(*firing)[cluster][a.severity().empty() ? "unknown" : a.severity()];
      }
    }
  }
  api.SetDependencies(dependencies);
}

void GatewayService::Impl::Render() {
  auto fleet = std::make_shared<detail::FleetState>();
  const int64_t now = UnixMs(clock.Now());
  std::vector<detail::ClusterExport> exports;
  std::vector<detail::ClusterSummary> summaries;
  exports.reserve(clusters.size());
  summaries.reserve(clusters.size());
  for (auto& [name, c] : clusters) {
    const v1::ClusterSnapshot& s = *c.snapshot;
    const detail::Freshness freshness = detail::FreshnessOf(s, now, config.stale_after);
    if (c.rendered == nullptr) {
      // Once per snapshot: what does not show the snapshot's age.
      auto documents = std::make_shared<RenderedState>();
      documents->snapshot = c.snapshot;
      c.series.clear();
      detail::SnapshotSeries(s, c.series);
      for (const v1::MemberState& m : s.members()) {
        documents->member_labels.push_back(detail::MemberLabel(m));
      }
      documents->members = Share(detail::RenderMembersJson(s));
      documents->leader = Share(detail::RenderLeaderJson(s));
      documents->current = Share(detail::RenderCurrentJson(s, c.series));
      documents->latency = Share(detail::RenderLatencyJson(s));
      c.rendered = std::move(documents);
    }
    // The status shows the age, so it is rendered every time; the rest is shared.
    auto state = std::make_shared<RenderedState>(*c.rendered);
    state->status = Share(detail::RenderStatusJson(s, freshness));
    fleet->clusters.emplace(name, std::move(state));

    // Firing alerts: known (0 when none) while the alerter answers, else unknown.
    std::optional<std::map<std::string, uint64_t>> cluster_firing;
    if (firing.has_value()) {
      auto it = firing->find(name);
      cluster_firing = it != firing->end() ? it->second : std::map<std::string, uint64_t>{};
    }
    detail::ClusterExport e;
    e.snapshot = c.snapshot.get();
    e.series = &c.series;
    e.name = name;
    e.stale = freshness.stale;
    e.age_seconds = freshness.age_seconds;
    if (cluster_firing.has_value()) {
      std::map<std::string, uint64_t> by_severity = *cluster_firing;
      for (const char* severity : {"critical", "warning"}) {
        by_severity.try_emplace(severity, 0);  // both series always exist, 0 when none fire
      }
      e.firing_by_severity.emplace(by_severity.begin(), by_severity.end());
    }
    exports.push_back(std::move(e));
    summaries.push_back(
        detail::ClusterSummary{c.snapshot.get(), name, freshness, std::move(cluster_firing)});
  }
  fleet->clusters_json = Share(detail::RenderClustersJson(summaries));
  // Before any snapshot: the firing alerts as the alerter tells them, under the fallback label.
  std::vector<std::pair<std::string, uint64_t>> fallback_firing;
  if (clusters.empty() && firing.has_value()) {
    std::map<std::string, uint64_t> all;
    for (const auto& [cluster, by_severity] : *firing) {
      for (const auto& [severity, count] : by_severity) {
        all[severity] += count;
      }
    }
    for (const char* severity : {"critical", "warning"}) {
      all.try_emplace(severity, 0);
    }
    fallback_firing.assign(all.begin(), all.end());
  }
  // Rendered once here, whatever the request rate; re-rendered at least every refresh interval,
  // so the age and staleness on /metrics lag by at most that.
  fleet->metrics_text = Share(detail::RenderFleetPrometheus(exports, services, registry.Collect(),
                                                            "unknown", fallback_firing));
  api.Publish(std::move(fleet));
  clusters_changed = false;
  renders.fetch_add(1, std::memory_order_relaxed);
}

void GatewayService::Impl::WaitForPollTurn(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu);
  wake.wait_for(lock, timeout, [&] { return stopping; });
}

// A standalone gateway runs REST benchmarks itself: the aggregator never hears of them, so the
// newest one's figures are added to the snapshot here (in the all-in-one both know the same run).
void GatewayService::Impl::AddOwnBenchmark(v1::ClusterSnapshot& s) const {
  auto it = backends.etcd_clusters.find(s.cluster());
  if (it == backends.etcd_clusters.end() && backends.etcd_clusters.size() == 1 &&
      clusters.size() <= 1 && (clusters.empty() || clusters.count(s.cluster()) == 1)) {
    it = backends.etcd_clusters.begin();  // the one runner of the one cluster, whatever its name
  }
  if (it == backends.etcd_clusters.end() || it->second.benchmark == nullptr) {
    return;
  }
  std::optional<v1::BenchmarkSummary> own = it->second.benchmark->LastFinished();
  if (own && (!s.has_last_benchmark() ||
              s.last_benchmark().finished_unix_ms() < own->finished_unix_ms())) {
    *s.mutable_last_benchmark() = *std::move(own);
  }
}

// The refresher: newest snapshot in, cached answers out. A feed delivers snapshots as they are
// published; without one (or while it stays silent, e.g. before the PUB connection is up) the
// snapshot is polled once per refresh interval. Everything is re-rendered on a new snapshot and
// at least once per refresh interval (the gateway's counters and the services' state change
// without one).
void GatewayService::Impl::Run() {
  const auto interval = config.refresh_interval;
  const auto feed_wait =
      std::min<std::chrono::milliseconds>(interval, std::chrono::milliseconds(250));
  SteadyClock::time_point last_snapshot{};  // when the newest distinct snapshot was taken
  SteadyClock::time_point next_poll{};
  SteadyClock::time_point next_list{};  // the next ListClusters (at start, then every 30 s)
  SteadyClock::time_point next_render{};
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) {
        return;
      }
    }
    bool got = false;
    if (backends.feed != nullptr) {
      got = DrainFeed(feed_wait);
    } else {
      const auto now = SteadyClock::now();
      if (now < next_poll) {
        WaitForPollTurn(std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - now));
        continue;
      }
    }
    auto now = SteadyClock::now();
    if (got) {
      last_snapshot = now;
    }
    const bool feed_silent = backends.feed == nullptr || now - last_snapshot > 3 * interval;
    if (now >= next_poll) {
      next_poll = now + interval;
      // Without a feed (or while it is silent) the clusters are polled every refresh.
      if ((!got && feed_silent) || now >= next_list || list_soon) {
        next_list = now + kListClustersInterval;
        if (PollClusters()) {
          got = true;
          last_snapshot = backends.feed == nullptr ? now : last_snapshot;
        }
        list_soon = false;  // what the list itself brought needs no second listing
      }
      PollDependencies();
      now = SteadyClock::now();
    }
    if (got || clusters_changed || now >= next_render) {
      Render();
      next_render = now + interval;
    }
  }
}

Result<std::unique_ptr<GatewayService>> GatewayService::Create(
    GatewayConfig config, GatewayBackends backends, std::shared_ptr<spdlog::logger> logger,
    Clock& clock) {
  if (backends.monitor == nullptr) {
    return Status::InvalidArgument("the gateway needs a monitor backend");
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return Status::InvalidArgument("TLS needs both a certificate and a key file");
  }
  if (config.api_auth == ApiAuth::kAll && config.api_token.empty()) {
    return Status::InvalidArgument("--api-auth=all needs an API token (--api-token-file)");
  }
  if (config.threads < 1 || config.threads > 64) {
    return Status::InvalidArgument("threads must be in 1..64");
  }
  if (config.max_body_bytes == 0 || config.max_body_bytes > config.max_request_bytes) {
    return Status::InvalidArgument("max_body_bytes must be in 1..max_request_bytes");
  }
  if (config.refresh_interval.count() <= 0 || config.stale_after.count() <= 0) {
    return Status::InvalidArgument("refresh_interval and stale_after must be positive");
  }
  if (logger == nullptr) {
    logger = spdlog::default_logger();
  }
  auto impl = std::make_unique<Impl>(std::move(config), backends, std::move(logger), clock);
  // Something to serve before the first snapshot: /metrics with the services' series.
  impl->Render();
  return std::unique_ptr<GatewayService>(new GatewayService(std::move(impl)));
}

GatewayService::GatewayService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GatewayService::~GatewayService() { Stop(); }

Status GatewayService::Start() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->started) {
      return Status::FailedPrecondition("the gateway is already started");
    }
    impl_->started = true;
  }
  ETCDMON_RETURN_IF_ERROR(impl_->server.Start());
  impl_->refresher = std::thread([this] { impl_->Run(); });
  impl_->logger->info("gateway_started address={}:{} tls={} api_auth={}", impl_->config.host,
                      impl_->server.port(), !impl_->config.tls_cert_file.empty(),
                      impl_->config.api_auth == ApiAuth::kAll ? "all" : "mutating");
  if (!impl_->config.tls_cert_file.empty()) {
    // The HTTP library does the TLS handshake blocking on its one listener thread: a client that
    // opens a connection and sends nothing stops every later connection from being accepted
    // (tests/unit/gateway/idle_connections_test.cpp shows it).
    impl_->logger->warn(
        "tls_not_recommended reason=\"a client that connects and never completes the TLS "
        "handshake stalls every new connection to the gateway until it disconnects\" "
        "advice=\"serve plain HTTP on 127.0.0.1 and terminate TLS in a proxy in front of the "
        "gateway\"");
  }
  return Status::Ok();
}

void GatewayService::Stop() {
  // Stop accepting first, then the work requests started, then the refresher.
  impl_->server.Stop();
  impl_->api.Stop();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->refresher.joinable()) {
    impl_->refresher.join();
  }
}

uint16_t GatewayService::port() const { return impl_->server.port(); }

GatewayStats GatewayService::Stats() const {
  GatewayStats s;
  s.snapshots_received = impl_->snapshots_received.load(std::memory_order_relaxed);
  s.snapshot_errors = impl_->snapshot_errors.load(std::memory_order_relaxed);
  s.renders = impl_->renders.load(std::memory_order_relaxed);
  s.requests = impl_->api.requests();
  return s;
}

}  // namespace etcdmon::gateway
