#include "etcdmon/collector/data_dir_discovery.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fake_proc.h"

namespace etcdmon::collector {
namespace {

namespace fs = std::filesystem;
using collector::testing::FakeProc;
using collector::testing::kProcV4Any;
using collector::testing::kProcV4Loopback;
using collector::testing::kProcV4Loopback2;
using collector::testing::kProcV6Any;
using collector::testing::kProcV6Loopback;

class DataDirDiscoveryTest : public ::testing::Test {
 protected:
  void Listen(bool v6, const std::string& address, uint16_t port, uint64_t inode,
              uint32_t uid = static_cast<uint32_t>(geteuid())) {
    proc_.Listen(v6, address, port, inode, uid);
  }
  void AddProcess(int pid, const collector::testing::FakeProcess& p) { proc_.AddProcess(pid, p); }

  Result<DiscoveredDataDir> Discover(const std::string& host, uint16_t port) {
    return DataDirDiscovery(proc_.root()).Discover(host, port);
  }

  FakeProc proc_;
};

// Each way etcd takes its data dir, as etcd itself reads it, for a listener on 127.0.0.1.
TEST_F(DataDirDiscoveryTest, ReadsTheDataDirAsEtcdDoes) {
  struct Case {
    const char* name;
    std::vector<std::string> argv;
    std::vector<std::string> environ;
    const char* want_dir;
    const char* want_source;
  };
  const std::vector<Case> cases = {
      {"--data-dir=",
       {"/usr/bin/etcd", "--name=etcd0", "--data-dir=/var/lib/etcd/etcd0"},
       {},
       "/var/lib/etcd/etcd0",
       "--data-dir"},
      {"--data-dir X",
       {"etcd", "--name", "etcd0", "--data-dir", "/srv/etcd0"},
       {},
       "/srv/etcd0",
       "--data-dir"},
      {"Go's single dash", {"etcd", "-data-dir", "/srv/single"}, {}, "/srv/single", "--data-dir"},
      {"the flag beats the variable",
       {"etcd", "--data-dir=/srv/flag"},
       {"ETCD_DATA_DIR=/srv/env"},
       "/srv/flag",
       "--data-dir"},
      {"ETCD_DATA_DIR",
       {"/usr/bin/etcd"},
       {"HOME=/root", "ETCD_DATA_DIR=/var/lib/etcd/default", "ETCD_NAME=node"},
       "/var/lib/etcd/default",
       "ETCD_DATA_DIR"},
      {"relative to the working directory",
       {"etcd", "--data-dir=data/../etcd0.d"},
       {},
       "/home/etcd/etcd0.d",
       "--data-dir"},
      {"default name.etcd from --name",
       {"etcd", "--name=etcd7"},
       {},
       "/home/etcd/etcd7.etcd",
       "the default etcd7.etcd"},
      {"default name.etcd from ETCD_NAME",
       {"etcd"},
       {"ETCD_NAME=envname"},
       "/home/etcd/envname.etcd",
       "the default envname.etcd"},
      {"default.etcd without a name",
       {"etcd", "--data-dir="},
       {},
       "/home/etcd/default.etcd",
       "the default default.etcd"},
      {"a flag merely starting with data-dir is another flag",
       {"etcd", "--data-dir-extra=/nope", "--name=x"},
       {},
       "/home/etcd/x.etcd",
       "the default x.etcd"},
  };
  Listen(false, kProcV4Loopback, 2379, 5001);
  int pid = 100;
  for (const Case& c : cases) {
    // Each case is its own process, the only one holding the listener.
    proc_.RemoveProcess(pid - 1);
    AddProcess(pid, {c.argv, c.environ, "/home/etcd", {5001}});
    Result<DiscoveredDataDir> found = Discover("127.0.0.1", 2379);
    ASSERT_TRUE(found.ok()) << c.name << ": " << found.status().ToString();
    EXPECT_EQ(found->data_dir, c.want_dir) << c.name;
    EXPECT_EQ(found->source, c.want_source) << c.name;
    EXPECT_EQ(found->pid, pid) << c.name;
    EXPECT_EQ(found->start_time, 4242u) << c.name;
    ++pid;
  }
}

// With --config-file, etcd takes everything from the file (relative to its working directory)
// and ignores its other flags; a file without data-dir means <name>.etcd.
TEST_F(DataDirDiscoveryTest, ReadsTheConfigFile) {
  const std::string cwd = proc_.scratch() + "/etcd-home";
  fs::create_directories(cwd);
  std::ofstream(cwd + "/etcd.yaml") << "# etcd config\n"
                                       "name: 'infra1'\n"
                                       "data-dir: \"/var/lib/etcd/infra1\"\n"
                                       "listen-client-urls: http://127.0.0.1:2379\n";
  std::ofstream(cwd + "/nodir.yaml") << "name: infra2   # the member\n";
  Listen(false, kProcV4Loopback, 2379, 6001);
  AddProcess(7, {{"etcd", "--config-file", "etcd.yaml", "--data-dir=/ignored"}, {}, cwd, {6001}});
  Result<DiscoveredDataDir> found = Discover("127.0.0.1", 2379);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->data_dir, "/var/lib/etcd/infra1");
  EXPECT_EQ(found->source, "--config-file " + cwd + "/etcd.yaml");

  Listen(false, kProcV4Loopback, 2479, 6002);
  AddProcess(8, {{"etcd", "--config-file=" + cwd + "/nodir.yaml"}, {}, cwd, {6002}});
  found = Discover("127.0.0.1", 2479);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->data_dir, cwd + "/infra2.etcd");
}

// Nothing listening on the port (only a connection using it): NotFound, naming the port.
TEST_F(DataDirDiscoveryTest, PortNotFound) {
  Listen(false, kProcV4Loopback, 2380, 7001);
  proc_.Connected(2379, 7002);
  AddProcess(9, {{"etcd", "--data-dir=/d"}, {}, "/", {7001, 7002}});
  Result<DiscoveredDataDir> found = Discover("127.0.0.1", 2379);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kNotFound);
  EXPECT_NE(found.status().message().find("no process on this host listens on port 2379"),
            std::string::npos)
      << found.status().message();
}

// An IPv6 listener: found for ::1 and localhost; a listener on ::1 does not serve 127.0.0.1,
// while the wildcard :: does (dual stack).
TEST_F(DataDirDiscoveryTest, IPv6Listeners) {
  Listen(true, kProcV6Loopback, 2379, 8001);
  AddProcess(11, {{"etcd", "--data-dir=/v6"}, {}, "/", {8001}});
  for (const char* host : {"::1", "localhost"}) {
    Result<DiscoveredDataDir> found = Discover(host, 2379);
    ASSERT_TRUE(found.ok()) << host << ": " << found.status().ToString();
    EXPECT_EQ(found->data_dir, "/v6") << host;
  }
  EXPECT_EQ(Discover("127.0.0.1", 2379).status().code(), StatusCode::kNotFound);

  Listen(true, kProcV6Any, 3379, 8002);
  AddProcess(12, {{"etcd", "--data-dir=/any"}, {}, "/", {8002}});
  Result<DiscoveredDataDir> found = Discover("127.0.0.1", 3379);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->data_dir, "/any");
}

// Two members on one port at different loopback addresses: each endpoint finds its own.
TEST_F(DataDirDiscoveryTest, MatchesTheListenerOfTheEndpointsAddress) {
  Listen(false, kProcV4Loopback2, 2379, 9001);
  Listen(false, kProcV4Loopback, 2379, 9002);
  AddProcess(21, {{"etcd", "--data-dir=/second"}, {}, "/", {9001}});
  AddProcess(22, {{"etcd", "--data-dir=/first"}, {}, "/", {9002}});
  Result<DiscoveredDataDir> first = Discover("127.0.0.1", 2379);
  Result<DiscoveredDataDir> second = Discover("127.0.0.2", 2379);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->data_dir, "/first");
  EXPECT_EQ(second->data_dir, "/second");
  // A wildcard listener serves any address of the host.
  Listen(false, kProcV4Any, 4379, 9003);
  AddProcess(23, {{"etcd", "--data-dir=/wild"}, {}, "/", {9003}});
  Result<DiscoveredDataDir> wild = Discover("127.0.0.1", 4379);
  ASSERT_TRUE(wild.ok());
  EXPECT_EQ(wild->data_dir, "/wild");
}

// A port held by something else than etcd (a port forwarder) is not guessed at.
TEST_F(DataDirDiscoveryTest, ListenerThatIsNotEtcd) {
  Listen(false, kProcV4Any, 2379, 10001);
  AddProcess(31,
             {{"/usr/bin/docker-proxy", "-proto", "tcp", "-host-port", "2379"}, {}, "/", {10001}});
  Result<DiscoveredDataDir> found = Discover("127.0.0.1", 2379);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(found.status().message().find("\"docker-proxy\" (pid 31), not by etcd"),
            std::string::npos)
      << found.status().message();
}

// A listener whose process is not visible: another user's (its fds are root's to read), or,
// for root, one outside this PID namespace.
TEST_F(DataDirDiscoveryTest, SocketOfAnInvisibleProcess) {
  Listen(false, kProcV4Loopback, 2379, 11001, /*uid=*/112);
  AddProcess(41, {{"bash"}, {}, "/", {}});

  Result<DiscoveredDataDir> as_user =
      DataDirDiscovery(proc_.root(), 1000).Discover("127.0.0.1", 2379);
  ASSERT_FALSE(as_user.ok());
  EXPECT_EQ(as_user.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(as_user.status().message().find("uid 112"), std::string::npos)
      << as_user.status().message();

  Result<DiscoveredDataDir> as_root = DataDirDiscovery(proc_.root(), 0).Discover("127.0.0.1", 2379);
  ASSERT_FALSE(as_root.ok());
  EXPECT_EQ(as_root.status().code(), StatusCode::kNotFound);
}

// StillRunning: true for the same process, false once it exits or its pid is reused.
TEST_F(DataDirDiscoveryTest, StillRunningTellsAReusedPidApart) {
  Listen(false, kProcV4Loopback, 2379, 12001);
  AddProcess(51, {{"etcd", "--data-dir=/d"}, {}, "/", {12001}, /*start_time=*/777});
  DataDirDiscovery discovery(proc_.root());
  Result<DiscoveredDataDir> found = discovery.Discover("127.0.0.1", 2379);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(discovery.StillRunning(*found));

  proc_.RemoveProcess(51);
  EXPECT_FALSE(discovery.StillRunning(*found));

  AddProcess(51, {{"etcd", "--data-dir=/d"}, {}, "/", {12001}, /*start_time=*/778});
  EXPECT_FALSE(discovery.StillRunning(*found));
}

// The real /proc: this test's own listening socket is found, with its process.
TEST(DataDirDiscoveryRealProcTest, FindsThisProcessListening) {
  const std::string self_exe = fs::read_symlink("/proc/self/exe").string();
  // This binary is not etcd, so discovery stops there, having found the process by its socket.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);

  Result<DiscoveredDataDir> found = DataDirDiscovery().Discover("127.0.0.1", port);
  ::close(fd);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(found.status().message().find("(pid " + std::to_string(getpid()) + ")"),
            std::string::npos)
      << found.status().message() << " (" << self_exe << ")";
}

// Loopback addresses, "localhost" and this machine's own name are local; a documentation
// address and an unknown name are not.
TEST(IsLocalHostTest, Cases) {
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  const struct {
    std::string host;
    bool local;
  } cases[] = {
      {"127.0.0.1", true},    {"127.1.2.3", true},     {"::1", true}, {"::ffff:127.0.0.1", true},
      {"localhost", true},    {"LocalHost", true},     {name, true},  {"192.0.2.1", false},
      {"2001:db8::1", false}, {"etcd.invalid", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IsLocalHost(c.host), c.local) << c.host;
  }
}

}  // namespace
}  // namespace etcdmon::collector
