// The all-in-one `etcd-monitor` watching two clusters (two --cluster values, two real one-member
// etcd clusters): one collector per endpoint, each naming its cluster, ids and sequence files
// distinct, a clean exit on SIGTERM. What the aggregator makes of several clusters is its own
// test's business.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/testing/etcd_cluster.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

// "127.0.0.1:2379" -> "collector-127.0.0.1_2379", as the all-in-one names a collector.
std::string CollectorName(const std::string& authority) {
  std::string name = "collector-" + authority;
  for (char& c : name) {
    if (c == ':') c = '_';
  }
  return name;
}

// Two --cluster values on two clusters: the cluster named by --cluster-name keeps today's
// collector id and sequence file; the other's are prefixed with its name. Every collector logs
// its cluster at start.
TEST(AllInOneClustersTest, OneCollectorPerEndpointNamingItsCluster) {
  testing::EtcdClusterOptions options;
  options.members = 1;
  testing::EtcdCluster prod(options);
  testing::EtcdCluster staging(options);
  ASSERT_TRUE(prod.Start().ok());
  ASSERT_TRUE(staging.Start().ok());

  testing::TempDir dir;
  auto ports = testing::PickFreeLoopbackPorts(1);
  ASSERT_TRUE(ports.ok());
  const std::string log = dir.File("etcd-monitor.log");
  const std::string data = dir.File("data");
  testing::ChildProcess monitor(
      {ETCDMON_BINARY, "--cluster=prod=" + prod.ClientEndpoint(0), "--cluster",
       "staging=" + staging.ClientEndpoint(0), "--cluster-name=prod", "--api-host=127.0.0.1",
       "--api-port=" + std::to_string((*ports)[0]), "--data-dir=" + data,
       "--metrics-interval=500ms", "--health-check-interval=1s", "--dial-timeout=1s"},
      log);
  ASSERT_TRUE(monitor.ok()) << monitor.status().ToString();

  const std::string prod_id = CollectorName(prod.ClientEndpoint(0));
  const std::string staging_id = "staging:" + CollectorName(staging.ClientEndpoint(0));
  const std::string prod_line =
      "collector_started id=" + prod_id + " cluster=prod endpoint=" + prod.ClientEndpoint(0) + " ";
  const std::string staging_line = "collector_started id=" + staging_id +
                                   " cluster=staging endpoint=" + staging.ClientEndpoint(0) + " ";
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string text = testing::ReadWholeFile(log);
        return text.find(prod_line) != std::string::npos &&
               text.find(staging_line) != std::string::npos;
      },
      60s))
      << testing::TailOfFile(log, 30);
  const std::string text = testing::ReadWholeFile(log);
  size_t started = 0;
  for (size_t at = text.find("collector_started "); at != std::string::npos;
       at = text.find("collector_started ", at + 1)) {
    ++started;
  }
  EXPECT_EQ(started, 2u) << "one collector per endpoint, no default localhost:2379\n" << text;
  EXPECT_NE(text.find("2 endpoint(s) in 2 clusters"), std::string::npos) << text;

  // Each collector keeps its own sequence state; samples flow (the sequence file is written once
  // the first batch has a sequence number).
  EXPECT_TRUE(WaitFor(
      [&] {
        return std::filesystem::exists(data + "/" + prod_id + ".seq") &&
               std::filesystem::exists(data + "/" + staging_id + ".seq");
      },
      30s))
      << "sequence files in " << data;

  Result<int> exited = monitor.Stop(SIGTERM, 30s);
  ASSERT_TRUE(exited.ok()) << exited.status().ToString();
  EXPECT_EQ(testing::DescribeWaitStatus(*exited), "exit code 0") << testing::TailOfFile(log, 30);
}

// A clusters file with a bad entry stops the all-in-one before it starts anything: exit code 2,
// the file's line in the error.
TEST(AllInOneClustersTest, BadClustersFileIsAUsageError) {
  testing::TempDir dir;
  const std::string file = dir.File("clusters.yaml");
  {
    std::ofstream out(file);
    out << "clusters:\n  - {name: prod, endpoints: [127.0.0.1:1], colour: blue}\n";
  }
  const std::string log = dir.File("etcd-monitor.log");
  Result<pid_t> pid = testing::Spawn(
      {ETCDMON_BINARY, "--clusters-file=" + file, "--data-dir=" + dir.File("data")}, log);
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  Result<int> exited = testing::WaitForExit(*pid, 30s);
  ASSERT_TRUE(exited.ok()) << exited.status().ToString();
  EXPECT_EQ(testing::DescribeWaitStatus(*exited), "exit code 2");
  EXPECT_NE(testing::ReadWholeFile(log).find("error: " + file + ":2: unknown key \"colour\""),
            std::string::npos)
      << testing::ReadWholeFile(log);
}

}  // namespace
}  // namespace etcdmon
