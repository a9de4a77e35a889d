#include "etcdmon/collector/host_probe.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

namespace etcdmon::collector {
namespace {

// /proc/meminfo is about 1.5 KiB; the fields read here are in its first lines.
constexpr std::size_t kMeminfoBufferBytes = 8192;

// The value of "<key>:   <n> kB" in meminfo text, in bytes; false when absent.
bool MeminfoField(std::string_view text, std::string_view key, uint64_t& bytes) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t eol = text.find('\n', at);
    const std::string_view line =
        text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    at = eol == std::string_view::npos ? text.size() : eol + 1;
    if (line.size() <= key.size() || line.compare(0, key.size(), key) != 0 ||
        line[key.size()] != ':') {
      continue;
    }
    std::size_t i = key.size() + 1;
    while (i < line.size() && line[i] == ' ') {
      ++i;
    }
    uint64_t value = 0;
    bool digits = false;
    for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
      value = value * 10 + static_cast<uint64_t>(line[i] - '0');
      digits = true;
    }
    if (!digits) {
      return false;
    }
    const std::string_view unit = line.substr(i);
    bytes = unit.find("kB") != std::string_view::npos ? value * 1024 : value;
    return true;
  }
  return false;
}

class SystemHostProbe final : public HostProbe {
 public:
  explicit SystemHostProbe(std::string meminfo_path) : meminfo_path_(std::move(meminfo_path)) {}

  Result<DiskUsage> Disk(const std::string& path) override {
    struct statvfs fs {};
    if (statvfs(path.c_str(), &fs) != 0) {
      return StatusFromErrno(errno, "statvfs " + path);
    }
    DiskUsage usage;
    const uint64_t unit = fs.f_frsize != 0 ? fs.f_frsize : fs.f_bsize;
    usage.total_bytes = static_cast<uint64_t>(fs.f_blocks) * unit;
    usage.used_bytes = static_cast<uint64_t>(fs.f_blocks - fs.f_bfree) * unit;
    return usage;
  }

  Result<MemoryUsage> Memory() override {
    char buffer[kMeminfoBufferBytes];
    const int fd = open(meminfo_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return StatusFromErrno(errno, "open " + meminfo_path_);
    }
    std::size_t size = 0;
    while (size < sizeof(buffer)) {
      const ssize_t n = read(fd, buffer + size, sizeof(buffer) - size);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        const int err = errno;
        close(fd);
        return StatusFromErrno(err, "read " + meminfo_path_);
      }
      if (n == 0) {
        break;
      }
      size += static_cast<std::size_t>(n);
    }
    close(fd);

    const std::string_view text(buffer, size);
    MemoryUsage usage;
    if (!MeminfoField(text, "MemTotal", usage.total_bytes)) {
      return Status::Internal(meminfo_path_ + " has no MemTotal");
    }
    if (!MeminfoField(text, "MemAvailable", usage.available_bytes)) {
      // Kernels before 3.14: the estimate MemAvailable replaced.
      uint64_t free = 0;
      uint64_t buffers = 0;
      uint64_t cached = 0;
      if (!MeminfoField(text, "MemFree", free)) {
        return Status::Internal(meminfo_path_ + " has neither MemAvailable nor MemFree");
      }
      MeminfoField(text, "Buffers", buffers);
      MeminfoField(text, "Cached", cached);
      usage.available_bytes = free + buffers + cached;
    }
    return usage;
  }

 private:
  const std::string meminfo_path_;
};

}  // namespace

std::unique_ptr<HostProbe> NewHostProbe(std::string meminfo_path) {
  return std::make_unique<SystemHostProbe>(std::move(meminfo_path));
}

}  // namespace etcdmon::collector
