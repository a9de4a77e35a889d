// DirectoryLock: one process per data directory. A second holder fails with the first one's pid,
// and the lock goes with its holder however the holder ends (SIGKILL included).

#include "etcdmon/files/directory_lock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::files {
namespace {

using etcdmon::testing::TempDir;
using ::testing::HasSubstr;

// A child process that holds the lock of `directory` until it is killed. Its pid, or -1 when it
// could not take the lock.
pid_t ForkHolder(const std::string& directory) {
  int ready[2];
  if (pipe(ready) != 0) {
    return -1;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(ready[0]);
    Result<std::unique_ptr<DirectoryLock>> lock = DirectoryLock::Acquire(directory);
    const char held = lock.ok() ? '1' : '0';
    (void)!write(ready[1], &held, 1);
    while (true) {
      pause();  // until killed
    }
  }
  close(ready[1]);
  char held = '0';
  const bool told = read(ready[0], &held, 1) == 1;
  close(ready[0]);
  if (!told || held != '1') {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

// Kills `pid` with `signal` and reaps it.
void KillAndReap(pid_t pid, int signal) {
  ASSERT_EQ(kill(pid, signal), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
}

// The lock is held until its object is destroyed; then the directory can be locked again.
TEST(DirectoryLockTest, HeldUntilDestroyed) {
  TempDir dir;
  auto first = DirectoryLock::Acquire(dir.path());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ((*first)->directory(), dir.path());
  auto second = DirectoryLock::Acquire(dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  first->reset();
  auto again = DirectoryLock::Acquire(dir.path());
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

// Another process holding the directory: the lock fails with one line naming the directory and
// the holder's pid.
TEST(DirectoryLockTest, SecondProcessIsRefusedWithTheHoldersPid) {
  TempDir dir;
  const pid_t holder = ForkHolder(dir.path());
  ASSERT_GT(holder, 0) << "the child could not take the lock";
  auto lock = DirectoryLock::Acquire(dir.path());
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(lock.status().message(), HasSubstr("data directory " + dir.path() + " is in use"));
  EXPECT_THAT(lock.status().message(), HasSubstr("pid " + std::to_string(holder)));
  EXPECT_EQ(lock.status().message().find('\n'), std::string::npos);
  KillAndReap(holder, SIGTERM);
}

// A holder killed with SIGKILL (no destructor runs) leaves no lock behind; nor does SIGTERM.
TEST(DirectoryLockTest, ReleasedWhenTheHolderDies) {
  for (const int signal : {SIGKILL, SIGTERM}) {
    TempDir dir;
    const pid_t holder = ForkHolder(dir.path());
    ASSERT_GT(holder, 0) << "the child could not take the lock";
    ASSERT_FALSE(DirectoryLock::Acquire(dir.path()).ok()) << "signal " << signal;
    KillAndReap(holder, signal);
    auto lock = DirectoryLock::Acquire(dir.path());
    EXPECT_TRUE(lock.ok()) << "signal " << signal << ": " << lock.status().ToString();
  }
}

// Databases in one directory have locks of their own (the aggregator's and the alerter's
// defaults share one); two holders of one database conflict, and the error names the directory.
TEST(DirectoryLockTest, DatabasesInOneDirectoryLockApart) {
  TempDir dir;
  auto history = DirectoryLock::AcquireForDatabase(dir.File("history.db"));
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  auto alerts = DirectoryLock::AcquireForDatabase(dir.File("alerts.db"));
  ASSERT_TRUE(alerts.ok()) << alerts.status().ToString();
  auto whole = DirectoryLock::Acquire(dir.path());
  EXPECT_TRUE(whole.ok()) << whole.status().ToString();
  auto again = DirectoryLock::AcquireForDatabase(dir.File("history.db"));
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("data directory " + dir.path() + " is in use"));
  EXPECT_THAT(again.status().message(), HasSubstr(dir.File(".history.db.lock")));
}

// A directory that does not exist cannot be locked; the error names it.
TEST(DirectoryLockTest, MissingDirectoryFailsNamingIt) {
  TempDir dir;
  auto lock = DirectoryLock::Acquire(dir.File("missing"));
  ASSERT_FALSE(lock.ok());
  EXPECT_THAT(lock.status().message(), HasSubstr(dir.File("missing")));
}

}  // namespace
}  // namespace etcdmon::files
