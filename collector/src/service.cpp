#include "etcdmon/collector/service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "etcdmon/collector/certificate_probe.h"
#include "etcdmon/collector/host_probe.h"
#include "etcdmon/collector/metrics_source.h"
#include "etcdmon/collector/sampler.h"
#include "etcdmon/config/cluster_name.h"
#include "etcdmon/etcd/client.h"
#include "etcdmon/etcd/gateway_client.h"
#include "etcdmon/http/cancellation.h"
#include "etcdmon/transport/batch_sender.h"
#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::collector {

struct CollectorService::Impl {
  CollectorConfig config;
  std::shared_ptr<spdlog::logger> logger;
  Clock& clock;
  // Shared by every request the sampler makes to the member: Stop() aborts them.
  std::shared_ptr<http::Cancellation> cancellation = std::make_shared<http::Cancellation>();

  // Declared in dependency order: the sampler uses the client and probes, so it goes first on
  // destruction; the sender outlives the sampling thread that feeds it.
  std::unique_ptr<etcd::EtcdClient> etcd;
  std::unique_ptr<MetricsSource> metrics;
  std::unique_ptr<HostProbe> host;
  std::unique_ptr<CertificateProbe> certificate;
  std::unique_ptr<transport::BatchSender> sender;
  std::unique_ptr<Sampler> sampler;

  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;  // guarded by mu
  bool started = false;         // guarded by mu
  bool stopped = false;         // guarded by mu
  bool sampling_done = false;   // guarded by mu; the sampling loop has returned
  std::thread sampling_thread;

  // Reused for every sample, so steady-state sampling keeps its storage instead of allocating
  // (the transport queues a serialized copy). Touched only by the sampling thread.
  etcdmonitor::v1::SampleBatch batch;

  std::atomic<uint64_t> samples{0};
  std::atomic<uint64_t> enqueue_failures{0};

  Impl(CollectorConfig c, std::shared_ptr<spdlog::logger> l, Clock& k)
      : config(std::move(c)), logger(std::move(l)), clock(k) {}

  void FillStats() {
    const SamplerStats& s = sampler->stats();
    const transport::BatchSenderStats t = sender->Stats();
    auto* stats = batch.mutable_stats();
    stats->set_samples_total(s.samples_total);
    uint64_t errors = 0;
    auto* by_kind = stats->mutable_errors_by_kind();
    static const std::array<std::string, kErrorSourceCount> kNames = [] {
      std::array<std::string, kErrorSourceCount> names;
      for (size_t i = 0; i < kErrorSourceCount; ++i) {
        names[i] = std::string(ErrorSourceName(static_cast<ErrorSource>(i)));
      }
      return names;
    }();
    for (size_t i = 0; i < kErrorSourceCount; ++i) {
      const uint64_t n = s.errors_by_source[i];
      errors += n;
      if (n > 0) {
        (*by_kind)[kNames[i]] = n;
      }
    }
    if (s.unreachable_total > 0) {
      (*by_kind)["unreachable"] = s.unreachable_total;
    }
    stats->set_errors_total(errors);
    stats->set_queue_depth(t.queue_depth);
    stats->set_dropped_batches_total(t.dropped);
    stats->set_resent_batches_total(t.resent);
  }

  // Logs when the data dir measured for disk usage, or the reason there is none, changes.
  // Touched only by the sampling thread.
  void LogDataDirChange() {
    const std::string& dir = sampler->data_dir();
    const std::string& reason = sampler->disk_unknown_reason();
    if (dir == logged_data_dir && reason == logged_disk_reason) {
      return;
    }
    logged_data_dir = dir;
    logged_disk_reason = reason;
    const std::string endpoint = config.etcd.endpoints.front().Authority();
    if (!reason.empty()) {
      logger->info("disk_usage_unknown endpoint={} reason=\"{}\"", endpoint, reason);
    } else {
      logger->info("disk_usage_data_dir endpoint={} data_dir={}", endpoint, dir);
    }
  }
  std::string logged_data_dir;
  std::string logged_disk_reason;

  // The sampling thread's body: the loop, then "done" for a Stop() that waits with a deadline.
  void RunSampling() {
    SamplingLoop();
    {
      std::lock_guard<std::mutex> lock(mu);
      sampling_done = true;
    }
    cv.notify_all();
  }

  void SamplingLoop() {
    const auto health_every = config.health_check_interval;
    auto next_sample = clock.SteadyNow();
    auto next_full = next_sample;  // the first sample is a full one: learn names at once
    bool was_reachable = true;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu);
        if (clock.WaitUntil(lock, cv, next_sample, [this] { return stop_requested; })) {
          return;
        }
      }
      const auto started_at = clock.SteadyNow();
      const bool full = started_at >= next_full;
      if (full) {
        next_full = started_at + health_every;
      }
      if (batch.samples_size() == 0) {
        batch.add_samples();
      }
      sampler->Collect(full, *batch.mutable_samples(0));
      if (cancellation->cancelled()) {
        return;  // Stop() aborted the sample: its errors say nothing about the member
      }
      const bool reachable = batch.samples(0).reachable();
      if (reachable != was_reachable) {
        // Log the change of state only; the sample itself carries it every interval.
        if (reachable) {
          logger->info("member_reachable endpoint={}", batch.samples(0).endpoint());
        } else {
          logger->warn("member_unreachable endpoint={} error=\"{}\"", batch.samples(0).endpoint(),
                       batch.samples(0).error());
        }
        was_reachable = reachable;
      }
      LogDataDirChange();
      FillStats();
      samples.fetch_add(1, std::memory_order_relaxed);
      Result<uint64_t> seq = sender->Enqueue(batch);
      if (!seq.ok()) {
        enqueue_failures.fetch_add(1, std::memory_order_relaxed);
        logger->warn("enqueue_failed error=\"{}\"", seq.status().ToString());
      }
      // Fixed rate; if sampling took longer than an interval, start the next one at once
      // rather than bursting to catch up.
      next_sample += config.metrics_interval;
      const auto now = clock.SteadyNow();
      if (next_sample < now) {
        next_sample = now;
      }
    }
  }
};

CollectorService::CollectorService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CollectorService::~CollectorService() { Stop(); }

Result<std::unique_ptr<CollectorService>> CollectorService::Create(
    CollectorConfig config, std::shared_ptr<spdlog::logger> logger, Clock& clock) {
  if (config.etcd.endpoints.size() != 1) {
    return Status::InvalidArgument(
        "a collector samples exactly one member: give one endpoint (run one collector per "
        "member), got " +
        std::to_string(config.etcd.endpoints.size()));
  }
  if (config.metrics_interval.count() <= 0 || config.health_check_interval.count() <= 0) {
    return Status::InvalidArgument("the metrics and health-check intervals must be positive");
  }
  if (config.collector_id.empty()) {
    return Status::InvalidArgument("the collector id must not be empty");
  }
  if (!config.cluster.empty()) {
    ETCDMON_RETURN_IF_ERROR(config::ValidateClusterName(config.cluster));
  }
  if (!logger) {
    logger = spdlog::default_logger();
  }
  auto impl = std::make_unique<Impl>(std::move(config), std::move(logger), clock);
  const CollectorConfig& c = impl->config;
  // Set once: the batch is reused for every sample, and the sender leaves this field alone.
  impl->batch.set_cluster(c.cluster);
  const config::Endpoint& endpoint = c.etcd.endpoints.front();
  const bool tls = c.etcd.UsesTls(endpoint);

  Result<std::unique_ptr<etcd::EtcdClient>> client =
      etcd::NewGatewayEtcdClient(c.etcd, impl->cancellation);
  if (!client.ok()) {
    return client.status();
  }
  impl->etcd = std::move(client).value();

  http::FetcherOptions fetch;
  fetch.tls = c.etcd.tls;
  fetch.connect_timeout = c.etcd.dial_timeout;
  fetch.timeout = c.etcd.request_timeout;
  fetch.cancellation = impl->cancellation;
  Result<std::unique_ptr<MetricsSource>> metrics = NewHttpMetricsSource(fetch);
  if (!metrics.ok()) {
    return metrics.status();
  }
  impl->metrics = std::move(metrics).value();
  impl->host = NewHostProbe();

  CertificateProbeOptions cert_options;
  cert_options.timeout = c.etcd.dial_timeout;
  cert_options.tls = c.etcd.tls;
  cert_options.cancellation = impl->cancellation;
  Result<std::unique_ptr<CertificateProbe>> certificate = NewCertificateProbe(cert_options);
  if (!certificate.ok()) {
    return certificate.status();
  }
  impl->certificate = std::move(certificate).value();

  transport::BatchSenderOptions send;
  send.aggregator_endpoint = c.aggregator;
  send.collector_id = c.collector_id;
  send.max_buffered_batches = c.max_buffered_batches;
  send.sequence_state_path = c.sequence_state_file;
  send.curve_server_key = c.curve_server_key;
  send.curve_public_key = c.curve_public_key;
  send.curve_secret_key = c.curve_secret_key;
  send.context = c.zmq_context;
  send.logger = impl->logger;
  Result<std::unique_ptr<transport::BatchSender>> sender =
      transport::BatchSender::Create(send, clock);
  if (!sender.ok()) {
    return sender.status();
  }
  impl->sender = std::move(sender).value();

  SamplerConfig sampling;
  sampling.endpoint = endpoint;
  sampling.tls = tls;
  sampling.member_name = c.member_name;
  sampling.metrics_url = c.metrics_url;
  sampling.write_probe = c.write_probe;
  sampling.data_dir = c.data_dir;
  sampling.data_dir_hint = c.data_dir_hint;
  sampling.read_certificate = tls;
  // A probe slower than a quarter of the interval has failed for monitoring purposes, and
  // bounding it keeps a dead leader from delaying the sample that shows it by two deadlines.
  sampling.probe_timeout = std::min(c.etcd.request_timeout, c.metrics_interval / 4);
  // Each sample goes out within its interval, whatever the member or its leader do: what has
  // not answered by then is "timed out" in it. Three intervals of silence make a collector
  // stale; a member that does not answer must never look like that.
  sampling.round_timeout = c.metrics_interval * 3 / 4;
  Result<std::unique_ptr<Sampler>> sampler = Sampler::Create(
      sampling, *impl->etcd, *impl->metrics, *impl->host, *impl->certificate, clock);
  if (!sampler.ok()) {
    return sampler.status();
  }
  impl->sampler = std::move(sampler).value();
  return std::unique_ptr<CollectorService>(new CollectorService(std::move(impl)));
}

Status CollectorService::Start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->started) {
    return Status::FailedPrecondition("collector already started");
  }
  ETCDMON_RETURN_IF_ERROR(impl_->sender->Start());
  impl_->started = true;
  impl_->sampling_thread = std::thread([impl = impl_.get()] { impl->RunSampling(); });
  const CollectorConfig& c = impl_->config;
  impl_->logger->info(
      "collector_started id={} cluster={} endpoint={} aggregator={} interval_ms={} "
      "health_interval_ms={} write_probe={} tls={} curve={} curve_key={}",
      c.collector_id, c.cluster.empty() ? "(aggregator-default)" : c.cluster,
      c.etcd.endpoints.front().Authority(), c.aggregator, c.metrics_interval.count(),
      c.health_check_interval.count(), c.write_probe,
      c.etcd.UsesTls(c.etcd.endpoints.front()) ? "on" : "off",
      c.curve_server_key.empty() ? "off" : "on",
      c.curve_server_key.empty()   ? "none"
      : c.curve_public_key.empty() ? "ephemeral"
                                   : impl_->sender->curve_public_key());
  return Status::Ok();
}

bool CollectorService::Stop(std::chrono::milliseconds flush_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + flush_timeout;
  bool sampling_ended = true;
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    if (!impl_->started || impl_->stopped) {
      impl_->stopped = true;
      return true;
    }
    impl_->stopped = true;
    impl_->stop_requested = true;
    impl_->cv.notify_all();
    if (flush_timeout.count() > 0) {
      // Half of the time for a sample in progress to finish, the rest for delivering what is
      // queued; a sample still waiting for a member that stopped answering is then aborted.
      sampling_ended = impl_->cv.wait_until(lock, deadline - flush_timeout / 2,
                                            [this] { return impl_->sampling_done; });
    }
  }
  if (flush_timeout.count() <= 0 || !sampling_ended) {
    if (!sampling_ended) {
      impl_->logger->warn(
          "sample_abandoned reason=\"the member has not answered; not waiting for it\"");
    }
    // Abort the member's requests; again every few milliseconds, for a request that was just
    // about to start when the first abort came.
    std::unique_lock<std::mutex> lock(impl_->mu);
    do {
      impl_->cancellation->Cancel();
    } while (!impl_->cv.wait_for(lock, std::chrono::milliseconds(20),
                                 [this] { return impl_->sampling_done; }));
  }
  impl_->sampling_thread.join();
  // Calls the sampler gave up on may still wait on the member; nothing will read their answers.
  impl_->cancellation->Cancel();
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  impl_->sender->Stop(std::max(left, std::chrono::milliseconds(0)));
  const CollectorStats s = Stats();
  impl_->logger->info("collector_stopped samples={} queue_depth={} acked_seq={} dropped={}",
                      s.samples, s.queue_depth, s.acked_sequence, s.dropped_batches);
  return sampling_ended;
}

CollectorStats CollectorService::Stats() const {
  CollectorStats s;
  s.samples = impl_->samples.load(std::memory_order_relaxed);
  s.enqueue_failures = impl_->enqueue_failures.load(std::memory_order_relaxed);
  const transport::BatchSenderStats t = impl_->sender->Stats();
  s.queue_depth = t.queue_depth;
  s.dropped_batches = t.dropped;
  s.resent_batches = t.resent;
  s.acked_sequence = t.acked_sequence;
  s.connected = t.connected;
  return s;
}

}  // namespace etcdmon::collector
