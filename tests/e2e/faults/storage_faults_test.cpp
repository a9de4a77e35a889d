// Faults of storage: the monitor's own data dir full (a small tmpfs, mounted in a private mount
// namespace of this test's process), and etcd's database full (a 16 MiB quota, the NOSPACE
// alarm) recovered with `etcd-monitor ctl compact`, `ctl defrag` and `ctl alarm disarm`.

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/process.h"
#include "fault_stack.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using testing::FaultStack;
using testing::FaultStackOptions;
using testing::HoldsFor;
using testing::Poll;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Moves this process into a mount namespace of its own (its mounts invisible to the host, gone
// with the process) and mounts a tmpfs of `size` on `dir`; the reason when that is impossible.
std::string MountPrivateTmpfs(const std::string& dir, const std::string& size) {
  if (::unshare(CLONE_NEWNS) != 0) {
    return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno) +
           " (needs CAP_SYS_ADMIN, e.g. root outside a restricted container)";
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("making / private: ") + std::strerror(errno);
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string data = "size=" + size + ",mode=0700";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, data.c_str()) != 0) {
    return "mount -t tmpfs " + dir + ": " + std::strerror(errno);
  }
  return "";
}

// Unmounts its directory when it goes away (after the stack using it), so that the temporary
// directory holding the mount point can be removed.
struct Unmount {
  std::string dir;
  ~Unmount() {
    if (!dir.empty()) ::umount2(dir.c_str(), MNT_DETACH);
  }
};

// Writes `path` until the file system is full; the bytes written.
int64_t FillUp(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  std::vector<char> chunk(1 << 20, 'x');
  int64_t written = 0;
  while (true) {
    const ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    written += n;
  }
  ::fsync(fd);
  ::close(fd);
  return written;
}

// The first series on a Prometheus page counting the monitor's storage failures (name with
// "storage" and "fail"), and its value; "" when there is none.
std::string StorageFailureSeries(const std::string& page, double* value) {
  std::istringstream lines(page);
  const std::regex name("^etcd_monitor_[a-z_]*storage[a-z_]*fail[a-z_]*(\\{[^}]*\\})? (.+)$");
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, name)) {
      *value = std::stod(m[2]);
      return line;
    }
  }
  return "";
}

// The monitor's data dir (history and alert store) on a 48 MiB tmpfs, filled up: samples keep
// reaching the model (members stay fresh), /health says degraded, MonitorStorageFailing fires
// and the storage failures are counted on /metrics; with the space freed, everything recovers
// (health ok, the alert resolved) and the samples of the full period, held unacknowledged by
// the collectors, reach the history.
TEST(FaultsTest, FullDataDiskKeepsMembersFreshAndRecovers) {
  testing::TempDir mount_point;
  const std::string data_dir = mount_point.path() + "/data";
  const std::string reason = MountPrivateTmpfs(data_dir, "48m");
  if (!reason.empty()) {
    GTEST_SKIP() << "cannot mount a tmpfs in a private mount namespace here: " << reason;
  }
  const Unmount unmount{data_dir};
  FaultStackOptions options;
  options.data_dir = data_dir;
  FaultStack stack(options);
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  long code = 0;
  ASSERT_TRUE(Poll(
      [&] {
        stack.GetJson("/health", &code);
        return code == 200;
      },
      30s))
      << stack.GetJson("/health").dump();

  const int64_t full_since = NowMs();
  ASSERT_GT(FillUp(data_dir + "/filler"), 0);

  // Members stay fresh: every member's newest sample keeps advancing, none is stale (three
  // rounds, each bounded by 10 s: several intervals).
  for (int round = 0; round < 3; ++round) {
    const int64_t t = NowMs();
    nlohmann::json members;
    const bool fresh = Poll(
        [&] {
          members = stack.GetJson("/api/v1/cluster/members");
          if (!members.is_object() || !members["members"].is_array()) return false;
          for (const nlohmann::json& m : members["members"]) {
            if (m.value("health", "") != "healthy" ||
                testing::ParseRfc3339Ms(m.value("last_sample", "")) <= t) {
              return false;
            }
          }
          return members["members"].size() == stack.cluster().size();
        },
        10s);
    if (!fresh) {
      ADD_FAILURE() << "round " << round
                    << ": not every member fresh and healthy: " << members.dump();
      break;
    }
  }

  // /health degraded, the alert firing, the failures counted.
  nlohmann::json health;
  EXPECT_TRUE(Poll(
      [&] {
        health = stack.GetJson("/health");
        return health.is_object() && health.value("status", "") == "degraded";
      },
      20s))
      << health.dump() << "\n"
      << stack.Logs();
  const bool fired = stack.WaitForNotification("firing", "MonitorStorageFailing", "*", 20s);
  EXPECT_TRUE(fired) << FaultStack::Describe(stack.Notifications())
                     << stack.GetJson("/api/v1/alerts").dump();
  std::string series;
  double failures = 0;
  EXPECT_TRUE(Poll(
      [&] {
        series =
            StorageFailureSeries(testing::Http("GET", stack.ApiUrl("/metrics")).body, &failures);
        return !series.empty() && failures > 0;
      },
      10s))
      << "no storage-failure counter above 0 on /metrics: " << series;

  // Space freed: full recovery. The storage state stays failing for 30 ticks after the last
  // failed write (a nearly full disk lets some writes through), 30 s at this interval.
  const int64_t freed_at = NowMs();
  ASSERT_TRUE(std::filesystem::remove(data_dir + "/filler"));
  EXPECT_TRUE(Poll(
      [&] {
        health = stack.GetJson("/health", &code);
        return code == 200 && health.value("status", "") == "ok";
      },
      60s))
      << health.dump() << "\n"
      << stack.Logs();
  if (fired) {  // (else its absence has failed the test already)
    EXPECT_TRUE(stack.WaitForNotification("resolved", "MonitorStorageFailing", "*", 30s))
        << FaultStack::Describe(stack.Notifications());
  }
  // The full period's samples were held and resent: the history has them now.
  const int64_t window_s = (freed_at - full_since) / 1000;
  nlohmann::json history;
  EXPECT_TRUE(Poll(
      [&] {
        history = stack.GetJson(
            "/api/v1/metrics/history?metric=etcd_member_up&member=" + stack.cluster().Name(0) +
            "&from=" + std::to_string(full_since / 1000 + 1) +
            "&to=" + std::to_string(freed_at / 1000));
        return history.is_object() && history["points"].is_array() &&
               static_cast<int64_t>(history["points"].size()) >= window_s / 2;
      },
      30s))
      << "want at least " << window_s / 2 << " points of the " << window_s
      << " s on a full disk: " << history.dump();
  EXPECT_EQ(stack.CriticalFirings(), "");
}

// A 16 MiB backend quota filled until etcd raises NOSPACE: the monitor reports the alarm (the
// status and EtcdAlarmActive at the webhook); `ctl compact --keep=1`, `ctl defrag --cluster`
// and `ctl alarm disarm` recover the cluster, and the alerts resolve.
TEST(FaultsTest, NospaceAlarmIsReportedAndRecoveredWithCtl) {
  constexpr int64_t kQuota = 16 << 20;
  FaultStackOptions options;
  options.cluster.extra_flags = {"--quota-backend-bytes=" + std::to_string(kQuota)};
  FaultStack stack(options);
  ASSERT_TRUE(stack.Start().ok()) << stack.Logs();
  std::string endpoints;
  for (size_t i = 0; i < stack.cluster().size(); ++i) {
    endpoints += (i ? "," : "") + stack.cluster().ClientEndpoint(i);
  }

  // One key overwritten with ~700 KiB values: old revisions fill the backend until NOSPACE.
  const std::string put =
      "head -c 700000 /dev/urandom | base64 -w0 | ETCDCTL_API=3 /usr/bin/etcdctl"
      " --endpoints=" +
      endpoints + " put /faults/fill";
  std::string last_error;
  int puts = 0;
  for (; puts < 60; ++puts) {
    Result<std::string> r =
        testing::RunCommand({"/bin/sh", "-c", put}, stack.dir() + "/fill.log", 30s);
    if (!r.ok()) {
      last_error = r.status().message();
      break;
    }
  }
  ASSERT_NE(last_error.find("database space exceeded"), std::string::npos)
      << "after " << puts << " puts: " << last_error;

  nlohmann::json status;
  EXPECT_TRUE(Poll(
      [&] {
        status = stack.GetJson("/api/v1/cluster/status");
        return status.is_object() && status["alarms"].is_array() && !status["alarms"].empty();
      },
      30s))
      << status.dump();
  std::string alarms = status["alarms"].dump();
  for (char& c : alarms) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_NE(alarms.find("nospace"), std::string::npos) << status.dump();
  ASSERT_TRUE(stack.WaitForNotification("firing", "EtcdAlarmActive", "*", 30s))
      << FaultStack::Describe(stack.Notifications()) << stack.Logs();

  const std::vector<std::vector<std::string>> recovery = {
      {ETCDMON_BINARY, "ctl", "compact", "--keep=1", "--physical", "--yes",
       "--endpoints=" + endpoints},
      {ETCDMON_BINARY, "ctl", "defrag", "--cluster", "--yes", "--endpoints=" + endpoints},
      {ETCDMON_BINARY, "ctl", "alarm", "disarm", "--yes", "--endpoints=" + endpoints}};
  int step = 0;
  for (const auto& argv : recovery) {
    Result<std::string> r =
        testing::RunCommand(argv, stack.dir() + "/ctl-" + std::to_string(step++) + ".log", 120s);
    ASSERT_TRUE(r.ok()) << argv[2] << ": " << r.status().message();
  }

  EXPECT_TRUE(Poll(
      [&] {
        status = stack.GetJson("/api/v1/cluster/status");
        return status.is_object() && status["alarms"].is_array() && status["alarms"].empty() &&
               status.value("healthy_members", 0) == 3;
      },
      60s))
      << status.dump();
  // Every member that got EtcdAlarmActive gets its resolve.
  std::vector<std::string> alarmed;
  for (const testing::Notification& n : stack.Notifications()) {
    if (n.alert == "EtcdAlarmActive" && n.kind == "firing") alarmed.push_back(n.member);
  }
  for (const std::string& member : alarmed) {
    EXPECT_TRUE(stack.WaitForNotification("resolved", "EtcdAlarmActive", member, 30s))
        << member << "\n"
        << FaultStack::Describe(stack.Notifications());
  }
  // Writes work again.
  EXPECT_TRUE(testing::RunCommand({"/bin/sh", "-c",
                                   "ETCDCTL_API=3 /usr/bin/etcdctl --endpoints=" + endpoints +
                                       " put /faults/after ok"},
                                  stack.dir() + "/after.log", 30s)
                  .ok());
}

}  // namespace
}  // namespace etcdmon
