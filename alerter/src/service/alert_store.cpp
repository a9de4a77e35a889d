#include "etcdmon/alerter/alert_store.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "etcdmon/sqlite/connection.h"
#include "etcdmon/sqlite/transaction.h"
#include "etcdmon/strings/strings.h"

namespace etcdmon::alerter {
namespace {

// Bump on any incompatible change; a file with a newer version is refused rather than misread.
// 2: silences and rule states have a cluster (Migrate() brings version 1 files up to it).
constexpr int64_t kSchemaVersion = 2;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS alerts(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  fingerprint TEXT NOT NULL,
  rule TEXT NOT NULL,
  cluster TEXT NOT NULL,
  member TEXT NOT NULL,
  severity TEXT NOT NULL,
  state TEXT NOT NULL,
  summary TEXT NOT NULL,
  values_json TEXT NOT NULL,
  channels TEXT NOT NULL,
  pending_since_ms INTEGER NOT NULL,
  firing_since_ms INTEGER NOT NULL,
  resolved_ms INTEGER NOT NULL,
  last_notified_ms INTEGER NOT NULL);
-- At most one open instance per alert key.
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON alerts(fingerprint) WHERE resolved_ms = 0;
CREATE INDEX IF NOT EXISTS alerts_resolved ON alerts(resolved_ms) WHERE resolved_ms != 0;
CREATE TABLE IF NOT EXISTS notifications(
  -- AUTOINCREMENT: an id is never reused after pruning, so receivers can deduplicate on it.
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  silenced INTEGER NOT NULL,
  alert_json TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notifications_by_alert ON notifications(alert_id);
CREATE TABLE IF NOT EXISTS deliveries(
  notification_id INTEGER NOT NULL,
  channel TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  PRIMARY KEY(notification_id, channel)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries(notification_id) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS delivery_attempts(
  notification_id INTEGER NOT NULL,
  channel TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  unix_ms INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT NOT NULL,
  took_ms INTEGER NOT NULL,
  PRIMARY KEY(notification_id, channel, attempt)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS alerts_by_cluster ON alerts(cluster, id);
-- cluster '': every cluster (the silences made before clusters had names).
CREATE TABLE IF NOT EXISTS silences(
  id TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  member TEXT NOT NULL,
  comment TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  cluster TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
-- cluster '': saved before clusters had names (see AlertStore::LoadRuleStates).
CREATE TABLE IF NOT EXISTS rule_state(
  cluster TEXT NOT NULL,
  rule TEXT NOT NULL,
  state TEXT NOT NULL,
  saved_ms INTEGER NOT NULL,
  PRIMARY KEY(cluster, rule)) WITHOUT ROWID;
)sql";

// Version 1 to 2, before kSchema runs: silences get a cluster column (existing rows: '', every
// cluster, which is what they meant), rule states a cluster in their key (existing rows: '',
// restored by the service as the state of a single unnamed cluster). Safe on any older file:
// each step looks at what the table has.
Status Migrate(sqlite::Connection& db) {
  auto has_column = [&](std::string_view table, std::string_view column) -> Result<bool> {
    Result<sqlite::Statement> q = db.Prepare("SELECT COUNT(*) FROM pragma_table_info('" +
                                             std::string(table) + "') WHERE name = ?");
    ETCDMON_RETURN_IF_ERROR(q.status());
    ETCDMON_RETURN_IF_ERROR(q->BindAll(std::string(column)));
    Result<bool> row = q->Step();
    ETCDMON_RETURN_IF_ERROR(row.status());
    return *row && q->ColumnInt64(0) > 0;
  };
  auto has_table = [&](std::string_view table) -> Result<bool> {
    Result<sqlite::Statement> q =
        db.Prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    ETCDMON_RETURN_IF_ERROR(q.status());
    ETCDMON_RETURN_IF_ERROR(q->BindAll(std::string(table)));
    Result<bool> row = q->Step();
    ETCDMON_RETURN_IF_ERROR(row.status());
    return *row && q->ColumnInt64(0) > 0;
  };
  Result<sqlite::Transaction> tx =
      sqlite::Transaction::Begin(db, sqlite::TransactionMode::kImmediate);
  ETCDMON_RETURN_IF_ERROR(tx.status());
  Result<bool> silences = has_table("silences");
  ETCDMON_RETURN_IF_ERROR(silences.status());
  if (*silences) {
    Result<bool> migrated = has_column("silences", "cluster");
    ETCDMON_RETURN_IF_ERROR(migrated.status());
    if (!*migrated) {
      ETCDMON_RETURN_IF_ERROR(
          db.Exec("ALTER TABLE silences ADD COLUMN cluster TEXT NOT NULL DEFAULT ''"));
    }
  }
  Result<bool> rule_state = has_table("rule_state");
  ETCDMON_RETURN_IF_ERROR(rule_state.status());
  if (*rule_state) {
    Result<bool> migrated = has_column("rule_state", "cluster");
    ETCDMON_RETURN_IF_ERROR(migrated.status());
    if (!*migrated) {
      // The key changes: SQLite cannot alter a primary key, so the table is rebuilt.
      ETCDMON_RETURN_IF_ERROR(
          db.Exec("ALTER TABLE rule_state RENAME TO rule_state_v1;"
                  "CREATE TABLE rule_state(cluster TEXT NOT NULL, rule TEXT NOT NULL, "
                  "state TEXT NOT NULL, saved_ms INTEGER NOT NULL, PRIMARY KEY(cluster, rule)) "
                  "WITHOUT ROWID;"
                  "INSERT INTO rule_state(cluster, rule, state, saved_ms) "
                  "SELECT '', rule, state, saved_ms FROM rule_state_v1;"
                  "DROP TABLE rule_state_v1;"));
    }
  }
  return tx->Commit();
}

// Columns of `alerts` in the order AlertFromRow reads them.
constexpr std::string_view kAlertColumns =
    "id, fingerprint, rule, cluster, member, severity, state, summary, values_json, channels, "
    "pending_since_ms, firing_since_ms, resolved_ms, last_notified_ms";

nlohmann::json ValuesJson(const std::vector<AlertValue>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (const AlertValue& v : values) {
    out.push_back({{"name", v.name}, {"value", v.value}});
  }
  return out;
}

std::string ValuesToJson(const std::vector<AlertValue>& values) {
  return ValuesJson(values).dump();
}

std::vector<AlertValue> ValuesFromJson(std::string_view text) {
  std::vector<AlertValue> values;
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) {
    return values;
  }
  for (const nlohmann::json& v : parsed) {
    if (v.is_object() && v.contains("name") && v["name"].is_string() && v.contains("value") &&
        v["value"].is_number()) {
      values.push_back({v["name"].get<std::string>(), v["value"].get<double>()});
    }
  }
  return values;
}

std::vector<std::string> SplitChannels(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    if (comma > start) out.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// A notification keeps the alert as it was when the notification was made, so a delivery
// resumed after a restart sends exactly what would have been sent.
std::string AlertToJson(const Alert& a) {
  nlohmann::json j = {
      {"rule", a.key.rule},
      {"cluster", a.key.cluster},
      {"member", a.key.member},
      {"fingerprint", a.fingerprint},
      {"severity", SeverityName(a.severity)},
      {"state", AlertStateName(a.state)},
      {"summary", a.summary},
      {"values", ValuesJson(a.values)},
      {"channels", a.channels},
      {"pending_since_ms", a.pending_since_unix_ms},
      {"firing_since_ms", a.firing_since_unix_ms},
      {"resolved_ms", a.resolved_unix_ms},
      {"last_notified_ms", a.last_notified_unix_ms},
  };
  return j.dump();
}

Result<Alert> AlertFromJson(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return Status::FailedPrecondition("stored notification is not a JSON object");
  }
  Alert a;
  a.key.rule = j.value("rule", "");
  a.key.cluster = j.value("cluster", "");
  a.key.member = j.value("member", "");
  a.fingerprint = j.value("fingerprint", Fingerprint(a.key));
  a.severity = ParseSeverity(j.value("severity", "warning")).value_or(Severity::kWarning);
  a.state = ParseAlertState(j.value("state", "firing")).value_or(AlertState::kFiring);
  a.summary = j.value("summary", "");
  if (j.contains("values")) {
    a.values = ValuesFromJson(j["values"].dump());
  }
  if (j.contains("channels") && j["channels"].is_array()) {
    for (const nlohmann::json& c : j["channels"]) {
      if (c.is_string()) a.channels.push_back(c.get<std::string>());
    }
  }
  a.pending_since_unix_ms = j.value("pending_since_ms", int64_t{0});
  a.firing_since_unix_ms = j.value("firing_since_ms", int64_t{0});
  a.resolved_unix_ms = j.value("resolved_ms", int64_t{0});
  a.last_notified_unix_ms = j.value("last_notified_ms", int64_t{0});
  return a;
}

Result<NotificationKind> ParseKind(std::string_view text) {
  if (text == "firing") return NotificationKind::kFiring;
  if (text == "repeat") return NotificationKind::kRepeat;
  if (text == "resolved") return NotificationKind::kResolved;
  return Status::FailedPrecondition("unknown notification kind \"" + std::string(text) + "\"");
}

// Reads a row of kAlertColumns (from column `first`).
Alert AlertFromRow(const sqlite::Statement& row, int64_t* id) {
  Alert a;
  *id = row.ColumnInt64(0);
  a.fingerprint = std::string(row.ColumnText(1));
  a.key.rule = std::string(row.ColumnText(2));
  a.key.cluster = std::string(row.ColumnText(3));
  a.key.member = std::string(row.ColumnText(4));
  a.severity = ParseSeverity(row.ColumnText(5)).value_or(Severity::kWarning);
  a.state = ParseAlertState(row.ColumnText(6)).value_or(AlertState::kFiring);
  a.summary = std::string(row.ColumnText(7));
  a.values = ValuesFromJson(row.ColumnText(8));
  a.channels = SplitChannels(row.ColumnText(9));
  a.pending_since_unix_ms = row.ColumnInt64(10);
  a.firing_since_unix_ms = row.ColumnInt64(11);
  a.resolved_unix_ms = row.ColumnInt64(12);
  a.last_notified_unix_ms = row.ColumnInt64(13);
  return a;
}

// Columns of `silences` in the order SilencesFromRows reads them.
constexpr std::string_view kSilenceColumns =
    "id, rule, member, comment, created_ms, expires_ms, cluster";

// Steps `q` (selecting kSilenceColumns) to its end.
Result<std::vector<Silence>> SilencesFromRows(sqlite::Statement& q) {
  std::vector<Silence> out;
  while (true) {
    Result<bool> row = q.Step();
    ETCDMON_RETURN_IF_ERROR(row.status());
    if (!*row) break;
    Silence s;
    s.id = std::string(q.ColumnText(0));
    s.rule = std::string(q.ColumnText(1));
    s.member = std::string(q.ColumnText(2));
    s.comment = std::string(q.ColumnText(3));
    s.created_unix_ms = q.ColumnInt64(4);
    s.expires_unix_ms = q.ColumnInt64(5);
    s.cluster = std::string(q.ColumnText(6));
    out.push_back(std::move(s));
  }
  return out;
}

bool ChannelWanted(const Alert& alert, const std::string& channel) {
  return alert.channels.empty() ||
         std::find(alert.channels.begin(), alert.channels.end(), channel) != alert.channels.end();
}

}  // namespace

struct AlertStore::Impl {
  AlertStoreOptions options;
  std::mutex mu;
  std::unique_ptr<sqlite::Connection> db;  // guarded by mu, as are the statements
  sqlite::Statement update_open_alert;
  sqlite::Statement insert_alert;
  sqlite::Statement delete_pending;
  sqlite::Statement latest_alert_id;
  sqlite::Statement insert_notification;
  sqlite::Statement insert_delivery;
  sqlite::Statement insert_attempt;
  sqlite::Statement settle_delivery;
  sqlite::Statement count_attempt;

  Status Prepare() {
    auto prepare = [&](sqlite::Statement& statement, std::string_view sql) -> Status {
      Result<sqlite::Statement> prepared = db->Prepare(sql);
      ETCDMON_RETURN_IF_ERROR(prepared.status());
      statement = std::move(prepared).value();
      return Status::Ok();
    };
    ETCDMON_RETURN_IF_ERROR(
        prepare(update_open_alert,
                "UPDATE alerts SET severity=?2, state=?3, summary=?4, values_json=?5, channels=?6, "
                "pending_since_ms=?7, firing_since_ms=?8, resolved_ms=?9, last_notified_ms=?10 "
                "WHERE fingerprint=?1 AND resolved_ms=0"));
    ETCDMON_RETURN_IF_ERROR(prepare(
        insert_alert,
        "INSERT INTO alerts(fingerprint, rule, cluster, member, severity, state, summary, "
        "values_json, channels, pending_since_ms, firing_since_ms, resolved_ms, last_notified_ms) "
        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"));
    ETCDMON_RETURN_IF_ERROR(
        prepare(delete_pending,
                "DELETE FROM alerts WHERE fingerprint=? AND resolved_ms=0 AND state='pending'"));
    ETCDMON_RETURN_IF_ERROR(prepare(
        latest_alert_id, "SELECT id FROM alerts WHERE fingerprint=? ORDER BY id DESC LIMIT 1"));
    ETCDMON_RETURN_IF_ERROR(
        prepare(insert_notification,
                "INSERT INTO notifications(alert_id, kind, created_ms, silenced, alert_json) "
                "VALUES(?,?,?,?,?)"));
    ETCDMON_RETURN_IF_ERROR(
        prepare(insert_delivery,
                "INSERT OR IGNORE INTO deliveries(notification_id, channel, state, attempts, "
                "last_attempt_ms, last_error) VALUES(?,?,?,0,0,'')"));
    ETCDMON_RETURN_IF_ERROR(prepare(
        insert_attempt,
        "INSERT OR REPLACE INTO delivery_attempts(notification_id, channel, attempt, unix_ms, ok, "
        "error, took_ms) VALUES(?,?,?,?,?,?,?)"));
    ETCDMON_RETURN_IF_ERROR(
        prepare(settle_delivery,
                "UPDATE deliveries SET state=?3, attempts=MAX(attempts, ?4), last_attempt_ms=?5, "
                "last_error=?6 WHERE notification_id=?1 AND channel=?2"));
    return Status::Ok();
  }

  // Inserts or updates the open instance of `alert` (resolving closes it).
  Status Upsert(const Alert& a) {
    const std::string values = ValuesToJson(a.values);
    const std::string channels = strings::Join(a.channels, ",");
    const std::string_view severity = SeverityName(a.severity);
    const std::string_view state = AlertStateName(a.state);
    {
      sqlite::ResetGuard reset(update_open_alert);
      ETCDMON_RETURN_IF_ERROR(update_open_alert.BindAll(
          a.fingerprint, severity, state, a.summary, values, channels, a.pending_since_unix_ms,
          a.firing_since_unix_ms, a.resolved_unix_ms, a.last_notified_unix_ms));
      ETCDMON_RETURN_IF_ERROR(update_open_alert.Run());
    }
    if (db->Changes() > 0) {
      return Status::Ok();
    }
    sqlite::ResetGuard reset(insert_alert);
    ETCDMON_RETURN_IF_ERROR(
        insert_alert.BindAll(a.fingerprint, a.key.rule, a.key.cluster, a.key.member, severity,
                             state, a.summary, values, channels, a.pending_since_unix_ms,
                             a.firing_since_unix_ms, a.resolved_unix_ms, a.last_notified_unix_ms));
    return insert_alert.Run();
  }

  Result<int64_t> LatestAlertId(const std::string& fingerprint) {
    sqlite::ResetGuard reset(latest_alert_id);
    ETCDMON_RETURN_IF_ERROR(latest_alert_id.BindAll(fingerprint));
    Result<bool> row = latest_alert_id.Step();
    ETCDMON_RETURN_IF_ERROR(row.status());
    return *row ? latest_alert_id.ColumnInt64(0) : int64_t{0};
  }

  // Stores one notification and, unless silenced, its pending deliveries.
  Status StoreNotification(Notification& n, bool silenced, const std::vector<std::string>& channels,
                           std::vector<PendingDelivery>* deliveries) {
    Result<int64_t> alert_id = LatestAlertId(n.alert.fingerprint);
    ETCDMON_RETURN_IF_ERROR(alert_id.status());
    {
      sqlite::ResetGuard reset(insert_notification);
      ETCDMON_RETURN_IF_ERROR(insert_notification.BindAll(*alert_id, NotificationKindName(n.kind),
                                                          n.created_unix_ms, silenced ? 1 : 0,
                                                          AlertToJson(n.alert)));
      ETCDMON_RETURN_IF_ERROR(insert_notification.Run());
    }
    n.id = db->LastInsertRowId();
    for (const std::string& channel : channels) {
      if (!ChannelWanted(n.alert, channel)) {
        continue;
      }
      sqlite::ResetGuard reset(insert_delivery);
      ETCDMON_RETURN_IF_ERROR(
          insert_delivery.BindAll(n.id, channel, silenced ? "silenced" : "pending"));
      ETCDMON_RETURN_IF_ERROR(insert_delivery.Run());
      if (!silenced) {
        deliveries->push_back({n, channel});
      }
    }
    return Status::Ok();
  }

  // Deliveries (with their notification kind) of the alerts with ids in [min_id, max_id].
  Status LoadDeliveries(int64_t min_id, int64_t max_id,
                        std::map<int64_t, std::vector<DeliveryRecord>>* by_alert) {
    Result<sqlite::Statement> q = db->Prepare(
        "SELECT n.alert_id, d.notification_id, n.kind, d.channel, d.state, d.attempts, "
        "d.last_attempt_ms, d.last_error FROM notifications n JOIN deliveries d "
        "ON d.notification_id = n.id WHERE n.alert_id BETWEEN ? AND ? "
        "ORDER BY d.notification_id, d.channel");
    ETCDMON_RETURN_IF_ERROR(q.status());
    ETCDMON_RETURN_IF_ERROR(q->BindAll(min_id, max_id));
    while (true) {
      Result<bool> row = q->Step();
      ETCDMON_RETURN_IF_ERROR(row.status());
      if (!*row) break;
      DeliveryRecord d;
      d.notification_id = q->ColumnInt64(1);
      d.kind = ParseKind(q->ColumnText(2)).value_or(NotificationKind::kFiring);
      d.channel = std::string(q->ColumnText(3));
      d.state = std::string(q->ColumnText(4));
      d.attempts = static_cast<uint32_t>(q->ColumnInt64(5));
      d.last_attempt_unix_ms = q->ColumnInt64(6);
      d.last_error = std::string(q->ColumnText(7));
      (*by_alert)[q->ColumnInt64(0)].push_back(std::move(d));
    }
    return Status::Ok();
  }
};

AlertStore::AlertStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AlertStore::~AlertStore() = default;

Result<std::unique_ptr<AlertStore>> AlertStore::Open(const std::string& path,
                                                     AlertStoreOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  sqlite::ConnectionOptions connection_options;
  // Alert state is small and written once per evaluation at most; a lost last transaction on
  // power loss is acceptable (WAL + NORMAL never corrupts), a slow fsync per tick is not.
  connection_options.synchronous = sqlite::Synchronous::kNormal;
  Result<std::unique_ptr<sqlite::Connection>> db =
      sqlite::Connection::Open(path, connection_options);
  ETCDMON_RETURN_IF_ERROR(db.status());
  impl->db = std::move(db).value();
  Result<int64_t> version = impl->db->QueryInt64("PRAGMA user_version");
  ETCDMON_RETURN_IF_ERROR(version.status());
  if (*version > kSchemaVersion) {
    return Status::FailedPrecondition(path + ": alert database schema version " +
                                      std::to_string(*version) + " is newer than this alerter's " +
                                      std::to_string(kSchemaVersion));
  }
  ETCDMON_RETURN_IF_ERROR(Migrate(*impl->db));
  ETCDMON_RETURN_IF_ERROR(impl->db->Exec(kSchema));
  ETCDMON_RETURN_IF_ERROR(
      impl->db->Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)));
  ETCDMON_RETURN_IF_ERROR(impl->Prepare());
  return std::unique_ptr<AlertStore>(new AlertStore(std::move(impl)));
}

Result<std::vector<Alert>> AlertStore::LoadActive() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Statement> q = impl_->db->Prepare(
      "SELECT " + std::string(kAlertColumns) + " FROM alerts WHERE resolved_ms = 0 ORDER BY id");
  ETCDMON_RETURN_IF_ERROR(q.status());
  std::vector<Alert> alerts;
  while (true) {
    Result<bool> row = q->Step();
    ETCDMON_RETURN_IF_ERROR(row.status());
    if (!*row) break;
    int64_t id = 0;
    alerts.push_back(AlertFromRow(*q, &id));
  }
  return alerts;
}

Status AlertStore::SaveRuleStates(const std::map<std::string, std::vector<RuleState>>& by_cluster,
                                  int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Transaction> tx =
      sqlite::Transaction::Begin(*impl_->db, sqlite::TransactionMode::kImmediate);
  ETCDMON_RETURN_IF_ERROR(tx.status());
  Result<sqlite::Statement> clear = impl_->db->Prepare("DELETE FROM rule_state WHERE cluster = ?");
  ETCDMON_RETURN_IF_ERROR(clear.status());
  Result<sqlite::Statement> q = impl_->db->Prepare(
      "INSERT OR REPLACE INTO rule_state(cluster, rule, state, saved_ms) VALUES(?,?,?,?)");
  ETCDMON_RETURN_IF_ERROR(q.status());
  for (const auto& [cluster, states] : by_cluster) {
    {
      sqlite::ResetGuard reset(*clear);
      ETCDMON_RETURN_IF_ERROR(clear->BindAll(cluster));
      ETCDMON_RETURN_IF_ERROR(clear->Run());
    }
    for (const RuleState& s : states) {
      sqlite::ResetGuard reset(*q);
      ETCDMON_RETURN_IF_ERROR(q->BindAll(cluster, s.rule, s.state, now_unix_ms));
      ETCDMON_RETURN_IF_ERROR(q->Run());
    }
  }
  return tx->Commit();
}

Result<std::map<std::string, std::vector<RuleState>>> AlertStore::LoadRuleStates() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Statement> q =
      impl_->db->Prepare("SELECT cluster, rule, state FROM rule_state ORDER BY cluster, rule");
  ETCDMON_RETURN_IF_ERROR(q.status());
  std::map<std::string, std::vector<RuleState>> out;
  while (true) {
    Result<bool> row = q->Step();
    ETCDMON_RETURN_IF_ERROR(row.status());
    if (!*row) break;
    out[std::string(q->ColumnText(0))].push_back(
        RuleState{std::string(q->ColumnText(1)), std::string(q->ColumnText(2))});
  }
  return out;
}

Result<std::vector<PendingDelivery>> AlertStore::Record(Evaluation& evaluation,
                                                        const std::vector<std::string>& channels) {
  std::vector<PendingDelivery> deliveries;
  if (evaluation.changed.empty() && evaluation.dropped.empty() &&
      evaluation.notifications.empty() && evaluation.silenced.empty()) {
    return deliveries;
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Transaction> tx =
      sqlite::Transaction::Begin(*impl_->db, sqlite::TransactionMode::kImmediate);
  ETCDMON_RETURN_IF_ERROR(tx.status());
  for (const Alert& alert : evaluation.changed) {
    ETCDMON_RETURN_IF_ERROR(impl_->Upsert(alert));
  }
  for (const AlertKey& key : evaluation.dropped) {
    sqlite::ResetGuard reset(impl_->delete_pending);
    ETCDMON_RETURN_IF_ERROR(impl_->delete_pending.BindAll(Fingerprint(key)));
    ETCDMON_RETURN_IF_ERROR(impl_->delete_pending.Run());
  }
  for (Notification& n : evaluation.notifications) {
    ETCDMON_RETURN_IF_ERROR(impl_->StoreNotification(n, /*silenced=*/false, channels, &deliveries));
  }
  for (Notification& n : evaluation.silenced) {
    ETCDMON_RETURN_IF_ERROR(impl_->StoreNotification(n, /*silenced=*/true, channels, &deliveries));
  }
  ETCDMON_RETURN_IF_ERROR(tx->Commit());
  return deliveries;
}

Result<std::vector<PendingDelivery>> AlertStore::PendingDeliveries() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Statement> q = impl_->db->Prepare(
      "SELECT n.id, n.kind, n.created_ms, n.alert_json, d.channel FROM deliveries d "
      "JOIN notifications n ON n.id = d.notification_id WHERE d.state = 'pending' "
      "ORDER BY n.id, d.channel");
  ETCDMON_RETURN_IF_ERROR(q.status());
  std::vector<PendingDelivery> out;
  while (true) {
    Result<bool> row = q->Step();
    ETCDMON_RETURN_IF_ERROR(row.status());
    if (!*row) break;
    Result<NotificationKind> kind = ParseKind(q->ColumnText(1));
    Result<Alert> alert = AlertFromJson(q->ColumnText(3));
    if (!kind.ok() || !alert.ok()) {
      continue;  // unreadable rows are skipped, not fatal: the rest still goes out
    }
    PendingDelivery d;
    d.notification.id = q->ColumnInt64(0);
    d.notification.kind = *kind;
    d.notification.created_unix_ms = q->ColumnInt64(2);
    d.notification.alert = std::move(alert).value();
    d.channel = std::string(q->ColumnText(4));
    out.push_back(std::move(d));
  }
  return out;
}

Status AlertStore::RecordAttempt(const DeliveryAttempt& attempt) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Transaction> tx =
      sqlite::Transaction::Begin(*impl_->db, sqlite::TransactionMode::kImmediate);
  ETCDMON_RETURN_IF_ERROR(tx.status());
  const std::string error = attempt.status.ok() ? "" : std::string(attempt.status.message());
  {
    sqlite::ResetGuard reset(impl_->insert_attempt);
    ETCDMON_RETURN_IF_ERROR(impl_->insert_attempt.BindAll(
        attempt.notification_id, attempt.channel, attempt.attempt, attempt.unix_ms,
        attempt.status.ok() ? 1 : 0, error, static_cast<int64_t>(attempt.took.count())));
    ETCDMON_RETURN_IF_ERROR(impl_->insert_attempt.Run());
  }
  const char* state = attempt.status.ok() ? "delivered" : (attempt.final ? "failed" : "pending");
  {
    sqlite::ResetGuard reset(impl_->settle_delivery);
    ETCDMON_RETURN_IF_ERROR(impl_->settle_delivery.BindAll(
        attempt.notification_id, attempt.channel, state, attempt.attempt, attempt.unix_ms, error));
    ETCDMON_RETURN_IF_ERROR(impl_->settle_delivery.Run());
  }
  return tx->Commit();
}

Result<AlertHistoryPage> AlertStore::QueryHistory(const AlertHistoryFilter& filter) {
  if (filter.page_size == 0 || filter.page_size > 1000) {
    return Status::InvalidArgument("page size " + std::to_string(filter.page_size) +
                                   " out of range 1..1000");
  }
  if (filter.from_unix_ms != 0 && filter.to_unix_ms != 0 &&
      filter.from_unix_ms > filter.to_unix_ms) {
    return Status::InvalidArgument("the time range ends before it starts");
  }
  std::string sql = "SELECT " + std::string(kAlertColumns) + " FROM alerts WHERE 1=1";
  if (!filter.rule.empty()) sql += " AND rule = :rule";
  if (!filter.severity.empty()) sql += " AND severity = :severity";
  if (!filter.member.empty()) sql += " AND member = :member";
  if (!filter.cluster.empty()) sql += " AND cluster = :cluster";
  if (!filter.state.empty()) sql += " AND state = :state";
  // Active at some point in [from, to]: began before `to`, and still open or resolved after `from`.
  if (filter.to_unix_ms != 0) sql += " AND pending_since_ms <= :to";
  if (filter.from_unix_ms != 0) sql += " AND (resolved_ms = 0 OR resolved_ms >= :from)";
  if (filter.before_id != 0) sql += " AND id < :before";
  sql += " ORDER BY id DESC LIMIT :limit";

  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Statement> q = impl_->db->Prepare(sql);
  ETCDMON_RETURN_IF_ERROR(q.status());
  int index = 0;
  auto bind = [&](auto value) { return q->Bind(++index, value); };
  if (!filter.rule.empty()) ETCDMON_RETURN_IF_ERROR(bind(filter.rule));
  if (!filter.severity.empty()) ETCDMON_RETURN_IF_ERROR(bind(filter.severity));
  if (!filter.member.empty()) ETCDMON_RETURN_IF_ERROR(bind(filter.member));
  if (!filter.cluster.empty()) ETCDMON_RETURN_IF_ERROR(bind(filter.cluster));
  if (!filter.state.empty()) ETCDMON_RETURN_IF_ERROR(bind(filter.state));
  if (filter.to_unix_ms != 0) ETCDMON_RETURN_IF_ERROR(bind(filter.to_unix_ms));
  if (filter.from_unix_ms != 0) ETCDMON_RETURN_IF_ERROR(bind(filter.from_unix_ms));
  if (filter.before_id != 0) ETCDMON_RETURN_IF_ERROR(bind(filter.before_id));
  // One more than asked tells whether another page follows.
  ETCDMON_RETURN_IF_ERROR(bind(static_cast<int64_t>(filter.page_size) + 1));

  AlertHistoryPage page;
  while (true) {
    Result<bool> row = q->Step();
    ETCDMON_RETURN_IF_ERROR(row.status());
    if (!*row) break;
    if (page.entries.size() == filter.page_size) {
      page.next_before_id = page.entries.back().id;
      break;
    }
    AlertHistoryEntry entry;
    entry.alert = AlertFromRow(*q, &entry.id);
    page.entries.push_back(std::move(entry));
  }
  if (!page.entries.empty()) {
    std::map<int64_t, std::vector<DeliveryRecord>> deliveries;
    ETCDMON_RETURN_IF_ERROR(
        impl_->LoadDeliveries(page.entries.back().id, page.entries.front().id, &deliveries));
    for (AlertHistoryEntry& entry : page.entries) {
      auto it = deliveries.find(entry.id);
      if (it != deliveries.end()) entry.deliveries = std::move(it->second);
    }
  }
  return page;
}

Status AlertStore::AddSilence(const Silence& silence) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Statement> q = impl_->db->Prepare(
      "INSERT INTO silences(id, rule, member, comment, created_ms, expires_ms, cluster) "
      "VALUES(?,?,?,?,?,?,?)");
  ETCDMON_RETURN_IF_ERROR(q.status());
  ETCDMON_RETURN_IF_ERROR(q->BindAll(silence.id, silence.rule, silence.member, silence.comment,
                                     silence.created_unix_ms, silence.expires_unix_ms,
                                     silence.cluster));
  return q->Run();
}

Result<std::vector<Silence>> AlertStore::ActiveSilences(int64_t now_unix_ms,
                                                        std::string_view cluster) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  // ?2 '': every silence; otherwise the cluster's own and the every-cluster ones.
  Result<sqlite::Statement> q = impl_->db->Prepare(
      "SELECT " + std::string(kSilenceColumns) +
      " FROM silences WHERE expires_ms > ?1 AND (?2 = '' OR cluster = '' OR cluster = ?2) "
      "ORDER BY expires_ms, id");
  ETCDMON_RETURN_IF_ERROR(q.status());
  ETCDMON_RETURN_IF_ERROR(q->BindAll(now_unix_ms, std::string(cluster)));
  return SilencesFromRows(*q);
}

Result<std::vector<Silence>> AlertStore::AllSilences(int64_t limit, std::string_view cluster) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Statement> q =
      impl_->db->Prepare("SELECT " + std::string(kSilenceColumns) +
                         " FROM silences WHERE (?2 = '' OR cluster = '' OR cluster = ?2) "
                         "ORDER BY created_ms DESC, id LIMIT ?1");
  ETCDMON_RETURN_IF_ERROR(q.status());
  ETCDMON_RETURN_IF_ERROR(q->BindAll(limit, std::string(cluster)));
  return SilencesFromRows(*q);
}

Result<Silence> AlertStore::ExpireSilence(const std::string& id, int64_t now_unix_ms) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Result<sqlite::Transaction> tx =
      sqlite::Transaction::Begin(*impl_->db, sqlite::TransactionMode::kImmediate);
  ETCDMON_RETURN_IF_ERROR(tx.status());
  {
    // Only an active silence changes: expiring twice keeps the first end time.
    Result<sqlite::Statement> q =
        impl_->db->Prepare("UPDATE silences SET expires_ms = ?2 WHERE id = ?1 AND expires_ms > ?2");
    ETCDMON_RETURN_IF_ERROR(q.status());
    ETCDMON_RETURN_IF_ERROR(q->BindAll(id, now_unix_ms));
    ETCDMON_RETURN_IF_ERROR(q->Run());
  }
  Result<std::vector<Silence>> found = std::vector<Silence>();
  {
    Result<sqlite::Statement> q = impl_->db->Prepare("SELECT " + std::string(kSilenceColumns) +
                                                     " FROM silences WHERE id = ?");
    ETCDMON_RETURN_IF_ERROR(q.status());
    ETCDMON_RETURN_IF_ERROR(q->BindAll(id));
    found = SilencesFromRows(*q);
  }
  ETCDMON_RETURN_IF_ERROR(found.status());
  if (found->empty()) {
    return Status::NotFound("no silence with id \"" + id.substr(0, 128) + "\"");
  }
  ETCDMON_RETURN_IF_ERROR(tx->Commit());
  return std::move(found->front());
}

Status AlertStore::Prune(int64_t now_unix_ms, int64_t max_rows) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const int64_t cutoff =
      now_unix_ms - static_cast<int64_t>(impl_->options.history_retention.count());
  Result<int64_t> resolved =
      impl_->db->QueryInt64("SELECT COUNT(*) FROM alerts WHERE resolved_ms != 0");
  ETCDMON_RETURN_IF_ERROR(resolved.status());
  const int64_t over_cap = std::max<int64_t>(0, *resolved - impl_->options.max_history_alerts);

  Result<sqlite::Transaction> tx =
      sqlite::Transaction::Begin(*impl_->db, sqlite::TransactionMode::kImmediate);
  ETCDMON_RETURN_IF_ERROR(tx.status());
  // The victims: resolved alerts past retention, plus the oldest beyond the cap; bounded.
  ETCDMON_RETURN_IF_ERROR(impl_->db->Exec(
      "CREATE TEMP TABLE IF NOT EXISTS prune_ids(id INTEGER PRIMARY KEY); DELETE FROM prune_ids;"));
  {
    Result<sqlite::Statement> q = impl_->db->Prepare(
        "INSERT OR IGNORE INTO prune_ids SELECT id FROM alerts WHERE resolved_ms != 0 AND "
        "(resolved_ms < ?1 OR id IN (SELECT id FROM alerts WHERE resolved_ms != 0 "
        "ORDER BY resolved_ms, id LIMIT ?2)) ORDER BY resolved_ms LIMIT ?3");
    ETCDMON_RETURN_IF_ERROR(q.status());
    ETCDMON_RETURN_IF_ERROR(q->BindAll(cutoff, over_cap, max_rows));
    ETCDMON_RETURN_IF_ERROR(q->Run());
  }
  ETCDMON_RETURN_IF_ERROR(impl_->db->Exec(
      "DELETE FROM delivery_attempts WHERE notification_id IN "
      "  (SELECT id FROM notifications WHERE alert_id IN (SELECT id FROM prune_ids));"
      "DELETE FROM deliveries WHERE notification_id IN "
      "  (SELECT id FROM notifications WHERE alert_id IN (SELECT id FROM prune_ids));"
      "DELETE FROM notifications WHERE alert_id IN (SELECT id FROM prune_ids);"
      "DELETE FROM alerts WHERE id IN (SELECT id FROM prune_ids);"));
  {
    Result<sqlite::Statement> q = impl_->db->Prepare("DELETE FROM silences WHERE expires_ms < ?");
    ETCDMON_RETURN_IF_ERROR(q.status());
    ETCDMON_RETURN_IF_ERROR(
        q->BindAll(now_unix_ms - static_cast<int64_t>(impl_->options.silence_retention.count())));
    ETCDMON_RETURN_IF_ERROR(q->Run());
  }
  return tx->Commit();
}

}  // namespace etcdmon::alerter
