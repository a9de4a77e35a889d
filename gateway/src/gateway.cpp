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
#include <thread>

#include "api.h"
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

  void Run();
  bool PollSnapshot(v1::ClusterSnapshot& out);
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
  std::shared_ptr<const v1::ClusterSnapshot> snapshot;
  detail::ServiceState services;
  detail::DependencyState dependencies;

  std::atomic<uint64_t> snapshots_received{0};
  std::atomic<uint64_t> snapshot_errors{0};
  std::atomic<uint64_t> renders{0};

  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;  // guarded by mu
  bool started = false;   // guarded by mu
  std::thread refresher;
};

bool GatewayService::Impl::PollSnapshot(v1::ClusterSnapshot& out) {
  Result<v1::ClusterSnapshot> polled = backends.monitor->GetSnapshot();
  if (!polled.ok()) {
    snapshot_errors.fetch_add(1, std::memory_order_relaxed);
    snapshot_errors_counter.Increment();
    dependencies.last_snapshot_error = polled.status().message();
    return false;
  }
  out = std::move(polled).value();
  return true;
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
  services.firing_by_severity.clear();
  if (backends.alerts != nullptr) {
    Result<v1::ListAlertsResponse> alerts = backends.alerts->ListActiveAlerts();
    dependencies.alerter_checked = true;
    dependencies.alerter_ok = alerts.ok();
    dependencies.alerter_detail = alerts.ok() ? "ok" : alerts.status().message();
    services.alerter_up = alerts.ok();
    if (alerts.ok()) {
      std::map<std::string, uint64_t> firing;
      for (const v1::AlertRecord& a : alerts->alerts()) {
        if (a.state() == "firing") {
          ++firing[a.severity().empty() ? "unknown" : a.severity()];
        }
      }
      for (const char* severity : {"critical", "warning"}) {
        firing.try_emplace(severity, 0);  // both series always exist, 0 when none fire
      }
      services.firing_by_severity.assign(firing.begin(), firing.end());
    }
  }
  api.SetDependencies(dependencies);
}

void GatewayService::Impl::Render() {
  auto state = std::make_shared<RenderedState>();
  services.has_snapshot = snapshot != nullptr;
  services.snapshot_stale = false;
  if (snapshot != nullptr) {
    const detail::Freshness freshness =
        detail::FreshnessOf(*snapshot, UnixMs(clock.Now()), config.stale_after);
    services.snapshot_age_seconds = freshness.age_seconds;
    services.snapshot_stale = freshness.stale;
    state->snapshot = snapshot;
    std::vector<detail::Series> series;
    detail::SnapshotSeries(*snapshot, series);
    for (const v1::MemberState& m : snapshot->members()) {
      state->member_labels.push_back(detail::MemberLabel(m));
    }
    state->status = Share(detail::RenderStatusJson(*snapshot, freshness));
    state->members = Share(detail::RenderMembersJson(*snapshot));
    state->leader = Share(detail::RenderLeaderJson(*snapshot));
    state->current = Share(detail::RenderCurrentJson(*snapshot, series));
    state->latency = Share(detail::RenderLatencyJson(*snapshot));
  }
  // Rendered once here, whatever the request rate; re-rendered at least every refresh interval,
  // so the age and staleness on /metrics lag by at most that.
  state->metrics_text =
      Share(detail::RenderPrometheus(snapshot.get(), services, registry.Collect(), "unknown"));
  api.Publish(std::move(state));
  renders.fetch_add(1, std::memory_order_relaxed);
}

void GatewayService::Impl::WaitForPollTurn(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu);
  wake.wait_for(lock, timeout, [&] { return stopping; });
}

// A standalone gateway runs REST benchmarks itself: the aggregator never hears of them, so the
// newest one's figures are added to the snapshot here (in the all-in-one both know the same run).
void GatewayService::Impl::AddOwnBenchmark(v1::ClusterSnapshot& s) const {
  if (backends.benchmark == nullptr) {
    return;
  }
  std::optional<v1::BenchmarkSummary> own = backends.benchmark->LastFinished();
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
  SteadyClock::time_point next_render{};
  v1::ClusterSnapshot incoming;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) {
        return;
      }
    }
    bool got = false;
    if (backends.feed != nullptr) {
      Result<bool> next = backends.feed->Next(incoming, feed_wait);
      if (!next.ok()) {
        snapshot_errors.fetch_add(1, std::memory_order_relaxed);
        snapshot_errors_counter.Increment();
        logger->warn("bad_snapshot_frame error=\"{}\"", next.status().message());
      } else {
        got = *next;
      }
    } else {
      const auto now = SteadyClock::now();
      if (now < next_poll) {
        WaitForPollTurn(std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - now));
        continue;
      }
    }
    auto now = SteadyClock::now();
    const bool feed_silent = backends.feed == nullptr || now - last_snapshot > 3 * interval;
    if (now >= next_poll) {
      next_poll = now + interval;
      if (!got && feed_silent) {
        got = PollSnapshot(incoming);
      }
      PollDependencies();
      now = SteadyClock::now();
    }
    const bool is_new =
        got && (snapshot == nullptr || incoming.tick_unix_ms() != snapshot->tick_unix_ms() ||
                incoming.cluster() != snapshot->cluster());
    if (is_new) {
      AddOwnBenchmark(incoming);
      snapshot = std::make_shared<const v1::ClusterSnapshot>(incoming);
      last_snapshot = now;
      snapshots_received.fetch_add(1, std::memory_order_relaxed);
      snapshots_counter.Increment();
      dependencies.last_snapshot_error.clear();
    }
    if (is_new || now >= next_render) {
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
