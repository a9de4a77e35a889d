#pragma once

// Finding the data dir of an etcd member that runs on this host, from /proc, so that its disk
// usage can be reported without being told where the data dir is.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "etcdmon/status/status.h"

namespace etcdmon::collector {

/// Whether `host` (an endpoint's host: a name, or an IP with IPv6 unbracketed) is this machine:
/// "localhost", a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104), an address of one
/// of its network interfaces, or its host name. Never asks DNS.
bool IsLocalHost(std::string_view host);

/// What DataDirDiscovery found: the process serving the endpoint and its data dir.
struct DiscoveredDataDir {
  std::string data_dir;  // absolute
  pid_t pid = 0;
  uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat: tells a reused pid apart
  /// Where the path came from: "--data-dir", "--config-file <path>", "ETCD_DATA_DIR" or
  /// "the default <name>.etcd".
  std::string source;
};

/// Finds the data dir of the etcd process listening on a TCP port of this host.
///
/// Discover() reads the listening sockets of /proc/net/tcp and /proc/net/tcp6 for the port,
/// finds the process holding one of them (a `socket:[inode]` link under /proc/<pid>/fd), and
/// reads its data dir as etcd would: with `--config-file`, the file's `data-dir` (etcd then
/// ignores its other flags and variables); else `--data-dir` (`-data-dir`, `=value` or
/// ` value`); else ETCD_DATA_DIR from /proc/<pid>/environ; else etcd's default
/// "<name>.etcd" (name from --name, ETCD_NAME, or "default"). A relative path is taken from
/// the process' working directory (/proc/<pid>/cwd).
///
/// It reads only what this user may read: another user's etcd (its fd, cwd and environ are
/// private) is found only by root. Discover() scans every process's fds, so callers cache its
/// answer and use StillRunning() (one small read) to check it later.
///
/// Stateless; safe for concurrent use.
class DataDirDiscovery final {
 public:
  /// `proc_root`: where procfs is mounted; tests give a fake tree. `user`: the effective uid
  /// whose permissions apply (default: this process's).
  explicit DataDirDiscovery(std::string proc_root = "/proc");
  DataDirDiscovery(std::string proc_root, uid_t user);

  /// The data dir of the etcd process listening on `port` at `host` (a listener on that
  /// address or on the wildcard address; for a host name, any listener on the port). `host`
  /// should be this machine (IsLocalHost). Errors, with the reason as the message:
  ///  - NotFound: nothing listens on the port (in this network namespace), or the socket
  ///    belongs to no process this user can see;
  ///  - PermissionDenied: the listener belongs to another user, whose fds, environment or
  ///    working directory only root may read;
  ///  - FailedPrecondition: the listener is not etcd (its argv[0] does not name etcd, as with
  ///    a port forwarder), or its config file has no readable data-dir.
  Result<DiscoveredDataDir> Discover(std::string_view host, uint16_t port) const;

  /// True while the process `found` describes is running (same pid, same start time).
  bool StillRunning(const DiscoveredDataDir& found) const;

 private:
  const std::string proc_root_;
  const uid_t user_;
};

}  // namespace etcdmon::collector
