#include "etcdmon/alerter/alert_store.h"

#include <gtest/gtest.h>

#include <set>

#include "etcdmon/sqlite/connection.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::alerter {
namespace {

using etcdmon::testing::TempDir;

Alert MakeAlert(const std::string& rule, const std::string& member, AlertState state,
                int64_t since_ms) {
  Alert a;
  a.key = {rule, "prod", member};
  a.fingerprint = Fingerprint(a.key);
  a.severity = Severity::kCritical;
  a.state = state;
  a.summary = rule + " on " + (member.empty() ? "cluster" : member);
  a.values = {{"value", 1.5}, {"threshold", 1}};
  a.pending_since_unix_ms = since_ms;
  if (state != AlertState::kPending) a.firing_since_unix_ms = since_ms + 1000;
  return a;
}

Notification MakeNotification(const Alert& a, NotificationKind kind, int64_t at_ms) {
  Notification n;
  n.kind = kind;
  n.alert = a;
  n.created_unix_ms = at_ms;
  return n;
}

class AlertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    auto store = AlertStore::Open(dir_.File("alerts.db"));
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
  }

  TempDir dir_;
  std::unique_ptr<AlertStore> store_;
  const std::vector<std::string> channels_{"console", "webhook"};
};

TEST_F(AlertStoreTest, RecordsAlertsAndNotificationsWithPendingDeliveries) {
  Alert firing = MakeAlert("NoLeader", "", AlertState::kFiring, 1000);
  Alert pending = MakeAlert("MemberUnavailable", "etcd-2", AlertState::kPending, 1500);
  pending.channels = {"webhook", "email"};  // email is not configured: no delivery for it
  Evaluation e;
  e.changed = {firing, pending};
  e.notifications = {MakeNotification(firing, NotificationKind::kFiring, 2000)};
  auto deliveries = store_->Record(e, channels_);
  ASSERT_TRUE(deliveries.ok()) << deliveries.status().message();
  ASSERT_EQ(deliveries->size(), 2u);
  EXPECT_GT(e.notifications[0].id, 0);
  EXPECT_EQ((*deliveries)[0].notification.id, e.notifications[0].id);
  EXPECT_EQ((*deliveries)[0].channel, "console");
  EXPECT_EQ((*deliveries)[1].channel, "webhook");

  auto active = store_->LoadActive();
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 2u);
  EXPECT_EQ((*active)[0].key.rule, "NoLeader");
  EXPECT_EQ((*active)[0].state, AlertState::kFiring);
  EXPECT_EQ((*active)[0].values.size(), 2u);
  EXPECT_DOUBLE_EQ((*active)[0].values[0].value, 1.5);
  EXPECT_EQ((*active)[1].channels, (std::vector<std::string>{"webhook", "email"}));
}

TEST_F(AlertStoreTest, DeliveriesSurviveARestartUntilSettled) {
  Alert firing = MakeAlert("NoLeader", "", AlertState::kFiring, 1000);
  Evaluation e;
  e.changed = {firing};
  e.notifications = {MakeNotification(firing, NotificationKind::kFiring, 2000)};
  ASSERT_TRUE(store_->Record(e, channels_).ok());
  const int64_t id = e.notifications[0].id;

  // The console delivered; the webhook failed once (retry pending), then the process died.
  DeliveryAttempt ok{id, "console", 1, Status::Ok(), true, 2100, std::chrono::milliseconds(1)};
  DeliveryAttempt failed{
      id, "webhook", 1, Status::Unavailable("HTTP 500"), false, 2100, std::chrono::milliseconds(3)};
  ASSERT_TRUE(store_->RecordAttempt(ok).ok());
  ASSERT_TRUE(store_->RecordAttempt(failed).ok());
  Reopen();

  auto pending = store_->PendingDeliveries();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].channel, "webhook");
  EXPECT_EQ((*pending)[0].notification.id, id);
  EXPECT_EQ((*pending)[0].notification.kind, NotificationKind::kFiring);
  EXPECT_EQ((*pending)[0].notification.alert.key.rule, "NoLeader");
  EXPECT_EQ((*pending)[0].notification.alert.fingerprint, firing.fingerprint);

  DeliveryAttempt retried{id, "webhook", 2, Status::Ok(), true, 2600, std::chrono::milliseconds(2)};
  ASSERT_TRUE(store_->RecordAttempt(retried).ok());
  pending = store_->PendingDeliveries();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());

  auto page = store_->QueryHistory({});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 1u);
  ASSERT_EQ(page->entries[0].deliveries.size(), 2u);
  EXPECT_EQ(page->entries[0].deliveries[1].channel, "webhook");
  EXPECT_EQ(page->entries[0].deliveries[1].state, "delivered");
  EXPECT_EQ(page->entries[0].deliveries[1].attempts, 2u);
}

TEST_F(AlertStoreTest, ResolvingClosesTheInstanceAndANewOneCanOpen) {
  Alert a = MakeAlert("NoLeader", "", AlertState::kFiring, 1000);
  Evaluation e1;
  e1.changed = {a};
  ASSERT_TRUE(store_->Record(e1, channels_).ok());
  a.state = AlertState::kResolved;
  a.resolved_unix_ms = 5000;
  Evaluation e2;
  e2.changed = {a};
  e2.notifications = {MakeNotification(a, NotificationKind::kResolved, 5000)};
  ASSERT_TRUE(store_->Record(e2, channels_).ok());
  EXPECT_TRUE(store_->LoadActive()->empty());

  Alert again = MakeAlert("NoLeader", "", AlertState::kPending, 9000);
  Evaluation e3;
  e3.changed = {again};
  ASSERT_TRUE(store_->Record(e3, channels_).ok());
  auto page = store_->QueryHistory({});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].alert.state, AlertState::kPending);  // newest first
  EXPECT_EQ(page->entries[1].alert.state, AlertState::kResolved);
  EXPECT_EQ(page->entries[1].alert.resolved_unix_ms, 5000);
  ASSERT_EQ(page->entries[1].deliveries.size(), 2u);
  EXPECT_EQ(page->entries[1].deliveries[0].kind, NotificationKind::kResolved);

  // The pending one clears before `for`: it leaves no trace.
  Evaluation e4;
  e4.dropped = {again.key};
  ASSERT_TRUE(store_->Record(e4, channels_).ok());
  EXPECT_EQ(store_->QueryHistory({})->entries.size(), 1u);
}

TEST_F(AlertStoreTest, HistoryFiltersAndPages) {
  Evaluation e;
  for (int i = 0; i < 25; ++i) {
    Alert a = MakeAlert(i % 2 == 0 ? "DiskUsageHigh" : "MemoryUsageHigh",
                        "etcd-" + std::to_string(i), AlertState::kFiring, 1000 * i);
    a.severity = i % 5 == 0 ? Severity::kCritical : Severity::kWarning;
    e.changed.push_back(a);
  }
  ASSERT_TRUE(store_->Record(e, channels_).ok());

  AlertHistoryFilter filter;
  filter.page_size = 10;
  std::vector<std::string> members;
  int pages = 0;
  while (true) {
    auto page = store_->QueryHistory(filter);
    ASSERT_TRUE(page.ok());
    ++pages;
    for (const auto& entry : page->entries) members.push_back(entry.alert.key.member);
    if (page->next_before_id == 0) break;
    filter.before_id = page->next_before_id;
    ASSERT_LT(pages, 10) << "paging does not end";
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(members.size(), 25u);
  EXPECT_EQ(members.front(), "etcd-24");
  EXPECT_EQ(members.back(), "etcd-0");

  AlertHistoryFilter by_rule;
  by_rule.rule = "DiskUsageHigh";
  by_rule.severity = "critical";
  auto critical_disk = store_->QueryHistory(by_rule);
  ASSERT_TRUE(critical_disk.ok());
  ASSERT_EQ(critical_disk->entries.size(), 3u);  // i = 0, 10, 20
  EXPECT_EQ(critical_disk->entries[0].alert.key.member, "etcd-20");

  AlertHistoryFilter by_time;
  by_time.to_unix_ms = 2500;  // pending since 0, 1000, 2000
  EXPECT_EQ(store_->QueryHistory(by_time)->entries.size(), 3u);

  AlertHistoryFilter by_member;
  by_member.member = "etcd-7";
  EXPECT_EQ(store_->QueryHistory(by_member)->entries.size(), 1u);

  AlertHistoryFilter bad;
  bad.page_size = 0;
  EXPECT_EQ(store_->QueryHistory(bad).status().code(), StatusCode::kInvalidArgument);
  bad.page_size = 10;
  bad.from_unix_ms = 10;
  bad.to_unix_ms = 5;
  EXPECT_EQ(store_->QueryHistory(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AlertStoreTest, SilencesExpireAndArePruned) {
  Silence s{"abc", "NoLeader", "", "maintenance", 1000, 10'000};
  ASSERT_TRUE(store_->AddSilence(s).ok());
  ASSERT_TRUE(store_->AddSilence({"def", "", "etcd-1", "reboot", 1000, 5'000}).ok());
  EXPECT_EQ(store_->AddSilence(s).code(), StatusCode::kAlreadyExists);
  auto active = store_->ActiveSilences(4'000);
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 2u);
  EXPECT_EQ((*active)[0].id, "def");  // soonest expiry first
  EXPECT_EQ(store_->ActiveSilences(6'000)->size(), 1u);
  EXPECT_TRUE(store_->ActiveSilences(10'000)->empty());
}

// Expiring ends a silence at once but keeps its row (survives a reopen); a second expiry keeps
// the first end time; an unknown id is NotFound.
TEST_F(AlertStoreTest, ExpireSilenceEndsItAndKeepsTheRow) {
  ASSERT_TRUE(store_->AddSilence({"abc", "NoLeader", "", "maintenance", 1000, 10'000}).ok());
  ASSERT_TRUE(store_->AddSilence({"def", "", "etcd-1", "reboot", 1500, 9'000}).ok());
  Result<Silence> expired = store_->ExpireSilence("abc", 4'000);
  ASSERT_TRUE(expired.ok()) << expired.status().message();
  EXPECT_EQ(expired->id, "abc");
  EXPECT_EQ(expired->rule, "NoLeader");
  EXPECT_EQ(expired->comment, "maintenance");
  EXPECT_EQ(expired->created_unix_ms, 1000);
  EXPECT_EQ(expired->expires_unix_ms, 4'000);
  auto active = store_->ActiveSilences(4'000);
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].id, "def");

  Result<Silence> again = store_->ExpireSilence("abc", 7'000);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->expires_unix_ms, 4'000) << "expiring twice keeps the first end";
  EXPECT_EQ(store_->ExpireSilence("nope", 4'000).status().code(), StatusCode::kNotFound);

  Reopen();
  auto all = store_->AllSilences(10);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "def");  // newest created first
  EXPECT_EQ((*all)[1].id, "abc");
  EXPECT_EQ((*all)[1].expires_unix_ms, 4'000);
  EXPECT_EQ(store_->AllSilences(1)->size(), 1u);
}

// An expired silence is kept for silence_retention after its (early) end, then pruned.
TEST_F(AlertStoreTest, ExpiredSilenceIsPrunedAfterRetention) {
  ASSERT_TRUE(store_->AddSilence({"abc", "", "", "", 1000, 100'000'000}).ok());
  ASSERT_TRUE(store_->ExpireSilence("abc", 2'000).ok());
  const int64_t week_ms = 7LL * 24 * 3600 * 1000;
  ASSERT_TRUE(store_->Prune(2'000 + week_ms - 1).ok());
  EXPECT_EQ(store_->AllSilences(10)->size(), 1u);
  ASSERT_TRUE(store_->Prune(2'000 + week_ms + 1).ok());
  EXPECT_TRUE(store_->AllSilences(10)->empty());
}

TEST_F(AlertStoreTest, PruneDropsOldResolvedAlertsWithTheirNotifications) {
  Alert old_alert = MakeAlert("NoLeader", "", AlertState::kResolved, 1000);
  old_alert.resolved_unix_ms = 2000;
  Alert open_alert = MakeAlert("DiskUsageHigh", "etcd-1", AlertState::kFiring, 1000);
  Evaluation e;
  e.changed = {old_alert, open_alert};
  e.notifications = {MakeNotification(old_alert, NotificationKind::kResolved, 2000)};
  ASSERT_TRUE(store_->Record(e, channels_).ok());
  const int64_t day_ms = 24LL * 3600 * 1000;
  ASSERT_TRUE(store_->Prune(2000 + 31 * day_ms).ok());
  auto page = store_->QueryHistory({});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].alert.key.rule, "DiskUsageHigh");  // open alerts are never pruned
  EXPECT_TRUE(store_->PendingDeliveries()->empty());
}

TEST_F(AlertStoreTest, RefusesANewerSchema) {
  store_.reset();
  {
    auto db = sqlite::Connection::Open(dir_.File("alerts.db"), {});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 99").ok());
  }
  auto store = AlertStore::Open(dir_.File("alerts.db"));
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
}

// The rules' histories survive reopening the file; a save replaces the previous one of each
// cluster it names whole, and leaves the other clusters' alone.
TEST_F(AlertStoreTest, RuleStatesSurviveReopenAndReplaceTheLastSave) {
  ASSERT_TRUE(
      store_
          ->SaveRuleStates(
              {{"prod", {{"A", "1 2 3"}, {"B", "1 6:x y:z"}}}, {"staging", {{"A", "9"}}}}, 1000)
          .ok());
  Reopen();
  auto loaded = store_->LoadRuleStates();
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_EQ(loaded->size(), 2u);
  const std::vector<RuleState>& prod = loaded->at("prod");
  ASSERT_EQ(prod.size(), 2u);
  EXPECT_EQ(prod[0].rule, "A");
  EXPECT_EQ(prod[0].state, "1 2 3");
  EXPECT_EQ(prod[1].state, "1 6:x y:z");
  ASSERT_TRUE(store_->SaveRuleStates({{"prod", {{"B", "2"}}}}, 2000).ok());
  loaded = store_->LoadRuleStates();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->at("prod").size(), 1u);
  EXPECT_EQ(loaded->at("prod")[0].rule, "B");
  EXPECT_EQ(loaded->at("prod")[0].state, "2");
  ASSERT_EQ(loaded->at("staging").size(), 1u) << "a cluster not named keeps its states";
  ASSERT_TRUE(store_->SaveRuleStates({{"staging", {}}}, 3000).ok());
  EXPECT_EQ(store_->LoadRuleStates()->count("staging"), 0u);
}

// The schema before clusters had names, as version 1 of the store wrote it.
constexpr std::string_view kSchemaVersion1 = R"sql(
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
CREATE TABLE IF NOT EXISTS silences(
  id TEXT PRIMARY KEY,
  rule TEXT NOT NULL,
  member TEXT NOT NULL,
  comment TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rule_state(
  rule TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  saved_ms INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// A version 1 file opens as version 2: its silences apply to every cluster, its rule states
// come back under the unnamed cluster "", its alerts keep their cluster; the file is marked
// version 2 and opens again unchanged.
TEST_F(AlertStoreTest, MigratesAVersion1File) {
  store_.reset();
  const std::string path = dir_.File("v1.db");
  {
    auto db = sqlite::Connection::Open(path, {});
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(kSchemaVersion1).ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 1").ok());
    ASSERT_TRUE((*db)
                    ->Exec("INSERT INTO silences VALUES('s1', 'NoLeader', '', 'old', 1000, "
                           "10000); INSERT INTO rule_state VALUES('FrequentLeaderElections', "
                           "'1 2', 500); INSERT INTO alerts(fingerprint, rule, cluster, member, "
                           "severity, state, summary, values_json, channels, pending_since_ms, "
                           "firing_since_ms, resolved_ms, last_notified_ms) VALUES('f', "
                           "'NoLeader', 'prod', '', 'critical', 'firing', 'no leader', '[]', '', "
                           "1000, 1000, 0, 1000)")
                    .ok());
  }
  for (int open = 0; open < 2; ++open) {
    SCOPED_TRACE(open);
    auto store = AlertStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().message();
    auto silences = (*store)->ActiveSilences(2000, "staging");
    ASSERT_TRUE(silences.ok()) << silences.status().message();
    ASSERT_EQ(silences->size(), 1u) << "an old silence applies to every cluster";
    EXPECT_EQ((*silences)[0].cluster, "");
    EXPECT_EQ((*silences)[0].comment, "old");
    auto states = (*store)->LoadRuleStates();
    ASSERT_TRUE(states.ok()) << states.status().message();
    ASSERT_EQ(states->size(), 1u);
    ASSERT_EQ(states->at("").size(), 1u);
    EXPECT_EQ(states->at("")[0].rule, "FrequentLeaderElections");
    EXPECT_EQ(states->at("")[0].state, "1 2");
    auto active = (*store)->LoadActive();
    ASSERT_TRUE(active.ok());
    ASSERT_EQ(active->size(), 1u);
    EXPECT_EQ((*active)[0].key.cluster, "prod");
    Silence mine{"s2", "", "", "new", 1000, 10'000};
    mine.cluster = "prod";
    if (open == 0) {
      ASSERT_TRUE((*store)->AddSilence(mine).ok());
    }
  }
  auto db = sqlite::Connection::Open(path, {});
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*(*db)->QueryInt64("PRAGMA user_version"), 2);
}

// Silences of one cluster apply to it only; those without a cluster to every one.
TEST_F(AlertStoreTest, SilencesByCluster) {
  Silence a{"a", "", "", "", 1000, 10'000};
  a.cluster = "prod";
  Silence b{"b", "", "", "", 1100, 10'000};
  b.cluster = "staging";
  Silence every{"e", "", "", "", 1200, 10'000};
  for (const Silence& s : {a, b, every}) {
    ASSERT_TRUE(store_->AddSilence(s).ok());
  }
  auto ids = [](const Result<std::vector<Silence>>& silences) {
    std::set<std::string> out;
    for (const Silence& s : *silences) {
      out.insert(s.id + "/" + s.cluster);
    }
    return out;
  };
  EXPECT_EQ(ids(store_->ActiveSilences(2000)),
            (std::set<std::string>{"a/prod", "b/staging", "e/"}));
  EXPECT_EQ(ids(store_->ActiveSilences(2000, "prod")), (std::set<std::string>{"a/prod", "e/"}));
  EXPECT_EQ(ids(store_->AllSilences(10, "staging")), (std::set<std::string>{"b/staging", "e/"}));
  EXPECT_EQ(ids(store_->AllSilences(10, "other")), (std::set<std::string>{"e/"}));
}

// The history filters by cluster, and its pages stay within the cluster.
TEST_F(AlertStoreTest, HistoryFiltersByClusterAcrossPages) {
  Evaluation e;
  for (int i = 0; i < 6; ++i) {
    Alert a = MakeAlert("NoLeader", "etcd-" + std::to_string(i), AlertState::kFiring, 1000 + i);
    a.key.cluster = i % 2 == 0 ? "prod" : "staging";
    a.fingerprint = Fingerprint(a.key);
    e.changed.push_back(a);
  }
  ASSERT_TRUE(store_->Record(e, channels_).ok());
  AlertHistoryFilter filter;
  filter.cluster = "staging";
  filter.page_size = 2;
  std::vector<std::string> members;
  for (int page_number = 0; page_number < 5; ++page_number) {
    auto page = store_->QueryHistory(filter);
    ASSERT_TRUE(page.ok()) << page.status().message();
    for (const AlertHistoryEntry& entry : page->entries) {
      EXPECT_EQ(entry.alert.key.cluster, "staging");
      members.push_back(entry.alert.key.member);
    }
    if (page->next_before_id == 0) {
      break;
    }
    filter.before_id = page->next_before_id;
  }
  EXPECT_EQ(members, (std::vector<std::string>{"etcd-5", "etcd-3", "etcd-1"}));
  filter = AlertHistoryFilter{};
  EXPECT_EQ(store_->QueryHistory(filter)->entries.size(), 6u);
}

}  // namespace
}  // namespace etcdmon::alerter
