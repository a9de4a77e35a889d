// Every binary that fails to start (its service's Create or Start fails after the flags were
// accepted) exits with the same code, config::kExitFailed (1); a wrong command line is
// config::kExitUsage (2).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "etcdmon/config/exit_codes.h"
#include "etcdmon/config/flags.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;

// A loopback TCP port that is listened on (so a server cannot bind it); closed on destruction.
class BusyPort {
 public:
  BusyPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        listen(fd_, 1) == 0 && getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~BusyPort() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  BusyPort(const BusyPort&) = delete;
  BusyPort& operator=(const BusyPort&) = delete;

  std::string port() const { return std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

class StartupFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A regular file where a directory is wanted: nothing can be created under it.
    std::ofstream(NotADir()) << "a file\n";
    Result<std::vector<uint16_t>> ports = testing::PickFreeLoopbackPorts(6);
    ASSERT_TRUE(ports.ok()) << ports.status().message();
    ports_ = *ports;
  }

  std::string NotADir() const { return dir_.File("not-a-dir"); }
  std::string Port(size_t i) const { return std::to_string(ports_.at(i)); }

  // Runs `argv` until it exits on its own; its exit code, or -1 when it did not exit.
  int ExitCode(const std::vector<std::string>& argv, const std::string& name) {
    const std::string log = dir_.File(name + ".log");
    testing::ChildProcess child(argv, log);
    EXPECT_TRUE(child.ok()) << child.status().message();
    Result<int> status = child.Stop(0, 15s);  // signal 0: only wait
    if (!status.ok() || !WIFEXITED(*status)) {
      ADD_FAILURE() << name << " did not exit by itself: " << testing::TailOfFile(log, 20);
      return -1;
    }
    const int code = WEXITSTATUS(*status);
    EXPECT_EQ(code, config::kExitFailed) << name << ": " << testing::TailOfFile(log, 20);
    return code;
  }

  testing::TempDir dir_;
  std::vector<uint16_t> ports_;
};

TEST_F(StartupFailureTest, Collector) {
  ExitCode({ETCDMON_COLLECTOR_BINARY, "--endpoints=127.0.0.1:" + Port(0),
            "--aggregator=tcp://127.0.0.1:" + Port(1), "--collector-id=startup",
            "--state-file=" + NotADir() + "/collector.seq"},
           "collector");
}

TEST_F(StartupFailureTest, Aggregator) {
  ExitCode({ETCDMON_AGGREGATOR_BINARY, "--listen=tcp://127.0.0.1:" + Port(0),
            "--publish=tcp://127.0.0.1:" + Port(1), "--grpc-listen=127.0.0.1:" + Port(2),
            "--db=" + NotADir() + "/history.db"},
           "aggregator");
}

TEST_F(StartupFailureTest, Alerter) {
  ExitCode({ETCDMON_ALERTER_BINARY, "--snapshots=tcp://127.0.0.1:" + Port(0),
            "--grpc-listen=127.0.0.1:" + Port(1), "--db=" + NotADir() + "/alerts.db"},
           "alerter");
}

TEST_F(StartupFailureTest, Gateway) {
  BusyPort busy;
  ExitCode({ETCDMON_GATEWAY_BINARY, "--api-host=127.0.0.1", "--api-port=" + busy.port(),
            "--aggregator=127.0.0.1:" + Port(0)},
           "gateway");
}

TEST_F(StartupFailureTest, AllInOne) {
  ExitCode({ETCDMON_BINARY, "--endpoints=127.0.0.1:" + Port(0), "--data-dir=" + NotADir()},
           "etcd-monitor");
}

// A wrong command line is a usage error, not a startup failure, in every binary.
TEST_F(StartupFailureTest, BadFlagsAreUsageErrors) {
  for (const char* binary : {ETCDMON_COLLECTOR_BINARY, ETCDMON_AGGREGATOR_BINARY,
                             ETCDMON_ALERTER_BINARY, ETCDMON_GATEWAY_BINARY, ETCDMON_BINARY}) {
    const std::string log = dir_.File("usage.log");
    testing::ChildProcess child({binary, "--no-such-flag"}, log);
    ASSERT_TRUE(child.ok());
    Result<int> status = child.Stop(0, 15s);
    ASSERT_TRUE(status.ok()) << binary;
    ASSERT_TRUE(WIFEXITED(*status)) << binary;
    EXPECT_EQ(WEXITSTATUS(*status), config::kExitUsage) << binary;
  }
}

}  // namespace
}  // namespace etcdmon
