// Statement: binding, stepping, reading columns and reusing a prepared statement.

#include "etcdmon/sqlite/statement.h"

#include <gtest/gtest.h>

#include <string>

#include "etcdmon/sqlite/connection.h"
#include "temp_db.h"

namespace etcdmon::sqlite {
namespace {

using testing::TempDir;

class StatementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto connection = Connection::Open(dir_.File("s.db"), ConnectionOptions{});
    ASSERT_TRUE(connection.ok()) << connection.status().ToString();
    db_ = std::move(*connection);
    ASSERT_TRUE(db_->Exec("CREATE TABLE t(k INTEGER PRIMARY KEY, d REAL, s TEXT)").ok());
  }

  TempDir dir_;
  std::unique_ptr<Connection> db_;
};

// One prepared INSERT is reused for many rows; every type reads back as written.
TEST_F(StatementTest, ReusesPreparedInsertAndReadsColumns) {
  auto insert = db_->Prepare("INSERT INTO t(k, d, s) VALUES (?, ?, ?)");
  ASSERT_TRUE(insert.ok()) << insert.status().ToString();
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(insert->BindAll(i, i * 1.5, "row " + std::to_string(i)).ok());
    ASSERT_TRUE(insert->Run().ok());
  }
  ASSERT_TRUE(insert->BindInt64(1, int64_t{1} << 40).ok());
  ASSERT_TRUE(insert->BindNull(2).ok());
  ASSERT_TRUE(insert->BindText(3, std::string_view("with\0nul", 8)).ok());
  ASSERT_TRUE(insert->Run().ok());

  auto select = db_->Prepare("SELECT k, d, s FROM t ORDER BY k");
  ASSERT_TRUE(select.ok());
  std::vector<std::string> rows;
  for (;;) {
    Result<bool> row = select->Step();
    ASSERT_TRUE(row.ok());
    if (!*row) {
      break;
    }
    rows.push_back(
        std::to_string(select->ColumnInt64(0)) + "|" +
        (select->ColumnIsNull(1) ? std::string("null") : std::to_string(select->ColumnDouble(1))) +
        "|" + std::string(select->ColumnText(2)));
  }
  select->Reset();
  std::vector<std::string> expected = {"1|1.500000|row 1", "2|3.000000|row 2", "3|4.500000|row 3",
                                       "1099511627776|null|" + std::string("with\0nul", 8)};
  EXPECT_EQ(rows, expected);
}

// A constraint violation is reported by Run, and the statement is usable again afterwards.
TEST_F(StatementTest, ConstraintViolationThenReuse) {
  auto insert = db_->Prepare("INSERT INTO t(k) VALUES (?)");
  ASSERT_TRUE(insert.ok());
  ASSERT_TRUE(insert->BindAll(1).ok());
  ASSERT_TRUE(insert->Run().ok());
  ASSERT_TRUE(insert->BindAll(1).ok());
  Status duplicate = insert->Run();
  EXPECT_EQ(duplicate.code(), StatusCode::kAlreadyExists) << duplicate.ToString();
  ASSERT_TRUE(insert->BindAll(2).ok());
  EXPECT_TRUE(insert->Run().ok());
  EXPECT_EQ(*db_->QueryInt64("SELECT COUNT(*) FROM t"), 2);
}

// Binding a parameter that does not exist is InvalidArgument, and BindAll stops there.
TEST_F(StatementTest, BindOutOfRangeIsInvalidArgument) {
  auto select = db_->Prepare("SELECT k FROM t WHERE k = ?");
  ASSERT_TRUE(select.ok());
  Status status = select->BindAll(1, 2);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
}

// ResetGuard ends a half-read statement's read (a reader stuck mid-statement would pin the WAL
// against checkpoints).
TEST_F(StatementTest, ResetGuardEndsTheRead) {
  ASSERT_TRUE(db_->Exec("INSERT INTO t(k) VALUES (1), (2)").ok());
  auto select = db_->Prepare("SELECT k FROM t");
  ASSERT_TRUE(select.ok());
  EXPECT_FALSE(select->InProgress());
  {
    ResetGuard guard(*select);
    ASSERT_TRUE(*select->Step());
    EXPECT_TRUE(select->InProgress());
  }
  EXPECT_FALSE(select->InProgress());
}

// A moved-from statement is empty; the moved-to one works.
TEST_F(StatementTest, MoveTransfersOwnership) {
  auto select = db_->Prepare("SELECT 42");
  ASSERT_TRUE(select.ok());
  Statement moved = std::move(*select);
  EXPECT_FALSE(select->valid());
  ASSERT_TRUE(moved.valid());
  EXPECT_EQ(moved.sql(), "SELECT 42");
  ASSERT_TRUE(*moved.Step());
  EXPECT_EQ(moved.ColumnInt64(0), 42);
}

}  // namespace
}  // namespace etcdmon::sqlite
