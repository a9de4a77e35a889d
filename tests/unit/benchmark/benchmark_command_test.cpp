#include "etcdmon/cli/benchmark_command.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "etcdmon/config/flags.h"

namespace etcdmon::cli {
namespace {

// Parses `args` after "etcd-monitor benchmark" and returns Build()'s status.
Status ParseAndBuild(std::vector<std::string> args) {
  CLI::App app{"test"};
  BenchmarkCommand command(app);
  args.insert(args.begin(), {"etcd-monitor", "benchmark"});
  std::vector<const char*> argv;
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
  }
  std::ostringstream out, err;
  Status parse_error;
  auto step = config::detail::ParseArgs(app, static_cast<int>(argv.size()), argv.data(), out, err,
                                        &parse_error);
  if (step != config::detail::ParseStep::kRun) {
    return parse_error.ok() ? Status::InvalidArgument(err.str()) : parse_error;
  }
  EXPECT_TRUE(command.parsed());
  return command.Build();
}

// Every flag of the issue is accepted with a valid value.
TEST(BenchmarkCommandTest, AcceptsEveryFlag) {
  Status s = ParseAndBuild({"--endpoints=127.0.0.1:2379,127.0.0.1:22379", "--type=mixed",
                            "--ops=500", "--clients=32", "--conns=8", "--key-size=48",
                            "--value-size=100", "--key-space=1000", "--rate=200", "--consistency=s",
                            "--target=127.0.0.1:22379", "--keep", "--prefix=/b/", "-o", "json",
                            "--progress=false"});
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(ParseAndBuild({"--duration=10s", "--target=leader"}).ok());
  EXPECT_TRUE(ParseAndBuild({"--check-perf=s", "--duration=2s"}).ok());
}

// Bad values are reported all together, one line each, naming the flag.
TEST(BenchmarkCommandTest, ReportsEveryBadFlag) {
  Status s = ParseAndBuild({"--type=delete", "--ops=0", "--clients=20000", "--consistency=x", "-o",
                            "yaml", "--check-perf=huge", "--target=no-port"});
  ASSERT_FALSE(s.ok());
  for (const char* flag :
       {"--type", "--ops", "--clients", "--consistency", "--output", "--check-perf", "--target"}) {
    EXPECT_NE(s.message().find(flag), std::string::npos) << flag << ": " << s.message();
  }
}

// Cross-field bounds come from ValidateSpec.
TEST(BenchmarkCommandTest, CrossFieldBounds) {
  Status s = ParseAndBuild({"--clients=2", "--conns=4"});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("must not exceed clients"), std::string::npos) << s.message();
  EXPECT_FALSE(ParseAndBuild({"--check-perf=m", "--type=read"}).ok());
}

// A benchmark against a port nobody listens on fails with exit code 1 and one error line.
TEST(BenchmarkCommandTest, UnreachableClusterFails) {
  CLI::App app{"test"};
  BenchmarkCommand command(app);
  const char* argv[] = {"etcd-monitor",         "benchmark", "--endpoints=127.0.0.1:1",
                        "--dial-timeout=200ms", "--ops=10",  "--progress=false"};
  std::ostringstream out, err;
  Status parse_error;
  ASSERT_EQ(config::detail::ParseArgs(app, 6, argv, out, err, &parse_error),
            config::detail::ParseStep::kRun);
  ASSERT_TRUE(command.Build().ok());
  EXPECT_EQ(command.Run(out, err), 1);
  EXPECT_NE(err.str().find("cannot connect"), std::string::npos) << err.str();
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace etcdmon::cli
