// The web console against the real product: a real 3-member etcd cluster and the all-in-one
// `etcd-monitor` on it, as a user starts them; then console.test.mjs drives Debian's chromium
// (through puppeteer-core) over the page: it loads with no console error, names the leader
// etcdctl names, lists 3 members, draws every chart, creates and expires a silence with the
// token, runs a benchmark from the form, and shows a stopped follower unreachable and the
// cluster degraded within 5 s. Screenshots go to <build>/tests/browser/artifacts/.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "etcdmon/testing/etcd_cluster_suite.h"
#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

constexpr char kApiToken[] = "console-browser-test-api-token";
constexpr char kBenchmarkToken[] = "console-browser-test-benchmark-token";

std::string WriteSecret(const testing::TempDir& dir, const std::string& name,
                        const std::string& value) {
  const std::string path = dir.File(name);
  std::ofstream(path) << value << "\n";
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return path;
}

class ConsoleBrowserTest : public testing::EtcdClusterSuite<ConsoleBrowserTest> {};

TEST_F(ConsoleBrowserTest, AnOperatorSeesTheClusterActsOnItAndSeesAMemberStop) {
  testing::TempDir dir;
  auto ports = testing::PickFreeLoopbackPorts(1);
  ASSERT_TRUE(ports.ok());
  const std::string base = "http://127.0.0.1:" + std::to_string((*ports)[0]);
  std::string endpoints;
  std::string client_urls;
  nlohmann::json pids = nlohmann::json::object();
  for (size_t i = 0; i < cluster().size(); ++i) {
    endpoints += (i ? "," : "") + cluster().ClientEndpoint(i);
    client_urls += (i ? "," : "") + cluster().ClientUrl(i);
    pids[cluster().Name(i)] = cluster().Pid(i);
  }
  testing::ChildProcess monitor(
      {ETCDMON_BINARY, "--endpoints=" + endpoints, "--api-host=127.0.0.1",
       "--api-port=" + std::to_string((*ports)[0]), "--data-dir=" + dir.File("data"),
       "--metrics-interval=500ms", "--health-check-interval=500ms", "--dial-timeout=1s",
       "--api-token-file=" + WriteSecret(dir, "api-token", kApiToken),
       "--benchmark-token-file=" + WriteSecret(dir, "benchmark-token", kBenchmarkToken)},
      dir.File("etcd-monitor.log"));
  ASSERT_TRUE(monitor.ok()) << monitor.status().message();
  ASSERT_TRUE(WaitFor(
      [&] {
        const testing::HttpResult r = testing::Http("GET", base + "/api/v1/cluster/status");
        const nlohmann::json status = r.Json();
        return r.status == 200 && status.is_object() && status.value("state", "") == "healthy" &&
               status.value("healthy_members", 0) == 3;
      },
      60s))
      << testing::TailOfFile(dir.File("etcd-monitor.log"), 30);

  const std::string artifacts = std::string(ETCDMON_BROWSER_ARTIFACTS);
  const std::string driver_log = dir.File("console.test.log");
  Result<std::string> run = testing::RunCommand(
      {ETCDMON_NODE, std::string(ETCDMON_SOURCE_DIR) + "/tests/browser/console.test.mjs"},
      driver_log, 300s,
      {"CONSOLE_URL=" + base + "/", std::string("API_TOKEN=") + kApiToken,
       std::string("BENCHMARK_TOKEN=") + kBenchmarkToken, "ETCD_ENDPOINTS=" + client_urls,
       "ETCD_MEMBER_PIDS=" + pids.dump(), "ARTIFACT_DIR=" + artifacts});
  EXPECT_TRUE(run.ok()) << run.status().message() << "\n--- etcd-monitor log ---\n"
                        << testing::TailOfFile(dir.File("etcd-monitor.log"), 40);
  // The driver's checks, passed or not, in the test's output.
  std::cout << testing::ReadWholeFile(driver_log);
  EXPECT_TRUE(std::filesystem::exists(artifacts + "/console-degraded.png"));
}

}  // namespace
}  // namespace etcdmon
