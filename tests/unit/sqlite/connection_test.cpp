// Connection: opening files with the project's pragmas, one-off SQL, error mapping.

#include "etcdmon/sqlite/connection.h"

#include <gtest/gtest.h>

#include <fstream>

#include "temp_db.h"

namespace etcdmon::sqlite {
namespace {

using testing::TempDir;

// A new file is created, in WAL mode with synchronous=NORMAL and secure_delete off.
TEST(ConnectionTest, OpensNewFileWithPragmas) {
  TempDir dir;
  auto connection = Connection::Open(dir.File("a.db"), ConnectionOptions{});
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  EXPECT_EQ(*(*connection)->QueryText("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(*(*connection)->QueryInt64("PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_EQ(*(*connection)->QueryInt64("PRAGMA secure_delete"), 0);
  EXPECT_EQ(*(*connection)->QueryInt64("PRAGMA busy_timeout"), 5000);
  EXPECT_FALSE((*connection)->InTransaction());
}

// Without `create`, a missing file is Unavailable and is not created.
TEST(ConnectionTest, MissingFileWithoutCreateIsUnavailable) {
  TempDir dir;
  ConnectionOptions options;
  options.create = false;
  auto connection = Connection::Open(dir.File("missing.db"), options);
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(connection.status().message().find("missing.db"), std::string::npos);
}

// A file that is not a database fails at open, as FailedPrecondition naming the file.
TEST(ConnectionTest, NotADatabaseIsFailedPrecondition) {
  TempDir dir;
  std::string path = dir.File("text.db");
  std::ofstream(path) << "this is not an SQLite file, but it is long enough to have a header"
                      << std::string(200, 'x');
  auto connection = Connection::Open(path, ConnectionOptions{});
  ASSERT_FALSE(connection.ok());
  EXPECT_EQ(connection.status().code(), StatusCode::kFailedPrecondition)
      << connection.status().ToString();
  EXPECT_NE(connection.status().message().find("text.db"), std::string::npos);
}

// A query_only connection reads what a writer committed and refuses to write.
TEST(ConnectionTest, QueryOnlyConnectionReadsButCannotWrite) {
  TempDir dir;
  auto writer = Connection::Open(dir.File("a.db"), ConnectionOptions{});
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Exec("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (7);").ok());
  ConnectionOptions options;
  options.query_only = true;
  options.wal = false;
  auto reader = Connection::Open(dir.File("a.db"), options);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(*(*reader)->QueryInt64("SELECT x FROM t"), 7);
  Status status = (*reader)->Exec("INSERT INTO t VALUES (8)");
  EXPECT_FALSE(status.ok());
}

// SQL errors name the file and carry SQLite's message; a query without rows is NotFound.
TEST(ConnectionTest, ReportsSqlErrorsAndEmptyResults) {
  TempDir dir;
  auto connection = Connection::Open(dir.File("a.db"), ConnectionOptions{});
  ASSERT_TRUE(connection.ok());
  Status status = (*connection)->Exec("SELEC 1");
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  EXPECT_NE(status.message().find("syntax error"), std::string::npos) << status.message();
  ASSERT_TRUE((*connection)->Exec("CREATE TABLE t(x INTEGER)").ok());
  EXPECT_EQ((*connection)->QueryInt64("SELECT x FROM t").status().code(), StatusCode::kNotFound);
}

// Prepare takes exactly one statement.
TEST(ConnectionTest, PrepareRejectsEmptyAndMultipleStatements) {
  TempDir dir;
  auto connection = Connection::Open(dir.File("a.db"), ConnectionOptions{});
  ASSERT_TRUE(connection.ok());
  EXPECT_EQ((*connection)->Prepare("  ").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*connection)->Prepare("SELECT 1; SELECT 2").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE((*connection)->Prepare("SELECT 1;").ok());
}

// Changes and LastInsertRowId report the latest statement.
TEST(ConnectionTest, ChangesAndLastInsertRowId) {
  TempDir dir;
  auto connection = Connection::Open(dir.File("a.db"), ConnectionOptions{});
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE((*connection)
                  ->Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, x INTEGER);"
                         "INSERT INTO t(x) VALUES (1), (2), (3);")
                  .ok());
  EXPECT_EQ((*connection)->Changes(), 3);
  EXPECT_EQ((*connection)->LastInsertRowId(), 3);
  ASSERT_TRUE((*connection)->Exec("DELETE FROM t WHERE x >= 2").ok());
  EXPECT_EQ((*connection)->Changes(), 2);
}

}  // namespace
}  // namespace etcdmon::sqlite
