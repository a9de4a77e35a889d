#include "history_schema.h"

#include <string>

#include "etcdmon/sqlite/statement.h"
#include "etcdmon/sqlite/transaction.h"

namespace etcdmon::aggregator::detail {
namespace {

// Integer ids instead of names in every point row; points tables are WITHOUT ROWID and keyed
// (series, ts), so a row is its key plus the values and a series' points are contiguous.
// Roll-up rows keep sum and count (not the average) so buckets merge exactly.
constexpr const char* kCreateSchema = R"sql(
CREATE TABLE metrics (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE members (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE points_raw (
  series INTEGER NOT NULL,
  ts     INTEGER NOT NULL,
  value  REAL NOT NULL,
  PRIMARY KEY (series, ts)
) WITHOUT ROWID;
CREATE TABLE points_1m (
  series     INTEGER NOT NULL,
  ts         INTEGER NOT NULL,
  min_value  REAL NOT NULL,
  max_value  REAL NOT NULL,
  sum_value  REAL NOT NULL,
  count      INTEGER NOT NULL,
  last_value REAL NOT NULL,
  PRIMARY KEY (series, ts)
) WITHOUT ROWID;
CREATE TABLE points_1h (
  series     INTEGER NOT NULL,
  ts         INTEGER NOT NULL,
  min_value  REAL NOT NULL,
  max_value  REAL NOT NULL,
  sum_value  REAL NOT NULL,
  count      INTEGER NOT NULL,
  last_value REAL NOT NULL,
  PRIMARY KEY (series, ts)
) WITHOUT ROWID;
CREATE TABLE committed (
  collector_id TEXT PRIMARY KEY,
  sequence     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE level_state (
  level         INTEGER PRIMARY KEY,
  rolled_below  INTEGER NOT NULL,
  window_end    INTEGER NOT NULL,
  window_cursor INTEGER NOT NULL,
  pruned_below  INTEGER NOT NULL,
  prune_cursor  INTEGER NOT NULL
);
CREATE TABLE rollup_dirty (
  level  INTEGER NOT NULL,
  series INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  PRIMARY KEY (level, series, bucket)
) WITHOUT ROWID;
INSERT INTO level_state VALUES (0, 0, 0, 0, 0, 0), (1, 0, 0, 0, 0, 0), (2, 0, 0, 0, 0, 0);
)sql";

// Version 3: series are keyed by cluster too (one aggregator, many clusters). A series' id is
// its points' key, so a migration keeps every id.
constexpr const char* kCreateClusterSeries = R"sql(
CREATE TABLE clusters (
  id   INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE series (
  id         INTEGER PRIMARY KEY,
  metric_id  INTEGER NOT NULL REFERENCES metrics (id),
  member_id  INTEGER NOT NULL REFERENCES members (id),
  cluster_id INTEGER NOT NULL REFERENCES clusters (id),
  UNIQUE (cluster_id, metric_id, member_id)
);
)sql";

// Version 2 → 3: every existing series belongs to the cluster the file served (`?1`).
constexpr const char* kMigrateSeriesToClusters = R"sql(
ALTER TABLE series RENAME TO series_v2;
)sql";

// Version 2: the remote_write sender's progress, per series the newest point the receiver has
// (or refused). A series without a row has sent nothing yet.
constexpr const char* kCreateRemoteWriteCursor = R"sql(
CREATE TABLE remote_write_cursor (
  series        INTEGER PRIMARY KEY,
  sent_until_ts INTEGER NOT NULL
);
)sql";

}  // namespace

Status EnsureSchema(sqlite::Connection& db, std::string_view legacy_cluster) {
  // Under the write lock, so two processes opening a new file cannot both create the schema.
  Result<sqlite::Transaction> txn = sqlite::Transaction::Begin(db);
  if (!txn.ok()) {
    return txn.status();
  }
  Result<int64_t> version = db.QueryInt64("PRAGMA user_version");
  Result<int64_t> application = db.QueryInt64("PRAGMA application_id");
  Result<int64_t> objects = db.QueryInt64("SELECT COUNT(*) FROM sqlite_schema");
  for (const Status& s : {version.status(), application.status(), objects.status()}) {
    if (!s.ok()) {
      return s.WithContext("history " + db.path());
    }
  }
  if (*version == 0 && *application == 0 && *objects == 0) {
    ETCDMON_RETURN_IF_ERROR(db.Exec(kCreateSchema));
    ETCDMON_RETURN_IF_ERROR(db.Exec(kCreateClusterSeries));
    ETCDMON_RETURN_IF_ERROR(db.Exec(kCreateRemoteWriteCursor));
    ETCDMON_RETURN_IF_ERROR(db.Exec("PRAGMA application_id=" + std::to_string(kApplicationId) +
                                    ";PRAGMA user_version=" + std::to_string(kSchemaVersion)));
    return txn->Commit();
  }
  if (*application != kApplicationId) {
    return Status::FailedPrecondition(
        "history " + db.path() + ": not an etcd-monitor history file (application_id " +
        std::to_string(*application) + ", " + std::to_string(*objects) + " schema objects)");
  }
  if (*version == 1 || *version == 2) {
    // Migrated in place, in this transaction: version 2 adds the remote_write cursor table,
    // version 3 the cluster of every series (the one this file served until now).
    if (*version == 1) {
      ETCDMON_RETURN_IF_ERROR(db.Exec(kCreateRemoteWriteCursor));
    }
    ETCDMON_RETURN_IF_ERROR(db.Exec(kMigrateSeriesToClusters));
    ETCDMON_RETURN_IF_ERROR(db.Exec(kCreateClusterSeries));
    {
      Result<sqlite::Statement> copy = db.Prepare("INSERT INTO clusters (id, name) VALUES (1, ?1)");
      if (!copy.ok()) {
        return copy.status();
      }
      ETCDMON_RETURN_IF_ERROR(copy->BindAll(legacy_cluster));
      ETCDMON_RETURN_IF_ERROR(copy->Run());
    }
    ETCDMON_RETURN_IF_ERROR(
        db.Exec("INSERT INTO series (id, metric_id, member_id, cluster_id)"
                " SELECT id, metric_id, member_id, 1 FROM series_v2; DROP TABLE series_v2;"));
    ETCDMON_RETURN_IF_ERROR(db.Exec("PRAGMA user_version=" + std::to_string(kSchemaVersion)));
    return txn->Commit();
  }
  if (*version != kSchemaVersion) {
    return Status::FailedPrecondition(
        "history " + db.path() + ": schema version " + std::to_string(*version) +
        (*version > kSchemaVersion ? ", newer than" : ", older than") +
        " the version this build reads (" + std::to_string(kSchemaVersion) +
        "); open it with a matching etcd-monitor");
  }
  return Status::Ok();  // the read-only transaction ends with `txn`
}

}  // namespace etcdmon::aggregator::detail
