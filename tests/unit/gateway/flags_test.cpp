// ParseGatewayCommandLine: the gateway's flags and variables (its own, the optional etcd
// connection for REST benchmarks, the API token) into a GatewayCommandLine, a flag beating its
// variable, one `error:` line per bad value (exit code 2), help (exit 0).

#include "etcdmon/gateway/flags.h"

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

namespace etcdmon::gateway {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

using Parsed = testing::ParsedCommandLine<GatewayCommandLine>;
using testing::Lines;
using testing::Millis;

Parsed Parse(const std::vector<std::string>& args) {
  return testing::ParseCommandLineForTest(ParseGatewayCommandLine, "etcd-monitor-gateway", args);
}

// The endpoints as "a,b" (host:port each).
std::string Endpoints(const GatewayCommandLine& line) {
  std::string list;
  for (const config::Endpoint& e : line.etcd.endpoints) {
    list += (list.empty() ? "" : ",") + e.Authority();
  }
  return list;
}

class GatewayFlagsTest : public ::testing::Test {
 protected:
  // Every variable the gateway reads, cleared for each test and restored afterwards.
  etcdmon::testing::ScopedEnv env_{
      "ENDPOINTS", "DIAL_TIMEOUT",      "CA_FILE",         "CERT_FILE",
      "KEY_FILE",  "INSECURE_SKIP_TLS", "ETCD_USER",       "ETCD_PASSWORD",
      "LOG_LEVEL", "LOG_FORMAT",        "API_HOST",        "API_PORT",
      "API_TOKEN", "API_AUTH",          "BENCHMARK_TOKEN", "CLUSTER_NAME"};

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << content;
    return path;
  }

  etcdmon::testing::TempDir dir_;
};

// Without flags or variables: the documented defaults; no etcd (benchmarks answer 501) and no
// token.
TEST_F(GatewayFlagsTest, Defaults) {
  Parsed parsed = Parse({});
  ASSERT_TRUE(parsed.result.ok()) << parsed.err;
  EXPECT_TRUE(parsed.err.empty());
  const GatewayCommandLine& line = parsed.result.value();
  const GatewayConfig& g = line.gateway;
  EXPECT_EQ(g.host, "0.0.0.0");
  EXPECT_EQ(g.port, 8080);
  EXPECT_EQ(g.threads, 4);
  EXPECT_EQ(g.stale_after, 30s);
  EXPECT_EQ(g.max_benchmark_ops, 1000000u);
  EXPECT_TRUE(g.api_token.empty());
  EXPECT_EQ(g.api_auth, ApiAuth::kMutating);
  EXPECT_TRUE(g.benchmark_token.empty());
  EXPECT_EQ(g.benchmark_max_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(g.post_rate_limit_per_minute, 50u);
  EXPECT_THAT(g.trusted_proxies, IsEmpty());
  EXPECT_EQ(g.tls_cert_file, "");
  EXPECT_EQ(g.tls_key_file, "");
  EXPECT_EQ(line.aggregator_address, "localhost:5557");
  EXPECT_EQ(line.alerter_address, "localhost:5558");
  EXPECT_EQ(line.snapshots_endpoint, "tcp://localhost:5556");
  EXPECT_EQ(line.curve_server_key, "");
  EXPECT_EQ(line.backend_timeout, 2s);
  EXPECT_THAT(line.etcd.endpoints, IsEmpty());
  EXPECT_EQ(line.cluster_name, "default");
  EXPECT_EQ(line.log.level, "info");
  EXPECT_EQ(line.log.format, "text");
}

// Each flag lands in its field.
TEST_F(GatewayFlagsTest, EveryFlagSetsItsField) {
  Result<transport::CurveKeyPair> keys = transport::GenerateCurveKeyPair();
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  const std::string token_file = WriteFile("token", "tok-from-file\n");
  const std::string bench_token_file = WriteFile("bench-token", "bench-from-file\n");
  const std::string cert = WriteFile("cert.pem", "x");
  const std::string key = WriteFile("key.pem", "x");
  std::filesystem::permissions(key, std::filesystem::perms::owner_read);  // a private key
  struct Case {
    std::vector<std::string> args;
    std::function<std::string(const GatewayCommandLine&)> field;
    std::string want;
  };
  const Case cases[] = {
      {{"--api-host=127.0.0.1"}, [](const auto& l) { return l.gateway.host; }, "127.0.0.1"},
      {{"--api-port=9090"}, [](const auto& l) { return std::to_string(l.gateway.port); }, "9090"},
      {{"--aggregator=agg:6557"}, [](const auto& l) { return l.aggregator_address; }, "agg:6557"},
      {{"--alerter=alerter:6558"}, [](const auto& l) { return l.alerter_address; }, "alerter:6558"},
      {{"--alerter", ""}, [](const auto& l) { return l.alerter_address; }, ""},
      {{"--snapshots=tcp://agg:6556"},
       [](const auto& l) { return l.snapshots_endpoint; },
       "tcp://agg:6556"},
      {{"--snapshots", ""}, [](const auto& l) { return l.snapshots_endpoint; }, ""},
      {{"--curve-server-key=" + keys->public_key},
       [](const auto& l) { return l.curve_server_key; },
       keys->public_key},
      {{"--api-token-file=" + token_file},
       [](const auto& l) { return std::string(l.gateway.api_token.Reveal()); },
       "tok-from-file"},
      {{"--tls-cert-file=" + cert, "--tls-key-file=" + key},
       [](const auto& l) { return l.gateway.tls_cert_file + "|" + l.gateway.tls_key_file; },
       cert + "|" + key},
      {{"--backend-timeout=500ms"},
       [](const auto& l) { return Millis(l.backend_timeout); },
       "500ms"},
      {{"--threads=8"}, [](const auto& l) { return std::to_string(l.gateway.threads); }, "8"},
      {{"--stale-after=1m"},
       [](const auto& l) { return Millis(l.gateway.stale_after); },
       "60000ms"},
      {{"--max-benchmark-ops=50"},
       [](const auto& l) { return std::to_string(l.gateway.max_benchmark_ops); },
       "50"},
      {{"--api-auth=all", "--api-token-file=" + token_file},
       [](const auto& l) { return l.gateway.api_auth == ApiAuth::kAll ? "all" : "mutating"; },
       "all"},
      {{"--benchmark-token-file=" + bench_token_file},
       [](const auto& l) { return std::string(l.gateway.benchmark_token.Reveal()); },
       "bench-from-file"},
      {{"--benchmark-max-bytes=1000"},
       [](const auto& l) { return std::to_string(l.gateway.benchmark_max_bytes); },
       "1000"},
      {{"--trusted-proxy=127.0.0.1, ::1"},
       [](const auto& l) {
         std::string list;
         for (const std::string& p : l.gateway.trusted_proxies) {
           list += p + ";";
         }
         return list;
       },
       "127.0.0.1;::1;"},
      {{"--post-rate-limit=0"},
       [](const auto& l) { return std::to_string(l.gateway.post_rate_limit_per_minute); },
       "0"},
      {{"--endpoints=10.0.0.1:2379,10.0.0.2:2379"}, Endpoints, "10.0.0.1:2379,10.0.0.2:2379"},
      {{"--endpoints=10.0.0.1:2379", "--dial-timeout=3s"},
       [](const auto& l) { return Millis(l.etcd.dial_timeout); },
       "3000ms"},
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

// A variable supplies the value when its flag is absent; the flag (for the token: the token
// file) beats it.
TEST_F(GatewayFlagsTest, FlagBeatsVariable) {
  const std::string token_file = WriteFile("token", "from-flag\n");
  struct Case {
    const char* env;
    std::string env_value;
    std::string arg;
    std::string flag_value;
    std::function<std::string(const GatewayCommandLine&)> field;
  };
  const Case cases[] = {
      {"API_HOST", "10.1.1.1", "--api-host=10.2.2.2", "10.2.2.2",
       [](const auto& l) { return l.gateway.host; }},
      {"API_PORT", "8181", "--api-port=8282", "8282",
       [](const auto& l) { return std::to_string(l.gateway.port); }},
      {"API_TOKEN", "from-env", "--api-token-file=" + token_file, "from-flag",
       [](const auto& l) { return std::string(l.gateway.api_token.Reveal()); }},
      {"BENCHMARK_TOKEN", "from-env", "--benchmark-token-file=" + token_file, "from-flag",
       [](const auto& l) { return std::string(l.gateway.benchmark_token.Reveal()); }},
      {"ENDPOINTS", "10.0.0.1:2379", "--endpoints=10.0.0.2:2379", "10.0.0.2:2379", Endpoints},
      {"LOG_LEVEL", "warn", "--log-level=error", "error",
       [](const auto& l) { return l.log.level; }},
      {"CLUSTER_NAME", "staging", "--cluster-name=prod", "prod",
       [](const auto& l) { return l.cluster_name; }},
  };
  testing::ExpectFlagBeatsVariable(env_, Parse, cases, [](const Case& c) { return c.arg; });
}

// API_AUTH sets --api-auth (all needs the API token); the flag beats it.
TEST_F(GatewayFlagsTest, ApiAuthVariable) {
  env_.Set("API_TOKEN", "tok");
  env_.Set("API_AUTH", "all");
  Parsed from_env = Parse({});
  ASSERT_TRUE(from_env.result.ok()) << from_env.err;
  EXPECT_EQ(from_env.result.value().gateway.api_auth, ApiAuth::kAll);
  Parsed from_flag = Parse({"--api-auth=mutating"});
  ASSERT_TRUE(from_flag.result.ok()) << from_flag.err;
  EXPECT_EQ(from_flag.result.value().gateway.api_auth, ApiAuth::kMutating);
}

// A bad value gives exit code 2 and exactly one `error:` line naming the flag (or variable)
// and the value (for a token file, its path, never its content).
TEST_F(GatewayFlagsTest, EachBadValueIsOneErrorLine) {
  const std::string empty_token = WriteFile("empty-token", "\n");
  const std::string no_token = WriteFile("no-token", "");
  std::filesystem::permissions(
      no_token, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const std::string cert = WriteFile("cert.pem", "x");
  using Case = testing::BadValueCase;
  const Case cases[] = {
      {{"--api-host", ""}, "--api-host", "must not be empty"},
      {{"--api-port=0"}, "--api-port", "\"0\""},
      {{"--api-port=65536"}, "--api-port", "\"65536\""},
      {{"--api-port=http"}, "--api-port", "\"http\""},
      {{"--aggregator=agg"}, "--aggregator", "\"agg\""},
      {{"--alerter=alerter"}, "--alerter", "\"alerter\""},
      {{"--curve-server-key=not-a-key"}, "--curve-server-key", "not a Z85 key"},
      {{"--api-token-file=/no/such/token"}, "--api-token-file", "\"/no/such/token\""},
      {{"--api-token-file=" + empty_token}, "--api-token-file", empty_token},
      {{"--tls-cert-file=/no/such/cert"}, "--tls-cert-file", "\"/no/such/cert\""},
      {{"--tls-cert-file=" + cert}, "--tls-cert-file", "--tls-key-file"},
      {{"--backend-timeout=0s"}, "--backend-timeout", "\"0s\""},
      {{"--threads=0"}, "--threads", "\"0\""},
      {{"--threads=65"}, "--threads", "\"65\""},
      {{"--stale-after=stale"}, "--stale-after", "\"stale\""},
      {{"--max-benchmark-ops=0"}, "--max-benchmark-ops", "\"0\""},
      {{"--api-auth=some"}, "--api-auth", "\"some\""},
      {{"--api-auth=all"}, "--api-auth=all", "--api-token-file"},
      {{"--benchmark-token-file=" + no_token}, "--benchmark-token-file", no_token},
      {{"--benchmark-max-bytes=0"}, "--benchmark-max-bytes", "\"0\""},
      {{"--post-rate-limit=-1"}, "--post-rate-limit", "\"-1\""},
      {{"--trusted-proxy=proxy.example"}, "--trusted-proxy", "IP addresses"},
      {{"--endpoints=10.0.0.1:2379", "--dial-timeout=5x"}, "--dial-timeout", "\"5x\""},
      {{"--log-level=loud"}, "--log-level", "\"loud\""},
      {{"--cluster-name=-prod"}, "--cluster-name", "invalid cluster name \"-prod\""},
      {{"--cluster-name=a b"}, "--cluster-name", "invalid cluster name"},
  };
  testing::ExpectEachBadValueIsOneErrorLine(Parse, cases);
}

// A bad value from a variable names the variable.
TEST_F(GatewayFlagsTest, BadVariableIsNamed) {
  env_.Set("API_PORT", "eighty");
  Parsed parsed = Parse({});
  EXPECT_EQ(parsed.result.exit_code(), config::kExitUsage);
  ASSERT_THAT(Lines(parsed.err), SizeIs(1)) << parsed.err;
  EXPECT_THAT(parsed.err, StartsWith("error: env API_PORT \"eighty\": "));
}

// Neither API_TOKEN nor a token file's content is ever printed.
TEST_F(GatewayFlagsTest, TokenNeverPrinted) {
  env_.Set("API_TOKEN", "very-secret");
  const std::string big = WriteFile("big-token", "file-secret" + std::string(5000, 'x'));
  Parsed parsed = Parse({"--api-token-file=" + big, "--threads=0"});
  EXPECT_EQ(parsed.result.exit_code(), config::kExitUsage);
  EXPECT_THAT(Lines(parsed.err), SizeIs(2)) << parsed.err;
  EXPECT_THAT(parsed.err, Not(HasSubstr("very-secret")));
  EXPECT_THAT(parsed.err, Not(HasSubstr("file-secret")));
}

// An unknown flag is a usage error too.
TEST_F(GatewayFlagsTest, UnknownFlagIsAUsageError) {
  testing::ExpectUnknownFlagIsOneErrorLine(Parse);
}

// --help prints the flags on stdout and exits 0 without running.
TEST_F(GatewayFlagsTest, HelpExitsZero) {
  testing::ExpectHelpNamesFlags(Parse, {"--api-host",
                                        "--api-port",
                                        "--aggregator",
                                        "--alerter",
                                        "--snapshots",
                                        "--curve-server-key",
                                        "--api-token-file",
                                        "--tls-cert-file",
                                        "--tls-key-file",
                                        "--backend-timeout",
                                        "--threads",
                                        "--stale-after",
                                        "--max-benchmark-ops",
                                        "--endpoints",
                                        "--dial-timeout",
                                        "--log-level",
                                        "--api-auth",
                                        "--benchmark-token-file",
                                        "--benchmark-max-bytes",
                                        "--post-rate-limit",
                                        "--trusted-proxy"});
  // HTTPS in the gateway itself is not recommended, and the help says why and what instead.
  const std::string help = Parse({"--help"}).out;
  EXPECT_THAT(help, HasSubstr("stalls every new connection"));
  EXPECT_THAT(help, HasSubstr("terminate TLS in a proxy"));
}

}  // namespace
}  // namespace etcdmon::gateway
