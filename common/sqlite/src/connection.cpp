#include "etcdmon/sqlite/connection.h"

#include <sqlite3.h>

#include <mutex>
#include <string>

#include "error.h"
#include "etcdmon/files/private_files.h"

namespace etcdmon::sqlite {
namespace {

std::string_view SynchronousName(Synchronous synchronous) {
  switch (synchronous) {
    case Synchronous::kOff:
      return "OFF";
    case Synchronous::kNormal:
      return "NORMAL";
    case Synchronous::kFull:
      return "FULL";
  }
  return "FULL";
}

bool OnlySeparatorsLeft(const char* tail, const char* end) {
  for (; tail < end; ++tail) {
    if (*tail != ';' && *tail != ' ' && *tail != '\n' && *tail != '\t' && *tail != '\r') {
      return false;
    }
  }
  return true;
}

// SQLite counts every allocation under one process-wide mutex, for sqlite3_memory_used(), which
// nothing here reads; an insert allocates and frees a few times per row. Off, the aggregator's
// ingest thread used 7-10% less CPU time per point. It can only be switched off before SQLite
// initializes: when another part of the process opened a database first, counting stays on.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                     const ConnectionOptions& options) {
  ConfigureSqliteOnce();
  sqlite3* db = nullptr;
  // NOMUTEX: a connection is used by one thread at a time (see the class comment), so SQLite's
  // own per-connection mutex would only cost time.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create) {
    flags |= SQLITE_OPEN_CREATE;
    // The file holds the monitoring history: 0600, created before SQLite does (SQLite gives
    // the -wal and -shm files the database file's mode).
    // A missing directory is left for sqlite3_open_v2 to report, as it always did.
    if (path != ":memory:" && !path.empty()) {
      if (Status prepared = files::PrepareDatabaseFile(path);
          !prepared.ok() && prepared.code() != StatusCode::kNotFound) {
        return prepared.WithContext("open " + path);
      }
    }
  }
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = detail::FromSqlite(rc, db, "open " + path);
    sqlite3_close_v2(db);  // a handle is returned even on most failures; null is a no-op
    return status;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  std::unique_ptr<Connection> connection(new Connection(db, path));

  // The first statement reads the header: a file that is not a database fails here.
  std::string pragmas;
  pragmas += "PRAGMA synchronous=";
  pragmas += SynchronousName(options.synchronous);
  pragmas += ";PRAGMA secure_delete=";
  pragmas += options.secure_delete ? "ON" : "OFF";
  pragmas += ";PRAGMA journal_size_limit=" + std::to_string(options.journal_size_limit_bytes);
  if (options.cache_size_kib > 0) {
    pragmas += ";PRAGMA cache_size=-" + std::to_string(options.cache_size_kib);
  }
  if (options.mmap_size_bytes > 0) {
    pragmas += ";PRAGMA mmap_size=" + std::to_string(options.mmap_size_bytes);
  }
  if (options.wal_autocheckpoint_pages > 0) {
    pragmas += ";PRAGMA wal_autocheckpoint=" + std::to_string(options.wal_autocheckpoint_pages);
  }
  Status status = connection->Exec(pragmas);
  if (!status.ok()) {
    return status;
  }
  if (options.wal) {
    // Answers the mode now in effect; a file system without shared memory keeps the old one.
    Result<std::string> mode = connection->QueryText("PRAGMA journal_mode=WAL");
    if (!mode.ok()) {
      return mode.status();
    }
    if (*mode != "wal") {
      return Status::FailedPrecondition("open " + path + ": cannot use WAL mode (journal mode " +
                                        *mode + ")");
    }
  }
  // Last, so the pragmas above (journal_mode writes the header) still run on a reader.
  if (options.query_only) {
    ETCDMON_RETURN_IF_ERROR(connection->Exec("PRAGMA query_only=ON"));
  }
  return connection;
}

Connection::~Connection() { sqlite3_close_v2(db_); }

Status Connection::Exec(std::string_view sql) {
  std::string text(sql);  // sqlite3_exec wants a terminated string
  char* error = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);  // the same text is available from sqlite3_errmsg
  if (rc != SQLITE_OK) {
    return detail::FromSqlite(rc, db_, path_);
  }
  return Status::Ok();
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) {
    return detail::FromSqlite(rc, db_, path_ + ": prepare \"" + std::string(sql) + "\"");
  }
  Statement statement(stmt);
  if (stmt == nullptr) {
    return Status::InvalidArgument(path_ + ": prepare: no SQL statement in \"" + std::string(sql) +
                                   "\"");
  }
  if (!OnlySeparatorsLeft(tail, sql.data() + sql.size())) {
    return Status::InvalidArgument(path_ + ": prepare: more than one statement in \"" +
                                   std::string(sql) + "\"");
  }
  return statement;
}

Result<int64_t> Connection::QueryInt64(std::string_view sql) {
  Result<Statement> statement = Prepare(sql);
  if (!statement.ok()) {
    return statement.status();
  }
  Result<bool> row = statement->Step();
  if (!row.ok()) {
    return row.status();
  }
  if (!*row) {
    return Status::NotFound(path_ + ": no row from \"" + std::string(sql) + "\"");
  }
  return statement->ColumnInt64(0);
}

Result<std::string> Connection::QueryText(std::string_view sql) {
  Result<Statement> statement = Prepare(sql);
  if (!statement.ok()) {
    return statement.status();
  }
  Result<bool> row = statement->Step();
  if (!row.ok()) {
    return row.status();
  }
  if (!*row) {
    return Status::NotFound(path_ + ": no row from \"" + std::string(sql) + "\"");
  }
  return std::string(statement->ColumnText(0));
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

int64_t Connection::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

bool Connection::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

}  // namespace etcdmon::sqlite
