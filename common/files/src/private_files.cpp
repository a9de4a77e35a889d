#include "etcdmon/files/private_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace etcdmon::files {
namespace {

constexpr mode_t kGroupOrOther = 0077;

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

Status Errno(const std::string& path, std::string_view step, int err) {
  return StatusFromErrno(err, path + ": " + std::string(step));
}

std::string DirectoryOf(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Closes the descriptor on every path out of a function.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  // Closes now and reports close()'s errno (0 when fine); a failed close can lose written data.
  int CloseNow() {
    const int rc = close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string RandomSuffix() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::string suffix;
  for (int i = 0; i < 8; ++i) {
    suffix += kChars[device() % (sizeof(kChars) - 1)];
  }
  return suffix;
}

// Narrows an existing regular file to 0600 without following a symlink at `path`.
Status NarrowToOwner(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) {
      return Status::FailedPrecondition(path + ": is a symbolic link; refusing to use it");
    }
    return Errno(path, "open", errno);
  }
  FdCloser closer(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return Errno(path, "stat", errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::FailedPrecondition(path + ": not a regular file");
  }
  if ((st.st_mode & 0777) != 0600 && fchmod(fd, 0600) != 0) {
    return Errno(path, "chmod 0600", errno);
  }
  return Status::Ok();
}

}  // namespace

SecretFileCheck CheckSecretFile(const std::string& path, SecretFileKind kind) {
  SecretFileCheck check;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    check.status = Errno(path, "stat", errno);
    return check;
  }
  if ((st.st_mode & kGroupOrOther) == 0) {
    return check;
  }
  const std::string mode = OctalMode(st.st_mode);
  if (kind == SecretFileKind::kPrivateKey) {
    check.status = Status::FailedPrecondition(
        path + ": mode " + mode +
        " lets group or others read this private key; refusing it (chmod 600 " + path + ")");
  } else {
    check.warning =
        path + ": mode " + mode + " lets group or others read this secret; chmod 600 " + path;
  }
  return check;
}

Status MakePrivateDirectory(const std::string& path) {
  if (path.empty()) {
    return Status::InvalidArgument("empty directory path");
  }
  // Parents first, each created 0700 (an existing parent is left as it is).
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string parent = path.substr(0, slash);
    if (mkdir(parent.c_str(), 0700) != 0 && errno != EEXIST) {
      return Errno(parent, "create directory", errno);
    }
  }
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno(path, "create directory", errno);
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return Errno(path, "stat", errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::FailedPrecondition(path + ": not a directory");
  }
  // mkdir's mode is filtered by the umask (never widened), so only an existing directory
  // can be wider than 0700.
  if (st.st_uid == geteuid() && (st.st_mode & kGroupOrOther) != 0 &&
      chmod(path.c_str(), st.st_mode & 0700) != 0) {
    return Errno(path, "chmod 0700", errno);
  }
  return Status::Ok();
}

Status PreparePrivateFile(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd >= 0) {
    FdCloser closer(fd);
    if (fchmod(fd, 0600) != 0) {
      return Errno(path, "chmod 0600", errno);
    }
    return Status::Ok();
  }
  if (errno != EEXIST) {
    return Errno(path, "create", errno);
  }
  return NarrowToOwner(path);
}

Status PrepareDatabaseFile(const std::string& path) {
  ETCDMON_RETURN_IF_ERROR(PreparePrivateFile(path));
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    const std::string companion = path + suffix;
    struct stat st {};
    if (lstat(companion.c_str(), &st) == 0) {
      ETCDMON_RETURN_IF_ERROR(NarrowToOwner(companion));
    }
  }
  return Status::Ok();
}

Result<int> CreateExclusiveFile(const std::string& path, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return Status::AlreadyExists(path + ": already exists; not replacing it");
    }
    return Errno(path, "create", err);
  }
  // The mode given to open() is filtered by the umask; this makes it exact.
  if (fchmod(fd, mode) != 0) {
    const int err = errno;
    close(fd);
    unlink(path.c_str());
    return Errno(path, "chmod", err);
  }
  return fd;
}

Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  std::string temp;
  int fd = -1;
  // A random name: nobody can plant a symlink at it in advance, and a temporary file left by
  // a crash never blocks the next write. EEXIST is vanishingly rare; try a few names.
  for (int tries = 0; fd < 0; ++tries) {
    temp = path + ".tmp-" + RandomSuffix();
    Result<int> created = CreateExclusiveFile(temp, mode);
    if (created.ok()) {
      fd = *created;
    } else if (created.status().code() != StatusCode::kAlreadyExists || tries >= 4) {
      return created.status();
    }
  }
  FdCloser closer(fd);
  auto fail = [&](std::string_view step, int err) {
    unlink(temp.c_str());
    return Status::Internal(temp + ": " + std::string(step) + ": " + std::strerror(err));
  };
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("write", errno);
    }
    written += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0) {
    return fail("fsync", errno);
  }
  if (const int err = closer.CloseNow(); err != 0) {
    return fail("close", err);
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    return fail("rename to " + path, errno);
  }
  const std::string dir = DirectoryOf(path);
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return Status::Internal(dir + ": open directory for fsync: " + std::strerror(errno));
  }
  FdCloser dir_closer(dir_fd);
  if (fsync(dir_fd) != 0) {
    return Status::Internal(dir + ": fsync directory: " + std::strerror(errno));
  }
  return Status::Ok();
}

Result<std::string> ReadSmallFile(const std::string& path, std::size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Errno(path, "open", errno);
  }
  FdCloser closer(fd);
  std::string content;
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Errno(path, "read", errno);
    }
    if (n == 0) {
      break;
    }
    content.append(buffer, static_cast<std::size_t>(n));
    if (content.size() > max_bytes) {
      return Status::InvalidArgument(path + ": file is larger than " + std::to_string(max_bytes) +
                                     " bytes");
    }
  }
  return content;
}

}  // namespace etcdmon::files
