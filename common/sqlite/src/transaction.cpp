#include "etcdmon/sqlite/transaction.h"

#include "etcdmon/sqlite/connection.h"

namespace etcdmon::sqlite {

Result<Transaction> Transaction::Begin(Connection& connection, TransactionMode mode) {
  if (connection.InTransaction()) {
    return Status::FailedPrecondition(connection.path() + ": a transaction is already open");
  }
  ETCDMON_RETURN_IF_ERROR(
      connection.Exec(mode == TransactionMode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN"));
  return Transaction(&connection);
}

Transaction::~Transaction() { Rollback(); }

Status Transaction::Commit() {
  if (connection_ == nullptr) {
    return Status::FailedPrecondition("commit: the transaction is no longer open");
  }
  Status status = connection_->Exec("COMMIT");
  if (!status.ok()) {
    // A failed COMMIT (e.g. SQLITE_BUSY or a full disk) can leave the transaction open.
    Rollback();
    return status;
  }
  connection_ = nullptr;
  return Status::Ok();
}

void Transaction::Rollback() {
  if (connection_ == nullptr) {
    return;
  }
  // SQLite rolls back by itself after some errors (I/O, full disk); then there is nothing left.
  if (connection_->InTransaction()) {
    (void)connection_->Exec("ROLLBACK");
  }
  connection_ = nullptr;
}

}  // namespace etcdmon::sqlite
