#pragma once

#include "etcdmon/status/status.h"

namespace etcdmon::sqlite {

class Connection;

enum class TransactionMode {
  /// BEGIN: takes locks as statements need them. For read transactions (one consistent
  /// snapshot across several SELECTs).
  kDeferred,
  /// BEGIN IMMEDIATE: takes the write lock at once (waiting up to the busy timeout), so a write
  /// transaction never fails half-way on another writer's lock.
  kImmediate,
};

/// A transaction on a connection: committed by Commit(), rolled back by the destructor when
/// Commit() was not called or failed. No nesting: Begin on a connection that is already in a
/// transaction fails FailedPrecondition.
///
/// Move-only; used on the connection's thread only. Must not outlive its connection.
class Transaction final {
 public:
  static Result<Transaction> Begin(Connection& connection,
                                   TransactionMode mode = TransactionMode::kImmediate);

  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction(Transaction&& other) noexcept : connection_(other.connection_) {
    other.connection_ = nullptr;
  }
  Transaction& operator=(Transaction&&) = delete;

  /// Commits. After a failure the transaction has been rolled back (by SQLite or by this call):
  /// none of its changes are stored.
  Status Commit();

  /// Rolls back now; the destructor does nothing afterwards.
  void Rollback();

 private:
  explicit Transaction(Connection* connection) : connection_(connection) {}

  Connection* connection_;  // not owned; null once committed or rolled back
};

}  // namespace etcdmon::sqlite
