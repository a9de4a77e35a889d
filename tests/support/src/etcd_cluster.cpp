#include "etcdmon/testing/etcd_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <thread>

#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"

namespace etcdmon::testing {
namespace {

constexpr std::chrono::milliseconds kStopTimeout{10000};
constexpr std::chrono::milliseconds kHealthPollInterval{50};
constexpr std::chrono::milliseconds kHttpTimeout{1000};
constexpr std::chrono::milliseconds kEtcdctlTimeout{15000};
constexpr int kStartAttempts = 3;

// One HTTP/1.0 GET on 127.0.0.1:port; returns the body. Enough for etcd's /health.
Result<std::string> HttpGet(uint16_t port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Status::Internal(std::string("socket: ") + std::strerror(errno));
  }
  timeval tv{};
  tv.tv_sec = kHttpTimeout.count() / 1000;
  tv.tv_usec = (kHttpTimeout.count() % 1000) * 1000;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return Status::Unavailable(std::string("connect: ") + std::strerror(err));
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    int err = errno;
    close(fd);
    return Status::Unavailable(std::string("send: ") + std::strerror(err));
  }
  std::string response;
  char buf[4096];
  while (true) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      response.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0) {
      int err = errno;
      close(fd);
      return Status::Unavailable(std::string("recv: ") + std::strerror(err));
    }
    break;
  }
  close(fd);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? response : response.substr(body + 4);
}

}  // namespace

EtcdCluster::EtcdCluster(EtcdClusterOptions options) : options_(std::move(options)) {}

EtcdCluster::~EtcdCluster() {
  KillAll();
  if (dir_.empty()) {
    return;
  }
  if (std::getenv("ETCDMON_KEEP_TEST_DIRS") != nullptr) {
    std::cerr << "etcd test cluster kept in " << dir_ << "\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status EtcdCluster::Start() {
  if (started_) {
    return Status::FailedPrecondition("EtcdCluster::Start called twice");
  }
  started_ = true;
  if (options_.members == 0) {
    return Status::InvalidArgument("EtcdCluster needs at least one member");
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/etcdmon-etcd-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return Status::Internal("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  dir_ = pattern;
  if (options_.tls) {
    auto certs = GenerateTestCertificates(dir_ + "/certs");
    if (!certs.ok()) {
      return certs.status();
    }
    certs_ = *certs;
  }
  Status last;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    last = StartAllOnce();
    if (last.ok()) {
      return last;
    }
    // Another process may have taken a port between our probe and etcd's bind: try new ports.
    if (last.message().find("address already in use") == std::string::npos) {
      return last;
    }
    KillAll();
    for (size_t i = 0; i < members_.size(); ++i) {
      std::error_code ec;
      std::filesystem::remove_all(DataDir(i), ec);
    }
  }
  return last;
}

Status EtcdCluster::StartAllOnce() {
  auto ports = PickFreeLoopbackPorts(3 * options_.members);
  if (!ports.ok()) {
    return ports.status();
  }
  members_.assign(options_.members, Member{});
  for (size_t i = 0; i < members_.size(); ++i) {
    members_[i].name = "etcd" + std::to_string(i);
    members_[i].client_port = (*ports)[3 * i];
    members_[i].peer_port = (*ports)[3 * i + 1];
    members_[i].metrics_port = (*ports)[3 * i + 2];
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    ETCDMON_RETURN_IF_ERROR(Spawn(i));
  }
  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  for (size_t i = 0; i < members_.size(); ++i) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    ETCDMON_RETURN_IF_ERROR(WaitHealthy(i, std::max(left, std::chrono::milliseconds(1))));
  }
  return Status::Ok();
}

std::vector<std::string> EtcdCluster::MemberArgs(size_t i) const {
  const Member& m = members_[i];
  std::string initial_cluster;
  for (size_t j = 0; j < members_.size(); ++j) {
    if (j > 0) {
      initial_cluster += ",";
    }
    initial_cluster += members_[j].name + "=" + PeerUrl(j);
  }
  std::vector<std::string> args = {
      options_.etcd_binary,
      "--name=" + m.name,
      "--data-dir=" + DataDir(i),
      "--listen-client-urls=" + ClientUrl(i),
      "--advertise-client-urls=" + ClientUrl(i),
      "--listen-peer-urls=" + PeerUrl(i),
      "--initial-advertise-peer-urls=" + PeerUrl(i),
      "--listen-metrics-urls=http://127.0.0.1:" + std::to_string(m.metrics_port),
      "--initial-cluster=" + initial_cluster,
      "--initial-cluster-state=new",
      // Unique per cluster, so that members of concurrent test clusters never join each other.
      "--initial-cluster-token=" + std::filesystem::path(dir_).filename().string(),
      "--heartbeat-interval=" + std::to_string(options_.heartbeat_interval_ms),
      "--election-timeout=" + std::to_string(options_.election_timeout_ms),
      "--logger=zap",
      "--log-outputs=stderr",
  };
  if (options_.tls) {
    args.push_back("--cert-file=" + certs_.server_cert);
    args.push_back("--key-file=" + certs_.server_key);
    args.push_back("--trusted-ca-file=" + certs_.ca_cert);
    args.push_back("--client-cert-auth");
  }
  args.insert(args.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  return args;
}

Status EtcdCluster::Spawn(size_t i) {
  auto pid = testing::Spawn(MemberArgs(i), LogFile(i));
  if (!pid.ok()) {
    return pid.status().WithContext("member " + members_[i].name);
  }
  members_[i].pid = *pid;
  members_[i].paused = false;
  return Status::Ok();
}

Status EtcdCluster::WaitHealthy(size_t i, std::chrono::milliseconds timeout) {
  ETCDMON_RETURN_IF_ERROR(CheckIndex(i));
  Member& m = members_[i];
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_answer = "no answer yet";
  while (true) {
    if (m.pid < 0) {
      return Status::FailedPrecondition("member " + m.name + " is not running");
    }
    int wait_status = 0;
    if (Reaped(m.pid, &wait_status)) {
      m.pid = -1;
      return Status::Internal("member " + m.name + " exited during start (" +
                              DescribeWaitStatus(wait_status) + "); log " + LogFile(i) +
                              " ends with:\n" + LogTail(i));
    }
    auto body = HttpGet(m.metrics_port, "/health");
    if (body.ok() && body->find("\"health\":\"true\"") != std::string::npos) {
      return Status::Ok();
    }
    last_answer = body.ok() ? *body : body.status().message();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::DeadlineExceeded("member " + m.name + " not healthy within " +
                                      std::to_string(timeout.count()) +
                                      " ms (last /health: " + last_answer + "); log " + LogFile(i) +
                                      " ends with:\n" + LogTail(i));
    }
    std::this_thread::sleep_for(kHealthPollInterval);
  }
}

Status EtcdCluster::Stop(size_t i) {
  ETCDMON_RETURN_IF_ERROR(CheckIndex(i));
  Member& m = members_[i];
  if (m.pid < 0) {
    return Status::Ok();
  }
  kill(m.pid, SIGTERM);
  if (m.paused) {
    kill(m.pid, SIGCONT);  // a stopped process only acts on SIGTERM once continued
    m.paused = false;
  }
  auto st = WaitForExit(m.pid, kStopTimeout);
  if (!st.ok()) {
    kill(m.pid, SIGKILL);
    int ignored = 0;
    waitpid(m.pid, &ignored, 0);
  }
  m.pid = -1;
  return Status::Ok();
}

Status EtcdCluster::Kill(size_t i) {
  ETCDMON_RETURN_IF_ERROR(CheckIndex(i));
  Member& m = members_[i];
  if (m.pid < 0) {
    return Status::Ok();
  }
  kill(m.pid, SIGKILL);
  int ignored = 0;
  waitpid(m.pid, &ignored, 0);
  m.pid = -1;
  m.paused = false;
  return Status::Ok();
}

Status EtcdCluster::Restart(size_t i) {
  ETCDMON_RETURN_IF_ERROR(CheckIndex(i));
  ETCDMON_RETURN_IF_ERROR(Stop(i));
  ETCDMON_RETURN_IF_ERROR(Spawn(i));
  return WaitHealthy(i, options_.start_timeout);
}

Status EtcdCluster::Pause(size_t i) {
  ETCDMON_RETURN_IF_ERROR(CheckIndex(i));
  Member& m = members_[i];
  if (m.pid < 0) {
    return Status::FailedPrecondition("member " + m.name + " is not running");
  }
  if (kill(m.pid, SIGSTOP) != 0) {
    return Status::Internal("SIGSTOP " + m.name + ": " + std::strerror(errno));
  }
  // kill() returns before the process has stopped; wait until it has, so that the caller's
  // next request really meets a stopped member. SIGSTOP cannot be caught: this returns soon.
  int wait_status = 0;
  if (waitpid(m.pid, &wait_status, WUNTRACED) != m.pid) {
    return Status::Internal("waitpid " + m.name + ": " + std::strerror(errno));
  }
  if (!WIFSTOPPED(wait_status)) {
    m.pid = -1;
    return Status::Internal("member " + m.name + " ended instead of pausing (" +
                            DescribeWaitStatus(wait_status) + ")");
  }
  m.paused = true;
  return Status::Ok();
}

Status EtcdCluster::Resume(size_t i) {
  ETCDMON_RETURN_IF_ERROR(CheckIndex(i));
  Member& m = members_[i];
  if (m.pid < 0) {
    return Status::FailedPrecondition("member " + m.name + " is not running");
  }
  if (kill(m.pid, SIGCONT) != 0) {
    return Status::Internal("SIGCONT " + m.name + ": " + std::strerror(errno));
  }
  if (m.paused) {
    // Collect the "continued" notification, so that later waits see only the exit.
    int wait_status = 0;
    if (waitpid(m.pid, &wait_status, WCONTINUED) == m.pid &&
        (WIFEXITED(wait_status) || WIFSIGNALED(wait_status))) {
      m.pid = -1;
      m.paused = false;
      return Status::Internal("member " + m.name + " ended while paused (" +
                              DescribeWaitStatus(wait_status) + ")");
    }
  }
  m.paused = false;
  return Status::Ok();
}

bool EtcdCluster::IsRunning(size_t i) const { return i < members_.size() && members_[i].pid >= 0; }

void EtcdCluster::KillAll() {
  for (Member& m : members_) {
    if (m.pid >= 0) {
      kill(m.pid, SIGKILL);
      int ignored = 0;
      waitpid(m.pid, &ignored, 0);
      m.pid = -1;
      m.paused = false;
    }
  }
}

Status EtcdCluster::CheckIndex(size_t i) const {
  if (i >= members_.size()) {
    return Status::InvalidArgument("no member " + std::to_string(i) + " (cluster has " +
                                   std::to_string(members_.size()) + ")");
  }
  return Status::Ok();
}

const std::string& EtcdCluster::Name(size_t i) const { return members_.at(i).name; }

pid_t EtcdCluster::Pid(size_t i) const { return members_.at(i).pid; }

std::string EtcdCluster::ClientEndpoint(size_t i) const {
  return "127.0.0.1:" + std::to_string(members_.at(i).client_port);
}

std::string EtcdCluster::ClientUrl(size_t i) const {
  return std::string(options_.tls ? "https" : "http") + "://" + ClientEndpoint(i);
}

std::string EtcdCluster::PeerUrl(size_t i) const {
  return "http://127.0.0.1:" + std::to_string(members_.at(i).peer_port);
}

std::string EtcdCluster::MetricsUrl(size_t i) const {
  return "http://127.0.0.1:" + std::to_string(members_.at(i).metrics_port) + "/metrics";
}

uint16_t EtcdCluster::ClientPort(size_t i) const { return members_.at(i).client_port; }

uint16_t EtcdCluster::MetricsPort(size_t i) const { return members_.at(i).metrics_port; }

std::string EtcdCluster::DataDir(size_t i) const {
  return dir_ + "/" + members_.at(i).name + ".data";
}

std::string EtcdCluster::LogFile(size_t i) const {
  return dir_ + "/" + members_.at(i).name + ".log";
}

std::string EtcdCluster::LogTail(size_t i, size_t lines) const {
  return TailOfFile(LogFile(i), lines);
}

config::EtcdConnectionConfig EtcdCluster::ConnectionConfig() const {
  config::EtcdConnectionConfig c;
  for (const Member& m : members_) {
    config::Endpoint e;
    e.scheme = options_.tls ? "https" : "http";
    e.host = "127.0.0.1";
    e.port = m.client_port;
    c.endpoints.push_back(e);
  }
  c.dial_timeout = std::chrono::milliseconds(2000);
  c.request_timeout = std::chrono::milliseconds(5000);
  if (options_.tls) {
    c.tls.ca_file = certs_.ca_cert;
    c.tls.cert_file = certs_.client_cert;
    c.tls.key_file = certs_.client_key;
  }
  if (!root_password_.empty()) {
    c.username = "root";
    c.password = config::Secret(root_password_);
  }
  return c;
}

Result<std::string> EtcdCluster::Etcdctl(const std::vector<std::string>& args) {
  if (members_.empty()) {
    return Status::FailedPrecondition("etcdctl: the cluster was not started");
  }
  std::string endpoints;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (i > 0) {
      endpoints += ",";
    }
    endpoints += ClientUrl(i);
  }
  std::vector<std::string> argv = {options_.etcdctl_binary, "--endpoints=" + endpoints,
                                   "--dial-timeout=2s", "--command-timeout=10s"};
  if (options_.tls) {
    argv.push_back("--cacert=" + certs_.ca_cert);
    argv.push_back("--cert=" + certs_.client_cert);
    argv.push_back("--key=" + certs_.client_key);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  // Credentials go through the environment so that they never appear in an error message.
  std::vector<std::string> env = {"ETCDCTL_API=3"};
  if (!root_password_.empty()) {
    env.push_back("ETCDCTL_USER=root:" + root_password_);
  }
  const std::string out = dir_ + "/etcdctl-" + std::to_string(++etcdctl_runs_) + ".out";
  return RunCommand(argv, out, kEtcdctlTimeout, env);
}

Status EtcdCluster::EnableAuth(const std::string& root_password) {
  if (root_password.empty()) {
    return Status::InvalidArgument("EnableAuth needs a root password");
  }
  auto added = Etcdctl({"user", "add", "root:" + root_password, "--interactive=false"});
  if (!added.ok()) {
    // The command line in the message holds the password: keep it out of test output.
    std::string message = added.status().message();
    for (size_t pos = message.find(root_password); pos != std::string::npos;
         pos = message.find(root_password, pos)) {
      message.replace(pos, root_password.size(), "<password>");
    }
    return Status(added.status().code(), message);
  }
  auto enabled = Etcdctl({"auth", "enable"});
  if (!enabled.ok()) {
    return enabled.status();
  }
  root_password_ = root_password;
  return Status::Ok();
}

Status EtcdCluster::DisableAuth() {
  if (root_password_.empty()) {
    return Status::Ok();
  }
  auto disabled = Etcdctl({"auth", "disable"});
  if (!disabled.ok()) {
    return disabled.status();
  }
  root_password_.clear();
  return Status::Ok();
}

}  // namespace etcdmon::testing
