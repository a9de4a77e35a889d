#include "etcdmon/aggregator/remote_write_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/remote_write/remote_write.h"
#include "etcdmon/sqlite/connection.h"
#include "etcdmon/sqlite/transaction.h"
#include "history_schema.h"

namespace etcdmon::aggregator {

namespace detail {

std::chrono::milliseconds RetryBackoff(int failures, std::chrono::milliseconds min,
                                       std::chrono::milliseconds max, double unit) {
  double ms = static_cast<double>(min.count());
  for (int i = 1; i < failures && ms < static_cast<double>(max.count()); ++i) {
    ms *= 2;
  }
  ms = std::min(ms, static_cast<double>(max.count()));
  unit = std::clamp(unit, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<int64_t>(ms * (0.5 + 0.5 * unit)));
}

}  // namespace detail

namespace {

using detail::AlignDown;
using detail::kBucketMs;
using detail::kMaxUnixMs;
using detail::kMinUnixMs;
using detail::kMinute;

// A series without a cursor row sends every point it still has.
constexpr int64_t kNoCursor = kMinUnixMs - 1;
// Distinct rejection details logged at warn, at most one per this interval; others at debug.
constexpr std::chrono::seconds kRejectWarnInterval{60};
constexpr std::size_t kMaxRememberedDetails = 64;

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

struct SeriesInfo {
  SeriesId id;
  std::string cluster;
  std::string metric;
  std::string member;  // "" = cluster-wide
};

}  // namespace

struct RemoteWriteSender::Impl {
  RemoteWriteConfig config;
  std::shared_ptr<spdlog::logger> logger;
  Clock& clock;

  // The round state: guarded by round_mu (one round at a time).
  std::mutex round_mu;
  std::unique_ptr<sqlite::Connection> db;
  sqlite::Statement select_new_series;  // series with an id above the highest known
  sqlite::Statement select_page;        // unsent points of one series
  sqlite::Statement select_point;       // does the cursor's point still exist
  sqlite::Statement select_gap;         // raw points of whole minutes pruned unsent
  sqlite::Statement upsert_cursor;
  std::unique_ptr<remote_write::Client> client;
  remote_write::Labels external_labels;
  std::vector<SeriesInfo> series;
  std::map<SeriesId, int64_t> cursors;  // as stored
  std::size_t next_index = 0;           // the series the next round starts at
  std::set<std::string> rejection_details;
  std::chrono::steady_clock::time_point last_reject_warn{};
  bool failing = false;

  mutable std::mutex stats_mu;
  RemoteWriteStats stats;  // guarded by stats_mu

  // The loop: guarded by mu.
  std::mutex mu;
  std::condition_variable cv;
  bool stop_requested = false;
  bool started = false;
  std::thread thread;

  Impl(RemoteWriteConfig c, std::shared_ptr<spdlog::logger> l, Clock& cl)
      : config(std::move(c)), logger(std::move(l)), clock(cl) {}

  Status Prepare() {
    auto prepare = [this](sqlite::Statement& stmt, std::string_view sql) -> Status {
      Result<sqlite::Statement> s = db->Prepare(sql);
      if (!s.ok()) {
        return s.status();
      }
      stmt = std::move(s).value();
      return Status::Ok();
    };
    ETCDMON_RETURN_IF_ERROR(prepare(select_new_series,
                                    "SELECT s.id, c.name, m.name, b.name FROM series s"
                                    " JOIN metrics m ON m.id = s.metric_id"
                                    " JOIN members b ON b.id = s.member_id"
                                    " JOIN clusters c ON c.id = s.cluster_id"
                                    " WHERE s.id > ?1 ORDER BY s.id"));
    ETCDMON_RETURN_IF_ERROR(prepare(select_page,
                                    "SELECT ts, value FROM points_raw WHERE series = ?1"
                                    " AND ts > ?2 ORDER BY ts LIMIT ?3"));
    ETCDMON_RETURN_IF_ERROR(
        prepare(select_point, "SELECT 1 FROM points_raw WHERE series = ?1 AND ts = ?2"));
    ETCDMON_RETURN_IF_ERROR(prepare(select_gap,
                                    "SELECT COALESCE(SUM(count), 0) FROM points_1m"
                                    " WHERE series = ?1 AND ts >= ?2 AND ts + 60000 <= ?3"));
    ETCDMON_RETURN_IF_ERROR(prepare(upsert_cursor,
                                    "INSERT INTO remote_write_cursor (series, sent_until_ts)"
                                    " VALUES (?1, ?2) ON CONFLICT (series)"
                                    " DO UPDATE SET sent_until_ts = excluded.sent_until_ts"));
    Result<sqlite::Statement> load =
        db->Prepare("SELECT series, sent_until_ts FROM remote_write_cursor");
    if (!load.ok()) {
      return load.status();
    }
    sqlite::ResetGuard guard(*load);
    while (true) {
      Result<bool> row = load->Step();
      if (!row.ok()) {
        return row.status();
      }
      if (!*row) {
        break;
      }
      cursors[static_cast<SeriesId>(load->ColumnInt64(0))] = load->ColumnInt64(1);
    }
    return Status::Ok();
  }

  Status LoadNewSeries() {
    sqlite::ResetGuard guard(select_new_series);
    ETCDMON_RETURN_IF_ERROR(select_new_series.BindAll(series.empty() ? 0 : series.back().id));
    while (true) {
      Result<bool> row = select_new_series.Step();
      if (!row.ok()) {
        return row.status();
      }
      if (!*row) {
        return Status::Ok();
      }
      series.push_back({static_cast<SeriesId>(select_new_series.ColumnInt64(0)),
                        std::string(select_new_series.ColumnText(1)),
                        std::string(select_new_series.ColumnText(2)),
                        std::string(select_new_series.ColumnText(3))});
    }
  }

  int64_t Cursor(SeriesId id) const {
    auto it = cursors.find(id);
    return it == cursors.end() ? kNoCursor : it->second;
  }

  // Up to `limit` points of `id` after `after`, appended to `samples`.
  Status ReadPage(SeriesId id, int64_t after, uint32_t limit,
                  std::vector<remote_write::Sample>& samples) {
    sqlite::ResetGuard guard(select_page);
    ETCDMON_RETURN_IF_ERROR(select_page.BindAll(id, after, limit));
    while (true) {
      Result<bool> row = select_page.Step();
      if (!row.ok()) {
        return row.status();
      }
      if (!*row) {
        return Status::Ok();
      }
      samples.push_back({select_page.ColumnInt64(0), select_page.ColumnDouble(1)});
    }
  }

  // Points of `id` pruned by retention between its cursor and `first_unsent` (the cursor's own
  // point is gone): the raw points the 1-minute roll-ups count in the whole minutes of the gap.
  Result<uint64_t> PrunedUnsent(SeriesId id, int64_t cursor, int64_t first_unsent) {
    {
      sqlite::ResetGuard guard(select_point);
      ETCDMON_RETURN_IF_ERROR(select_point.BindAll(id, cursor));
      Result<bool> row = select_point.Step();
      if (!row.ok()) {
        return row.status();
      }
      if (*row) {
        return uint64_t{0};  // the cursor's point is still there: nothing was pruned after it
      }
    }
    sqlite::ResetGuard guard(select_gap);
    const int64_t from = AlignDown(cursor, kBucketMs[kMinute]) + kBucketMs[kMinute];
    ETCDMON_RETURN_IF_ERROR(select_gap.BindAll(id, from, first_unsent));
    Result<bool> row = select_gap.Step();
    if (!row.ok()) {
      return row.status();
    }
    return static_cast<uint64_t>(std::max<int64_t>(0, select_gap.ColumnInt64(0)));
  }

  Status AdvanceCursors(const std::vector<std::pair<SeriesId, int64_t>>& advanced) {
    Result<sqlite::Transaction> txn = sqlite::Transaction::Begin(*db);
    if (!txn.ok()) {
      return txn.status();
    }
    for (const auto& [id, ts] : advanced) {
      ETCDMON_RETURN_IF_ERROR(upsert_cursor.BindAll(id, ts));
      ETCDMON_RETURN_IF_ERROR(upsert_cursor.Run());
    }
    ETCDMON_RETURN_IF_ERROR(txn->Commit());
    for (const auto& [id, ts] : advanced) {
      cursors[id] = ts;
    }
    return Status::Ok();
  }

  // now - the oldest point not yet sent, over every series; 0 when caught up.
  Result<double> Lag() {
    int64_t oldest = kMaxUnixMs + 1;
    std::vector<remote_write::Sample> first;
    for (const SeriesInfo& s : series) {
      first.clear();
      ETCDMON_RETURN_IF_ERROR(ReadPage(s.id, Cursor(s.id), 1, first));
      if (!first.empty()) {
        oldest = std::min(oldest, first.front().timestamp_ms);
      }
    }
    if (oldest > kMaxUnixMs) {
      return 0.0;
    }
    return std::max(0.0, static_cast<double>(UnixMs(clock.Now()) - oldest) / 1000.0);
  }

  void LogRejection(const remote_write::SendResult& result, uint64_t samples) {
    const bool is_new = rejection_details.count(result.detail) == 0;
    if (is_new && rejection_details.size() < kMaxRememberedDetails) {
      rejection_details.insert(result.detail);
    }
    const auto now = clock.SteadyNow();
    if (is_new && (last_reject_warn == std::chrono::steady_clock::time_point{} ||
                   now - last_reject_warn >= kRejectWarnInterval)) {
      last_reject_warn = now;
      logger->warn("remote_write_rejected status={} samples={} detail=\"{}\"", result.http_status,
                   samples, result.detail);
    } else {
      logger->debug("remote_write_rejected status={} samples={} detail=\"{}\"", result.http_status,
                    samples, result.detail);
    }
  }

  Result<RoundResult> Round() {
    std::lock_guard<std::mutex> lock(round_mu);
    ETCDMON_RETURN_IF_ERROR(LoadNewSeries());
    RoundResult result;
    std::vector<remote_write::Series> batch;
    std::vector<std::pair<SeriesId, int64_t>> advanced;
    uint64_t dropped = 0;
    uint32_t room = config.max_samples;
    const std::size_t n = series.size();
    std::size_t visited = 0;
    for (; visited < n && room > 0; ++visited) {
      const SeriesInfo& s = series[(next_index + visited) % n];
      const int64_t cursor = Cursor(s.id);
      std::vector<remote_write::Sample> samples;
      ETCDMON_RETURN_IF_ERROR(ReadPage(s.id, cursor, room, samples));
      if (samples.empty()) {
        continue;
      }
      if (cursor != kNoCursor) {
        Result<uint64_t> gap = PrunedUnsent(s.id, cursor, samples.front().timestamp_ms);
        if (!gap.ok()) {
          return gap.status();
        }
        dropped += *gap;
      }
      room -= static_cast<uint32_t>(samples.size());
      advanced.emplace_back(s.id, samples.back().timestamp_ms);
      remote_write::Series out;
      out.name = s.metric;
      out.labels.emplace_back("cluster", s.cluster);
      if (!s.member.empty()) {
        out.labels.emplace_back("member", s.member);
      }
      out.samples = std::move(samples);
      batch.push_back(std::move(out));
    }
    if (batch.empty()) {
      next_index = 0;
      Result<double> lag = Lag();
      std::lock_guard<std::mutex> stats_lock(stats_mu);
      stats.lag_seconds = lag.ok() ? *lag : stats.lag_seconds;
      return result;
    }
    result.samples = config.max_samples - room;
    result.more = room == 0;
    // The next round starts after the last series visited, so one long backlog does not starve
    // the others.
    next_index = n == 0 ? 0 : (next_index + visited) % n;

    remote_write::SendResult sent;
    Result<std::string> body = remote_write::EncodeWriteRequest(batch, external_labels);
    if (body.ok()) {
      sent = client->Send(*body);
    } else {
      // A name the protocol cannot carry: no receiver would take it either.
      sent.outcome = remote_write::SendOutcome::kRejected;
      sent.detail = body.status().message();
    }
    if (sent.outcome == remote_write::SendOutcome::kRetryable) {
      if (!failing) {
        failing = true;
        logger->warn("remote_write_failing status={} detail=\"{}\" (retrying with backoff)",
                     sent.http_status, sent.detail);
      }
      Result<double> lag = Lag();  // grows while the receiver is away
      std::lock_guard<std::mutex> stats_lock(stats_mu);
      ++stats.failures;
      if (lag.ok()) {
        stats.lag_seconds = *lag;
      }
      result.outcome = RoundOutcome::kRetryable;
      return result;
    }
    if (failing) {
      failing = false;
      logger->info("remote_write_recovered");
    }
    ETCDMON_RETURN_IF_ERROR(AdvanceCursors(advanced));
    if (sent.outcome == remote_write::SendOutcome::kRejected) {
      LogRejection(sent, result.samples);
      result.outcome = RoundOutcome::kRejected;
    } else {
      result.outcome = RoundOutcome::kAccepted;
    }
    Result<double> lag = Lag();
    std::lock_guard<std::mutex> stats_lock(stats_mu);
    if (result.outcome == RoundOutcome::kAccepted) {
      stats.samples_sent += result.samples;
      stats.last_success_unix_ms = UnixMs(clock.Now());
    } else {
      stats.samples_rejected += result.samples;
    }
    stats.samples_dropped += dropped;
    if (lag.ok()) {
      stats.lag_seconds = *lag;
    }
    return result;
  }

  void Loop() {
    std::mt19937_64 random(std::random_device{}());
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    int failures = 0;
    auto next = clock.SteadyNow();
    bool error_logged = false;
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu);
        if (clock.WaitUntil(lock, cv, next, [this] { return stop_requested; })) {
          return;
        }
      }
      Result<RoundResult> round = Round();
      if (!round.ok() && !error_logged) {
        error_logged = true;
        logger->error("remote_write_history_failed error=\"{}\"", round.status().message());
      }
      const auto now = clock.SteadyNow();
      if (!round.ok() || round->outcome == RoundOutcome::kRetryable) {
        ++failures;
        next = now +
               detail::RetryBackoff(failures, config.min_backoff, config.max_backoff, unit(random));
        continue;
      }
      error_logged = false;
      failures = 0;
      next = round->more ? now : now + config.interval;
    }
  }
};

Result<std::unique_ptr<RemoteWriteSender>> RemoteWriteSender::Create(
    RemoteWriteConfig config, std::string history_path, std::shared_ptr<spdlog::logger> logger,
    Clock& clock) {
  if (config.max_samples == 0) {
    return Status::InvalidArgument("remote_write: max_samples must be at least 1");
  }
  if (config.interval.count() <= 0 || config.min_backoff.count() <= 0 ||
      config.max_backoff < config.min_backoff) {
    return Status::InvalidArgument("remote_write: bad interval or backoff");
  }
  remote_write::Labels external(config.external_labels.begin(), config.external_labels.end());
  // The encoder checks the names: one sample of a throw-away series shows a bad label now.
  if (Result<std::string> probe =
          remote_write::EncodeWriteRequest({{"up", {}, {{0, 0}}}}, external);
      !probe.ok()) {
    return Status::InvalidArgument("remote_write external labels: " + probe.status().message());
  }
  if (!logger) {
    logger = spdlog::default_logger();
  }
  auto impl = std::make_unique<Impl>(std::move(config), std::move(logger), clock);
  impl->external_labels = std::move(external);
  remote_write::ClientOptions options;
  options.url = impl->config.url;
  options.bearer_token = impl->config.bearer_token.Reveal();
  options.tls = impl->config.tls;
  options.timeout = impl->config.timeout;
  Result<std::unique_ptr<remote_write::Client>> client =
      remote_write::Client::Create(std::move(options));
  if (!client.ok()) {
    return client.status();
  }
  impl->client = std::move(client).value();
  sqlite::ConnectionOptions db_options;
  db_options.create = false;
  Result<std::unique_ptr<sqlite::Connection>> db =
      sqlite::Connection::Open(history_path, db_options);
  if (!db.ok()) {
    return db.status();
  }
  impl->db = std::move(db).value();
  if (Status s = impl->Prepare(); !s.ok()) {
    return s.WithContext("remote_write history " + history_path);
  }
  return std::unique_ptr<RemoteWriteSender>(new RemoteWriteSender(std::move(impl)));
}

RemoteWriteSender::RemoteWriteSender(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RemoteWriteSender::~RemoteWriteSender() { Stop(); }

Status RemoteWriteSender::Start() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->started) {
    return Status::FailedPrecondition("remote_write sender already started");
  }
  impl_->started = true;
  impl_->thread = std::thread([this] { impl_->Loop(); });
  impl_->logger->info("remote_write_started tls={} token={} interval_ms={} max_samples={}",
                      impl_->config.url.rfind("https://", 0) == 0 ? "on" : "off",
                      impl_->config.bearer_token.empty() ? "no" : "yes",
                      impl_->config.interval.count(), impl_->config.max_samples);
  return Status::Ok();
}

void RemoteWriteSender::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop_requested = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
}

Result<RoundResult> RemoteWriteSender::RunRound() { return impl_->Round(); }

RemoteWriteStats RemoteWriteSender::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->stats;
}

}  // namespace etcdmon::aggregator
