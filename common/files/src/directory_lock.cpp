#include "etcdmon/files/directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace etcdmon::files {

namespace {

std::string ErrnoText(int error) { return std::strerror(error); }

// The pid the holder wrote into the lock file, or "" when it cannot be read (written not yet,
// or by something else).
std::string HolderPid(int fd) {
  char buffer[32] = {};
  const ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (n <= 0) {
    return "";
  }
  std::string pid(buffer, static_cast<std::size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) {
    pid.pop_back();
  }
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) {
    return "";
  }
  return pid;
}

}  // namespace

Result<std::unique_ptr<DirectoryLock>> DirectoryLock::Acquire(const std::string& directory,
                                                              const std::string& lock_file_name) {
  const std::string path = directory + "/" + lock_file_name;
  // O_NOFOLLOW: a symlink planted at the lock path is refused, not followed; O_CLOEXEC: a child
  // (a benchmark, a notifier's process) does not inherit the lock.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    return Status::FailedPrecondition("cannot open the lock file " + path + " of data directory " +
                                      directory + ": " + ErrnoText(error));
  }
  // flock locks belong to the open file description: a second open in this same process
  // conflicts too, as a second instance's would.
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    std::string message;
    if (error == EWOULDBLOCK) {
      const std::string pid = HolderPid(fd);
      message = "data directory " + directory + " is in use by another process (" +
                (pid.empty() ? std::string() : "pid " + pid + "; ") + "lock file " + path + ")";
    } else {
      message = "cannot lock data directory " + directory + " (lock file " + path +
                "): " + ErrnoText(error);
    }
    close(fd);
    return Status::FailedPrecondition(message);
  }
  // Ours now: say who holds it. A failure to write the pid costs only the pid in another
  // instance's error, so it does not fail the lock (a full disk must not stop the monitor).
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) == 0) {
    (void)!pwrite(fd, pid.data(), pid.size(), 0);
  }
  return std::unique_ptr<DirectoryLock>(new DirectoryLock(directory, fd));
}

Result<std::unique_ptr<DirectoryLock>> DirectoryLock::AcquireForDatabase(
    const std::string& database_path) {
  const std::filesystem::path path(database_path);
  const std::string directory = path.has_parent_path() ? path.parent_path().string() : ".";
  return Acquire(directory, "." + path.filename().string() + ".lock");
}

DirectoryLock::~DirectoryLock() {
  // Closing the last descriptor of the file description releases the flock. The file stays:
  // removing it would race with another process that opened it and is about to lock it.
  close(fd_);
}

}  // namespace etcdmon::files
