// ParseAggregatorCommandLine: the aggregator's flags and variables into an
// AggregatorCommandLine, a flag beating its variable, one `error:` line per bad value (exit code
// 2), help (exit 0).

#include "etcdmon/aggregator/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

namespace etcdmon::aggregator {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::testing::StartsWith;

using Parsed = testing::ParsedCommandLine<AggregatorCommandLine>;
using testing::Lines;
using testing::Millis;

Parsed Parse(const std::vector<std::string>& args) {
  return testing::ParseCommandLineForTest(ParseAggregatorCommandLine, "etcd-monitor-aggregator",
                                          args);
}

class AggregatorFlagsTest : public ::testing::Test {
 protected:
  // Every variable the aggregator reads, cleared for each test and restored afterwards.
  etcdmon::testing::ScopedEnv env_{
      "LOG_LEVEL",           "LOG_FORMAT",       "CLUSTER",
      "METRICS_INTERVAL",    "REMOTE_WRITE_URL", "REMOTE_WRITE_TOKEN_FILE",
      "REMOTE_WRITE_CA_FILE"};
  etcdmon::testing::TempDir dir_;
};

// Without flags or variables: the documented defaults.
TEST_F(AggregatorFlagsTest, Defaults) {
  Parsed parsed = Parse({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_TRUE(parsed.err.empty());
  const AggregatorConfig& c = parsed.result.value().aggregator;
  // No CURVE: loopback only (anyone who reaches ingest could send as any collector).
  EXPECT_EQ(c.ingest_endpoint, "tcp://127.0.0.1:5555");
  EXPECT_EQ(c.publish_endpoint, "tcp://127.0.0.1:5556");
  EXPECT_EQ(c.grpc_address, "127.0.0.1:5557");
  EXPECT_EQ(c.history.path, "etcd-monitor-data/history.db");
  EXPECT_EQ(c.tick, 1s);
  EXPECT_EQ(c.model.cluster, "default");
  EXPECT_EQ(c.model.expected_interval, 10s);
  EXPECT_EQ(c.model.latency_window, 1min);
  EXPECT_EQ(c.history.raw_retention, 24h);
  EXPECT_EQ(c.history.minute_retention, 336h);
  EXPECT_EQ(c.history.hour_retention, 8760h);
  EXPECT_EQ(c.history.max_points, 11000u);
  EXPECT_EQ(c.max_clock_skew, 5min);
  EXPECT_EQ(c.history.max_series, 100000u);
  EXPECT_EQ(c.curve_secret_key, "");
  EXPECT_EQ(c.collector_keys_file, "");
  EXPECT_EQ(c.max_ingest_peers, 1024u);
  EXPECT_EQ(parsed.result.value().log.level, "info");
  EXPECT_EQ(parsed.result.value().log.format, "text");
}

// Each flag lands in its field.
TEST_F(AggregatorFlagsTest, EveryFlagSetsItsField) {
  Result<transport::CurveKeyPair> keys = transport::GenerateCurveKeyPair();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  const std::string key_file = dir_.File("curve.key");
  std::ofstream(key_file) << keys->secret_key << "\n";
  std::filesystem::permissions(key_file, std::filesystem::perms::owner_read);  // a secret key
  struct Case {
    std::string arg;
    std::function<std::string(const AggregatorCommandLine&)> field;
    std::string want;
  };
  const Case cases[] = {
      {"--listen=tcp://127.0.0.1:6555", [](const auto& l) { return l.aggregator.ingest_endpoint; },
       "tcp://127.0.0.1:6555"},
      {"--publish=tcp://127.0.0.1:6556",
       [](const auto& l) { return l.aggregator.publish_endpoint; }, "tcp://127.0.0.1:6556"},
      {"--grpc-listen=127.0.0.1:6557", [](const auto& l) { return l.aggregator.grpc_address; },
       "127.0.0.1:6557"},
      {"--db=/var/lib/h.db", [](const auto& l) { return l.aggregator.history.path; },
       "/var/lib/h.db"},
      {"--tick=500ms", [](const auto& l) { return Millis(l.aggregator.tick); }, "500ms"},
      {"--cluster=prod", [](const auto& l) { return l.aggregator.model.cluster; }, "prod"},
      {"--metrics-interval=2s",
       [](const auto& l) { return Millis(l.aggregator.model.expected_interval); }, "2000ms"},
      {"--latency-window=30s",
       [](const auto& l) { return Millis(l.aggregator.model.latency_window); }, "30000ms"},
      {"--raw-retention=1h",
       [](const auto& l) { return Millis(l.aggregator.history.raw_retention); }, "3600000ms"},
      {"--minute-retention=2h",
       [](const auto& l) { return Millis(l.aggregator.history.minute_retention); }, "7200000ms"},
      {"--hour-retention=3h",
       [](const auto& l) { return Millis(l.aggregator.history.hour_retention); }, "10800000ms"},
      {"--max-points=10",
       [](const auto& l) { return std::to_string(l.aggregator.history.max_points); }, "10"},
      {"--max-clock-skew=30s", [](const auto& l) { return Millis(l.aggregator.max_clock_skew); },
       "30000ms"},
      {"--max-series=5000",
       [](const auto& l) { return std::to_string(l.aggregator.history.max_series); }, "5000"},
      {"--curve-secret-key-file=" + key_file,
       [](const auto& l) { return l.aggregator.curve_secret_key; }, keys->secret_key},
      {"--max-peers=50",
       [](const auto& l) { return std::to_string(l.aggregator.max_ingest_peers); }, "50"},
      {"--log-level=debug", [](const auto& l) { return l.log.level; }, "debug"},
      {"--log-format=json", [](const auto& l) { return l.log.format; }, "json"},
  };
  for (const Case& c : cases) {
    Parsed parsed = Parse({c.arg});
    ASSERT_TRUE(parsed.result.ok()) << c.arg << ": " << parsed.err;
    EXPECT_EQ(c.field(parsed.result.value()), c.want) << c.arg;
  }
}

// A variable supplies the value when its flag is absent; the flag beats it.
TEST_F(AggregatorFlagsTest, FlagBeatsVariable) {
  struct Case {
    const char* env;
    std::string env_value;
    std::string flag;
    std::string flag_value;
    std::function<std::string(const AggregatorCommandLine&)> field;
  };
  const Case cases[] = {
      {"CLUSTER", "from-env", "--cluster", "from-flag",
       [](const auto& l) { return l.aggregator.model.cluster; }},
      {"METRICS_INTERVAL", "3000ms", "--metrics-interval", "4000ms",
       [](const auto& l) { return Millis(l.aggregator.model.expected_interval); }},
      {"LOG_LEVEL", "warn", "--log-level", "error", [](const auto& l) { return l.log.level; }},
      {"LOG_FORMAT", "json", "--log-format", "text", [](const auto& l) { return l.log.format; }},
  };
  testing::ExpectFlagBeatsVariable(env_, Parse, cases,
                                   [](const Case& c) { return c.flag + "=" + c.flag_value; });
}

// A bad value gives exit code 2 and exactly one `error:` line naming the flag (or variable)
// and the value.
TEST_F(AggregatorFlagsTest, EachBadValueIsOneErrorLine) {
  const std::string not_a_key = dir_.File("not-a-key");
  std::ofstream(not_a_key) << "hello\n";
  using Case = testing::BadValueCase;
  const Case cases[] = {
      {{"--listen", ""}, "--listen", "must not be empty"},
      {{"--publish", ""}, "--publish", "must not be empty"},
      {{"--grpc-listen=5557"}, "--grpc-listen", "\"5557\""},
      {{"--db", ""}, "--db", "must not be empty"},
      {{"--tick=fast"}, "--tick", "\"fast\""},
      {{"--tick=0s"}, "--tick", "\"0s\""},
      {{"--cluster", ""}, "--cluster", "must not be empty"},
      {{"--cluster", "a b"}, "--cluster", "invalid cluster name"},
      {{"--metrics-interval=10"}, "--metrics-interval", "\"10\""},
      {{"--latency-window=1y"}, "--latency-window", "\"1y\""},
      {{"--raw-retention=-1h"}, "--raw-retention", "\"-1h\""},
      {{"--minute-retention=x"}, "--minute-retention", "\"x\""},
      {{"--hour-retention=0"}, "--hour-retention", "\"0\""},
      {{"--max-points=9"}, "--max-points", "\"9\""},
      {{"--max-points=1000001"}, "--max-points", "\"1000001\""},
      {{"--max-clock-skew=0s"}, "--max-clock-skew", "\"0s\""},
      {{"--max-clock-skew=soon"}, "--max-clock-skew", "\"soon\""},
      {{"--max-series=99"}, "--max-series", "\"99\""},
      {{"--max-series=many"}, "--max-series", "\"many\""},
      {{"--curve-secret-key-file=/no/such/key"}, "--curve-secret-key-file", "\"/no/such/key\""},
      {{"--curve-secret-key-file=" + not_a_key}, "--curve-secret-key-file", not_a_key},
      {{"--log-level=loud"}, "--log-level", "\"loud\""},
      {{"--max-peers=0"}, "--max-peers", "\"0\""},
      {{"--collector-keys=/no/such/keys"}, "--collector-keys", "\"/no/such/keys\""},
      {{"--remote-write-url=prometheus:9090"}, "--remote-write-url", "http://"},
      {{"--remote-write-token-file=/no/such/token"}, "--remote-write-token-file", "/no/such"},
      {{"--remote-write-ca-file=/no/such/ca"}, "--remote-write-ca-file", "/no/such/ca"},
      {{"--external-label=region"}, "--external-label", "NAME=VALUE"},
      {{"--external-label=bad-name=x"}, "--external-label", "[a-zA-Z_]"},
      {{"--external-label=__name__=x"}, "--external-label", "__"},
      {{"--external-label=region="}, "--external-label", "empty value"},
      {{"--external-label=a=1", "--external-label=a=2"}, "--external-label", "twice"},
      {{"--remote-write-interval=0s"}, "--remote-write-interval", "\"0s\""},
      {{"--remote-write-max-samples=0"}, "--remote-write-max-samples", "\"0\""},
  };
  testing::ExpectEachBadValueIsOneErrorLine(Parse, cases);
}

// The remote_write flags: off by default; the URL, the token read from its file (never
// printed), the CA file, the external labels in order, the interval and the request cap.
TEST_F(AggregatorFlagsTest, RemoteWriteFlags) {
  Parsed defaults = Parse({});
  ASSERT_TRUE(defaults.result.ok()) << defaults.err;
  const RemoteWriteConfig& off = defaults.result.value().aggregator.remote_write;
  EXPECT_TRUE(off.url.empty());
  EXPECT_EQ(off.interval, 5s);
  EXPECT_EQ(off.max_samples, 2000u);
  EXPECT_TRUE(off.external_labels.empty());

  const std::string token = dir_.File("token");
  std::ofstream(token) << "s3cret\n";
  std::filesystem::permissions(token, std::filesystem::perms::owner_read);
  const std::string ca = dir_.File("ca.pem");
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n";
  env_.Set("REMOTE_WRITE_URL", "https://prom:9090/api/v1/write");
  Parsed parsed = Parse({"--remote-write-token-file", token, "--remote-write-ca-file", ca,
                         "--external-label", "region=eu-1", "--external-label=env=prod",
                         "--remote-write-interval=2s", "--remote-write-max-samples=500"});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  const RemoteWriteConfig& c = parsed.result.value().aggregator.remote_write;
  EXPECT_EQ(c.url, "https://prom:9090/api/v1/write");
  EXPECT_EQ(c.bearer_token.Reveal(), "s3cret");
  EXPECT_EQ(c.tls.ca_file, ca);
  EXPECT_FALSE(c.tls.insecure_skip_verify);
  const std::vector<std::pair<std::string, std::string>> labels = {{"region", "eu-1"},
                                                                   {"env", "prod"}};
  EXPECT_EQ(c.external_labels, labels);
  EXPECT_EQ(c.interval, 2s);
  EXPECT_EQ(c.max_samples, 500u);
  EXPECT_THAT(parsed.err, ::testing::Not(HasSubstr("s3cret")));
}

// CURVE moves the default endpoints to every interface and allows --collector-keys, which is
// checked at parse time (errors name file:line); without CURVE an allow-list is a usage error.
TEST_F(AggregatorFlagsTest, CurveAndCollectorKeys) {
  Result<transport::CurveKeyPair> server = transport::GenerateCurveKeyPair();
  Result<transport::CurveKeyPair> collector = transport::GenerateCurveKeyPair();
  ASSERT_TRUE(server.ok() && collector.ok());
  const std::string key_file = dir_.File("curve.key");
  std::ofstream(key_file) << server->secret_key << "\n";
  std::filesystem::permissions(key_file, std::filesystem::perms::owner_read);
  const std::string keys_file = dir_.File("collectors");
  std::ofstream(keys_file) << "# ids and keys\netcd-1 " << collector->public_key << "\n";
  const std::string bad_keys = dir_.File("bad-collectors");
  std::ofstream(bad_keys) << "etcd-1 " << collector->public_key << "\netcd-2\n";

  Parsed curve = Parse({"--curve-secret-key-file=" + key_file, "--collector-keys=" + keys_file});
  ASSERT_TRUE(curve.result.ok()) << curve.err;
  const AggregatorConfig& c = curve.result.value().aggregator;
  EXPECT_EQ(c.ingest_endpoint, "tcp://0.0.0.0:5555");
  EXPECT_EQ(c.publish_endpoint, "tcp://0.0.0.0:5556");
  EXPECT_EQ(c.collector_keys_file, keys_file);

  Parsed explicit_listen =
      Parse({"--curve-secret-key-file=" + key_file, "--listen=tcp://127.0.0.1:7000"});
  ASSERT_TRUE(explicit_listen.result.ok()) << explicit_listen.err;
  EXPECT_EQ(explicit_listen.result.value().aggregator.ingest_endpoint, "tcp://127.0.0.1:7000");

  Parsed no_curve = Parse({"--collector-keys=" + keys_file});
  EXPECT_EQ(no_curve.result.exit_code(), config::kExitUsage);
  ASSERT_THAT(Lines(no_curve.err), SizeIs(1)) << no_curve.err;
  EXPECT_THAT(no_curve.err, HasSubstr("--collector-keys"));
  EXPECT_THAT(no_curve.err, HasSubstr("needs --curve-secret-key-file"));

  Parsed bad = Parse({"--curve-secret-key-file=" + key_file, "--collector-keys=" + bad_keys});
  EXPECT_EQ(bad.result.exit_code(), config::kExitUsage);
  ASSERT_THAT(Lines(bad.err), SizeIs(1)) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr(bad_keys + ":2: want `collector-id public-key`"));
}

// A bad value from a variable names the variable.
TEST_F(AggregatorFlagsTest, BadVariableIsNamed) {
  env_.Set("METRICS_INTERVAL", "often");
  Parsed parsed = Parse({});
  EXPECT_EQ(parsed.result.exit_code(), config::kExitUsage);
  ASSERT_THAT(Lines(parsed.err), SizeIs(1)) << parsed.err;
  EXPECT_THAT(parsed.err, StartsWith("error: env METRICS_INTERVAL \"often\": "));
}

// An unknown flag is a usage error too.
TEST_F(AggregatorFlagsTest, UnknownFlagIsAUsageError) {
  testing::ExpectUnknownFlagIsOneErrorLine(Parse);
}

// --help prints the flags on stdout and exits 0 without running.
TEST_F(AggregatorFlagsTest, HelpExitsZero) {
  testing::ExpectHelpNamesFlags(
      Parse, {"--listen", "--publish", "--grpc-listen", "--db", "--tick", "--cluster",
              "--metrics-interval", "--latency-window", "--raw-retention", "--minute-retention",
              "--hour-retention", "--max-points", "--max-clock-skew", "--max-series",
              "--curve-secret-key-file", "--collector-keys", "--max-peers", "--log-level"});
}

}  // namespace
}  // namespace etcdmon::aggregator
