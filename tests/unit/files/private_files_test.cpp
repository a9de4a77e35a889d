// Private files: the modes of what the product creates (directories, databases with their -wal
// and -shm, sequence and key files), secret and key files that others can read, and temporary
// files that a planted symlink cannot redirect.

#include "etcdmon/files/private_files.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "etcdmon/config/flags.h"
#include "etcdmon/sqlite/connection.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::files {
namespace {

using etcdmon::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteWithMode(const std::string& path, const std::string& content, mode_t mode) {
  std::ofstream(path) << content;
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

// The umask that lets everyone read new files, as many shells have: the product must not rely
// on a strict one.
class PermissiveUmask {
 public:
  PermissiveUmask() : old_(umask(0)) {}
  ~PermissiveUmask() { umask(old_); }

 private:
  mode_t old_;
};

TEST(PrivateFilesTest, DirectoriesAreCreatedOwnerOnly) {
  PermissiveUmask umask_0;
  TempDir dir;
  const std::string nested = dir.File("data/history");
  ASSERT_TRUE(MakePrivateDirectory(nested).ok());
  EXPECT_EQ(ModeOf(dir.File("data")), 0700u);
  EXPECT_EQ(ModeOf(nested), 0700u);
}

TEST(PrivateFilesTest, ExistingWideDirectoryOfOursIsNarrowed) {
  TempDir dir;
  const std::string data = dir.File("data");
  ASSERT_EQ(mkdir(data.c_str(), 0755), 0);
  ASSERT_EQ(chmod(data.c_str(), 0755), 0);
  ASSERT_TRUE(MakePrivateDirectory(data).ok());
  EXPECT_EQ(ModeOf(data), 0700u);
}

TEST(PrivateFilesTest, SqliteFileAndItsWalAndShmAreOwnerOnly) {
  PermissiveUmask umask_0;
  TempDir dir;
  const std::string db = dir.File("history.db");
  auto connection = sqlite::Connection::Open(db, sqlite::ConnectionOptions{});
  ASSERT_TRUE(connection.ok()) << connection.status().ToString();
  ASSERT_TRUE((*connection)->Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)").ok());
  EXPECT_EQ(ModeOf(db), 0600u);
  ASSERT_EQ(access((db + "-wal").c_str(), F_OK), 0) << "WAL mode expected";
  EXPECT_EQ(ModeOf(db + "-wal"), 0600u);
  EXPECT_EQ(ModeOf(db + "-shm"), 0600u);
}

TEST(PrivateFilesTest, ExistingWorldReadableDatabaseIsNarrowed) {
  TempDir dir;
  const std::string db = dir.File("alerts.db");
  {
    auto first = sqlite::Connection::Open(db, sqlite::ConnectionOptions{});
    ASSERT_TRUE(first.ok());
  }
  ASSERT_EQ(chmod(db.c_str(), 0644), 0);
  auto again = sqlite::Connection::Open(db, sqlite::ConnectionOptions{});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(ModeOf(db), 0600u);
}

TEST(PrivateFilesTest, DatabaseAtASymlinkIsRefused) {
  TempDir dir;
  const std::string target = dir.File("elsewhere.db");
  const std::string db = dir.File("history.db");
  ASSERT_EQ(symlink(target.c_str(), db.c_str()), 0);
  EXPECT_FALSE(PrepareDatabaseFile(db).ok());
  EXPECT_NE(access(target.c_str(), F_OK), 0) << "the symlink was followed";
}

TEST(PrivateFilesTest, SequenceStateAndKeyFilesAreOwnerOnly) {
  PermissiveUmask umask_0;
  TempDir dir;
  Result<transport::CurveKeyPair> pair = transport::GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  const std::string keys = dir.File("keys/aggregator");
  ASSERT_TRUE(transport::WriteCurveKeyPair(keys, *pair).ok());
  EXPECT_EQ(ModeOf(dir.File("keys")), 0700u);
  EXPECT_EQ(ModeOf(keys), 0700u);
  EXPECT_EQ(ModeOf(keys + "/curve.key"), 0600u);
  EXPECT_EQ(ModeOf(keys + "/curve.pub"), 0600u);

  const std::string state = dir.File("collector.seq");
  ASSERT_TRUE(WriteFileAtomically(state, "42\n", 0600).ok());
  EXPECT_EQ(ModeOf(state), 0600u);
  EXPECT_EQ(ReadAll(state), "42\n");
}

TEST(PrivateFilesTest, WorldReadableKeyIsRefused) {
  TempDir dir;
  Result<transport::CurveKeyPair> pair = transport::GenerateCurveKeyPair();
  ASSERT_TRUE(pair.ok());
  ASSERT_TRUE(transport::WriteCurveKeyPair(dir.path(), *pair).ok());
  const std::string key = dir.File("curve.key");
  ASSERT_TRUE(transport::LoadCurveSecretKey(key).ok());
  ASSERT_EQ(chmod(key.c_str(), 0644), 0);

  const SecretFileCheck check = CheckSecretFile(key, SecretFileKind::kPrivateKey);
  EXPECT_EQ(check.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(check.status.message(), HasSubstr("0644"));
  EXPECT_THAT(check.status.message(), HasSubstr(key));
  EXPECT_THAT(check.status.message(), ::testing::Not(HasSubstr(pair->secret_key)));
  Result<std::string> loaded = transport::LoadCurveSecretKey(key);
  EXPECT_EQ(loaded.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(transport::LoadCurveKeyPair(dir.path()).ok());
  // The public key is no secret: readable by all is fine.
  ASSERT_EQ(chmod(dir.File("curve.pub").c_str(), 0644), 0);
  ASSERT_EQ(chmod(key.c_str(), 0600), 0);
  EXPECT_TRUE(transport::LoadCurveKeyPair(dir.path()).ok());
}

TEST(PrivateFilesTest, GroupReadableTokenIsWarnedAboutAndUsed) {
  TempDir dir;
  const std::string token = dir.File("api.token");
  WriteWithMode(token, "s3cr3t-token\n", 0640);

  const SecretFileCheck check = CheckSecretFile(token, SecretFileKind::kSecret);
  EXPECT_TRUE(check.status.ok());
  EXPECT_THAT(check.warning, HasSubstr(token));
  EXPECT_THAT(check.warning, HasSubstr("0640"));
  EXPECT_THAT(check.warning, HasSubstr("chmod 600"));

  // Read through the flags' secret reader: used, and the warning is queued for the command line.
  config::detail::PrintWarnings(nullptr);
  Result<std::string> read = config::ReadSecretFile(token);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "s3cr3t-token");
  std::ostringstream err;
  config::detail::PrintWarnings(&err);
  EXPECT_EQ(err.str(), "warning: " + check.warning + "\n");
  EXPECT_THAT(err.str(), ::testing::Not(HasSubstr("s3cr3t-token")));

  ASSERT_EQ(chmod(token.c_str(), 0600), 0);
  EXPECT_THAT(CheckSecretFile(token, SecretFileKind::kSecret).warning, IsEmpty());
  EXPECT_TRUE(CheckSecretFile(token, SecretFileKind::kPrivateKey).status.ok());
}

TEST(PrivateFilesTest, ExclusiveCreateDoesNotFollowAPlantedSymlink) {
  TempDir dir;
  const std::string victim = dir.File("victim");
  WriteWithMode(victim, "precious", 0644);
  const std::string temp = dir.File("state.tmp");
  ASSERT_EQ(symlink(victim.c_str(), temp.c_str()), 0);
  Result<int> fd = CreateExclusiveFile(temp, 0600);
  EXPECT_EQ(fd.status().code(), StatusCode::kAlreadyExists);
  // A dangling symlink is no way in either.
  const std::string dangling = dir.File("dangling.tmp");
  ASSERT_EQ(symlink(dir.File("nowhere").c_str(), dangling.c_str()), 0);
  EXPECT_FALSE(CreateExclusiveFile(dangling, 0600).ok());
  EXPECT_NE(access(dir.File("nowhere").c_str(), F_OK), 0);
  EXPECT_EQ(ReadAll(victim), "precious");
}

TEST(PrivateFilesTest, AtomicWriteIgnoresSymlinksPlantedAtOldTemporaryNames) {
  TempDir dir;
  const std::string victim = dir.File("victim");
  WriteWithMode(victim, "precious", 0644);
  const std::string state = dir.File("collector.seq");
  // The fixed name the writer used to use, and a plausible random one: both symlinks.
  ASSERT_EQ(symlink(victim.c_str(), (state + ".tmp").c_str()), 0);
  ASSERT_TRUE(WriteFileAtomically(state, "7\n", 0600).ok());
  EXPECT_EQ(ReadAll(victim), "precious");
  EXPECT_EQ(ReadAll(state), "7\n");
  struct stat st {};
  ASSERT_EQ(lstat(state.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

}  // namespace
}  // namespace etcdmon::files
