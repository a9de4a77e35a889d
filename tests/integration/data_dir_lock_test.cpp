// One instance per data directory: a second aggregator, alerter or all-in-one on the databases of
// a running one exits at start (config::kExitFailed) with one error line naming the directory and
// the first one's pid, before it opens any database; the first keeps running and its databases
// stay sound.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "etcdmon/config/exit_codes.h"
#include "etcdmon/testing/database_check.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::IntegrityCheck;
using testing::WaitFor;

// Lines of `text` that contain `needle`.
int CountLines(const std::string& text, const std::string& needle) {
  std::istringstream lines(text);
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    count += line.find(needle) != std::string::npos ? 1 : 0;
  }
  return count;
}

class DataDirLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::vector<uint16_t>> ports = testing::PickFreeLoopbackPorts(8);
    ASSERT_TRUE(ports.ok()) << ports.status().message();
    ports_ = *ports;
  }

  std::string Port(size_t i) const { return std::to_string(ports_.at(i)); }

  // Waits until `lock_file` names `first` as its holder (it has locked and goes on starting).
  void AwaitHolder(const ChildProcess& first, const std::string& lock_file,
                   const std::string& log) {
    ASSERT_TRUE(first.ok()) << first.status().message();
    const std::string pid = std::to_string(first.pid()) + "\n";
    ASSERT_TRUE(WaitFor([&] { return testing::ReadWholeFile(lock_file) == pid; }))
        << "the first instance never held " << lock_file << ": " << testing::TailOfFile(log, 20);
  }

  // Runs the second instance to its exit: it must fail at start with one line naming the
  // directory and the first one's pid, and never say it started.
  void ExpectRefused(const std::vector<std::string>& argv, const std::string& name,
                     const ChildProcess& first) {
    const std::string log = dir_.File(name + ".log");
    ChildProcess second(argv, log);
    ASSERT_TRUE(second.ok()) << second.status().message();
    Result<int> status = second.Stop(0, 15s);  // signal 0: only wait
    ASSERT_TRUE(status.ok()) << name << " did not exit by itself: " << testing::TailOfFile(log, 20);
    ASSERT_TRUE(WIFEXITED(*status)) << testing::DescribeWaitStatus(*status);
    EXPECT_EQ(WEXITSTATUS(*status), config::kExitFailed) << testing::TailOfFile(log, 20);
    const std::string text = testing::ReadWholeFile(log);
    const std::string expected = "data directory " + dir_.path() +
                                 " is in use by another process (pid " +
                                 std::to_string(first.pid()) + ";";
    EXPECT_EQ(CountLines(text, expected), 1) << text;
    EXPECT_EQ(CountLines(text, "started"), 0) << text;
    // The first one is still there.
    int ignored = 0;
    EXPECT_FALSE(testing::Reaped(first.pid(), &ignored)) << name << ": the first instance died";
  }

  // Stops the first instance as an operator would: it exits 0.
  static void StopFirst(ChildProcess& first, const std::string& log) {
    Result<int> status = first.Stop(SIGTERM, 15s);
    ASSERT_TRUE(status.ok()) << testing::TailOfFile(log, 20);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << testing::DescribeWaitStatus(*status) << ": " << testing::TailOfFile(log, 20);
  }

  testing::TempDir dir_;
  std::vector<uint16_t> ports_;
};

// A second aggregator on the history file of a running one.
TEST_F(DataDirLockTest, SecondAggregatorOnOneHistoryExits) {
  const std::string db = dir_.File("history.db");
  const std::string log = dir_.File("first.log");
  ChildProcess first({ETCDMON_AGGREGATOR_BINARY, "--listen=tcp://127.0.0.1:" + Port(0),
                      "--publish=tcp://127.0.0.1:" + Port(1), "--grpc-listen=127.0.0.1:" + Port(2),
                      "--db=" + db, "--tick=200ms"},
                     log);
  AwaitHolder(first, dir_.File(".history.db.lock"), log);
  ExpectRefused(
      {ETCDMON_AGGREGATOR_BINARY, "--listen=tcp://127.0.0.1:" + Port(3),
       "--publish=tcp://127.0.0.1:" + Port(4), "--grpc-listen=127.0.0.1:" + Port(5), "--db=" + db},
      "second-aggregator", first);
  StopFirst(first, log);
  EXPECT_EQ(IntegrityCheck(db), "ok");
}

// A second alerter on the alert store of a running one: refused before it restores any alert.
TEST_F(DataDirLockTest, SecondAlerterOnOneAlertStoreExits) {
  const std::string db = dir_.File("alerts.db");
  const std::string log = dir_.File("first.log");
  ChildProcess first({ETCDMON_ALERTER_BINARY, "--snapshots=tcp://127.0.0.1:" + Port(0),
                      "--grpc-listen=127.0.0.1:" + Port(1), "--db=" + db},
                     log);
  AwaitHolder(first, dir_.File(".alerts.db.lock"), log);
  ExpectRefused({ETCDMON_ALERTER_BINARY, "--snapshots=tcp://127.0.0.1:" + Port(0),
                 "--grpc-listen=127.0.0.1:" + Port(2), "--db=" + db},
                "second-alerter", first);
  StopFirst(first, log);
  EXPECT_EQ(IntegrityCheck(db), "ok");
}

// A second all-in-one on the --data-dir of a running one (etcd unreachable: the monitor runs
// anyway and says so).
TEST_F(DataDirLockTest, SecondAllInOneOnOneDataDirExits) {
  const std::string log = dir_.File("first.log");
  ChildProcess first(
      {ETCDMON_BINARY, "--endpoints=127.0.0.1:" + Port(0), "--api-host=127.0.0.1",
       "--api-port=" + Port(1), "--data-dir=" + dir_.path(), "--metrics-interval=200ms"},
      log);
  AwaitHolder(first, dir_.File(".etcd-monitor.lock"), log);
  // Its aggregator and alerter have their databases open (and locked) once it serves.
  const std::string history_pid = std::to_string(first.pid()) + "\n";
  ASSERT_TRUE(WaitFor([&] {
    return testing::ReadWholeFile(dir_.File(".alerts.db.lock")) == history_pid;
  })) << testing::TailOfFile(log, 20);
  ExpectRefused({ETCDMON_BINARY, "--endpoints=127.0.0.1:" + Port(0), "--api-host=127.0.0.1",
                 "--api-port=" + Port(2), "--data-dir=" + dir_.path()},
                "second-etcd-monitor", first);
  StopFirst(first, log);
  EXPECT_EQ(IntegrityCheck(dir_.File("history.db")), "ok");
  EXPECT_EQ(IntegrityCheck(dir_.File("alerts.db")), "ok");
}

}  // namespace
}  // namespace etcdmon
