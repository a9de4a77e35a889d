// A REST benchmark against an etcd whose database is already near its quota is refused: a real
// single-member etcd started with a --quota-backend-bytes below its fresh database's size, the
// all-in-one `etcd-monitor` on it, and POST /api/v1/performance/benchmark with the benchmark
// token. Writing into a full database would raise etcd's NOSPACE alarm, after which the cluster
// refuses every write; the monitor must never be the one that fills it.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "etcdmon/benchmark/spec.h"
#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using testing::Http;
using testing::HttpResult;
using testing::WaitFor;

constexpr char kBenchmarkToken[] = "quota-test-benchmark-token";
// Below the size of a fresh etcd database (a few tens of KiB): the db is over 80% from the start.
constexpr int64_t kQuotaBytes = 16 * 1024;

TEST(BenchmarkQuotaTest, RunIsRefusedWhenTheDatabaseIsNearItsQuota) {
  testing::EtcdClusterOptions options;
  options.members = 1;
  options.extra_flags = {"--quota-backend-bytes=" + std::to_string(kQuotaBytes)};
  testing::EtcdCluster cluster(options);
  ASSERT_TRUE(cluster.Start().ok());

  testing::TempDir dir;
  const std::string token_file = dir.File("benchmark-token");
  std::ofstream(token_file) << kBenchmarkToken << "\n";
  std::filesystem::permissions(
      token_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto ports = testing::PickFreeLoopbackPorts(1);
  ASSERT_TRUE(ports.ok());
  const std::string base = "http://127.0.0.1:" + std::to_string((*ports)[0]);
  testing::ChildProcess monitor(
      {ETCDMON_BINARY, "--endpoints=" + cluster.ClientEndpoint(0), "--api-host=127.0.0.1",
       "--api-port=" + std::to_string((*ports)[0]), "--data-dir=" + dir.File("data"),
       "--metrics-interval=500ms", "--health-check-interval=1s",
       "--benchmark-token-file=" + token_file},
      dir.File("etcd-monitor.log"));
  ASSERT_TRUE(monitor.ok()) << monitor.status().ToString();

  // The monitor knows the member's db size and etcd's quota (from the member's /metrics).
  nlohmann::json member;
  ASSERT_TRUE(WaitFor(
      [&] {
        const nlohmann::json members = Http("GET", base + "/api/v1/cluster/members").Json();
        if (!members.is_object() || !members.contains("members") || members["members"].empty()) {
          return false;
        }
        member = members["members"][0];
        return member["db_quota_bytes"].is_number() && member["db_size_bytes"].is_number();
      },
      30s))
      << member.dump() << "\n"
      << testing::TailOfFile(dir.File("etcd-monitor.log"), 30);
  EXPECT_EQ(member["db_quota_bytes"].get<int64_t>(), kQuotaBytes);
  ASSERT_GE(member["db_size_bytes"].get<int64_t>(), kQuotaBytes * 8 / 10) << member.dump();

  const HttpResult refused =
      Http("POST", base + "/api/v1/performance/benchmark", R"({"type": "write", "ops": 10})",
           std::string("Bearer ") + kBenchmarkToken);
  EXPECT_EQ(refused.status, 409) << refused.body;
  const nlohmann::json error = refused.Json();
  ASSERT_TRUE(error.is_object() && error.contains("error")) << refused.body;
  const std::string message = error["error"].value("message", "");
  EXPECT_NE(message.find("quota"), std::string::npos) << message;
  EXPECT_NE(message.find(cluster.Name(0)), std::string::npos) << message;

  // Nothing was written: no key under the benchmark's prefix. (Not "no NOSPACE alarm": this
  // database is over its quota from the start, so the monitor's own write probe raises the
  // alarm as any client's write would.)
  const Result<std::string> keys =
      cluster.Etcdctl({"get", "--prefix", "--keys-only", std::string(benchmark::kDefaultPrefix)});
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->find_first_not_of(" \n"), std::string::npos) << *keys;
}

}  // namespace
}  // namespace etcdmon
