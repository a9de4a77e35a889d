// scripts/demo.sh as the README tells a new user to run it: started in the background (where the
// shell makes it ignore SIGINT), it runs a 3-member etcd cluster and the all-in-one monitor,
// writes an API token and a benchmark token only its user can read and prints how to use them,
// the quickstart's benchmark body runs with the benchmark token (not with the API token), a
// stopped member is reported while the demo goes on, and `kill PID` (SIGTERM) stops everything it
// started.
// Free loopback ports and a temporary directory; the binary of this build (no install, no build).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "etcdmon/testing/http_client.h"
#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::demo {
namespace {

using etcdmon::testing::Http;
using etcdmon::testing::HttpResult;
using etcdmon::testing::ReadWholeFile;
using etcdmon::testing::TempDir;
using etcdmon::testing::WaitFor;
using namespace std::chrono_literals;

const std::string kSourceDir = ETCDMON_SOURCE_DIR;

// Something accepts TCP connections on 127.0.0.1:port.
bool Listening(uint16_t port) {
  return Http("GET", "http://127.0.0.1:" + std::to_string(port) + "/health").status != 0;
}

TEST(DemoTest, RunsInTheBackgroundPrintsItsTokenAndStopsOnSigterm) {
  TempDir dir;
  Result<std::vector<uint16_t>> ports = testing::PickFreeLoopbackPorts(7);
  ASSERT_TRUE(ports.ok()) << ports.status().ToString();
  const std::vector<uint16_t>& p = *ports;
  const std::string demo_dir = dir.File("demo");
  const std::string pid_file = dir.File("demo.pid");
  const std::string log = dir.File("demo.log");
  // Whatever happens below, nothing the demo started outlives the test (every process it starts
  // has the demo directory on its command line).
  struct Reaper {
    std::string pattern;
    ~Reaper() { (void)std::system(("pkill -KILL -f '" + pattern + "' 2>/dev/null").c_str()); }
  } reaper{demo_dir};
  // `&` in a non-interactive shell: the demo ignores SIGINT, as under `scripts/demo.sh &`.
  testing::ChildProcess shell(
      {"/bin/bash", "-c",
       "cd '" + kSourceDir + "' && { scripts/demo.sh & } && echo $! > '" + pid_file + "' && wait"},
      log,
      {"ETCDMON_BIN_DIR=" + std::filesystem::path(ETCDMON_BINARY).parent_path().string(),
       "DEMO_DIR=" + demo_dir, "API_PORT=" + std::to_string(p[6]), "METRICS_INTERVAL=1s",
       "ETCD_CLIENT_PORTS=" + std::to_string(p[0]) + " " + std::to_string(p[1]) + " " +
           std::to_string(p[2]),
       "ETCD_PEER_PORTS=" + std::to_string(p[3]) + " " + std::to_string(p[4]) + " " +
           std::to_string(p[5])});
  ASSERT_TRUE(shell.ok()) << shell.status().ToString();
  ASSERT_TRUE(
      WaitFor([&] { return ReadWholeFile(log).find("press Ctrl-C") != std::string::npos; }, 120s))
      << ReadWholeFile(log);
  const pid_t demo = static_cast<pid_t>(std::stol(ReadWholeFile(pid_file)));
  ASSERT_GT(demo, 1);

  // The token: a file only its user can read, never printed; the printed hint reads the file.
  const std::string token_file = demo_dir + "/api-token";
  struct stat st {};
  ASSERT_EQ(stat(token_file.c_str(), &st), 0) << token_file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string token = ReadWholeFile(token_file);
  ASSERT_GE(token.size(), 32u);
  const std::string output = ReadWholeFile(log);
  EXPECT_EQ(output.find(token), std::string::npos) << "the token was printed";
  // Benchmarks have a token of their own, kept the same way; the printed hint reads it.
  const std::string benchmark_token_file = demo_dir + "/benchmark-token";
  ASSERT_EQ(stat(benchmark_token_file.c_str(), &st), 0) << benchmark_token_file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string benchmark_token = ReadWholeFile(benchmark_token_file);
  ASSERT_GE(benchmark_token.size(), 32u);
  EXPECT_NE(benchmark_token, token);
  EXPECT_EQ(output.find(benchmark_token), std::string::npos) << "the benchmark token was printed";
  EXPECT_NE(output.find("Authorization: Bearer $(cat " + benchmark_token_file + ")"),
            std::string::npos)
      << output;

  // The quickstart's benchmark, verbatim, with the token (and refused without it).
  const std::string url =
      "http://127.0.0.1:" + std::to_string(p[6]) + "/api/v1/performance/benchmark";
  const std::string body = R"({"type": "write", "ops": 10000})";
  EXPECT_EQ(Http("POST", url, body).status, 401);
  EXPECT_EQ(Http("POST", url, body, "Bearer " + token).status, 403) << "the API token ran one";
  HttpResult started = Http("POST", url, body, "Bearer " + benchmark_token);
  EXPECT_EQ(started.status, 202) << started.body;

  // A member stopped to see what the monitor says is reported; the demo and the monitor go on.
  // "[.]": the pattern does not match the shell that runs pkill, whose command line holds it.
  const std::string member_dir = demo_dir + "/etcd2[.]etcd";
  ASSERT_EQ(std::system(("pkill -TERM -f '" + member_dir + "'").c_str()), 0);
  EXPECT_TRUE(WaitFor([&] {
    return ReadWholeFile(log).find("demo: etcd member etcd2 (pid ") != std::string::npos;
  })) << ReadWholeFile(log);
  EXPECT_EQ(
      Http("GET", "http://127.0.0.1:" + std::to_string(p[6]) + "/api/v1/cluster/status").status,
      200);
  EXPECT_EQ(kill(demo, 0), 0) << "the demo ended when a member stopped";

  // SIGTERM (`kill PID`) stops the demo, the monitor (mid-benchmark) and every member.
  ASSERT_EQ(kill(demo, SIGTERM), 0);
  Result<int> ended = shell.Stop(/*signal=*/0, 60s);  // signal 0: only wait
  ASSERT_TRUE(ended.ok()) << "the demo did not stop on SIGTERM:\n" << ReadWholeFile(log);
  EXPECT_NE(ReadWholeFile(log).find("demo: stopping 4 processes"), std::string::npos)
      << ReadWholeFile(log);
  for (size_t i : {0, 2, 6}) {
    EXPECT_FALSE(Listening(p[i])) << "port " << p[i] << " still served after the demo stopped";
  }
}

}  // namespace
}  // namespace etcdmon::demo
