#include "etcdmon/collector/data_dir_discovery.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "etcdmon/strings/strings.h"

namespace etcdmon::collector {
namespace {

// /proc/<pid>/cmdline and environ of etcd are a few KiB; a config file is small too.
constexpr std::size_t kMaxSmallFileBytes = 1 << 20;
// /proc/net/tcp lists listening sockets first; a busy host has many thousand lines after them.
constexpr std::size_t kMaxSocketTableBytes = 16 << 20;

// An IPv4 or IPv6 address as bytes in network order (IPv4 in the first 4).
struct IpAddress {
  int family = AF_UNSPEC;
  uint8_t bytes[16] = {};

  bool operator==(const IpAddress& o) const {
    return family == o.family && std::memcmp(bytes, o.bytes, sizeof(bytes)) == 0;
  }
  bool IsWildcard() const {
    static constexpr uint8_t kZero[16] = {};
    return std::memcmp(bytes, kZero, family == AF_INET ? 4 : 16) == 0;
  }
  // ::ffff:a.b.c.d as a.b.c.d; anything else unchanged.
  IpAddress Unmapped() const {
    static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family != AF_INET6 || std::memcmp(bytes, kMappedPrefix, 12) != 0) {
      return *this;
    }
    IpAddress v4;
    v4.family = AF_INET;
    std::memcpy(v4.bytes, bytes + 12, 4);
    return v4;
  }
};

std::optional<IpAddress> ParseIp(std::string_view host) {
  const std::string text(host);
  IpAddress ip;
  if (inet_pton(AF_INET, text.c_str(), ip.bytes) == 1) {
    ip.family = AF_INET;
    return ip;
  }
  if (inet_pton(AF_INET6, text.c_str(), ip.bytes) == 1) {
    ip.family = AF_INET6;
    return ip.Unmapped();
  }
  return std::nullopt;
}

bool IsLoopback(const IpAddress& ip) {
  if (ip.family == AF_INET) {
    return ip.bytes[0] == 127;
  }
  static constexpr uint8_t kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return ip.family == AF_INET6 && std::memcmp(ip.bytes, kLoopback6, 16) == 0;
}

bool IsInterfaceAddress(const IpAddress& ip) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return false;
  }
  bool found = false;
  for (const ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) {
      continue;
    }
    IpAddress local;
    if (i->ifa_addr->sa_family == AF_INET) {
      local.family = AF_INET;
      std::memcpy(local.bytes, &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      local.family = AF_INET6;
      std::memcpy(local.bytes, &reinterpret_cast<const sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    found = local.Unmapped() == ip;
  }
  freeifaddrs(list);
  return found;
}

std::optional<std::string> ReadSmallFile(const std::string& path, int* error = nullptr,
                                         std::size_t max_bytes = kMaxSmallFileBytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error != nullptr) {
      *error = errno;
    }
    return std::nullopt;
  }
  std::string content;
  char buffer[4096];
  while (content.size() < max_bytes && (in.read(buffer, sizeof(buffer)) || in.gcount() > 0)) {
    content.append(buffer, static_cast<std::size_t>(in.gcount()));
  }
  return content;
}

// The NUL-separated strings of /proc/<pid>/cmdline or environ.
std::vector<std::string> SplitNul(std::string_view text) {
  std::vector<std::string> parts;
  while (!text.empty()) {
    const std::size_t end = text.find('\0');
    parts.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) {
      break;
    }
    text.remove_prefix(end + 1);
  }
  return parts;
}

// A listening socket of /proc/net/tcp{,6} on the port looked for.
struct Listener {
  uint64_t inode = 0;
  uint32_t uid = 0;
};

// Up to 8 hex digits, either case; false on any other character.
bool ParseHex32(std::string_view hex, uint32_t& out) {
  out = 0;
  for (char c : hex) {
    const int digit = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : -1;
    if (digit < 0) {
      return false;
    }
    out = out * 16 + static_cast<uint32_t>(digit);
  }
  return true;
}

// Parses the hex local address of a /proc/net/tcp{,6} line: the kernel prints each 32-bit
// word of the address as it lies in memory, so reading a word back in host order and copying
// its bytes gives the address in network order.
bool ParseProcAddress(std::string_view hex, bool v6, IpAddress& ip, uint16_t& port) {
  const std::size_t colon = hex.find(':');
  const std::size_t words = v6 ? 4 : 1;
  if (colon != words * 8 || hex.size() != colon + 5) {
    return false;
  }
  ip = IpAddress();
  ip.family = v6 ? AF_INET6 : AF_INET;
  for (std::size_t w = 0; w < words; ++w) {
    uint32_t word = 0;
    if (!ParseHex32(hex.substr(w * 8, 8), word)) {
      return false;
    }
    std::memcpy(ip.bytes + w * 4, &word, 4);
  }
  uint32_t p = 0;
  if (!ParseHex32(hex.substr(colon + 1), p)) {
    return false;
  }
  port = static_cast<uint16_t>(p);
  ip = ip.Unmapped();
  return true;
}

// Which listeners can be the endpoint's: those on its address, or on any loopback address for
// "localhost", or on any address for another name of this host; and those on the wildcard.
struct Wanted {
  enum class Kind { kAnyAddress, kLoopback, kAddress };
  Kind kind = Kind::kAnyAddress;
  IpAddress ip;  // kAddress
};

Wanted WantedFor(std::string_view host) {
  Wanted want;
  if (strings::AsciiToLower(host) == "localhost") {
    want.kind = Wanted::Kind::kLoopback;
  } else if (const std::optional<IpAddress> ip = ParseIp(host)) {
    want.kind = Wanted::Kind::kAddress;
    want.ip = *ip;
  }
  return want;
}

// Whether a listener bound to `bound` takes connections meant for `want`.
bool Serves(const IpAddress& bound, bool bound_v6, const Wanted& want) {
  if (bound.IsWildcard()) {
    // "::" takes IPv4 too on a dual-stack host; "0.0.0.0" only IPv4.
    return bound_v6 || want.kind != Wanted::Kind::kAddress || want.ip.family == AF_INET;
  }
  switch (want.kind) {
    case Wanted::Kind::kAnyAddress:
      return true;
    case Wanted::Kind::kLoopback:
      return IsLoopback(bound);
    case Wanted::Kind::kAddress:
      return bound == want.ip;
  }
  return false;
}

// The listening sockets (state 0A) on `port` that serve `want`, from one /proc/net file.
void FindListeners(std::string_view table, bool v6, uint16_t port, const Wanted& want,
                   std::vector<Listener>& out) {
  std::istringstream lines{std::string(table)};
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits;
    uint32_t uid = 0;
    std::string timeout;
    uint64_t inode = 0;
    if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode)) {
      continue;
    }
    IpAddress bound;
    uint16_t bound_port = 0;
    if (state != "0A" || inode == 0 || !ParseProcAddress(local, v6, bound, bound_port) ||
        bound_port != port || !Serves(bound, v6, want)) {
      continue;
    }
    out.push_back({inode, uid});
  }
}

bool IsPid(const char* name) {
  if (*name == '\0') {
    return false;
  }
  for (; *name != '\0'; ++name) {
    if (*name < '0' || *name > '9') {
      return false;
    }
  }
  return true;
}

// The process holding one of `links` ("socket:[inode]") among its fds; 0 when none is visible
// (processes whose fds this user may not read are skipped).
pid_t FindSocketOwner(const std::string& proc_root, const std::set<std::string>& links) {
  DIR* procs = opendir(proc_root.c_str());
  if (procs == nullptr) {
    return 0;
  }
  pid_t owner = 0;
  char target[64];
  while (owner == 0) {
    const dirent* p = readdir(procs);
    if (p == nullptr) {
      break;
    }
    if (!IsPid(p->d_name)) {
      continue;
    }
    const std::string fd_dir = proc_root + "/" + p->d_name + "/fd";
    DIR* fds = opendir(fd_dir.c_str());
    if (fds == nullptr) {
      continue;
    }
    while (const dirent* f = readdir(fds)) {
      if (f->d_name[0] == '.') {
        continue;
      }
      const std::string link = fd_dir + "/" + f->d_name;
      const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
      if (n <= 0) {
        continue;
      }
      if (links.count(std::string(target, static_cast<std::size_t>(n))) > 0) {
        owner = static_cast<pid_t>(std::stol(p->d_name));
        break;
      }
    }
    closedir(fds);
  }
  closedir(procs);
  return owner;
}

// Field 22 (starttime) of /proc/<pid>/stat; 0 when unreadable.
uint64_t StartTime(const std::string& proc_root, pid_t pid) {
  const std::optional<std::string> stat =
      ReadSmallFile(proc_root + "/" + std::to_string(pid) + "/stat");
  if (!stat) {
    return 0;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so start after the
  // last ')'. The field after it is the 3rd; starttime is the 22nd.
  const std::size_t paren = stat->rfind(')');
  if (paren == std::string::npos) {
    return 0;
  }
  std::istringstream fields(stat->substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 22; ++i) {
    if (!(fields >> field)) {
      return 0;
    }
  }
  uint64_t value = 0;
  for (char c : field) {
    if (c < '0' || c > '9') {
      return 0;
    }
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// The value of etcd flag `name` in argv (Go's flag syntax: -name or --name, then =value or
// the next argument); nullopt when absent. An empty value counts as absent, as in etcd.
std::optional<std::string> FlagIn(const std::vector<std::string>& argv, std::string_view name) {
  std::optional<std::string> value;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    if (arg == "--" || arg.size() < 2 || arg[0] != '-') {
      if (arg == "--") {
        break;
      }
      continue;
    }
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    if (arg.substr(0, name.size()) != name) {
      continue;
    }
    arg.remove_prefix(name.size());
    if (arg.empty() && i + 1 < argv.size()) {
      value = argv[++i];  // a later repetition wins, as in Go's flag package
    } else if (!arg.empty() && arg[0] == '=') {
      value = std::string(arg.substr(1));
    }
  }
  if (value && value->empty()) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> EnvIn(const std::vector<std::string>& environ, std::string_view name) {
  for (const std::string& entry : environ) {
    if (entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
        entry[name.size()] == '=') {
      std::string value = entry.substr(name.size() + 1);
      if (!value.empty()) {
        return value;
      }
    }
  }
  return std::nullopt;
}

// The value of top-level key `key` of etcd's YAML config file: `key: value`, optionally quoted,
// optionally followed by a comment.
std::optional<std::string> YamlValue(std::string_view yaml, std::string_view key) {
  std::istringstream lines{std::string(yaml)};
  std::string line;
  while (std::getline(lines, line)) {
    std::string_view l = line;
    if (l.size() <= key.size() || l.compare(0, key.size(), key) != 0 || l[key.size()] != ':') {
      continue;
    }
    std::string_view value = strings::TrimAsciiWhitespace(l.substr(key.size() + 1));
    if (!value.empty() && (value.front() == '"' || value.front() == '\'')) {
      const std::size_t close = value.find(value.front(), 1);
      value = close == std::string_view::npos ? value.substr(1) : value.substr(1, close - 1);
    } else {
      const std::size_t comment = value.find(" #");
      value = strings::TrimAsciiWhitespace(value.substr(0, comment));
    }
    if (value.empty() || value == "~" || value == "null") {
      return std::nullopt;
    }
    return std::string(value);
  }
  return std::nullopt;
}

std::string Basename(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

bool IsLocalHost(std::string_view host) {
  const std::string lower = strings::AsciiToLower(host);
  if (lower == "localhost") {
    return true;
  }
  if (const std::optional<IpAddress> ip = ParseIp(lower)) {
    return IsLoopback(*ip) || IsInterfaceAddress(*ip);
  }
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') {
    return false;
  }
  const std::string self = strings::AsciiToLower(name);
  const std::string short_self = self.substr(0, self.find('.'));
  return lower == self || lower == short_self;
}

DataDirDiscovery::DataDirDiscovery(std::string proc_root)
    : DataDirDiscovery(std::move(proc_root), geteuid()) {}

DataDirDiscovery::DataDirDiscovery(std::string proc_root, uid_t user)
    : proc_root_(std::move(proc_root)), user_(user) {}

Result<DiscoveredDataDir> DataDirDiscovery::Discover(std::string_view host, uint16_t port) const {
  const std::string port_text = std::to_string(port);
  const Wanted want = WantedFor(host);
  std::vector<Listener> listeners;
  for (const bool v6 : {false, true}) {
    if (std::optional<std::string> table = ReadSmallFile(
            proc_root_ + (v6 ? "/net/tcp6" : "/net/tcp"), nullptr, kMaxSocketTableBytes)) {
      FindListeners(*table, v6, port, want, listeners);
    }
  }
  if (listeners.empty()) {
    return Status::NotFound("no process on this host listens on port " + port_text +
                            " (the member may run in a container or another network namespace)");
  }

  std::set<std::string> links;
  for (const Listener& l : listeners) {
    links.insert("socket:[" + std::to_string(l.inode) + "]");
  }
  const pid_t pid = FindSocketOwner(proc_root_, links);
  if (pid == 0) {
    // Only root (or the same user) may read a process's fds.
    const uid_t owner = static_cast<uid_t>(listeners.front().uid);
    if (user_ != 0 && owner != user_) {
      return Status::PermissionDenied("port " + port_text + " is held by a process of uid " +
                                      std::to_string(owner) + ", whose open files this user (uid " +
                                      std::to_string(user_) + ") may not read");
    }
    return Status::NotFound("the socket listening on port " + port_text +
                            " belongs to no process visible here (another PID namespace?)");
  }

  const std::string pid_dir = proc_root_ + "/" + std::to_string(pid);
  const std::string who = "pid " + std::to_string(pid);
  const std::optional<std::string> cmdline = ReadSmallFile(pid_dir + "/cmdline");
  const std::vector<std::string> argv = cmdline ? SplitNul(*cmdline) : std::vector<std::string>{};
  if (argv.empty() || Basename(argv[0]).find("etcd") == std::string::npos) {
    return Status::FailedPrecondition(
        "port " + port_text + " is held by " +
        (argv.empty() ? std::string("a process") : "\"" + Basename(argv[0]) + "\"") + " (" + who +
        "), not by etcd");
  }

  DiscoveredDataDir found;
  found.pid = pid;
  found.start_time = StartTime(proc_root_, pid);

  // The working directory, for relative paths; read only when one needs it.
  std::string cwd;
  auto absolute = [&](const std::string& path) -> Result<std::string> {
    if (!path.empty() && path.front() == '/') {
      return std::filesystem::path(path).lexically_normal().string();
    }
    if (cwd.empty()) {
      char target[4096];
      const std::string link = pid_dir + "/cwd";
      const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
      if (n <= 0) {
        const int err = errno;
        return Status::PermissionDenied("cannot read the working directory of etcd (" + who +
                                        ") to resolve \"" + path + "\": " + ErrnoText(err));
      }
      cwd.assign(target, static_cast<std::size_t>(n));
    }
    return (std::filesystem::path(cwd) / path).lexically_normal().string();
  };

  std::optional<std::string> data_dir;
  std::optional<std::string> name;
  if (const std::optional<std::string> config_file = FlagIn(argv, "config-file")) {
    // etcd reads everything from the file then, ignoring its other flags and variables.
    Result<std::string> path = absolute(*config_file);
    if (!path.ok()) {
      return path.status();
    }
    int err = 0;
    const std::optional<std::string> yaml = ReadSmallFile(*path, &err);
    if (!yaml) {
      return Status::PermissionDenied("cannot read the config file " + *path + " of etcd (" + who +
                                      "): " + ErrnoText(err));
    }
    data_dir = YamlValue(*yaml, "data-dir");
    name = YamlValue(*yaml, "name");
    found.source = "--config-file " + *path;
  } else {
    data_dir = FlagIn(argv, "data-dir");
    name = FlagIn(argv, "name");
    found.source = "--data-dir";
    if (!data_dir || !name) {
      int err = 0;
      const std::optional<std::string> environ = ReadSmallFile(pid_dir + "/environ", &err);
      if (!environ) {
        return Status::PermissionDenied("cannot read the environment of etcd (" + who +
                                        ") for ETCD_DATA_DIR: " + ErrnoText(err));
      }
      const std::vector<std::string> variables = SplitNul(*environ);
      if (!data_dir) {
        data_dir = EnvIn(variables, "ETCD_DATA_DIR");
        found.source = "ETCD_DATA_DIR";
      }
      if (!name) {
        name = EnvIn(variables, "ETCD_NAME");
      }
    }
  }
  if (!data_dir) {
    // etcd's default: "<name>.etcd" in its working directory.
    data_dir = name.value_or("default") + ".etcd";
    found.source = "the default " + *data_dir;
  }
  Result<std::string> path = absolute(*data_dir);
  if (!path.ok()) {
    return path.status();
  }
  found.data_dir = std::move(path).value();
  return found;
}

bool DataDirDiscovery::StillRunning(const DiscoveredDataDir& found) const {
  if (found.pid <= 0) {
    return false;
  }
  struct stat st {};
  const std::string dir = proc_root_ + "/" + std::to_string(found.pid);
  if (stat(dir.c_str(), &st) != 0) {
    return false;
  }
  return StartTime(proc_root_, found.pid) == found.start_time;
}

}  // namespace etcdmon::collector
