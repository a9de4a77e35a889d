#include "error.h"

#include <sqlite3.h>

#include <string>

namespace etcdmon::sqlite::detail {
namespace {

StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {  // the primary code; extended codes keep it in the low byte
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return StatusCode::kUnavailable;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return StatusCode::kResourceExhausted;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_SCHEMA:
      return StatusCode::kFailedPrecondition;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return StatusCode::kPermissionDenied;
    case SQLITE_CONSTRAINT:
      return (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
                 ? StatusCode::kAlreadyExists
                 : StatusCode::kInvalidArgument;
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return StatusCode::kInvalidArgument;
    default:
      return StatusCode::kInternal;
  }
}

}  // namespace

Status FromSqlite(int rc, sqlite3* db, std::string_view context) {
  std::string message(context);
  message += ": ";
  // The connection's message describes its most recent failure, which is this one; the generic
  // text of the code is the fallback (e.g. when opening failed before there was a handle).
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : nullptr;
  message += detail != nullptr ? detail : sqlite3_errstr(rc);
  message += " (sqlite code ";
  message += std::to_string(rc);
  message += ")";
  return Status(CodeFor(rc), std::move(message));
}

}  // namespace etcdmon::sqlite::detail
