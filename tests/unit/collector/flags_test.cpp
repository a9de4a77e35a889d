// ParseCollectorCommandLine: the collector's flags and variables into a CollectorCommandLine,
// a flag beating its variable, one `error:` line per bad value (exit code 2), help (exit 0).

#include "etcdmon/collector/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "etcdmon/testing/command_line.h"
#include "etcdmon/testing/scoped_env.h"
#include "etcdmon/testing/temp_dir.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::collector {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

using Parsed = testing::ParsedCommandLine<CollectorCommandLine>;
using testing::Lines;
using testing::Millis;

Parsed Parse(const std::vector<std::string>& args) {
  return testing::ParseCommandLineForTest(ParseCollectorCommandLine, "etcd-monitor-collector",
                                          args);
}

class CollectorFlagsTest : public ::testing::Test {
 protected:
  // Every variable the collector reads, cleared for each test and restored afterwards.
  etcdmon::testing::ScopedEnv env_{"ENDPOINTS",        "DIAL_TIMEOUT",
                                   "CA_FILE",          "CERT_FILE",
                                   "KEY_FILE",         "INSECURE_SKIP_TLS",
                                   "ETCD_USER",        "ETCD_PASSWORD",
                                   "LOG_LEVEL",        "LOG_FORMAT",
                                   "AGGREGATOR",       "COLLECTOR_ID",
                                   "METRICS_INTERVAL", "HEALTH_CHECK_INTERVAL",
                                   "CURVE_SERVER_KEY", "CURVE_KEY_DIR",
                                   "CLUSTER"};
  etcdmon::testing::TempDir dir_;
};

// Without flags or variables: the documented defaults, one endpoint (localhost:2379).
TEST_F(CollectorFlagsTest, Defaults) {
  Parsed parsed = Parse({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(parsed.result.exit_code(), 0);
  EXPECT_TRUE(parsed.err.empty());
  const CollectorConfig& c = parsed.result.value().collector;
  ASSERT_THAT(c.etcd.endpoints, SizeIs(1));
  EXPECT_EQ(c.etcd.endpoints[0].Authority(), "localhost:2379");
  EXPECT_EQ(c.aggregator, "tcp://127.0.0.1:5555");
  EXPECT_FALSE(c.collector_id.empty()) << "the host name";
  EXPECT_EQ(c.cluster, "") << "the aggregator's default cluster";
  EXPECT_EQ(c.metrics_interval, 10s);
  EXPECT_EQ(c.health_check_interval, 30s);
  EXPECT_TRUE(c.write_probe);
  EXPECT_EQ(c.metrics_url, "");
  EXPECT_EQ(c.member_name, "");
  EXPECT_EQ(c.data_dir, "");
  EXPECT_EQ(c.sequence_state_file, "etcd-monitor-collector.seq");
  EXPECT_EQ(c.max_buffered_batches, 10000u);
  EXPECT_EQ(c.curve_server_key, "");
  EXPECT_EQ(parsed.result.value().log.level, "info");
  EXPECT_EQ(parsed.result.value().log.format, "text");
}

// Each flag lands in its field.
TEST_F(CollectorFlagsTest, EveryFlagSetsItsField) {
  Result<transport::CurveKeyPair> keys = transport::GenerateCurveKeyPair();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  const std::string key_file = dir_.File("aggregator.pub");
  std::ofstream(key_file) << keys->public_key << "\n";
  struct Case {
    std::vector<std::string> args;
    std::function<std::string(const CollectorCommandLine&)> field;
    std::string want;
  };
  const Case cases[] = {
      {{"--endpoints=10.0.0.1:2379"},
       [](const auto& l) { return l.collector.etcd.endpoints.at(0).Authority(); },
       "10.0.0.1:2379"},
      {{"--dial-timeout=2s"},
       [](const auto& l) { return Millis(l.collector.etcd.dial_timeout); },
       "2000ms"},
      {{"--aggregator=tcp://agg:6000"},
       [](const auto& l) { return l.collector.aggregator; },
       "tcp://agg:6000"},
      {{"--aggregator", "ipc:///tmp/agg"},
       [](const auto& l) { return l.collector.aggregator; },
       "ipc:///tmp/agg"},
      {{"--collector-id=c7"}, [](const auto& l) { return l.collector.collector_id; }, "c7"},
      {{"--cluster=prod-eu.1"}, [](const auto& l) { return l.collector.cluster; }, "prod-eu.1"},
      {{"--cluster", std::string(63, 'c')},
       [](const auto& l) { return l.collector.cluster; },
       std::string(63, 'c')},
      {{"--metrics-interval=250ms"},
       [](const auto& l) { return Millis(l.collector.metrics_interval); },
       "250ms"},
      {{"--health-check-interval=1m"},
       [](const auto& l) { return Millis(l.collector.health_check_interval); },
       "60000ms"},
      {{"--write-probe=false"},
       [](const auto& l) { return std::string(l.collector.write_probe ? "on" : "off"); },
       "off"},
      {{"--metrics-url=http://127.0.0.1:2381/metrics"},
       [](const auto& l) { return l.collector.metrics_url; },
       "http://127.0.0.1:2381/metrics"},
      {{"--member-name=etcd-2"}, [](const auto& l) { return l.collector.member_name; }, "etcd-2"},
      {{"--data-dir=/var/lib/etcd"},
       [](const auto& l) { return l.collector.data_dir; },
       "/var/lib/etcd"},
      {{"--state-file=/var/lib/c.seq"},
       [](const auto& l) { return l.collector.sequence_state_file; },
       "/var/lib/c.seq"},
      {{"--max-buffer=7"},
       [](const auto& l) { return std::to_string(l.collector.max_buffered_batches); },
       "7"},
      {{"--curve-server-key=" + keys->public_key},
       [](const auto& l) { return l.collector.curve_server_key; },
       keys->public_key},
      {{"--curve-server-key=" + key_file},
       [](const auto& l) { return l.collector.curve_server_key; },
       keys->public_key},
      {{"--log-level=debug"}, [](const auto& l) { return l.log.level; }, "debug"},
      {{"--log-format=json"}, [](const auto& l) { return l.log.format; }, "json"},
  };
  for (const Case& c : cases) {
    const std::string name = c.args.front();
    Parsed parsed = Parse(c.args);
    ASSERT_TRUE(parsed.result.ok()) << name << ": " << parsed.err;
    EXPECT_EQ(c.field(parsed.result.value()), c.want) << name;
  }
}

// A variable supplies the value when its flag is absent; the flag beats it.
TEST_F(CollectorFlagsTest, FlagBeatsVariable) {
  struct Case {
    const char* env;
    std::string env_value;
    std::string flag;
    std::string flag_value;
    std::function<std::string(const CollectorCommandLine&)> field;
  };
  const Case cases[] = {
      {"ENDPOINTS", "10.0.0.1:2379", "--endpoints", "10.0.0.2:2379",
       [](const auto& l) { return l.collector.etcd.endpoints.at(0).Authority(); }},
      {"AGGREGATOR", "tcp://env:1", "--aggregator", "tcp://flag:2",
       [](const auto& l) { return l.collector.aggregator; }},
      {"COLLECTOR_ID", "from-env", "--collector-id", "from-flag",
       [](const auto& l) { return l.collector.collector_id; }},
      {"CLUSTER", "staging", "--cluster", "prod",
       [](const auto& l) { return l.collector.cluster; }},
      {"METRICS_INTERVAL", "3000ms", "--metrics-interval", "4000ms",
       [](const auto& l) { return Millis(l.collector.metrics_interval); }},
      {"HEALTH_CHECK_INTERVAL", "5000ms", "--health-check-interval", "6000ms",
       [](const auto& l) { return Millis(l.collector.health_check_interval); }},
      {"LOG_LEVEL", "warn", "--log-level", "error", [](const auto& l) { return l.log.level; }},
  };
  testing::ExpectFlagBeatsVariable(env_, Parse, cases,
                                   [](const Case& c) { return c.flag + "=" + c.flag_value; });
}

// CURVE_SERVER_KEY supplies the key; --curve-server-key beats it.
TEST_F(CollectorFlagsTest, CurveKeyFlagBeatsVariable) {
  Result<transport::CurveKeyPair> from_env = transport::GenerateCurveKeyPair();
  Result<transport::CurveKeyPair> from_flag = transport::GenerateCurveKeyPair();
  ASSERT_TRUE(from_env.ok() && from_flag.ok());
  env_.Set("CURVE_SERVER_KEY", from_env->public_key);
  Parsed env_only = Parse({});
  ASSERT_TRUE(env_only.result.ok()) << env_only.err;
  EXPECT_EQ(env_only.result.value().collector.curve_server_key, from_env->public_key);
  Parsed both = Parse({"--curve-server-key=" + from_flag->public_key});
  ASSERT_TRUE(both.result.ok()) << both.err;
  EXPECT_EQ(both.result.value().collector.curve_server_key, from_flag->public_key);
}

// --curve-key-dir (or CURVE_KEY_DIR) loads this collector's pair as keygen --collector wrote
// it; a secret key that group or others can read is refused with one clear line, and a key
// pair without the server's key is a usage error.
TEST_F(CollectorFlagsTest, CurveKeyDirLoadsOwnPairAndRefusesReadableSecret) {
  Result<transport::CurveKeyPair> server = transport::GenerateCurveKeyPair();
  Result<transport::CurveKeyPair> own = transport::GenerateCurveKeyPair();
  ASSERT_TRUE(server.ok() && own.ok());
  const std::string key_dir = dir_.File("etcd-1");
  ASSERT_TRUE(transport::WriteCurveKeyPair(key_dir, *own).ok());
  const std::string server_key = "--curve-server-key=" + server->public_key;

  Parsed parsed = Parse({server_key, "--curve-key-dir=" + key_dir});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_EQ(parsed.result.value().collector.curve_public_key, own->public_key);
  EXPECT_EQ(parsed.result.value().collector.curve_secret_key, own->secret_key);
  env_.Set("CURVE_KEY_DIR", key_dir);
  Parsed from_env = Parse({server_key});
  ASSERT_TRUE(from_env.result.ok()) << from_env.err;
  EXPECT_EQ(from_env.result.value().collector.curve_public_key, own->public_key);
  env_.Set("CURVE_KEY_DIR", "");

  Parsed without_server = Parse({"--curve-key-dir=" + key_dir});
  EXPECT_EQ(without_server.result.exit_code(), config::kExitUsage);
  ASSERT_THAT(Lines(without_server.err), SizeIs(1)) << without_server.err;
  EXPECT_THAT(without_server.err, HasSubstr("needs --curve-server-key"));

  std::filesystem::permissions(key_dir + "/curve.key", std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  Parsed readable = Parse({server_key, "--curve-key-dir=" + key_dir});
  EXPECT_EQ(readable.result.exit_code(), config::kExitUsage);
  ASSERT_THAT(Lines(readable.err), SizeIs(1)) << readable.err;
  EXPECT_THAT(readable.err, HasSubstr("--curve-key-dir"));
  EXPECT_THAT(readable.err, HasSubstr(key_dir + "/curve.key"));
  EXPECT_THAT(readable.err, Not(HasSubstr(own->secret_key)));
}

// A bad value gives exit code 2 and exactly one `error:` line naming the flag (or variable)
// and what was wrong with it.
TEST_F(CollectorFlagsTest, EachBadValueIsOneErrorLine) {
  using Case = testing::BadValueCase;
  const Case cases[] = {
      {{"--endpoints=a:1,b:2"}, "--endpoints", "exactly one member"},
      {{"--dial-timeout=5x"}, "--dial-timeout", "\"5x\""},
      {{"--aggregator=http://agg:5555"}, "--aggregator", "\"http://agg:5555\""},
      {{"--aggregator", ""}, "--aggregator", "must not be empty"},
      {{"--collector-id", ""}, "--collector-id", "must not be empty"},
      {{"--cluster=a b"}, "--cluster", "\"a b\": use only letters"},
      {{"--cluster=-prod"}, "--cluster", "start with a letter or a digit"},
      {{"--cluster=prod/eu"}, "--cluster", "use only letters"},
      {{"--cluster", std::string(64, 'c')}, "--cluster", "longer than 63 bytes"},
      {{"--cluster", ""}, "--cluster", "it is empty"},
      {{"--metrics-interval=soon"}, "--metrics-interval", "\"soon\""},
      {{"--metrics-interval=0s"}, "--metrics-interval", "\"0s\""},
      {{"--health-check-interval=-1s"}, "--health-check-interval", "\"-1s\""},
      {{"--write-probe=maybe"}, "--write-probe", "\"maybe\""},
      {{"--state-file", ""}, "--state-file", "must not be empty"},
      {{"--max-buffer=0"}, "--max-buffer", "\"0\""},
      {{"--max-buffer=many"}, "--max-buffer", "\"many\""},
      {{"--curve-server-key=not-a-key"}, "--curve-server-key", "not a Z85 key"},
      {{"--log-level=loud"}, "--log-level", "\"loud\""},
      {{"--log-format=xml"}, "--log-format", "\"xml\""},
  };
  testing::ExpectEachBadValueIsOneErrorLine(Parse, cases);
}

// A bad value from a variable names the variable.
TEST_F(CollectorFlagsTest, BadVariableIsNamed) {
  env_.Set("METRICS_INTERVAL", "often");
  Parsed parsed = Parse({});
  EXPECT_EQ(parsed.result.exit_code(), config::kExitUsage);
  EXPECT_EQ(parsed.err.rfind("error: env METRICS_INTERVAL \"often\": ", 0), 0u) << parsed.err;
  EXPECT_THAT(Lines(parsed.err), SizeIs(1));
  env_.Set("METRICS_INTERVAL", "");
  env_.Set("CLUSTER", "prod eu");
  Parsed cluster = Parse({});
  EXPECT_EQ(cluster.result.exit_code(), config::kExitUsage);
  EXPECT_EQ(cluster.err.rfind("error: env CLUSTER \"prod eu\": ", 0), 0u) << cluster.err;
  EXPECT_THAT(Lines(cluster.err), SizeIs(1));
}

// Several bad values are all reported, one line each.
TEST_F(CollectorFlagsTest, EveryErrorIsReportedAtOnce) {
  Parsed parsed = Parse({"--metrics-interval=x", "--max-buffer=0", "--write-probe=maybe"});
  EXPECT_EQ(parsed.result.exit_code(), config::kExitUsage);
  EXPECT_THAT(Lines(parsed.err), SizeIs(3)) << parsed.err;
}

// An unknown flag is a usage error too.
TEST_F(CollectorFlagsTest, UnknownFlagIsAUsageError) {
  testing::ExpectUnknownFlagIsOneErrorLine(Parse);
}

// --help prints the flags on stdout and exits 0 without running.
TEST_F(CollectorFlagsTest, HelpExitsZero) {
  testing::ExpectHelpNamesFlags(
      Parse,
      {"--endpoints", "--aggregator", "--collector-id", "--cluster", "--metrics-interval",
       "--health-check-interval", "--write-probe", "--metrics-url", "--member-name", "--data-dir",
       "--state-file", "--max-buffer", "--curve-server-key", "--curve-key-dir", "--log-level"});
}

}  // namespace
}  // namespace etcdmon::collector

namespace etcdmon::collector {
namespace {

// A password typed on the command line (--user name:password) is used, with one warning that
// names the safer forms and never the password; the file and variable forms, and the same
// value in ETCD_USER, say nothing. A password file that others can read is warned about.
TEST_F(CollectorFlagsTest, PasswordOnTheCommandLineIsWarnedAbout) {
  const std::string secret = "cmdline-Pa55-7731";
  Parsed inline_password = Parse({"--user=alice:" + secret});
  ASSERT_TRUE(inline_password.result.ok()) << inline_password.err;
  EXPECT_EQ(inline_password.result.value().collector.etcd.password.Reveal(), secret);
  ASSERT_THAT(Lines(inline_password.err), SizeIs(1)) << inline_password.err;
  EXPECT_THAT(inline_password.err, StartsWith("warning: --user: "));
  EXPECT_THAT(inline_password.err, HasSubstr("--password-file"));
  EXPECT_THAT(inline_password.err, HasSubstr("ETCD_PASSWORD"));
  EXPECT_THAT(inline_password.err, ::testing::Not(HasSubstr(secret)));

  env_.Set("ETCD_USER", "alice:" + secret);
  Parsed from_env = Parse({});
  ASSERT_TRUE(from_env.result.ok()) << from_env.err;
  EXPECT_TRUE(from_env.err.empty()) << from_env.err;
  env_.Unset("ETCD_USER");

  const std::string file = dir_.File("etcd.password");
  std::ofstream(file) << secret << "\n";
  ASSERT_EQ(chmod(file.c_str(), 0600), 0);
  Parsed from_file = Parse({"--user=alice", "--password-file=" + file});
  ASSERT_TRUE(from_file.result.ok()) << from_file.err;
  EXPECT_TRUE(from_file.err.empty()) << from_file.err;

  ASSERT_EQ(chmod(file.c_str(), 0640), 0);
  Parsed readable = Parse({"--user=alice", "--password-file=" + file});
  ASSERT_TRUE(readable.result.ok()) << readable.err;
  ASSERT_THAT(Lines(readable.err), SizeIs(1)) << readable.err;
  EXPECT_THAT(readable.err, StartsWith("warning: " + file + ": mode 0640"));
  EXPECT_THAT(readable.err, ::testing::Not(HasSubstr(secret)));
}

}  // namespace
}  // namespace etcdmon::collector
