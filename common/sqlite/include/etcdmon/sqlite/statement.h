#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "etcdmon/status/status.h"

struct sqlite3_stmt;

namespace etcdmon::sqlite {

/// A compiled SQL statement, made by Connection::Prepare. Bind parameters (1-based, as in SQL),
/// Step through the rows, read columns (0-based), then Reset to run it again.
///
/// A statement that has not been reset after its last Step keeps its read transaction open,
/// which holds back WAL checkpoints: reset when done, or use ResetGuard.
///
/// Move-only; not thread-safe (it belongs to its connection's user). Destroy it before its
/// Connection.
class Statement final {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Statement& operator=(Statement&& other) noexcept;

  /// False for a default-constructed or moved-from statement.
  bool valid() const { return stmt_ != nullptr; }

  Status BindInt64(int index, int64_t value);
  Status BindDouble(int index, double value);
  /// The text is copied: `value` need not outlive the call.
  Status BindText(int index, std::string_view value);
  Status BindNull(int index);

  /// Binds any integer type (through int64_t), double or text by overload.
  template <typename T>
  Status Bind(int index, const T& value) {
    if constexpr (std::is_integral_v<T>) {
      return BindInt64(index, static_cast<int64_t>(value));
    } else if constexpr (std::is_floating_point_v<T>) {
      return BindDouble(index, static_cast<double>(value));
    } else {
      return BindText(index, std::string_view(value));
    }
  }

  /// Binds `values` to parameters 1..n in order.
  template <typename... Args>
  Status BindAll(const Args&... values) {
    int index = 0;
    Status status;
    auto bind_one = [&](const auto& value) {
      if (status.ok()) {
        status = Bind(++index, value);
      }
    };
    (bind_one(values), ...);  // left to right; stops binding at the first failure
    return status;
  }

  /// Advances to the next row: true when a row is available, false when the statement is done.
  /// A failure leaves the statement needing Reset.
  Result<bool> Step();

  /// Steps a statement that returns no rows (INSERT, UPDATE, DELETE) to completion, then resets
  /// it and clears its bindings.
  Status Run();

  /// Column values of the current row (0-based). A NULL reads as 0, 0.0 or "".
  int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  /// Valid until the next Step, Reset or destruction.
  std::string_view ColumnText(int column) const;
  bool ColumnIsNull(int column) const;

  /// Rewinds the statement and clears its bindings, keeping it compiled. Ends its read.
  void Reset();

  /// True between a Step that returned a row and the next Reset (or the end of its rows): the
  /// statement holds a read open.
  bool InProgress() const;

  /// The SQL text the statement was compiled from.
  std::string_view sql() const;

 private:
  sqlite3_stmt* stmt_ = nullptr;  // owned
};

/// Resets a statement when the scope ends, so an early return never leaves it mid-read.
class ResetGuard final {
 public:
  explicit ResetGuard(Statement& statement) : statement_(statement) {}
  ~ResetGuard() { statement_.Reset(); }
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;

 private:
  Statement& statement_;
};

}  // namespace etcdmon::sqlite
