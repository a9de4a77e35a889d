// Transaction: commit keeps, destruction without commit rolls back, no nesting.

#include "etcdmon/sqlite/transaction.h"

#include <gtest/gtest.h>

#include "etcdmon/sqlite/connection.h"
#include "temp_db.h"

namespace etcdmon::sqlite {
namespace {

using testing::TempDir;

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto connection = Connection::Open(dir_.File("t.db"), ConnectionOptions{});
    ASSERT_TRUE(connection.ok()) << connection.status().ToString();
    db_ = std::move(*connection);
    ASSERT_TRUE(db_->Exec("CREATE TABLE t(k INTEGER PRIMARY KEY)").ok());
  }

  int64_t Rows() { return *db_->QueryInt64("SELECT COUNT(*) FROM t"); }

  TempDir dir_;
  std::unique_ptr<Connection> db_;
};

// Committed changes stay.
TEST_F(TransactionTest, CommitKeepsChanges) {
  auto txn = Transaction::Begin(*db_);
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  EXPECT_TRUE(db_->InTransaction());
  ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES (1), (2)").ok());
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_EQ(Rows(), 2);
  EXPECT_EQ(txn->Commit().code(), StatusCode::kFailedPrecondition);  // only once
}

// Leaving the scope without Commit rolls everything back.
TEST_F(TransactionTest, DestructionWithoutCommitRollsBack) {
  {
    auto txn = Transaction::Begin(*db_);
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES (1)").ok());
  }
  EXPECT_FALSE(db_->InTransaction());
  EXPECT_EQ(Rows(), 0);
}

// Rollback can be called explicitly, and the destructor then does nothing more.
TEST_F(TransactionTest, ExplicitRollback) {
  auto txn = Transaction::Begin(*db_, TransactionMode::kDeferred);
  ASSERT_TRUE(txn.ok());
  ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES (1)").ok());
  txn->Rollback();
  EXPECT_FALSE(db_->InTransaction());
  ASSERT_TRUE(db_->Exec("INSERT INTO t VALUES (2)").ok());  // autocommit again
  EXPECT_EQ(Rows(), 1);
}

// A second Begin on a connection inside a transaction fails instead of nesting.
TEST_F(TransactionTest, NoNesting) {
  auto outer = Transaction::Begin(*db_);
  ASSERT_TRUE(outer.ok());
  auto inner = Transaction::Begin(*db_);
  EXPECT_EQ(inner.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(db_->InTransaction());  // the outer one is untouched
  ASSERT_TRUE(outer->Commit().ok());
}

// An immediate transaction holds the write lock: a second connection cannot begin one
// (Unavailable once its busy timeout ends).
TEST_F(TransactionTest, ImmediateTakesTheWriteLock) {
  ConnectionOptions options;
  options.busy_timeout = std::chrono::milliseconds(10);
  auto other = Connection::Open(dir_.File("t.db"), options);
  ASSERT_TRUE(other.ok());
  auto txn = Transaction::Begin(*db_);
  ASSERT_TRUE(txn.ok());
  auto blocked = Transaction::Begin(**other);
  EXPECT_EQ(blocked.status().code(), StatusCode::kUnavailable) << blocked.status().ToString();
  ASSERT_TRUE(txn->Commit().ok());
  auto now_free = Transaction::Begin(**other);
  EXPECT_TRUE(now_free.ok());
}

}  // namespace
}  // namespace etcdmon::sqlite
