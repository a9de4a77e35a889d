#pragma once

// One process per data directory and per database: two instances on one directory would both
// open its databases (both writing history, both restoring and notifying alerts). The lock is an
// advisory flock(2) on a lock file in the directory, held for as long as the returned object
// lives; the kernel drops it when the process dies, however (SIGKILL included), so no stale lock
// survives a crash.

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>

#include "etcdmon/status/status.h"

namespace etcdmon::files {

/// The lock file's name inside a locked data directory. A lock file holds the holder's pid, for
/// the error a second instance prints; its presence alone means nothing (only the flock counts).
inline constexpr const char* kLockFileName = ".etcd-monitor.lock";

/// A held lock on one directory. Not copyable; destroying it releases the lock. Safe to destroy
/// from any thread.
class DirectoryLock final {
 public:
  /// Locks `directory` (which must exist), creating its lock file (0600) when missing, and
  /// writes this process's pid into it. FailedPrecondition when another process holds it, with
  /// one line naming the directory and the holder's pid when the lock file says it:
  /// "data directory /var/lib/etcd-monitor is in use by another process (pid 4242; lock file
  /// /var/lib/etcd-monitor/.etcd-monitor.lock)". Other errors (cannot create or open the lock
  /// file) name the path. A second lock of the same directory in the same process fails too.
  static Result<std::unique_ptr<DirectoryLock>> Acquire(
      const std::string& directory, const std::string& lock_file_name = kLockFileName);

  /// The lock of one database file: its directory, under a lock file named after the database
  /// (".history.db.lock" for history.db). Two services whose databases share a directory (the
  /// aggregator's and the alerter's defaults do) do not conflict; two on one database do.
  static Result<std::unique_ptr<DirectoryLock>> AcquireForDatabase(
      const std::string& database_path);

  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

  const std::string& directory() const { return directory_; }

 private:
  DirectoryLock(std::string directory, int fd) : directory_(std::move(directory)), fd_(fd) {}

  std::string directory_;
  int fd_;  // the open lock file; the flock lives as long as it is open
};

}  // namespace etcdmon::files
