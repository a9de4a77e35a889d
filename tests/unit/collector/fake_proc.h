#pragma once

// A fake procfs in a temporary directory, for DataDirDiscovery and the sampler: socket tables
// (/proc/net/tcp, tcp6) and processes with their cmdline, environ, cwd, stat and fds, written
// as the kernel shows them.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace etcdmon::collector::testing {

// Addresses as the kernel prints them on a little-endian host: each 32-bit word of the address
// in memory order.
inline constexpr char kProcV4Loopback[] = "0100007F";                          // 127.0.0.1
inline constexpr char kProcV4Loopback2[] = "0200007F";                         // 127.0.0.2
inline constexpr char kProcV4Any[] = "00000000";                               // 0.0.0.0
inline constexpr char kProcV6Loopback[] = "00000000000000000000000001000000";  // ::1
inline constexpr char kProcV6Any[] = "00000000000000000000000000000000";       // ::

/// A process of the fake tree.
struct FakeProcess {
  std::vector<std::string> argv;
  std::vector<std::string> environ;
  std::string cwd = "/home/etcd";
  std::vector<uint64_t> socket_inodes;  // fds 3, 4, ... link to "socket:[inode]"
  uint64_t start_time = 4242;           // field 22 of stat
};

/// Owns the temporary directory; root() is the fake /proc. Single-threaded.
class FakeProc {
 public:
  FakeProc() {
    char pattern[] = "/tmp/fake_proc.XXXXXX";
    if (mkdtemp(pattern) != nullptr) {
      dir_ = pattern;
    }
    std::filesystem::create_directories(root() + "/net");
    WriteTables();
  }
  ~FakeProc() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  FakeProc(const FakeProc&) = delete;
  FakeProc& operator=(const FakeProc&) = delete;

  /// The fake /proc.
  std::string root() const { return dir_ + "/proc"; }
  /// A scratch directory beside it (for config files and working directories).
  std::string scratch() const { return dir_; }

  /// A LISTEN line (state 0A) of /proc/net/tcp (or tcp6) for `address`:`port`, owned by `uid`
  /// (default: this process's user).
  void Listen(bool v6, const std::string& address, uint16_t port, uint64_t inode,
              uint32_t uid = static_cast<uint32_t>(geteuid())) {
    std::string& table = v6 ? tcp6_ : tcp_;
    table += Line(table, address + ":" + PortHex(port),
                  (v6 ? kProcV6Any : kProcV4Any) + std::string(":0000"), "0A", uid, inode);
    WriteTables();
  }

  /// An established connection from 127.0.0.1:`port`: never a listener.
  void Connected(uint16_t port, uint64_t inode) {
    tcp_ += Line(tcp_, std::string(kProcV4Loopback) + ":" + PortHex(port), "0100007F:D431", "01",
                 1000, inode);
    WriteTables();
  }

  /// Writes /proc/<pid>: cmdline and environ (NUL-separated), stat, cwd (a symlink, as the
  /// kernel shows it), and fd/<n> links: /dev/null for fd 0, "socket:[inode]" from fd 3.
  void AddProcess(int pid, const FakeProcess& p) {
    namespace fs = std::filesystem;
    const std::string dir = root() + "/" + std::to_string(pid);
    fs::create_directories(dir + "/fd");
    std::ofstream cmdline(dir + "/cmdline", std::ios::binary);
    for (const std::string& arg : p.argv) cmdline << arg << '\0';
    std::ofstream environ(dir + "/environ", std::ios::binary);
    for (const std::string& var : p.environ) environ << var << '\0';
    // comm with a space and a parenthesis, as a process may name itself.
    std::ofstream(dir + "/stat") << pid << " (etc d) x) S 1 " << pid << " " << pid
                                 << " 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 12 0 " << p.start_time
                                 << " 123456 789 18446744073709551615\n";
    fs::create_symlink(p.cwd, dir + "/cwd");
    fs::create_symlink("/dev/null", dir + "/fd/0");
    int fd = 3;
    for (uint64_t inode : p.socket_inodes) {
      fs::create_symlink("socket:[" + std::to_string(inode) + "]",
                         dir + "/fd/" + std::to_string(fd++));
    }
  }

  /// The process exits.
  void RemoveProcess(int pid) {
    std::error_code ignored;
    std::filesystem::remove_all(root() + "/" + std::to_string(pid), ignored);
  }

 private:
  static std::string PortHex(uint16_t port) {
    char hex[8];
    std::snprintf(hex, sizeof(hex), "%04X", port);
    return hex;
  }

  static std::string Line(const std::string& table, const std::string& local,
                          const std::string& remote, const std::string& state, uint32_t uid,
                          uint64_t inode) {
    const auto slot = std::count(table.begin(), table.end(), '\n');
    return "   " + std::to_string(slot) + ": " + local + " " + remote + " " + state +
           " 00000000:00000000 00:00000000 00000000  " + std::to_string(uid) + "        0 " +
           std::to_string(inode) + " 1 0000000000000000 100 0 0 10 0\n";
  }

  void WriteTables() {
    std::ofstream(root() + "/net/tcp")
        << "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
           "timeout inode\n"
        << tcp_;
    std::ofstream(root() + "/net/tcp6")
        << "  sl  local_address                         remote_address                        "
           "st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        << tcp6_;
  }

  std::string dir_;
  std::string tcp_;
  std::string tcp6_;
};

}  // namespace etcdmon::collector::testing
