#include "file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace etcdmon::transport::detail {
namespace {

Status FileError(const std::string& path, std::string_view step, int err) {
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

}  // namespace

Status WriteFileDurably(const std::string& path, std::string_view content, mode_t mode) {
  const std::string temp = path + ".tmp";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return FileError(temp, "create", errno);
  }
  FdCloser closer(fd);
  auto fail = [&](std::string_view step, int err) {
    unlink(temp.c_str());
    return Status::Internal(temp + ": " + std::string(step) + ": " + std::strerror(err));
  };
  // The mode given to open() is filtered by the umask; this makes it exact.
  if (fchmod(fd, mode) != 0) {
    return fail("chmod", errno);
  }
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
    return FileError(path, "open", errno);
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
      return FileError(path, "read", errno);
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

}  // namespace etcdmon::transport::detail
