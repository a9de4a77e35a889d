#pragma once

#include <string_view>

#include "etcdmon/status/status.h"

struct sqlite3;

namespace etcdmon::sqlite::detail {

/// The Status for SQLite result code `rc` (not SQLITE_OK/ROW/DONE), with `context` (what was
/// being done, e.g. the file or the SQL) and SQLite's message from `db` (may be null).
Status FromSqlite(int rc, sqlite3* db, std::string_view context);

}  // namespace etcdmon::sqlite::detail
