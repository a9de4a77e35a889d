#pragma once

// A real etcd cluster for integration tests: N `etcd` processes on free loopback ports, in a
// temporary directory of their own, optionally serving clients over TLS with certificates made
// for the occasion.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "etcdmon/config/types.h"
#include "etcdmon/status/status.h"
#include "etcdmon/testing/test_certs.h"

namespace etcdmon::testing {

struct EtcdClusterOptions {
  size_t members = 3;
  /// Clients talk TLS (https client URLs, --client-cert-auth); peers stay plain http.
  bool tls = false;
  /// Bound on Start() and on Restart() reaching a healthy member.
  std::chrono::milliseconds start_timeout{20000};
  /// Raft timing, small so that elections in tests take well under a second.
  int heartbeat_interval_ms = 50;
  int election_timeout_ms = 500;
  std::string etcd_binary = "/usr/bin/etcd";
  std::string etcdctl_binary = "/usr/bin/etcdctl";
  /// Appended to every member's command line, e.g. "--quota-backend-bytes=1048576".
  std::vector<std::string> extra_flags;
};

/// Owns the etcd processes and the temporary directory of one test cluster.
///
/// Members are numbered 0..size()-1 and named "etcd0", "etcd1", ... Each has three free
/// loopback ports chosen at Start(): client (gRPC; https when TLS), peer (http) and metrics
/// (plain http, serving /metrics and /health even when clients use TLS). They keep their ports
/// across Restart().
///
/// Members run with PR_SET_PDEATHSIG, so they die with the thread that started them even if the
/// test binary crashes; the destructor kills and reaps every member and deletes the directory
/// (kept, and its path printed, when the environment variable ETCDMON_KEEP_TEST_DIRS is set).
///
/// Not thread-safe: use it from one thread, the one that lives as long as the cluster (the
/// test's main thread), since members die when the thread that forked them exits.
class EtcdCluster {
 public:
  explicit EtcdCluster(EtcdClusterOptions options = {});
  ~EtcdCluster();

  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;
  EtcdCluster(EtcdCluster&&) = delete;
  EtcdCluster& operator=(EtcdCluster&&) = delete;

  /// Creates the directory (and certificates), starts every member and waits, bounded by
  /// start_timeout, until each reports healthy (a leader exists and it serves requests).
  /// On failure the message includes the tail of the failing member's log. Call once.
  Status Start();

  /// SIGTERM (SIGKILL after 10 s), then reaps. No-op for a member that is not running.
  Status Stop(size_t i);
  /// SIGKILL, then reaps. No-op for a member that is not running.
  Status Kill(size_t i);
  /// Stops the member if it runs, starts it again on its data dir and ports, and waits until it
  /// is healthy (needs a quorum of the cluster to be up).
  Status Restart(size_t i);
  /// SIGSTOP: the member keeps its sockets but answers nothing until Resume(). Returns once
  /// the process has actually stopped.
  Status Pause(size_t i);
  /// SIGCONT.
  Status Resume(size_t i);

  bool IsRunning(size_t i) const;
  /// Polls the member's /health until it reports healthy, within `timeout`.
  Status WaitHealthy(size_t i, std::chrono::milliseconds timeout);

  size_t size() const { return members_.size(); }
  const std::string& Name(size_t i) const;
  /// The member's process id, -1 when it is not running: for a test that hands the stopping of
  /// a member to another process (the browser test's driver). The cluster still reaps it.
  pid_t Pid(size_t i) const;
  /// "127.0.0.1:<client port>": what EtcdClient calls the endpoint.
  std::string ClientEndpoint(size_t i) const;
  /// "http(s)://127.0.0.1:<client port>".
  std::string ClientUrl(size_t i) const;
  std::string PeerUrl(size_t i) const;
  /// "http://127.0.0.1:<metrics port>/metrics".
  std::string MetricsUrl(size_t i) const;
  uint16_t ClientPort(size_t i) const;
  uint16_t MetricsPort(size_t i) const;
  std::string DataDir(size_t i) const;
  std::string LogFile(size_t i) const;
  /// The last `lines` lines of the member's log.
  std::string LogTail(size_t i, size_t lines = 20) const;
  /// The cluster's temporary directory.
  const std::string& Dir() const { return dir_; }
  /// Certificates (TLS clusters only; empty paths otherwise).
  const TestCertificates& Certificates() const { return certs_; }

  /// Endpoints of every member with scheme, 2 s dial timeout, 5 s request timeout, and for a
  /// TLS cluster the CA and client certificate. Credentials are those of EnableAuth(), if any.
  config::EtcdConnectionConfig ConnectionConfig() const;

  /// Runs etcdctl (API v3) against all members with the cluster's TLS files (and root
  /// credentials once auth is enabled); returns its output, or an error with the output.
  Result<std::string> Etcdctl(const std::vector<std::string>& args);
  /// Adds user "root" with `root_password` and enables etcd auth.
  Status EnableAuth(const std::string& root_password);
  /// Disables etcd auth again (as root).
  Status DisableAuth();

 private:
  struct Member {
    std::string name;
    uint16_t client_port = 0;
    uint16_t peer_port = 0;
    uint16_t metrics_port = 0;
    pid_t pid = -1;  // -1 when not running
    bool paused = false;
  };

  Status StartAllOnce();
  Status Spawn(size_t i);
  std::vector<std::string> MemberArgs(size_t i) const;
  void KillAll();
  Status CheckIndex(size_t i) const;

  const EtcdClusterOptions options_;
  std::string dir_;  // set by Start(); empty before
  TestCertificates certs_;
  std::vector<Member> members_;
  std::string root_password_;  // set by EnableAuth(); empty while auth is off
  int etcdctl_runs_ = 0;       // numbers etcdctl output files
  bool started_ = false;
};

}  // namespace etcdmon::testing
