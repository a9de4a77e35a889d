#include "etcdmon/alerter/service.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "alert_grpc.h"
#include "etcdmon/alerter/engine.h"
#include "etcdmon/files/directory_lock.h"
#include "etcdmon/files/private_files.h"
#include "etcdmon/rpc/server.h"
#include "etcdmon/transport/snapshot_channel.h"
#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::alerter {
namespace {

constexpr std::chrono::milliseconds kReceiveTimeout{250};
constexpr std::chrono::milliseconds kGrpcShutdownGrace{500};
constexpr std::chrono::milliseconds kStopDeliveryGrace{1000};
constexpr std::chrono::minutes kPruneEvery{10};
// The rules' trailing histories are saved this often (and whenever an alert changed, so that
// what made it fire is saved with it): a SIGKILL loses at most this much of them.
constexpr std::chrono::seconds kSaveRuleStatesEvery{5};
// At most this many snapshots are evaluated in a row before the periodic work (publishing the
// active alerts, saving rule states, pruning) runs: two ticks of the most clusters.
constexpr int kMaxDrain = 2 * static_cast<int>(kMaxClusters);
// Health names at most this many clusters whose snapshots stopped.
constexpr std::size_t kMaxNamedSilentClusters = 5;

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

struct AlerterService::Impl {
  AlerterConfig config;
  std::shared_ptr<spdlog::logger> logger;
  Clock* clock = nullptr;
  SnapshotSource source;
  std::unique_ptr<transport::SnapshotSubscriber> subscriber;  // when no source was given

  // Held from before the store opens until after it closes: one process per database.
  std::unique_ptr<files::DirectoryLock> db_lock;
  std::unique_ptr<AlertStore> store;

  // One engine per cluster, made on the cluster's first snapshot (at most kMaxClusters).
  struct ClusterEngine {
    std::unique_ptr<AlertEngine> engine;
    bool evaluating = false;  // its latest snapshot was past the aggregator's start-up
    int64_t last_received_steady_ms = 0;
    bool reported_silent = false;  // its snapshots stopped while others' still came
  };
  std::map<std::string, ClusterEngine> clusters;  // loop thread only (after Start)
  // What Start() loaded for clusters that have no engine yet: each cluster's engine takes its
  // share when it is made. Loop thread only after Start.
  std::map<std::string, std::vector<Alert>> restored_alerts;
  std::map<std::string, std::vector<RuleState>> restored_rule_states;
  // The unnamed rule states (schema 1) were handed to an engine: delete them at the next save.
  bool unnamed_rule_states_taken = false;
  std::set<std::string> rule_states_dirty;  // clusters whose alerts changed since the last save
  bool active_dirty = false;
  std::atomic<uint64_t> dropped_snapshots{0};  // of clusters beyond kMaxClusters
  std::unique_ptr<Dispatcher> dispatcher;
  std::vector<std::string> channel_names;

  std::unique_ptr<detail::AlertGrpcService> grpc_service;
  std::unique_ptr<grpc::Server> grpc_server;
  int grpc_port = 0;

  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  bool stopped = false;
  std::atomic<bool> stop_requested{false};
  std::thread loop_thread;

  std::mutex active_mu;
  // Guarded by active_mu, for gRPC readers: what the engines hold (and restored alerts of
  // clusters without an engine yet), the number of engines, the clusters gone silent.
  std::vector<Alert> active;
  std::size_t cluster_count = 0;
  std::vector<std::string> silent_clusters;

  std::atomic<bool> silences_changed{true};
  std::vector<Silence> silences;  // loop thread only
  std::chrono::steady_clock::time_point next_prune{};
  std::chrono::steady_clock::time_point next_rule_save{};  // loop thread only

  std::atomic<uint64_t> snapshots{0}, bad_frames{0}, notifications{0}, silenced{0},
      deliveries_ok{0}, deliveries_failed{0}, store_failures{0};
  std::atomic<int64_t> last_snapshot_ms{0};
  std::atomic<int64_t> last_received_steady_ms{0};  // steady ms of the latest snapshot; 0: none
  std::atomic<bool> last_store_ok{true};

  Impl(AlerterConfig c, std::shared_ptr<spdlog::logger> l, Clock& clk)
      : config(std::move(c)), logger(std::move(l)), clock(&clk) {}

  int64_t SteadyMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock->SteadyNow().time_since_epoch())
        .count();
  }

  void OnAttempt(const Notification& n, const DeliveryAttempt& attempt) {
    (attempt.status.ok() ? deliveries_ok : deliveries_failed)++;
    if (Status s = store->RecordAttempt(attempt); !s.ok()) {
      store_failures++;
      logger->error("delivery_record_failed notification={} channel={} error=\"{}\"",
                    attempt.notification_id, attempt.channel, s.message());
    }
    if (attempt.status.ok()) {
      logger->info(
          "notification_delivered notification={} channel={} rule={} cluster={} member={} "
          "kind={} attempt={} took_ms={}",
          attempt.notification_id, attempt.channel, n.alert.key.rule, n.alert.key.cluster,
          n.alert.key.member, NotificationKindName(n.kind), attempt.attempt, attempt.took.count());
    } else {
      logger->warn(
          "notification_failed notification={} channel={} rule={} cluster={} attempt={} "
          "final={} error=\"{}\"",
          attempt.notification_id, attempt.channel, n.alert.key.rule, n.alert.key.cluster,
          attempt.attempt, attempt.final, attempt.status.message());
    }
  }

  void PublishActive() {
    std::vector<Alert> now_active;
    for (const auto& [name, cluster] : clusters) {
      std::vector<Alert> own = cluster.engine->Active();
      now_active.insert(now_active.end(), std::make_move_iterator(own.begin()),
                        std::make_move_iterator(own.end()));
    }
    for (const auto& [name, alerts] : restored_alerts) {
      for (const Alert& a : alerts) {
        if (a.state != AlertState::kResolved) {
          now_active.push_back(a);
        }
      }
    }
    std::sort(now_active.begin(), now_active.end(),
              [](const Alert& a, const Alert& b) { return a.key < b.key; });
    std::lock_guard<std::mutex> lock(active_mu);
    active = std::move(now_active);
    cluster_count = clusters.size();
  }

  // The engine of `name`, made on its first snapshot with the cluster's rules, the alerts and
  // rule states restored for it; null beyond kMaxClusters (the snapshot is dropped).
  ClusterEngine* EngineFor(const std::string& name) {
    auto it = clusters.find(name);
    if (it != clusters.end()) {
      return &it->second;
    }
    if (clusters.size() >= kMaxClusters) {
      if (dropped_snapshots++ == 0) {
        logger->warn(
            "cluster_dropped cluster={} clusters={} (at most {} clusters are evaluated; "
            "snapshots of further ones are counted and dropped)",
            name, clusters.size(), kMaxClusters);
      }
      return nullptr;
    }
    auto rules = config.cluster_rules.find(name);
    ClusterEngine& cluster = clusters[name];
    cluster.engine = std::make_unique<AlertEngine>(
        rules != config.cluster_rules.end() ? rules->second : config.rules,
        EngineOptions{config.repeat_interval});
    if (auto restored = restored_alerts.find(name); restored != restored_alerts.end()) {
      cluster.engine->Restore(std::move(restored->second));
      restored_alerts.erase(restored);
    }
    // Rule states saved before clusters had names (cluster "") were those of the one cluster
    // that alerter watched: they go to the first cluster that has no state of its own. With
    // one cluster (the upgrade of a single-cluster setup) that is the same cluster.
    auto states = restored_rule_states.find(name);
    bool unnamed = false;
    if (states == restored_rule_states.end() && !name.empty()) {
      states = restored_rule_states.find("");
      unnamed = states != restored_rule_states.end();
    }
    if (states != restored_rule_states.end()) {
      for (const std::string& rule : cluster.engine->RestoreRuleStates(states->second)) {
        logger->warn("rule_state_unreadable cluster={} rule={} (its history starts empty)", name,
                     rule);
      }
      if (unnamed) {
        logger->info("rule_states_adopted cluster={} rules={} (saved before clusters had names)",
                     name, states->second.size());
        unnamed_rule_states_taken = true;
      }
      restored_rule_states.erase(states);
    }
    logger->info("cluster_added cluster={} clusters={} own_rules={}", name, clusters.size(),
                 rules != config.cluster_rules.end());
    active_dirty = true;
    return &cluster;
  }

  void Evaluate(const etcdmonitor::v1::ClusterSnapshot& snapshot) {
    const auto now = clock->Now();
    const int64_t now_ms = UnixMs(now);
    if (silences_changed.exchange(false) ||
        (!silences.empty() && silences.front().expires_unix_ms <= now_ms)) {
      Result<std::vector<Silence>> loaded = store->ActiveSilences(now_ms);
      if (loaded.ok()) {
        silences = std::move(loaded).value();
      } else {
        silences_changed = true;  // try again next time
        logger->error("silences_load_failed error=\"{}\"", loaded.status().message());
      }
    }
    ClusterEngine* cluster = EngineFor(snapshot.cluster());
    if (cluster == nullptr) {
      return;
    }
    cluster->last_received_steady_ms = SteadyMs();
    if (cluster->reported_silent) {
      cluster->reported_silent = false;
      logger->info("cluster_snapshots_resumed cluster={}", snapshot.cluster());
    }
    if (snapshot.starting_up() == cluster->evaluating) {
      // Said once per change and cluster: operators (and the restart tests) see when rules
      // begin to judge.
      cluster->evaluating = !snapshot.starting_up();
      if (cluster->evaluating) {
        logger->info("evaluation_started cluster={} members={} fresh={}", snapshot.cluster(),
                     snapshot.member_count(), snapshot.fresh_members());
      } else {
        logger->info("evaluation_paused cluster={} reason=\"the aggregator is starting up\"",
                     snapshot.cluster());
      }
    }
    Evaluation evaluation = cluster->engine->Evaluate(snapshot, now, silences);
    snapshots++;
    // The newest tick of any cluster (their snapshots interleave).
    if (snapshot.tick_unix_ms() > last_snapshot_ms.load()) {
      last_snapshot_ms = snapshot.tick_unix_ms();
    }
    for (const Alert& a : evaluation.changed) {
      logger->info("alert_{} rule={} severity={} cluster={} member={} summary=\"{}\"",
                   AlertStateName(a.state), a.key.rule, SeverityName(a.severity), a.key.cluster,
                   a.key.member, a.summary);
    }
    notifications += evaluation.notifications.size();
    silenced += evaluation.silenced.size();
    Result<std::vector<PendingDelivery>> deliveries = store->Record(evaluation, channel_names);
    last_store_ok = deliveries.ok();
    if (!deliveries.ok()) {
      // Notifying matters more than recording: deliver anyway (without ids), and say so.
      store_failures++;
      logger->error("alert_store_failed error=\"{}\" (notifications are delivered unrecorded)",
                    deliveries.status().message());
      for (const Notification& n : evaluation.notifications) {
        dispatcher->Dispatch(n);
      }
    } else {
      for (const PendingDelivery& d : *deliveries) {
        dispatcher->DispatchTo(d.channel, d.notification);
      }
    }
    if (!evaluation.changed.empty() || !evaluation.dropped.empty()) {
      active_dirty = true;
    }
    if (!evaluation.changed.empty()) {
      rule_states_dirty.insert(snapshot.cluster());
    }
  }

  // The periodic work, once per batch of snapshots rather than per cluster.
  void AfterBatch() {
    if (active_dirty) {
      active_dirty = false;
      PublishActive();
    }
    const int64_t now_ms = UnixMs(clock->Now());
    const auto steady = clock->SteadyNow();
    if (steady >= next_rule_save) {
      next_rule_save = steady + kSaveRuleStatesEvery;
      SaveRuleStates(now_ms, /*all=*/true);
    } else if (!rule_states_dirty.empty()) {
      SaveRuleStates(now_ms, /*all=*/false);
    }
    if (steady >= next_prune) {
      next_prune = steady + kPruneEvery;
      if (Status s = store->Prune(now_ms); !s.ok()) {
        logger->warn("alert_history_prune_failed error=\"{}\"", s.message());
      }
    }
    NoteSilentClusters();
  }

  // Saves the rule states of every engine (`all`) or of those whose alerts changed.
  void SaveRuleStates(int64_t now_ms, bool all) {
    std::map<std::string, std::vector<RuleState>> by_cluster;
    for (const auto& [name, cluster] : clusters) {
      if (all || rule_states_dirty.count(name) != 0) {
        by_cluster[name] = cluster.engine->SaveRuleStates();
      }
    }
    if (unnamed_rule_states_taken && by_cluster.count("") == 0) {
      by_cluster[""];  // empty: deletes the unnamed rows an engine adopted
    }
    if (by_cluster.empty()) {
      return;
    }
    if (Status s = store->SaveRuleStates(by_cluster, now_ms); !s.ok()) {
      store_failures++;
      logger->warn("rule_state_save_failed error=\"{}\"", s.message());
      return;
    }
    rule_states_dirty.clear();
    unnamed_rule_states_taken = false;
  }

  // A cluster whose snapshots stopped while others' still come (the aggregator forgot it, or
  // it was renamed): said once, and named by the health. Its alerts keep their state. When no
  // snapshot comes at all the loop says so once for all.
  void NoteSilentClusters() {
    const int64_t now = SteadyMs();
    const bool stream_alive =
        now - last_received_steady_ms.load() <= config.snapshot_timeout.count();
    std::vector<std::string> silent;
    for (auto& [name, cluster] : clusters) {
      if (now - cluster.last_received_steady_ms <= config.snapshot_timeout.count()) {
        continue;
      }
      if (silent.size() < kMaxNamedSilentClusters) {
        silent.push_back(name);
      }
      if (stream_alive && !cluster.reported_silent) {
        cluster.reported_silent = true;
        logger->warn("cluster_snapshots_stopped cluster={} for_ms={} (its alerts keep their state)",
                     name, config.snapshot_timeout.count());
      }
    }
    std::lock_guard<std::mutex> lock(active_mu);
    silent_clusters = std::move(silent);
  }

  void Loop() {
    etcdmonitor::v1::ClusterSnapshot snapshot;
    bool reported_silence = false;
    const int64_t loop_started_ms = SteadyMs();
    auto rejected = [&](const Status& status) {
      if (bad_frames++ == 0) {
        logger->warn("snapshot_rejected error=\"{}\" (further ones are counted only)",
                     status.message());
      }
    };
    while (!stop_requested.load()) {
      Result<bool> got = source(snapshot, kReceiveTimeout);
      if (!got.ok()) {
        rejected(got.status());
        continue;
      }
      if (!*got) {
        NoteSilentClusters();
        const int64_t since =
            SteadyMs() - std::max(last_received_steady_ms.load(), loop_started_ms);
        if (!reported_silence && since > config.snapshot_timeout.count()) {
          reported_silence = true;
          logger->warn(
              "no_snapshots for_ms={} from={} (alerts are not evaluated while the "
              "aggregator is silent)",
              config.snapshot_timeout.count(), config.snapshot_endpoint);
        }
        continue;
      }
      if (reported_silence) {
        reported_silence = false;
        logger->info("snapshots_resumed");
      }
      last_received_steady_ms = SteadyMs();
      Evaluate(snapshot);
      // The aggregator publishes one snapshot per cluster per tick: drain what is queued, each
      // evaluated in order by its cluster's engine, then do the periodic work once.
      for (int drained = 1; drained < kMaxDrain && !stop_requested.load(); ++drained) {
        got = source(snapshot, std::chrono::milliseconds(0));
        if (!got.ok()) {
          rejected(got.status());
          continue;
        }
        if (!*got) {
          break;
        }
        last_received_steady_ms = SteadyMs();
        Evaluate(snapshot);
      }
      AfterBatch();
    }
  }

  void FillHealth(etcdmonitor::v1::ServiceHealth& out) {
    const int64_t last = last_received_steady_ms.load();
    const bool fresh = last != 0 && SteadyMs() - last <= config.snapshot_timeout.count();
    const bool store_ok = last_store_ok.load();
    out.set_ok(fresh && store_ok);
    out.set_last_update_unix_ms(last_snapshot_ms.load());
    std::string detail;
    if (last == 0) {
      detail = "no snapshot received yet";
    } else if (!fresh) {
      detail =
          "no snapshot for more than " + std::to_string(config.snapshot_timeout.count()) + " ms";
    } else {
      std::lock_guard<std::mutex> lock(active_mu);
      // One cluster reads as before clusters had names.
      detail = cluster_count > 1 ? "evaluating " + std::to_string(cluster_count) + " clusters"
                                 : "evaluating";
      if (!silent_clusters.empty()) {
        std::string names;
        for (const std::string& name : silent_clusters) {
          names += (names.empty() ? "" : ", ") + name;
        }
        detail += "; no snapshot of cluster " + names + " for more than " +
                  std::to_string(config.snapshot_timeout.count()) + " ms";
      }
    }
    if (const uint64_t dropped = dropped_snapshots.load(); dropped > 0) {
      detail += "; " + std::to_string(dropped) + " snapshots of clusters beyond " +
                std::to_string(kMaxClusters) + " dropped";
    }
    if (!store_ok) {
      detail += "; the alert store failed its last write";
    }
    // Notifications not sent one by one (an alert storm): per channel, severity and reason.
    std::string dropped;
    for (const DroppedCount& d : dispatcher->dropped()) {
      dropped += (dropped.empty() ? "" : ", ") + d.channel + "/" +
                 std::string(SeverityName(d.severity)) + "/" + d.reason + "=" +
                 std::to_string(d.count);
    }
    if (!dropped.empty()) {
      detail += "; notifications dropped or grouped: " + dropped;
    }
    out.set_detail(detail);
  }
};

AlerterService::AlerterService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AlerterService::~AlerterService() { Stop(); }

Result<std::unique_ptr<AlerterService>> AlerterService::Create(
    AlerterConfig config, std::vector<std::unique_ptr<Notifier>> channels,
    std::shared_ptr<spdlog::logger> logger, Clock& clock, SnapshotSource source) {
  auto impl = std::make_unique<Impl>(std::move(config), std::move(logger), clock);
  Impl* raw = impl.get();
  const AlerterConfig& c = impl->config;

  for (const auto& channel : channels) {
    for (const std::string& seen : impl->channel_names) {
      if (seen == channel->name()) {
        return Status::InvalidArgument("channel \"" + seen + "\" configured twice");
      }
    }
    impl->channel_names.push_back(channel->name());
  }

  const std::filesystem::path parent = std::filesystem::path(c.db_path).parent_path();
  if (!parent.empty()) {
    if (Status made = files::MakePrivateDirectory(parent.string()); !made.ok()) {
      return Status::Unavailable("cannot create the alert store's directory: " + made.message());
    }
  }
  // Before anything opens the database: a second alerter on it would restore and notify the
  // same alerts.
  Result<std::unique_ptr<files::DirectoryLock>> lock =
      files::DirectoryLock::AcquireForDatabase(c.db_path);
  if (!lock.ok()) {
    return lock.status();
  }
  impl->db_lock = std::move(lock).value();
  Result<std::unique_ptr<AlertStore>> store = AlertStore::Open(c.db_path, c.store);
  if (!store.ok()) {
    return Status(store.status().code(),
                  "alert store " + c.db_path + ": " + std::string(store.status().message()));
  }
  impl->store = std::move(store).value();

  if (source) {
    impl->source = std::move(source);
  } else {
    transport::SnapshotSubscriberOptions options;
    options.endpoint = c.snapshot_endpoint;
    options.curve_server_key = c.curve_server_key;
    options.context = c.zmq_context;
    Result<std::unique_ptr<transport::SnapshotSubscriber>> subscriber =
        transport::SnapshotSubscriber::Create(options);
    if (!subscriber.ok()) {
      return subscriber.status();
    }
    impl->subscriber = std::move(subscriber).value();
    impl->source = [raw](etcdmonitor::v1::ClusterSnapshot& out, std::chrono::milliseconds timeout) {
      return raw->subscriber->Receive(out, timeout);
    };
  }

  impl->dispatcher = std::make_unique<Dispatcher>(
      std::move(channels), c.dispatcher,
      [raw](const Notification& n, const DeliveryAttempt& attempt) { raw->OnAttempt(n, attempt); },
      clock);

  std::vector<std::string> rule_ids;
  for (const RuleSpec& rule : c.rules.rules()) {
    rule_ids.push_back(rule.id);
  }
  impl->grpc_service = std::make_unique<detail::AlertGrpcService>(
      *impl->store, clock, std::move(rule_ids), c.api_token,
      [raw] {
        std::lock_guard<std::mutex> lock(raw->active_mu);
        return raw->active;
      },
      [raw](etcdmonitor::v1::ServiceHealth& out) { raw->FillHealth(out); },
      [raw] { raw->silences_changed = true; });
  Result<rpc::StartedServer> server =
      rpc::StartServer(c.grpc_address, *impl->grpc_service, c.grpc_security);
  if (!server.ok()) {
    return server.status();
  }
  impl->grpc_server = std::move(server->server);
  impl->grpc_port = server->port;
  return std::unique_ptr<AlerterService>(new AlerterService(std::move(impl)));
}

Status AlerterService::Start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->started) {
    return Status::FailedPrecondition("alerter already started");
  }
  Result<std::vector<Alert>> active = impl_->store->LoadActive();
  ETCDMON_RETURN_IF_ERROR(active.status());
  const std::size_t restored = active->size();
  // Each cluster's engine takes its open alerts when its first snapshot makes it; until then
  // they are listed as they were stored.
  for (Alert& alert : *active) {
    std::string cluster = alert.key.cluster;
    impl_->restored_alerts[cluster].push_back(std::move(alert));
  }
  impl_->PublishActive();
  // The rules' trailing histories (elections per hour, failures per window, latency baselines):
  // without them a rule resolves what still holds. A damaged one starts empty, with a warning.
  // Restored into each cluster's engine when it is made (EngineFor).
  Result<std::map<std::string, std::vector<RuleState>>> rule_states =
      impl_->store->LoadRuleStates();
  ETCDMON_RETURN_IF_ERROR(rule_states.status());
  std::size_t restored_states = 0;
  for (const auto& [cluster, states] : *rule_states) {
    restored_states += states.size();
  }
  impl_->restored_rule_states = std::move(rule_states).value();
  // Deliveries a previous run queued but did not finish: at-least-once, so resend them.
  Result<std::vector<PendingDelivery>> pending = impl_->store->PendingDeliveries();
  ETCDMON_RETURN_IF_ERROR(pending.status());
  for (const PendingDelivery& d : *pending) {
    impl_->dispatcher->DispatchTo(d.channel, d.notification);
  }
  impl_->started = true;
  impl_->loop_thread = std::thread([this] { impl_->Loop(); });
  impl_->logger->info(
      "alerter_started snapshots={} grpc={} grpc_auth={} db={} rules={} channels={} "
      "restored_alerts={} restored_rule_states={} resumed_deliveries={}",
      impl_->subscriber ? impl_->config.snapshot_endpoint : std::string("in-process"),
      grpc_address(), rpc::DescribeSecurity(impl_->config.grpc_security), impl_->config.db_path,
      impl_->config.rules.rules().size(), impl_->channel_names.size(), restored, restored_states,
      pending->size());
  return Status::Ok();
}

void AlerterService::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopped) {
      return;
    }
    impl_->stopped = true;
  }
  impl_->stop_requested = true;
  impl_->grpc_server->Shutdown(std::chrono::system_clock::now() + kGrpcShutdownGrace);
  if (impl_->loop_thread.joinable()) {
    impl_->loop_thread.join();
    impl_->SaveRuleStates(UnixMs(impl_->clock->Now()), /*all=*/true);
  }
  // Deliveries still queued stay pending in the store and go out after the next start.
  impl_->dispatcher->WaitIdle(kStopDeliveryGrace);
  impl_->dispatcher->Stop();
  const AlerterStats s = Stats();
  impl_->logger->info("alerter_stopped snapshots={} notifications={} delivered={} failed={}",
                      s.snapshots, s.notifications, s.deliveries_ok, s.deliveries_failed);
}

bool AlerterService::WaitDeliveriesIdle(std::chrono::milliseconds timeout) {
  return impl_->dispatcher->WaitIdle(timeout);
}

AlerterStats AlerterService::Stats() const {
  AlerterStats s;
  s.snapshots = impl_->snapshots.load();
  s.bad_frames = impl_->bad_frames.load();
  s.notifications = impl_->notifications.load();
  s.silenced = impl_->silenced.load();
  s.deliveries_ok = impl_->deliveries_ok.load();
  s.deliveries_failed = impl_->deliveries_failed.load();
  s.store_failures = impl_->store_failures.load();
  s.last_snapshot_unix_ms = impl_->last_snapshot_ms.load();
  s.dropped_snapshots = impl_->dropped_snapshots.load();
  {
    std::lock_guard<std::mutex> lock(impl_->active_mu);
    s.clusters = impl_->cluster_count;
  }
  return s;
}

std::shared_ptr<grpc::Channel> AlerterService::InProcessChannel() {
  return impl_->grpc_server->InProcessChannel(grpc::ChannelArguments());
}

std::string AlerterService::grpc_address() const {
  return rpc::BoundAddress(impl_->config.grpc_address, impl_->grpc_port);
}

}  // namespace etcdmon::alerter
