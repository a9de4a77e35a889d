#include "etcdmon/sqlite/statement.h"

#include <sqlite3.h>

#include <string>

#include "error.h"

namespace etcdmon::sqlite {
namespace {

Status BindFailed(int rc, sqlite3_stmt* stmt, int index) {
  return detail::FromSqlite(
      rc, sqlite3_db_handle(stmt),
      "bind parameter " + std::to_string(index) + " of \"" + std::string(sqlite3_sql(stmt)) + "\"");
}

}  // namespace

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Status Statement::BindInt64(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  return rc == SQLITE_OK ? Status::Ok() : BindFailed(rc, stmt_, index);
}

Status Statement::BindDouble(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  return rc == SQLITE_OK ? Status::Ok() : BindFailed(rc, stmt_, index);
}

Status Statement::BindText(int index, std::string_view value) {
  int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return rc == SQLITE_OK ? Status::Ok() : BindFailed(rc, stmt_, index);
}

Status Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  return rc == SQLITE_OK ? Status::Ok() : BindFailed(rc, stmt_, index);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  return detail::FromSqlite(rc, sqlite3_db_handle(stmt_),
                            "\"" + std::string(sqlite3_sql(stmt_)) + "\"");
}

Status Statement::Run() {
  Result<bool> row = Step();
  while (row.ok() && *row) {
    row = Step();
  }
  Reset();
  return row.status();
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }

std::string_view Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) {
    return {};
  }
  // Size after the text call: it may have converted the value to text.
  return std::string_view(reinterpret_cast<const char*>(text),
                          static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

void Statement::Reset() {
  // sqlite3_reset repeats the last step's error, which the caller already got from Step.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::InProgress() const { return stmt_ != nullptr && sqlite3_stmt_busy(stmt_) != 0; }

std::string_view Statement::sql() const {
  const char* text = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
  return text != nullptr ? std::string_view(text) : std::string_view();
}

}  // namespace etcdmon::sqlite
