#pragma once

// One SQLite database connection, opened with the pragmas the project's stores use.
//
// SQLite errors map to Status codes the same way everywhere (error.cpp): a busy or locked
// database and I/O errors are Unavailable, a full disk is ResourceExhausted, a file that is not
// a database or is corrupt is FailedPrecondition, a constraint violation is AlreadyExists or
// InvalidArgument, anything else Internal. Messages name the file and SQLite's own text.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "etcdmon/sqlite/statement.h"
#include "etcdmon/status/status.h"

struct sqlite3;

namespace etcdmon::sqlite {

/// PRAGMA synchronous. In WAL mode kNormal is durable against process crashes (a committed
/// transaction survives SIGKILL) and may lose the last transactions on power loss, never
/// corrupting the file.
enum class Synchronous { kOff, kNormal, kFull };

struct ConnectionOptions {
  /// Creates the file when it does not exist (the directory must exist). Either way the file
  /// and its existing -wal and -shm files are made 0600 (files::PrepareDatabaseFile).
  bool create = true;
  /// PRAGMA query_only: any write fails. For reader connections beside one writer.
  bool query_only = false;
  /// journal_mode=WAL: readers and the writer do not block each other. The mode is stored in the
  /// file, so one writer connection setting it is enough; readers leave it as it is.
  bool wal = true;
  Synchronous synchronous = Synchronous::kNormal;
  /// How long a statement waits for another connection's lock before failing Unavailable.
  std::chrono::milliseconds busy_timeout{5000};
  /// Page cache per connection, in KiB; 0 keeps SQLite's default (2 MiB).
  int64_t cache_size_kib = 0;
  /// Bytes of the file read through mmap; 0 disables it (SQLite's default).
  int64_t mmap_size_bytes = 0;
  /// WAL pages after which a commit checkpoints; 0 keeps SQLite's default (1000).
  int64_t wal_autocheckpoint_pages = 0;
  /// Size the WAL file is truncated to after a checkpoint; negative: no limit.
  int64_t journal_size_limit_bytes = 64 << 20;
  /// PRAGMA secure_delete: overwrite deleted content with zeros. Costs a write per freed page;
  /// Debian's SQLite turns it on by default, so it is set explicitly either way.
  bool secure_delete = false;
};

/// An open database file. Owns the sqlite3 handle; statements prepared on it must be destroyed
/// before it (the handle is closed with sqlite3_close_v2, so an outstanding statement only delays
/// the close, it never dangles).
///
/// Not thread-safe: one thread at a time uses a connection and its statements (the owner
/// serializes access, e.g. with a mutex). Open a connection per thread for concurrent readers.
class Connection final {
 public:
  /// Opens (and creates, if allowed) `path` and applies `options`. Unavailable when the file
  /// cannot be opened, FailedPrecondition when it is not a database.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path,
                                                  const ConnectionOptions& options);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&&) = delete;
  Connection& operator=(Connection&&) = delete;

  /// Runs one or more SQL statements that take no parameters (DDL, pragmas). Rows are discarded.
  Status Exec(std::string_view sql);

  /// Compiles `sql` (one statement) for repeated use. Keep the Statement and reuse it: binding
  /// and stepping a prepared statement parses nothing.
  Result<Statement> Prepare(std::string_view sql);

  /// The first column of the first row of `sql` as an integer (counts, single-value pragmas).
  /// NotFound when it returns no row.
  Result<int64_t> QueryInt64(std::string_view sql);

  /// The first column of the first row of `sql` as text. NotFound when it returns no row.
  Result<std::string> QueryText(std::string_view sql);

  /// Rows changed by the most recent INSERT, UPDATE or DELETE on this connection.
  int64_t Changes() const;

  /// Rowid of the most recent successful INSERT on this connection.
  int64_t LastInsertRowId() const;

  /// True while a transaction is open (not in autocommit mode).
  bool InTransaction() const;

  const std::string& path() const { return path_; }

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;       // owned; set once in the constructor
  std::string path_;  // for error messages
};

}  // namespace etcdmon::sqlite
