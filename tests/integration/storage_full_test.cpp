// A full data disk under the aggregator, for real: its --db lives on a 64 MiB tmpfs mounted in a
// private mount namespace (unshare -m: nothing is mounted on the host), beside real etcd members,
// collectors and the gateway. While the disk is full the members stay fresh and healthy (the
// model does not wait for the commit), /health is 503 "degraded" with the reason, and
// etcd_monitor_storage_failures_total counts the failed writes. Once space is back, /health is
// ok again, the collectors' resent batches fill the history of the outage, and the file passes
// PRAGMA integrity_check.
//
// Needs CAP_SYS_ADMIN for the mount (root, as the test machines run): without it the test fails
// and says so; it never skips.

#include <gtest/gtest.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "etcdmon/testing/database_check.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ChildProcess;
using testing::Http;
using testing::IntegrityCheck;
using testing::WaitFor;

// Room for the WAL of a few minutes of samples (it checkpoints only every 10000 pages), filled
// up by the test when it wants the disk full.
constexpr uint64_t kDiskBytes = 64 << 20;

int64_t NowUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The values of the series of `name` on a /metrics page (every label set).
std::vector<double> MetricValues(const std::string& page, const std::string& name) {
  std::vector<double> values;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) == 0 && line.size() > name.size() &&
        (line[name.size()] == '{' || line[name.size()] == ' ')) {
      values.push_back(std::stod(line.substr(line.rfind(' ') + 1)));
    }
  }
  return values;
}

// The value of `name` (one series); -1 when the page has none.
double MetricValue(const std::string& page, const std::string& name) {
  const std::vector<double> values = MetricValues(page, name);
  return values.empty() ? -1 : values.front();
}

// The sum over every series of `name`.
double MetricSum(const std::string& page, const std::string& name) {
  double sum = 0;
  for (const double v : MetricValues(page, name)) {
    sum += v;
  }
  return sum;
}

// Writes `path` until the file system says it is full; the bytes written.
uint64_t FillUntilFull(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return 0;
  }
  std::setvbuf(f, nullptr, _IONBF, 0);
  const std::vector<char> chunk(4096, 'x');
  uint64_t written = 0;
  while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
    written += chunk.size();
  }
  std::fclose(f);
  return written;
}

class StorageFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The mount point exists on the host, but the tmpfs only in the holder's namespace.
    mount_point_ = dir_.File("aggregator-data");
    std::filesystem::create_directory(mount_point_);
    holder_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            "/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
            "mount -t tmpfs -o size=64m,mode=0700 tmpfs '" + mount_point_ + "' && exec sleep 3600"},
        dir_.File("mount.log"));
    ASSERT_TRUE(holder_->ok()) << holder_->status().message();
    // What the test sees of the tmpfs: through the holder's root (same mount namespace).
    data_ = "/proc/" + std::to_string(holder_->pid()) + "/root" + mount_point_;
    const bool mounted = WaitFor(
        [&] {
          struct statvfs fs {};
          int status = 0;
          return !testing::Reaped(holder_->pid(), &status) && statvfs(data_.c_str(), &fs) == 0 &&
                 static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize == kDiskBytes;
        },
        10s);
    ASSERT_TRUE(mounted)
        << "cannot mount a 64 MiB tmpfs in a private mount namespace (unshare --mount, then mount "
           "-t tmpfs): this test needs CAP_SYS_ADMIN (run it as root). "
        << testing::TailOfFile(dir_.File("mount.log"), 10);

    ASSERT_TRUE(cluster_.Start().ok());
    auto ports = testing::PickFreeLoopbackPorts(4);
    ASSERT_TRUE(ports.ok()) << ports.status().message();
    const std::string ingest = "tcp://127.0.0.1:" + std::to_string(ports->at(0));
    const std::string publish = "tcp://127.0.0.1:" + std::to_string(ports->at(1));
    const std::string grpc = "127.0.0.1:" + std::to_string(ports->at(2));
    api_ = "http://127.0.0.1:" + std::to_string(ports->at(3));
    // nsenter execs the aggregator in the holder's mount namespace (same pid, no fork).
    aggregator_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/nsenter", "--target", std::to_string(holder_->pid()),
                                 "--mount", "--", ETCDMON_AGGREGATOR_BINARY, "--listen=" + ingest,
                                 "--publish=" + publish, "--grpc-listen=" + grpc,
                                 "--db=" + mount_point_ + "/history.db", "--tick=200ms",
                                 "--metrics-interval=200ms", "--log-level=warn"},
        dir_.File("aggregator.log"));
    for (size_t i = 0; i < cluster_.size(); ++i) {
      collectors_.push_back(std::make_unique<ChildProcess>(
          std::vector<std::string>{
              ETCDMON_COLLECTOR_BINARY, "--endpoints=" + cluster_.ClientEndpoint(i),
              "--aggregator=" + ingest, "--collector-id=c" + std::to_string(i),
              "--metrics-interval=200ms", "--health-check-interval=1s",
              "--metrics-url=" + cluster_.MetricsUrl(i),
              "--state-file=" + dir_.File("c" + std::to_string(i) + ".seq"), "--log-level=warn"},
          dir_.File("collector" + std::to_string(i) + ".log")));
    }
    gateway_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{ETCDMON_GATEWAY_BINARY, "--api-host=127.0.0.1",
                                 "--api-port=" + std::to_string(ports->at(3)),
                                 "--aggregator=" + grpc, "--alerter", "", "--snapshots=" + publish,
                                 "--endpoints=" + cluster_.ClientEndpoint(0), "--log-level=warn"},
        dir_.File("gateway.log"));
  }

  // GET /health: its status code and JSON body (an empty object when it is not JSON).
  json Health(long* status) {
    testing::HttpResult r = Http("GET", api_ + "/health");
    *status = r.status;
    json body = json::parse(r.body, nullptr, false);
    return body.is_object() ? body : json::object();
  }
  // The "status" of /health when its code is `code`, else "".
  std::string HealthStatus(long code) {
    long status = 0;
    json body = Health(&status);
    return status == code ? body.value("status", "") : "";
  }
  std::string Metrics() { return Http("GET", api_ + "/metrics").body; }
  bool AllMembersHealthy() {
    json s = Http("GET", api_ + "/api/v1/cluster/status").Json();
    return s.is_object() && s.value("member_count", 0) == 3 && s.value("healthy_members", 0) == 3 &&
           s.value("has_leader", false);
  }
  std::string Logs() {
    return "aggregator: " + testing::TailOfFile(dir_.File("aggregator.log"), 15) +
           "\ngateway: " + testing::TailOfFile(dir_.File("gateway.log"), 5);
  }

  testing::TempDir dir_;
  std::string mount_point_;
  std::string data_;
  std::unique_ptr<ChildProcess> holder_;
  testing::EtcdCluster cluster_;
  std::string api_;
  // Declared after the cluster: destroyed (stopped) before its members.
  std::unique_ptr<ChildProcess> aggregator_;
  std::vector<std::unique_ptr<ChildProcess>> collectors_;
  std::unique_ptr<ChildProcess> gateway_;
};

TEST_F(StorageFullTest, FullDiskKeepsMembersFreshSaysDegradedAndRecoversCompletely) {
  ASSERT_TRUE(WaitFor([&] { return AllMembersHealthy(); }, 60s)) << Logs();
  long status = 0;
  ASSERT_TRUE(WaitFor([&] { return HealthStatus(200) == "ok"; })) << Health(&status).dump() << "\n"
                                                                  << Logs();
  EXPECT_EQ(MetricValue(Metrics(), "etcd_monitor_storage_failures_total"), 0);

  // Fill the aggregator's disk.
  const int64_t full_from = NowUnixSeconds();
  ASSERT_GT(FillUntilFull(data_ + "/filler"), 0u) << "cannot write to " << data_;
  ASSERT_TRUE(WaitFor([&] {
    return MetricValue(Metrics(), "etcd_monitor_storage_failures_total") > 0;
  })) << Logs();
  json health;
  ASSERT_TRUE(WaitFor([&] {
    health = Health(&status);
    return status == 503 && health.value("status", "") == "degraded";
  })) << health.dump()
      << "\n"
      << Logs();
  EXPECT_EQ(health["checks"]["storage"]["ok"], false) << health.dump();
  EXPECT_EQ(health["checks"]["data"]["ok"], true) << health.dump();
  EXPECT_EQ(health["checks"]["etcd"]["ok"], true) << health.dump();
  EXPECT_NE(health["checks"]["storage"]["detail"].dump().find("full"), std::string::npos)
      << health.dump();
  // The disk stays full while writes keep failing: the members stay fresh and healthy.
  const double failures = MetricValue(Metrics(), "etcd_monitor_storage_failures_total");
  ASSERT_TRUE(WaitFor([&] {
    return MetricValue(Metrics(), "etcd_monitor_storage_failures_total") >= failures + 10;
  })) << Logs();
  EXPECT_TRUE(AllMembersHealthy()) << Http("GET", api_ + "/api/v1/cluster/status").body;
  health = Health(&status);
  EXPECT_EQ(health["checks"]["data"]["ok"], true) << health.dump();
  EXPECT_EQ(MetricSum(Metrics(), "etcd_member_stale"), 0) << Metrics();

  // Free the space: the writes succeed again, /health is ok, and what the collectors kept and
  // resent is stored.
  const int64_t full_until = NowUnixSeconds();
  ASSERT_EQ(std::remove((data_ + "/filler").c_str()), 0);
  ASSERT_TRUE(WaitFor([&] { return HealthStatus(200) == "ok"; }, 60s))
      << Health(&status).dump() << "\n"
      << Logs();
  EXPECT_TRUE(WaitFor([&] {
    return MetricSum(Metrics(), "etcd_monitor_collector_resent_batches_total") > 0;
  })) << "the collectors resent nothing";
  for (size_t i = 0; i < cluster_.size(); ++i) {
    const std::string url =
        api_ + "/api/v1/metrics/history?metric=etcd_member_up&member=" + cluster_.Name(i) +
        "&from=" + std::to_string(full_from) + "&to=" + std::to_string(full_until);
    json history;
    EXPECT_TRUE(WaitFor([&] {
      history = Http("GET", url).Json();
      return history.is_object() && history["points"].size() > 0;
    })) << cluster_.Name(i)
        << ": no history of the full-disk period: " << history.dump();
    if (!history.is_object()) {
      continue;
    }
    // One point per sample time: a resent batch is not stored twice.
    for (size_t p = 1; p < history["points"].size(); ++p) {
      EXPECT_LT(history["points"][p - 1]["time"].get<std::string>(),
                history["points"][p]["time"].get<std::string>());
    }
  }

  // Stopped cleanly, the history file is sound.
  gateway_.reset();
  collectors_.clear();
  Result<int> stopped = aggregator_->Stop(SIGTERM, 15s);
  ASSERT_TRUE(stopped.ok()) << Logs();
  EXPECT_TRUE(WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0)
      << testing::DescribeWaitStatus(*stopped) << "\n"
      << Logs();
  // SQLite resolves /proc/PID/root to the host's view: check a copy (the file and its WAL).
  const std::string copy = dir_.File("history-copy.db");
  ASSERT_TRUE(std::filesystem::copy_file(data_ + "/history.db", copy));
  if (std::filesystem::exists(data_ + "/history.db-wal")) {
    ASSERT_TRUE(std::filesystem::copy_file(data_ + "/history.db-wal", copy + "-wal"));
  }
  EXPECT_EQ(IntegrityCheck(copy), "ok");
  // Nothing of it reached the host's view of the directory.
  EXPECT_FALSE(std::filesystem::exists(mount_point_ + "/history.db"));
}

}  // namespace
}  // namespace etcdmon
