#pragma once

// What the collector reads about the host it shares with its etcd member.

#include <cstdint>
#include <memory>
#include <string>

#include "etcdmon/status/status.h"

namespace etcdmon::collector {

/// Usage of the file system that holds a path, as df reports it.
struct DiskUsage {
  uint64_t total_bytes = 0;
  uint64_t used_bytes = 0;  // total minus free blocks (including blocks reserved for root)
};

/// The host's memory.
struct MemoryUsage {
  uint64_t total_bytes = 0;      // MemTotal
  uint64_t available_bytes = 0;  // MemAvailable
};

/// Disk and memory of the host. Implementations are safe for concurrent use.
class HostProbe {
 public:
  virtual ~HostProbe() = default;

  /// The file system holding `path`. Errors: NotFound / PermissionDenied / Internal from
  /// statvfs, naming the path.
  virtual Result<DiskUsage> Disk(const std::string& path) = 0;

  /// Total and available memory. Errors: the meminfo file cannot be read, or lacks MemTotal.
  virtual Result<MemoryUsage> Memory() = 0;
};

/// The real probe: statvfs(2) for disks, and `meminfo_path` (Linux /proc/meminfo format) for
/// memory. Available memory is MemAvailable; on kernels older than 3.14, which lack it,
/// MemFree + Buffers + Cached. Reads use a stack buffer: no heap allocation per call.
std::unique_ptr<HostProbe> NewHostProbe(std::string meminfo_path = "/proc/meminfo");

}  // namespace etcdmon::collector
