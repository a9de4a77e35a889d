// PRAGMA integrity_check of a database file a test left behind a process (killed or still
// running). Header-only: link etcdmon::sqlite.
#pragma once

#include <string>

#include "etcdmon/sqlite/connection.h"

namespace etcdmon::testing {

/// "ok" when the database at `path` is sound; otherwise SQLite's report or the error.
inline std::string IntegrityCheck(const std::string& path) {
  sqlite::ConnectionOptions options;
  options.create = false;
  auto db = sqlite::Connection::Open(path, options);
  if (!db.ok()) {
    return db.status().ToString();
  }
  auto report = (*db)->QueryText("PRAGMA integrity_check");
  return report.ok() ? *report : report.status().ToString();
}

}  // namespace etcdmon::testing
