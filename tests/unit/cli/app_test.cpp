#include "etcdmon/cli/app.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace etcdmon::cli {
namespace {

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult RunArgs(std::vector<const char*> args) {
  args.insert(args.begin(), "etcd-monitor");
  std::ostringstream out, err;
  int code = RunEtcdMonitor(static_cast<int>(args.size()), args.data(), out, err);
  return {code, out.str(), err.str()};
}

// Usage errors exit with 2 and one `error:` line naming the problem, before anything connects.
TEST(AppTest, UsageErrorsExitTwo) {
  struct Case {
    std::vector<const char*> args;
    std::string expected_in_err;
  } cases[] = {
      {{"ctl", "endpoint", "status", "-w", "yaml"}, "-w \"yaml\""},
      {{"ctl", "endpoint", "status", "--dial-timeout=5x"}, "--dial-timeout \"5x\""},
      {{"ctl", "endpoint", "status", "--endpoints=localhost"}, "localhost"},
      {{"ctl", "endpoint", "status", "--no-such-flag"}, "no-such-flag"},
      {{"ctl"}, "error:"},
      {{"ctl", "endpoint"}, "error:"},
      {{"--api-port=0"}, "--api-port"},
      {{"--benchmark-type=delete"}, "--benchmark-type"},
      {{"silence", "expire"}, "id"},
  };
  for (const auto& c : cases) {
    RunResult r = RunArgs(c.args);
    EXPECT_EQ(r.code, 2) << c.expected_in_err << "\n" << r.err;
    EXPECT_NE(r.err.find(c.expected_in_err), std::string::npos) << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  }
}

// A command word that does not exist is named, with the valid ones; a command that needs one
// and got none lists them.
TEST(AppTest, UnknownOrMissingCommandNamesTheValidOnes) {
  struct Case {
    std::vector<const char*> args;
    std::string expected_err;
  } cases[] = {
      {{"ctl", "frobnicate"},
       "error: unknown command \"frobnicate\" for \"etcd-monitor ctl\"; valid commands: endpoint, "
       "member, check, alarm, defrag, compact, snapshot, move-leader\n"},
      {{"ctl", "endpoint", "stats", "--endpoints=localhost:2379"},
       "error: unknown command \"stats\" for \"etcd-monitor ctl endpoint\"; valid commands: "
       "status, health, hashkv\n"},
      {{"ctl"},
       "error: \"etcd-monitor ctl\" needs a command: endpoint, member, check, alarm, defrag, "
       "compact, snapshot, move-leader\n"},
      {{"silence"}, "error: \"etcd-monitor silence\" needs a command: create, list, expire\n"},
  };
  for (const auto& c : cases) {
    RunResult r = RunArgs(c.args);
    EXPECT_EQ(r.code, 2) << c.expected_err;
    EXPECT_EQ(r.err, c.expected_err);
  }
}

// Several bad flags are reported together, one line each.
TEST(AppTest, ReportsEveryBadFlag) {
  RunResult r = RunArgs({"ctl", "member", "list", "-w", "xml", "--dial-timeout=-1s"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("-w \"xml\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--dial-timeout"), std::string::npos) << r.err;
}

// --help prints the commands and exits 0.
TEST(AppTest, HelpExitsZero) {
  RunResult r = RunArgs({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("ctl"), std::string::npos);
  EXPECT_NE(r.out.find("--endpoints"), std::string::npos);
  // The API token guards silences; benchmarks have a token of their own, and the help says so.
  EXPECT_NE(r.out.find("benchmarks need --benchmark-token-file"), std::string::npos) << r.out;
  RunResult ctl = RunArgs({"ctl", "--help"});
  EXPECT_EQ(ctl.code, 0);
  EXPECT_NE(ctl.out.find("endpoint"), std::string::npos);
}

// The all-in-one mode validates the quickstart's flags, then says plainly it is not built yet.
// The all-in-one's own flags (alerting, channels, HTTPS) are checked with the quickstart's, and
// every problem is reported at once; nothing starts (the run itself is an integration test).
TEST(AppTest, AllInOneReportsEveryBadFlagBeforeStarting) {
  RunResult r = RunArgs({"--endpoints=localhost:2379", "--repeat-interval=soon",
                         "--rules-file=/nonexistent/rules.yaml", "--tls-cert-file=/etc/hostname",
                         "--webhook-url=ftp://example.com/hook", "--max-latency-ms=0",
                         "--remote-write-url=prometheus:9090", "--external-label=bad-name=x"});
  EXPECT_EQ(r.code, 2);
  for (const char* flag : {"--repeat-interval", "--rules-file", "--tls-cert-file", "--webhook-url",
                           "--max-latency-ms", "--remote-write-url", "--external-label"}) {
    EXPECT_NE(r.err.find(flag), std::string::npos) << flag << "\n" << r.err;
  }
}

// The all-in-one's HTTPS key must be private: a key that others can read is a usage error
// naming the flag and the mode.
TEST(AppTest, AllInOneRefusesATlsKeyOthersCanRead) {
  char dir_template[] = "/tmp/app_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string key = std::string(dir_template) + "/key.pem";
  std::ofstream(key) << "key";
  std::filesystem::permissions(key, std::filesystem::perms::owner_read |
                                        std::filesystem::perms::owner_write |
                                        std::filesystem::perms::others_read);
  const std::string key_flag = "--tls-key-file=" + key;
  RunResult r =
      RunArgs({"--endpoints=localhost:2379", "--tls-cert-file=/etc/hostname", key_flag.c_str()});
  std::filesystem::remove_all(dir_template);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("error: --tls-key-file: " + key + ": mode 0604"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace etcdmon::cli
