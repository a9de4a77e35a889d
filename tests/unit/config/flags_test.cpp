#include "etcdmon/config/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace etcdmon::config {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

// Every variable the flags read; the fixture clears them so the runner's environment cannot leak
// into a test, and restores them afterwards.
const char* const kEnvVars[] = {
    "ENDPOINTS",
    "DIAL_TIMEOUT",
    "CA_FILE",
    "CERT_FILE",
    "KEY_FILE",
    "INSECURE_SKIP_TLS",
    "ETCD_USER",
    "ETCD_PASSWORD",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "API_HOST",
    "API_PORT",
    "HEALTH_CHECK_INTERVAL",
    "METRICS_INTERVAL",
    "BENCHMARK_ENABLED",
    "BENCHMARK_INTERVAL",
};

template <typename T>
struct Parsed {
  ParseResult<T> result;
  std::string out;  // what went to stdout (help)
  std::string err;  // what went to stderr (errors)
};

// Runs `args` through a fresh CLI::App with `Flags` registered, as a main() would.
template <typename Flags, typename T>
Parsed<T> Run(const std::vector<std::string>& args) {
  CLI::App app{"test binary", "test"};
  Flags flags(app);
  std::vector<const char*> argv{"test"};
  for (const std::string& arg : args) {
    argv.push_back(arg.c_str());
  }
  std::ostringstream out;
  std::ostringstream err;
  ParseResult<T> result = ParseCommandLine(
      app, static_cast<int>(argv.size()), argv.data(), [&] { return flags.Build(); }, out, err);
  return Parsed<T>{std::move(result), out.str(), err.str()};
}

Parsed<EtcdConnectionConfig> RunConnection(const std::vector<std::string>& args) {
  return Run<ConnectionFlags, EtcdConnectionConfig>(args);
}
Parsed<LogConfig> RunLog(const std::vector<std::string>& args) {
  return Run<LogFlags, LogConfig>(args);
}
Parsed<MonitorConfig> RunMonitor(const std::vector<std::string>& args) {
  return Run<MonitorFlags, MonitorConfig>(args);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

class FlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kEnvVars) {
      if (const char* value = std::getenv(name)) {
        saved_env_[name] = value;
      }
      unsetenv(name);
    }
    std::string pattern = (std::filesystem::temp_directory_path() / "flags_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }

  void TearDown() override {
    for (const char* name : kEnvVars) {
      unsetenv(name);
    }
    for (const auto& [name, value] : saved_env_) {
      setenv(name.c_str(), value.c_str(), 1);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static void SetEnv(const char* name, const std::string& value) { setenv(name, value.c_str(), 1); }

  // Creates a file in the test's own directory and returns its path.
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << content;
    return path;
  }

  std::filesystem::path dir_;

 private:
  std::map<std::string, std::string> saved_env_;
};

using ConnectionFlagsTest = FlagsTest;
using LogFlagsTest = FlagsTest;
using MonitorFlagsTest = FlagsTest;
using ParseCommandLineTest = FlagsTest;

// With no flags and no variables, the documented defaults apply.
TEST_F(ConnectionFlagsTest, Defaults) {
  Parsed<EtcdConnectionConfig> parsed = RunConnection({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const EtcdConnectionConfig& config = parsed.result.value();
  ASSERT_THAT(config.endpoints, SizeIs(1));
  EXPECT_EQ(config.endpoints[0].Authority(), "localhost:2379");
  EXPECT_EQ(config.dial_timeout, 5s);
  EXPECT_EQ(config.request_timeout, 5s);
  EXPECT_FALSE(config.tls.Configured());
  EXPECT_TRUE(config.username.empty());
  EXPECT_TRUE(config.password.empty());
  EXPECT_EQ(parsed.err, "");
}

// A flag beats its variable; a variable applies when its flag is absent.
TEST_F(ConnectionFlagsTest, FlagBeatsEnv) {
  SetEnv("ENDPOINTS", "env1:2379,env2:2379");
  SetEnv("DIAL_TIMEOUT", "7s");
  Parsed<EtcdConnectionConfig> parsed =
      RunConnection({"--endpoints=flag:2379", "--command-timeout", "2s"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const EtcdConnectionConfig& config = parsed.result.value();
  ASSERT_THAT(config.endpoints, SizeIs(1));
  EXPECT_EQ(config.endpoints[0].host, "flag");
  EXPECT_EQ(config.dial_timeout, 7s);
  EXPECT_EQ(config.request_timeout, 2s);
}

// A bad value names the flag when the flag gave it, and the variable when the variable did.
TEST_F(ConnectionFlagsTest, ErrorNamesTheSourceOfTheValue) {
  Parsed<EtcdConnectionConfig> from_flag = RunConnection({"--dial-timeout=5x"});
  ASSERT_FALSE(from_flag.result.ok());
  EXPECT_EQ(from_flag.result.status().message(),
            "--dial-timeout \"5x\": unknown unit \"x\" (use ns, us, ms, s, m or h)");

  SetEnv("DIAL_TIMEOUT", "5x");
  Parsed<EtcdConnectionConfig> from_env = RunConnection({});
  ASSERT_FALSE(from_env.result.ok());
  EXPECT_THAT(from_env.result.status().message(),
              StartsWith("env DIAL_TIMEOUT \"5x\": unknown unit \"x\""));

  // The flag wins even over a bad variable.
  Parsed<EtcdConnectionConfig> flag_wins = RunConnection({"--dial-timeout=1s"});
  ASSERT_TRUE(flag_wins.result.ok()) << flag_wins.err;
  EXPECT_EQ(flag_wins.result.value().dial_timeout, 1s);
}

// A comma-separated list keeps its order and accepts spaces, schemes and IPv6.
TEST_F(ConnectionFlagsTest, ParsesEndpointList) {
  Parsed<EtcdConnectionConfig> parsed =
      RunConnection({"--endpoints", "localhost:2379, https://etcd2:22379 ,[::1]:32379"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const auto& endpoints = parsed.result.value().endpoints;
  ASSERT_THAT(endpoints, SizeIs(3));
  EXPECT_EQ(endpoints[0].Url("http"), "http://localhost:2379");
  EXPECT_EQ(endpoints[1].Url("http"), "https://etcd2:22379");
  EXPECT_EQ(endpoints[2].Url("http"), "http://[::1]:32379");
}

struct EndpointListCase {
  std::string value;
  std::string expected;  // in the error
};

// Bad lists are rejected, each bad item named.
TEST_F(ConnectionFlagsTest, RejectsBadEndpointLists) {
  const EndpointListCase cases[] = {
      {"", "--endpoints: at least one endpoint is required"},
      {" , ", "empty item"},
      {"a:1,,b:2", "--endpoints \"a:1,,b:2\": empty item in the list"},
      {"a:1,", "empty item"},
      {"a:1,localhost", "--endpoints \"localhost\": missing port"},
      {"a:1,a:1", "--endpoints \"a:1\": listed twice"},
      {"ftp://a:1", "unknown scheme"},
  };
  for (const EndpointListCase& c : cases) {
    Parsed<EtcdConnectionConfig> parsed = RunConnection({"--endpoints", c.value});
    ASSERT_FALSE(parsed.result.ok()) << c.value;
    EXPECT_THAT(parsed.result.status().message(), HasSubstr(c.expected)) << c.value;
    EXPECT_EQ(parsed.result.exit_code(), kExitUsage) << c.value;
  }
}

// A client certificate without its key is rejected, and so is a key without its certificate.
TEST_F(ConnectionFlagsTest, CertAndKeyComeTogether) {
  const std::string cert = WriteFile("client.pem", "cert");
  const std::string key = WriteFile("client-key.pem", "key");

  Parsed<EtcdConnectionConfig> cert_only = RunConnection({"--cert", cert});
  ASSERT_FALSE(cert_only.result.ok());
  EXPECT_THAT(cert_only.result.status().message(), HasSubstr("--cert: a client certificate"));

  SetEnv("KEY_FILE", key);
  Parsed<EtcdConnectionConfig> key_only = RunConnection({});
  ASSERT_FALSE(key_only.result.ok());
  EXPECT_THAT(key_only.result.status().message(),
              HasSubstr("env KEY_FILE: a client key needs its certificate"));

  Parsed<EtcdConnectionConfig> both = RunConnection({"--cert", cert});
  ASSERT_TRUE(both.result.ok()) << both.err;
  EXPECT_EQ(both.result.value().tls.cert_file, cert);
  EXPECT_EQ(both.result.value().tls.key_file, key);
}

// A CA file that does not exist is rejected with its path; so is a directory.
TEST_F(ConnectionFlagsTest, MissingCaFileNamesThePath) {
  const std::string missing = (dir_ / "nope" / "ca.pem").string();
  Parsed<EtcdConnectionConfig> parsed = RunConnection({"--cacert=" + missing});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().message(), "--cacert \"" + missing + "\": no such file");

  SetEnv("CA_FILE", dir_.string());
  Parsed<EtcdConnectionConfig> directory = RunConnection({});
  ASSERT_FALSE(directory.result.ok());
  EXPECT_EQ(directory.result.status().message(),
            "env CA_FILE \"" + dir_.string() + "\": is a directory, not a file");
}

// Readable TLS files from the quickstart's variables fill TlsConfig.
TEST_F(ConnectionFlagsTest, TlsFromEnv) {
  SetEnv("CA_FILE", WriteFile("ca.pem", "ca"));
  SetEnv("CERT_FILE", WriteFile("cert.pem", "cert"));
  SetEnv("KEY_FILE", WriteFile("key.pem", "key"));
  SetEnv("INSECURE_SKIP_TLS", "false");
  Parsed<EtcdConnectionConfig> parsed = RunConnection({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const TlsConfig& tls = parsed.result.value().tls;
  EXPECT_EQ(tls.ca_file, (dir_ / "ca.pem").string());
  EXPECT_EQ(tls.cert_file, (dir_ / "cert.pem").string());
  EXPECT_EQ(tls.key_file, (dir_ / "key.pem").string());
  EXPECT_FALSE(tls.insecure_skip_verify);
  EXPECT_TRUE(tls.Configured());
}

struct BoolCase {
  std::string value;
  bool expected;
};

// INSECURE_SKIP_TLS takes true/false/1/0/yes/no in any case; the bare flag means true.
TEST_F(ConnectionFlagsTest, InsecureSkipTlsBooleans) {
  const BoolCase cases[] = {
      {"true", true},   {"TRUE", true},   {"1", true},  {"yes", true}, {"Yes", true},
      {"false", false}, {"False", false}, {"0", false}, {"no", false}, {"NO", false},
  };
  for (const BoolCase& c : cases) {
    SetEnv("INSECURE_SKIP_TLS", c.value);
    Parsed<EtcdConnectionConfig> parsed = RunConnection({});
    ASSERT_TRUE(parsed.result.ok()) << c.value << ": " << parsed.err;
    EXPECT_EQ(parsed.result.value().tls.insecure_skip_verify, c.expected) << c.value;
  }
  unsetenv("INSECURE_SKIP_TLS");
  Parsed<EtcdConnectionConfig> bare = RunConnection({"--insecure-skip-tls-verify"});
  ASSERT_TRUE(bare.result.ok()) << bare.err;
  EXPECT_TRUE(bare.result.value().tls.insecure_skip_verify);
  Parsed<EtcdConnectionConfig> off = RunConnection({"--insecure-skip-tls-verify=false"});
  ASSERT_TRUE(off.result.ok()) << off.err;
  EXPECT_FALSE(off.result.value().tls.insecure_skip_verify);
}

// Any other boolean is an error naming the variable.
TEST_F(ConnectionFlagsTest, BadBooleanNamesTheVariable) {
  SetEnv("INSECURE_SKIP_TLS", "maybe");
  Parsed<EtcdConnectionConfig> parsed = RunConnection({});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_EQ(parsed.result.status().message(),
            "env INSECURE_SKIP_TLS \"maybe\": want true, false, 1, 0, yes or no");
}

// The password comes from name:password, else --password-file, else ETCD_PASSWORD.
TEST_F(ConnectionFlagsTest, PasswordSources) {
  Parsed<EtcdConnectionConfig> inline_password = RunConnection({"--user=alice:s3cret:with:colons"});
  ASSERT_TRUE(inline_password.result.ok()) << inline_password.err;
  EXPECT_EQ(inline_password.result.value().username, "alice");
  EXPECT_EQ(inline_password.result.value().password.Reveal(), "s3cret:with:colons");

  const std::string file = WriteFile("password", "from-file\n");
  SetEnv("ETCD_PASSWORD", "from-env");
  Parsed<EtcdConnectionConfig> from_file = RunConnection({"--user=bob", "--password-file", file});
  ASSERT_TRUE(from_file.result.ok()) << from_file.err;
  EXPECT_EQ(from_file.result.value().username, "bob");
  EXPECT_EQ(from_file.result.value().password.Reveal(), "from-file");

  SetEnv("ETCD_USER", "carol");
  Parsed<EtcdConnectionConfig> from_env = RunConnection({});
  ASSERT_TRUE(from_env.result.ok()) << from_env.err;
  EXPECT_EQ(from_env.result.value().username, "carol");
  EXPECT_EQ(from_env.result.value().password.Reveal(), "from-env");
}

// A user without any password, and a password without a user, are rejected.
TEST_F(ConnectionFlagsTest, UserAndPasswordMustMatch) {
  Parsed<EtcdConnectionConfig> no_password = RunConnection({"--user", "alice"});
  ASSERT_FALSE(no_password.result.ok());
  EXPECT_THAT(no_password.result.status().message(),
              HasSubstr("--user: no password for user \"alice\""));

  const std::string file = WriteFile("password", "pw");
  Parsed<EtcdConnectionConfig> no_user = RunConnection({"--password-file", file});
  ASSERT_FALSE(no_user.result.ok());
  EXPECT_THAT(no_user.result.status().message(), HasSubstr("--password-file: needs --user"));

  Parsed<EtcdConnectionConfig> empty_name = RunConnection({"--user=:pw"});
  ASSERT_FALSE(empty_name.result.ok());
  EXPECT_THAT(empty_name.result.status().message(), HasSubstr("--user: empty user name"));

  const std::string empty = WriteFile("empty", "\n");
  Parsed<EtcdConnectionConfig> empty_file =
      RunConnection({"--user=alice", "--password-file=" + empty});
  ASSERT_FALSE(empty_file.result.ok());
  EXPECT_THAT(empty_file.result.status().message(), HasSubstr("file is empty"));
}

// No error line ever shows a password, wherever it came from, even when it is wrong.
TEST_F(ConnectionFlagsTest, SecretsNeverInErrors) {
  const std::string file = WriteFile("password", "file-secret-123\n");
  Parsed<EtcdConnectionConfig> both =
      RunConnection({"--user=alice:inline-secret-456", "--password-file", file, "--endpoints=x"});
  ASSERT_FALSE(both.result.ok());
  EXPECT_THAT(both.result.status().message(), HasSubstr("give it once"));
  EXPECT_THAT(both.err, HasSubstr("error: --endpoints \"x\": missing port"));
  for (const std::string& text : {both.result.status().message(), both.err, both.out}) {
    EXPECT_THAT(text, Not(HasSubstr("inline-secret-456")));
    EXPECT_THAT(text, Not(HasSubstr("file-secret-123")));
  }

  SetEnv("ETCD_PASSWORD", "env-secret-789");
  Parsed<EtcdConnectionConfig> orphan = RunConnection({});
  ASSERT_FALSE(orphan.result.ok());
  EXPECT_THAT(orphan.result.status().message(), HasSubstr("env ETCD_PASSWORD: set, but no --user"));
  EXPECT_THAT(orphan.err, Not(HasSubstr("env-secret-789")));

  SetEnv("ETCD_USER", ":env-secret-000");
  Parsed<EtcdConnectionConfig> bad_user = RunConnection({});
  ASSERT_FALSE(bad_user.result.ok());
  EXPECT_EQ(bad_user.result.status().message(), "env ETCD_USER: empty user name");
}

// Defaults, variables and case-insensitive values of the log flags.
TEST_F(LogFlagsTest, LevelAndFormat) {
  Parsed<LogConfig> defaults = RunLog({});
  ASSERT_TRUE(defaults.result.ok()) << defaults.err;
  EXPECT_EQ(defaults.result.value().level, "info");
  EXPECT_EQ(defaults.result.value().format, "text");

  SetEnv("LOG_LEVEL", "DEBUG");
  SetEnv("LOG_FORMAT", "text");
  Parsed<LogConfig> parsed = RunLog({"--log-format=JSON"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(parsed.result.value().level, "debug");
  EXPECT_EQ(parsed.result.value().format, "json");
}

// Unknown level and format are both reported.
TEST_F(LogFlagsTest, RejectsUnknownValues) {
  Parsed<LogConfig> parsed = RunLog({"--log-level=verbose", "--log-format=xml"});
  ASSERT_FALSE(parsed.result.ok());
  EXPECT_THAT(Lines(parsed.result.status().message()),
              ElementsAre("--log-level \"verbose\": want one of trace, debug, info, warn, error, "
                          "critical, off",
                          "--log-format \"xml\": want one of text, json"));
}

// With nothing given, MonitorConfig holds the quickstart's defaults.
TEST_F(MonitorFlagsTest, Defaults) {
  Parsed<MonitorConfig> parsed = RunMonitor({});
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
}

// The quickstart's "Command Line Flags" example parses as written.
TEST_F(MonitorFlagsTest, QuickstartCommandLine) {
  Parsed<MonitorConfig> parsed = RunMonitor({
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

// The quickstart's benchmark command lines parse as written.
TEST_F(MonitorFlagsTest, QuickstartBenchmarkCommandLines) {
  const std::pair<std::string, BenchmarkType> cases[] = {
      {"write", BenchmarkType::kWrite},
      {"read", BenchmarkType::kRead},
      {"mixed", BenchmarkType::kMixed},
  };
  for (const auto& [name, type] : cases) {
    Parsed<MonitorConfig> parsed =
        RunMonitor({"--endpoints=localhost:2379", "--run-benchmark", "--benchmark-type=" + name,
                    "--benchmark-ops=10000"});
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
  SetEnv("KEY_FILE", WriteFile("key.pem", "key"));
  SetEnv("INSECURE_SKIP_TLS", "true");
  SetEnv("API_HOST", "127.0.0.1");
  SetEnv("API_PORT", "9999");
  SetEnv("HEALTH_CHECK_INTERVAL", "1m");
  SetEnv("METRICS_INTERVAL", "2s");
  SetEnv("BENCHMARK_ENABLED", "yes");
  SetEnv("BENCHMARK_INTERVAL", "30m");
  Parsed<MonitorConfig> parsed = RunMonitor({});
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
  Parsed<MonitorConfig> flags =
      RunMonitor({"--api-host=::", "--api-port=1", "--metrics-interval=1s",
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
    Parsed<MonitorConfig> parsed = RunMonitor(c.args);
    ASSERT_FALSE(parsed.result.ok()) << c.expected;
    EXPECT_EQ(parsed.result.status().message(), c.expected);
    EXPECT_EQ(parsed.err, "error: " + c.expected + "\n") << c.expected;
    EXPECT_EQ(parsed.result.exit_code(), kExitUsage) << c.expected;
  }
}

// A bad BENCHMARK_ENABLED is an error naming the variable.
TEST_F(MonitorFlagsTest, BadBenchmarkEnabledNamesTheVariable) {
  SetEnv("BENCHMARK_ENABLED", "sometimes");
  Parsed<MonitorConfig> parsed = RunMonitor({});
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
  Parsed<MonitorConfig> parsed = RunMonitor(
      {"--endpoints=127.0.0.1:2379,http://127.0.0.1:22379", "--member-data-dir",
       "127.0.0.1:2379=" + a.string(), "--member-data-dir=http://127.0.0.1:22379=" + b.string()});
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
    Parsed<MonitorConfig> parsed = RunMonitor(c.args);
    ASSERT_FALSE(parsed.result.ok()) << c.expected;
    EXPECT_EQ(parsed.result.status().message(), c.expected);
    EXPECT_EQ(parsed.result.exit_code(), kExitUsage) << c.expected;
  }
}

// All bad values, from flags and variables and from every group, are reported together.
TEST_F(MonitorFlagsTest, ReportsAllErrorsTogether) {
  SetEnv("API_PORT", "0");
  const std::string missing_ca = (dir_ / "missing-ca.pem").string();
  Parsed<MonitorConfig> parsed =
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
    Parsed<MonitorConfig> parsed = RunMonitor({flag});
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
  Parsed<MonitorConfig> parsed = RunMonitor({"--api-port=0", "--help"});
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
    Parsed<MonitorConfig> parsed = RunMonitor(c.args);
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
  Parsed<MonitorConfig> parsed = RunMonitor({"--api-port", "9090"});
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

// ParseBool accepts exactly the documented spellings, in any case.
TEST(ParseBoolTest, Spellings) {
  const BoolCase cases[] = {
      {"true", true}, {"TRUE", true}, {"True", true},   {"1", true},
      {"yes", true},  {"YES", true},  {"false", false}, {"FALSE", false},
      {"0", false},   {"no", false},  {"No", false},
  };
  for (const BoolCase& c : cases) {
    Result<bool> parsed = ParseBool(c.value);
    ASSERT_TRUE(parsed.ok()) << c.value;
    EXPECT_EQ(*parsed, c.expected) << c.value;
  }
  for (const char* bad : {"", "on", "off", "y", "n", "2", "truee", " true"}) {
    Result<bool> parsed = ParseBool(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("invalid boolean")) << bad;
  }
}

// FlagErrors keeps one line per problem, also when given multi-line statuses.
TEST(FlagErrorsTest, CollectsLines) {
  FlagErrors errors;
  EXPECT_TRUE(errors.ToStatus().ok());
  errors.Add("first");
  errors.Add(Status::Ok());
  errors.Add(Status::InvalidArgument("second\nthird"));
  EXPECT_THAT(errors.lines(), ElementsAre("first", "second", "third"));
  EXPECT_EQ(errors.ToStatus(), Status::InvalidArgument("first\nsecond\nthird"));
}

// A binary can add its own flags with FlagValue and report them with the shared ones.
TEST_F(FlagsTest, CustomFlagsCombineWithGroups) {
  CLI::App app{"collector", "collector"};
  ConnectionFlags etcd(app);
  const FlagValue interval =
      FlagValue::AddOption(app, "interval", "COLLECT_INTERVAL", "15s", "sampling interval");
  const FlagValue verbose = FlagValue::AddSwitch(app, "verbose", "", false, "more output");
  const char* argv[] = {"collector", "--interval=abc", "--endpoints=a"};
  std::ostringstream out;
  std::ostringstream err;
  auto build = [&]() -> Result<std::chrono::milliseconds> {
    FlagErrors errors;
    errors.Add(etcd.Build().status());
    const auto value = interval.AsPositiveDuration(errors);
    verbose.AsBool(errors);
    if (!errors.empty()) {
      return errors.ToStatus();
    }
    return value;
  };
  ParseResult<std::chrono::milliseconds> cli = ParseCommandLine(app, 3, argv, build, out, err);
  ASSERT_FALSE(cli.ok());
  EXPECT_THAT(Lines(err.str()),
              ElementsAre("error: --endpoints \"a\": missing port",
                          "error: --interval \"abc\": expected a number at \"abc\""));
  EXPECT_FALSE(verbose.given());
  EXPECT_EQ(interval.raw(), "abc");
}

}  // namespace
}  // namespace etcdmon::config
