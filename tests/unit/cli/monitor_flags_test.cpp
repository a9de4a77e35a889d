#include "monitor_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "etcdmon/testing/command_line.h"
#include "etcdmon/testing/scoped_env.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::cli {
namespace {

using namespace std::chrono_literals;
using config::BenchmarkType;
using config::kExitUsage;
using config::ParseResult;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::Lines;
using ::testing::SizeIs;
using ::testing::StartsWith;

// Every variable the all-in-one's flags read; the fixture clears them so the runner's
// environment cannot leak into a test, and restores them afterwards.
const char* const kEnvVars[] = {
    "ENDPOINTS",        "DIAL_TIMEOUT",      "CA_FILE",
    "CERT_FILE",        "KEY_FILE",          "INSECURE_SKIP_TLS",
    "ETCD_USER",        "ETCD_PASSWORD",     "LOG_LEVEL",
    "LOG_FORMAT",       "API_HOST",          "API_PORT",
    "API_AUTH",         "BENCHMARK_TOKEN",   "HEALTH_CHECK_INTERVAL",
    "METRICS_INTERVAL", "BENCHMARK_ENABLED", "BENCHMARK_INTERVAL",
    "CLUSTER_NAME",
};

struct Parsed {
  ParseResult<MonitorConfig> result;
  std::string out;  // what went to stdout (help)
  std::string err;  // what went to stderr (errors)
};

// Runs `args` through a fresh CLI::App with MonitorFlags registered, as a main() would.
Parsed RunMonitor(const std::vector<std::string>& args) {
  CLI::App app{"test binary", "test"};
  MonitorFlags flags(app);
  std::vector<const char*> argv{"test"};
  for (const std::string& arg : args) {
    argv.push_back(arg.c_str());
  }
  std::ostringstream out;
  std::ostringstream err;
  ParseResult<MonitorConfig> result = config::ParseCommandLine(
      app, static_cast<int>(argv.size()), argv.data(), [&] { return flags.Build(); }, out, err);
  return Parsed{std::move(result), out.str(), err.str()};
}

class MonitorFlagsTest : public ::testing::Test {
 protected:
  void SetEnv(const char* name, const std::string& value) { env_.Set(name, value); }

  // Creates a file in the test's own directory and returns its path.
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = temp_.File(name);
    std::ofstream(path) << content;
    return path;
  }

  // The variables the flags read are cleared for each test and restored afterwards.
  testing::ScopedEnv env_{kEnvVars};
  testing::TempDir temp_;
  const std::filesystem::path dir_{temp_.path()};
};

using ParseCommandLineTest = MonitorFlagsTest;

// With nothing given, MonitorConfig holds the quickstart's defaults.
TEST_F(MonitorFlagsTest, Defaults) {
  Parsed parsed = RunMonitor({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const MonitorConfig& config = parsed.result.value();
  EXPECT_EQ(config.etcd.endpoints[0].Authority(), "localhost:2379");
  EXPECT_EQ(config.log.level, "info");
  EXPECT_EQ(config.api_host, "0.0.0.0");
  EXPECT_EQ(config.api_port, 8080);
  EXPECT_EQ(config.health_check_interval, 30s);
  EXPECT_EQ(config.metrics_interval, 10s);
  EXPECT_EQ(config.thresholds.max_latency, 100ms);
  EXPECT_EQ(config.thresholds.max_db_size_bytes, 8192ULL * 1024 * 1024);
  EXPECT_EQ(config.thresholds.min_available_nodes, 0u);  // not given: the cluster's quorum
  EXPECT_EQ(config.thresholds.max_leader_changes, 3u);
  EXPECT_FALSE(config.benchmark.run_once);
  EXPECT_EQ(config.benchmark.type, BenchmarkType::kWrite);
  EXPECT_EQ(config.benchmark.ops, 10000u);
  EXPECT_FALSE(config.benchmark.periodic);
  EXPECT_EQ(config.benchmark.interval, 1h);
  EXPECT_EQ(config.data_dir, "./etcd-monitor-data");
  // One cluster, "default", on localhost:2379, with the flags' connection and thresholds.
  EXPECT_EQ(config.cluster_name, "default");
  EXPECT_EQ(config.primary_cluster, "default");
  ASSERT_THAT(config.clusters, SizeIs(1));
  EXPECT_EQ(config.clusters[0].name, "default");
  EXPECT_EQ(config.clusters[0].etcd.endpoints, config.etcd.endpoints);
  EXPECT_EQ(config.clusters[0].thresholds.max_latency, 100ms);
  EXPECT_FALSE(config.clusters[0].thresholds_given);
}

// The quickstart's "Command Line Flags" example parses as written.
TEST_F(MonitorFlagsTest, QuickstartCommandLine) {
  Parsed parsed = RunMonitor({
      "--endpoints=localhost:2379,localhost:22379,localhost:32379",
      "--dial-timeout=5s",
      "--api-port=8080",
      "--health-check-interval=30s",
      "--metrics-interval=10s",
      "--max-latency-ms=100",
      "--max-db-size-mb=8192",
      "--min-available-nodes=2",
      "--max-leader-changes=3",
  });
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const MonitorConfig& config = parsed.result.value();
  ASSERT_THAT(config.etcd.endpoints, SizeIs(3));
  EXPECT_EQ(config.etcd.endpoints[2].port, 32379);
  EXPECT_EQ(config.api_port, 8080);
  EXPECT_EQ(config.thresholds.min_available_nodes, 2u);  // given: kept as given
}

// The REST API's request-safety flags (gateway::ApiSecurityFlags) reach the all-in-one's config:
// defaults, then each one set.
TEST_F(MonitorFlagsTest, ApiSecurityFlags) {
  Parsed defaults = RunMonitor({"--endpoints=localhost:2379"});
  ASSERT_TRUE(defaults.result.ok()) << defaults.err;
  const gateway::GatewayConfig& d = defaults.result.value().api_security;
  EXPECT_EQ(d.api_auth, gateway::ApiAuth::kMutating);
  EXPECT_TRUE(d.benchmark_token.empty());
  EXPECT_EQ(d.benchmark_max_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(d.post_rate_limit_per_minute, 50u);

  const std::string token = WriteFile("bench-token", "bench\n");
  Parsed parsed =
      RunMonitor({"--endpoints=localhost:2379", "--api-auth=all", "--benchmark-token-file=" + token,
                  "--benchmark-max-bytes=1024", "--post-rate-limit=5"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const gateway::GatewayConfig& g = parsed.result.value().api_security;
  EXPECT_EQ(g.api_auth, gateway::ApiAuth::kAll);
  EXPECT_EQ(g.benchmark_token.Reveal(), "bench");
  EXPECT_EQ(g.benchmark_max_bytes, 1024u);
  EXPECT_EQ(g.post_rate_limit_per_minute, 5u);
}

// The quickstart's benchmark command lines parse as written.
TEST_F(MonitorFlagsTest, QuickstartBenchmarkCommandLines) {
  const std::pair<std::string, BenchmarkType> cases[] = {
      {"write", BenchmarkType::kWrite},
      {"read", BenchmarkType::kRead},
      {"mixed", BenchmarkType::kMixed},
  };
  for (const auto& [name, type] : cases) {
    Parsed parsed = RunMonitor({"--endpoints=localhost:2379", "--run-benchmark",
                                "--benchmark-type=" + name, "--benchmark-ops=10000"});
    ASSERT_TRUE(parsed.result.ok()) << name << ": " << parsed.err;
    EXPECT_TRUE(parsed.result.value().benchmark.run_once) << name;
    EXPECT_EQ(parsed.result.value().benchmark.type, type) << name;
    EXPECT_EQ(parsed.result.value().benchmark.ops, 10000u) << name;
  }
}

// Every environment variable of the quickstart is read, with the names written there.
TEST_F(MonitorFlagsTest, QuickstartEnvironment) {
  SetEnv("ENDPOINTS", "etcd1:2379,etcd2:2379,etcd3:2379");
  SetEnv("DIAL_TIMEOUT", "3s");
  SetEnv("CA_FILE", WriteFile("ca.pem", "ca"));
  SetEnv("CERT_FILE", WriteFile("cert.pem", "cert"));
  const std::string key = WriteFile("key.pem", "key");
  std::filesystem::permissions(key, std::filesystem::perms::owner_read);  // a private key
  SetEnv("KEY_FILE", key);
  SetEnv("INSECURE_SKIP_TLS", "true");
  SetEnv("API_HOST", "127.0.0.1");
  SetEnv("API_PORT", "9999");
  SetEnv("HEALTH_CHECK_INTERVAL", "1m");
  SetEnv("METRICS_INTERVAL", "2s");
  SetEnv("BENCHMARK_ENABLED", "yes");
  SetEnv("BENCHMARK_INTERVAL", "30m");
  Parsed parsed = RunMonitor({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const MonitorConfig& config = parsed.result.value();
  ASSERT_THAT(config.etcd.endpoints, SizeIs(3));
  EXPECT_EQ(config.etcd.dial_timeout, 3s);
  EXPECT_FALSE(config.etcd.tls.ca_file.empty());
  EXPECT_FALSE(config.etcd.tls.cert_file.empty());
  EXPECT_FALSE(config.etcd.tls.key_file.empty());
  EXPECT_TRUE(config.etcd.tls.insecure_skip_verify);
  EXPECT_EQ(config.api_host, "127.0.0.1");
  EXPECT_EQ(config.api_port, 9999);
  EXPECT_EQ(config.health_check_interval, 1min);
  EXPECT_EQ(config.metrics_interval, 2s);
  EXPECT_TRUE(config.benchmark.periodic);
  EXPECT_EQ(config.benchmark.interval, 30min);

  // And each flag beats its variable.
  Parsed flags = RunMonitor({"--api-host=::", "--api-port=1", "--metrics-interval=1s",
                             "--benchmark-enabled=false", "--benchmark-interval=2h"});
  ASSERT_TRUE(flags.result.ok()) << flags.err;
  EXPECT_EQ(flags.result.value().api_host, "::");
  EXPECT_EQ(flags.result.value().api_port, 1);
  EXPECT_EQ(flags.result.value().metrics_interval, 1s);
  EXPECT_FALSE(flags.result.value().benchmark.periodic);
  EXPECT_EQ(flags.result.value().benchmark.interval, 2h);
}

struct BadValueCase {
  std::vector<std::string> args;
  std::string expected;  // the whole error line
};

// Each bad value is one precise error line.
TEST_F(MonitorFlagsTest, RejectsBadValues) {
  const BadValueCase cases[] = {
      {{"--api-port=0"}, "--api-port \"0\": out of range 1..65535"},
      {{"--api-port=65536"}, "--api-port \"65536\": out of range 1..65535"},
      {{"--api-port=http"}, "--api-port \"http\": not an integer"},
      {{"--api-port=80.5"}, "--api-port \"80.5\": not an integer"},
      {{"--api-port=99999999999999999999"},
       "--api-port \"99999999999999999999\": out of range "
       "1..65535"},
      {{"--api-host", ""}, "--api-host: must not be empty"},
      {{"--health-check-interval=0"}, "--health-check-interval \"0\": must be at least 1ms"},
      {{"--metrics-interval=100us"}, "--metrics-interval \"100us\": must be at least 1ms"},
      {{"--metrics-interval=-1s"},
       "--metrics-interval \"-1s\": negative durations are not allowed"},
      {{"--benchmark-interval=0s"}, "--benchmark-interval \"0s\": must be at least 1ms"},
      {{"--max-latency-ms=0"}, "--max-latency-ms \"0\": out of range 1..3600000"},
      {{"--max-db-size-mb=-5"}, "--max-db-size-mb \"-5\": out of range 1..1048576"},
      {{"--min-available-nodes=0"}, "--min-available-nodes \"0\": out of range 1..1000"},
      {{"--max-leader-changes=x"}, "--max-leader-changes \"x\": not an integer"},
      {{"--benchmark-type=delete"}, "--benchmark-type \"delete\": want one of write, read, mixed"},
      {{"--benchmark-ops=0"}, "--benchmark-ops \"0\": out of range 1..100000000"},
      {{"--benchmark-ops=100000001"}, "--benchmark-ops \"100000001\": out of range 1..100000000"},
      {{"--run-benchmark=maybe"}, "--run-benchmark \"maybe\": want true, false, 1, 0, yes or no"},
      {{"--data-dir", ""}, "--data-dir: must not be empty"},
      {{"--command-timeout=0"}, "--command-timeout \"0\": must be at least 1ms"},
  };
  for (const BadValueCase& c : cases) {
    Parsed parsed = RunMonitor(c.args);
    ASSERT_FALSE(parsed.result.ok()) << c.expected;
    EXPECT_EQ(parsed.result.status().message(), c.expected);
    EXPECT_EQ(parsed.err, "error: " + c.expected + "\n") << c.expected;
    EXPECT_EQ(parsed.result.exit_code(), kExitUsage) << c.expected;
  }
}

// A bad BENCHMARK_ENABLED is an error naming the variable.
TEST_F(MonitorFlagsTest, BadBenchmarkEnabledNamesTheVariable) {
  SetEnv("BENCHMARK_ENABLED", "sometimes");
  Parsed parsed = RunMonitor({});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().message(),
            "env BENCHMARK_ENABLED \"sometimes\": want true, false, 1, 0, yes or no");
}

// --member-data-dir: ENDPOINT=DIR per member (the endpoint as --endpoints wrote it, with or
// without its scheme), or DIR alone with one endpoint; paths are made absolute.
TEST_F(MonitorFlagsTest, MemberDataDirs) {
  const std::filesystem::path a = dir_ / "a";
  const std::filesystem::path b = dir_ / "b=c";
  std::filesystem::create_directories(a);
  std::filesystem::create_directories(b);
  Parsed parsed = RunMonitor({"--endpoints=127.0.0.1:2379,http://127.0.0.1:22379",
                              "--member-data-dir", "127.0.0.1:2379=" + a.string(),
                              "--member-data-dir=http://127.0.0.1:22379=" + b.string()});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const std::vector<MemberDataDir>& dirs = parsed.result.value().member_data_dirs;
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(dirs[0].endpoint.Authority(), "127.0.0.1:2379");
  EXPECT_EQ(dirs[0].path, a.string());
  EXPECT_EQ(dirs[1].endpoint.Authority(), "127.0.0.1:22379");
  EXPECT_EQ(dirs[1].path, b.string());

  // One endpoint: the directory alone will do, a relative one made absolute.
  const std::filesystem::path cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  parsed = RunMonitor({"--endpoints=localhost:2379", "--member-data-dir=a"});
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  ASSERT_EQ(parsed.result.value().member_data_dirs.size(), 1u);
  EXPECT_EQ(parsed.result.value().member_data_dirs[0].endpoint.Authority(), "localhost:2379");
  EXPECT_EQ(parsed.result.value().member_data_dirs[0].path, a.string());

  // None given: none (the members' data dirs are found from /proc).
  parsed = RunMonitor({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_TRUE(parsed.result.value().member_data_dirs.empty());
}

// Each bad --member-data-dir is an error naming the flag and the value.
TEST_F(MonitorFlagsTest, RejectsBadMemberDataDirs) {
  const std::string a = (dir_ / "a").string();
  std::filesystem::create_directories(a);
  const std::string two = "--endpoints=127.0.0.1:2379,127.0.0.1:22379";
  const BadValueCase cases[] = {
      {{two, "--member-data-dir=" + a},
       "--member-data-dir \"" + a +
           "\": name the member's endpoint, ENDPOINT=DIR: there are 2 "
           "endpoints"},
      {{two, "--member-data-dir=127.0.0.1:3379=" + a},
       "--member-data-dir \"127.0.0.1:3379=" + a +
           "\": not one of --endpoints (127.0.0.1:2379, 127.0.0.1:22379)"},
      {{two, "--member-data-dir=127.0.0.1=" + a},
       "--member-data-dir \"127.0.0.1=" + a + "\": missing port"},
      {{two, "--member-data-dir=127.0.0.1:2379=" + a + "/missing"},
       "--member-data-dir \"127.0.0.1:2379=" + a + "/missing\": no such directory"},
      {{two, "--member-data-dir=127.0.0.1:2379="},
       "--member-data-dir \"127.0.0.1:2379=\": no such directory"},
      {{two, "--member-data-dir=127.0.0.1:2379=" + a, "--member-data-dir=127.0.0.1:2379=/"},
       "--member-data-dir \"127.0.0.1:2379=/\": a second data dir for 127.0.0.1:2379"},
  };
  for (const BadValueCase& c : cases) {
    Parsed parsed = RunMonitor(c.args);
    ASSERT_FALSE(parsed.result.ok()) << c.expected;
    EXPECT_EQ(parsed.result.status().message(), c.expected);
    EXPECT_EQ(parsed.result.exit_code(), kExitUsage) << c.expected;
  }
}

// All bad values, from flags and variables and from every group, are reported together.
TEST_F(MonitorFlagsTest, ReportsAllErrorsTogether) {
  SetEnv("API_PORT", "0");
  const std::string missing_ca = (dir_ / "missing-ca.pem").string();
  Parsed parsed =
      RunMonitor({"--endpoints=localhost", "--dial-timeout=5x", "--cacert", missing_ca,
                  "--log-level=loud", "--benchmark-type=delete", "--metrics-interval=0"});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().code(), StatusCode::kInvalidArgument);
  const std::vector<std::string> expected = {
      "--endpoints \"localhost\": missing port",
      "--dial-timeout \"5x\": unknown unit \"x\" (use ns, us, ms, s, m or h)",
      "--cacert \"" + missing_ca + "\": no such file",
      "--log-level \"loud\": want one of trace, debug, info, warn, error, critical, off",
      "env API_PORT \"0\": out of range 1..65535",
      "--metrics-interval \"0\": must be at least 1ms",
      "--benchmark-type \"delete\": want one of write, read, mixed",
  };
  EXPECT_EQ(Lines(parsed.result.status().message()), expected);
  std::vector<std::string> printed;
  for (const std::string& line : expected) {
    printed.push_back("error: " + line);
  }
  EXPECT_EQ(Lines(parsed.err), printed);
  EXPECT_EQ(parsed.result.exit_code(), kExitUsage);
  EXPECT_EQ(parsed.out, "");
}

// --help prints help on stdout, nothing on stderr, and exits 0.
TEST_F(ParseCommandLineTest, HelpExitsZero) {
  for (const char* flag : {"--help", "-h"}) {
    Parsed parsed = RunMonitor({flag});
    EXPECT_FALSE(parsed.result.ok()) << flag;
    EXPECT_EQ(parsed.result.exit_code(), 0) << flag;
    EXPECT_TRUE(parsed.result.status().ok()) << flag;
    EXPECT_EQ(parsed.err, "") << flag;
    EXPECT_THAT(parsed.out, AllOf(HasSubstr("--endpoints"), HasSubstr("ENDPOINTS"),
                                  HasSubstr("--benchmark-interval"), HasSubstr("localhost:2379")))
        << flag;
  }
}

// --help wins over bad values: a user asking for help gets it.
TEST_F(ParseCommandLineTest, HelpBeatsBadValues) {
  Parsed parsed = RunMonitor({"--api-port=0", "--help"});
  EXPECT_EQ(parsed.result.exit_code(), 0);
  EXPECT_EQ(parsed.err, "");
}

struct UsageErrorCase {
  std::vector<std::string> args;
  std::string expected;  // in the one error line
};

// CLI11's own errors come out as one `error:` line and exit code 2.
TEST_F(ParseCommandLineTest, ParserErrorsExitTwo) {
  const UsageErrorCase cases[] = {
      {{"--bogus"}, "--bogus"},
      {{"--api-port"}, "--api-port: missing value"},
      {{"--endpoints="}, "--endpoints: missing value"},
      {{"stray"}, "stray"},
      {{"--api-port=1", "--api-port=2"}, "--api-port"},
  };
  for (const UsageErrorCase& c : cases) {
    Parsed parsed = RunMonitor(c.args);
    const std::string name = c.args[0];
    EXPECT_FALSE(parsed.result.ok()) << name;
    EXPECT_EQ(parsed.result.exit_code(), 2) << name;
    EXPECT_EQ(parsed.result.status().code(), StatusCode::kInvalidArgument) << name;
    ASSERT_THAT(Lines(parsed.err), SizeIs(1)) << name << ": " << parsed.err;
    EXPECT_THAT(parsed.err, AllOf(StartsWith("error: "), HasSubstr(c.expected))) << name;
    EXPECT_EQ(parsed.out, "") << name;
  }
}

// A good command line runs with exit code 0 and prints nothing.
TEST_F(ParseCommandLineTest, SuccessPrintsNothing) {
  Parsed parsed = RunMonitor({"--api-port", "9090"});
  ASSERT_TRUE(parsed.result.ok());
  EXPECT_EQ(parsed.result.exit_code(), 0);
  EXPECT_TRUE(parsed.result.status().ok());
  EXPECT_EQ(parsed.out, "");
  EXPECT_EQ(parsed.err, "");
}

// ParseMonitorCommandLine is the two-line main() of the etcd-monitor binary.
TEST_F(ParseCommandLineTest, MonitorCommandLine) {
  const char* good[] = {"etcd-monitor", "--endpoints=etcd1:2379", "--run-benchmark"};
  std::ostringstream out;
  std::ostringstream err;
  ParseResult<MonitorConfig> cli = ParseMonitorCommandLine(3, good, out, err);
  ASSERT_TRUE(cli.ok()) << err.str();
  EXPECT_TRUE(cli.value().benchmark.run_once);
  EXPECT_EQ(cli.value().etcd.endpoints[0].host, "etcd1");

  const char* bad[] = {"etcd-monitor", "--endpoints=etcd1"};
  ParseResult<MonitorConfig> failed = ParseMonitorCommandLine(2, bad, out, err);
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.exit_code(), kExitUsage);
  EXPECT_EQ(err.str(), "error: --endpoints \"etcd1\": missing port\n");
}

// The names of a MonitorConfig's clusters, in order.
std::vector<std::string> Names(const MonitorConfig& config) {
  std::vector<std::string> names;
  for (const ClusterSpec& spec : config.clusters) {
    names.push_back(spec.name);
  }
  return names;
}

// --cluster without --endpoints: those clusters only (localhost:2379 is not added), each with
// the TLS and auth flags; the primary connection is the first cluster's, as none is named
// "default".
TEST_F(MonitorFlagsTest, ClusterFlagsReplaceTheDefaultEndpoint) {
  const std::string ca = WriteFile("ca.pem", "ca");
  SetEnv("ETCD_PASSWORD", "pw");
  Parsed parsed = RunMonitor({"--cluster", "prod=10.0.0.1:2379,10.0.0.2:2379", "--cluster=stg=s:1",
                              "--cacert=" + ca, "--user=monitor", "--dial-timeout=2s"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const MonitorConfig& config = parsed.result.value();
  EXPECT_EQ(Names(config), (std::vector<std::string>{"prod", "stg"}));
  EXPECT_EQ(config.cluster_name, "default");
  const ClusterSpec& prod = config.clusters[0];
  ASSERT_THAT(prod.etcd.endpoints, SizeIs(2));
  EXPECT_EQ(prod.etcd.endpoints[1].Authority(), "10.0.0.2:2379");
  for (const ClusterSpec& spec : config.clusters) {
    EXPECT_EQ(spec.etcd.tls.ca_file, ca) << spec.name;
    EXPECT_EQ(spec.etcd.username, "monitor") << spec.name;
    EXPECT_EQ(spec.etcd.password.Reveal(), "pw") << spec.name;
    EXPECT_EQ(spec.etcd.dial_timeout, 2s) << spec.name;
  }
  EXPECT_EQ(config.etcd.endpoints, prod.etcd.endpoints) << "the primary: the first cluster";
  EXPECT_EQ(config.primary_cluster, "prod");

  // --cluster-name picks the primary among them.
  SetEnv("ETCD_PASSWORD", "");
  parsed = RunMonitor({"--cluster=prod=p:1", "--cluster=stg=s:1", "--cluster-name=stg"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(Names(parsed.result.value()), (std::vector<std::string>{"prod", "stg"}));
  EXPECT_EQ(parsed.result.value().etcd.endpoints[0].Authority(), "s:1");
  EXPECT_EQ(parsed.result.value().primary_cluster, "stg");
}

// --endpoints (or ENDPOINTS) given too: one more cluster, first, named by --cluster-name
// (CLUSTER_NAME; the flag beats the variable).
TEST_F(MonitorFlagsTest, ExplicitEndpointsAreOneMoreCluster) {
  Parsed parsed = RunMonitor({"--endpoints=e:1", "--cluster=prod=p:1"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(Names(parsed.result.value()), (std::vector<std::string>{"default", "prod"}));
  EXPECT_EQ(parsed.result.value().etcd.endpoints[0].Authority(), "e:1");

  SetEnv("ENDPOINTS", "env:1");
  SetEnv("CLUSTER_NAME", "local");
  parsed = RunMonitor({"--cluster=prod=p:1"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(Names(parsed.result.value()), (std::vector<std::string>{"local", "prod"}));
  EXPECT_EQ(parsed.result.value().cluster_name, "local");
  EXPECT_EQ(parsed.result.value().clusters[0].etcd.endpoints[0].Authority(), "env:1");

  parsed = RunMonitor({"--cluster=prod=p:1", "--cluster-name=mine"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(Names(parsed.result.value()), (std::vector<std::string>{"mine", "prod"}));

  // Only --cluster-name: the quickstart's single cluster, renamed.
  SetEnv("ENDPOINTS", "");
  parsed = RunMonitor({"--cluster-name=solo"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(Names(parsed.result.value()), (std::vector<std::string>{"solo"}));
  EXPECT_EQ(parsed.result.value().clusters[0].etcd.endpoints[0].Authority(), "localhost:2379");
}

// --clusters-file alone replaces the default endpoint; with --cluster and --endpoints, the order
// is --endpoints, --cluster, then the file. --member-data-dir may name any cluster's endpoint.
TEST_F(MonitorFlagsTest, ClustersFileJoinsTheOtherSources) {
  const std::string file = WriteFile("clusters.yaml", R"(clusters:
  - name: f1
    endpoints: [f:1]
    thresholds: {max_latency_ms: 7}
  - {name: f2, endpoints: ["f:2"]}
)");
  Parsed parsed = RunMonitor({"--clusters-file=" + file, "--max-latency-ms=300"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(Names(parsed.result.value()), (std::vector<std::string>{"f1", "f2"}));
  EXPECT_EQ(parsed.result.value().clusters[0].thresholds.max_latency, 7ms);
  EXPECT_TRUE(parsed.result.value().clusters[0].thresholds_given);
  EXPECT_EQ(parsed.result.value().clusters[1].thresholds.max_latency, 300ms);

  std::filesystem::create_directories(dir_ / "d");
  parsed = RunMonitor({"--clusters-file", file, "--cluster=c=c:1", "--endpoints=e:1",
                       "--member-data-dir=f:2=" + (dir_ / "d").string()});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(Names(parsed.result.value()), (std::vector<std::string>{"default", "c", "f1", "f2"}));
  ASSERT_THAT(parsed.result.value().member_data_dirs, SizeIs(1));
  EXPECT_EQ(parsed.result.value().member_data_dirs[0].endpoint.Authority(), "f:2");
}

// Each bad --cluster, --cluster-name or --clusters-file, and a name given twice (in one source
// or across two, naming both), is one error line and exit code 2.
TEST_F(MonitorFlagsTest, RejectsBadClusters) {
  const std::string file =
      WriteFile("clusters.yaml", "clusters:\n  - {name: f, endpoints: [f:1]}\n");
  const std::string bad_file =
      WriteFile("bad.yaml", "clusters:\n  - {name: f, endpoints: [f:1], port: 1}\n");
  const std::string missing = (dir_ / "missing.yaml").string();
  const BadValueCase cases[] = {
      {{"--cluster=prod"}, "--cluster \"prod\": want NAME=ENDPOINT[,ENDPOINT...]"},
      {{"--cluster==a:1"}, "--cluster \"=a:1\": want NAME=ENDPOINT[,ENDPOINT...]"},
      {{"--cluster=a b=a:1"},
       "--cluster \"a b=a:1\": invalid cluster name \"a b\": use only letters, digits, '_', "
       "'-' and '.'"},
      {{"--cluster=prod=nohost"}, "--cluster \"prod=nohost\": endpoint \"nohost\": missing port"},
      {{"--cluster=prod=a:1,a:1"}, "--cluster \"prod=a:1,a:1\": endpoint \"a:1\": listed twice"},
      {{"--cluster=prod=a:1", "--cluster=prod=b:1"},
       "--cluster \"prod=b:1\": cluster \"prod\" is also given by --cluster \"prod=a:1\""},
      {{"--endpoints=e:1", "--cluster=default=b:1"},
       "--cluster \"default=b:1\": cluster \"default\" is also given by --endpoints (named by "
       "--cluster-name)"},
      {{"--cluster=f=b:1", "--clusters-file=" + file},
       file + ":2: cluster \"f\" is also given by --cluster \"f=b:1\""},
      {{"--endpoints=e:1", "--cluster-name=f", "--clusters-file=" + file},
       file + ":2: cluster \"f\" is also given by --endpoints (named by --cluster-name)"},
      {{"--clusters-file=" + bad_file},
       bad_file + ":2: unknown key \"port\" (known: name, endpoints, tls, auth, thresholds)"},
      {{"--clusters-file=" + missing}, "--clusters-file \"" + missing + "\": no such file"},
      {{"--cluster-name=a/b"},
       "--cluster-name: invalid cluster name \"a/b\": use only letters, digits, '_', '-' and "
       "'.'"},
      {{"--cluster-name", ""}, "--cluster-name: invalid cluster name \"\": it is empty"},
  };
  for (const BadValueCase& c : cases) {
    Parsed parsed = RunMonitor(c.args);
    ASSERT_FALSE(parsed.result.ok()) << c.expected;
    EXPECT_EQ(parsed.result.status().message(), c.expected);
    EXPECT_EQ(parsed.err, "error: " + c.expected + "\n") << c.expected;
    EXPECT_EQ(parsed.result.exit_code(), kExitUsage) << c.expected;
  }

  // A bad CLUSTER_NAME names the variable.
  SetEnv("CLUSTER_NAME", "no way");
  Parsed parsed = RunMonitor({});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().message(),
            "env CLUSTER_NAME: invalid cluster name \"no way\": use only letters, digits, '_', "
            "'-' and '.'");
  EXPECT_EQ(parsed.result.exit_code(), kExitUsage);
}

// Bad --cluster values are reported together with the other flags' problems.
TEST_F(MonitorFlagsTest, ClusterErrorsComeWithTheOthers) {
  Parsed parsed = RunMonitor({"--endpoints=nohost", "--cluster=prod", "--api-port=0"});
  ASSERT_FALSE(parsed.result.ok());
  const std::vector<std::string> expected = {
      "error: --endpoints \"nohost\": missing port",
      "error: --api-port \"0\": out of range 1..65535",
      "error: --cluster \"prod\": want NAME=ENDPOINT[,ENDPOINT...]",
  };
  EXPECT_EQ(Lines(parsed.err), expected);
  EXPECT_EQ(parsed.result.exit_code(), kExitUsage);
}

// More than kMaxClusters clusters in all is refused.
TEST_F(MonitorFlagsTest, RejectsTooManyClusters) {
  std::vector<std::string> args;
  for (size_t i = 0; i <= kMaxClusters; ++i) {
    args.push_back("--cluster=c" + std::to_string(i) + "=h:1");
  }
  Parsed parsed = RunMonitor(args);
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().message(),
            "--cluster, --clusters-file: 101 clusters, more than 100");
  EXPECT_EQ(parsed.result.exit_code(), kExitUsage);
  args.pop_back();
  EXPECT_TRUE(RunMonitor(args).result.ok()) << "exactly 100 is fine";
}

// --help names the cluster flags.
TEST_F(ParseCommandLineTest, HelpNamesTheClusterFlags) {
  Parsed parsed = RunMonitor({"--help"});
  EXPECT_EQ(parsed.result.exit_code(), 0);
  EXPECT_THAT(parsed.out,
              AllOf(HasSubstr("--cluster "), HasSubstr("NAME=LIST"), HasSubstr("--clusters-file"),
                    HasSubstr("--cluster-name"), HasSubstr("CLUSTER_NAME")));
}

}  // namespace
}  // namespace etcdmon::cli
