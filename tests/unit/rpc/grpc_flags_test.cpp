// The gRPC security flags of both services (rpc::GrpcServerFlags in the aggregator's and the
// alerter's command lines) and of their client, the gateway (rpc::GrpcClientFlags): loopback by
// default, a non-loopback address refused as a usage error (exit 2, one line naming the flags to
// add) unless TLS and a token or client CA come with it, private keys open to others refused,
// and a gateway that would send its token in clear beyond loopback refused. Tokens never appear
// in the output.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "etcdmon/aggregator/flags.h"
#include "etcdmon/alerter/flags.h"
#include "etcdmon/gateway/flags.h"
#include "etcdmon/rpc/security.h"
#include "etcdmon/testing/command_line.h"
#include "etcdmon/testing/scoped_env.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::rpc {
namespace {

using testing::BadValueCase;
using ::testing::HasSubstr;
using testing::Lines;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

constexpr char kToken[] = "s3cret-grpc-token-4711";

// What the tests need of a service's command line: its parser and the gRPC part it built.
struct ServerCommandLine {
  std::string name;
  std::string default_address;
  // Parses `args`; on success fills address and security.
  std::function<testing::ParsedCommandLine<bool>(const std::vector<std::string>&, std::string*,
                                                 ServerSecurity*)>
      parse;
};

template <typename Line>
testing::ParsedCommandLine<bool> Reduce(testing::ParsedCommandLine<Line> parsed,
                                        const std::function<void(const Line&)>& take) {
  if (parsed.result.ok()) {
    take(parsed.result.value());
    return {config::ParseResult<bool>::Run(true), parsed.out, parsed.err};
  }
  return {config::ParseResult<bool>::Exit(parsed.result.exit_code(), parsed.result.status()),
          parsed.out, parsed.err};
}

std::vector<ServerCommandLine> Servers() {
  return {
      {"aggregator", "127.0.0.1:5557",
       [](const std::vector<std::string>& args, std::string* address, ServerSecurity* security) {
         return Reduce<aggregator::AggregatorCommandLine>(
             testing::ParseCommandLineForTest(aggregator::ParseAggregatorCommandLine,
                                              "etcd-monitor-aggregator", args),
             [&](const aggregator::AggregatorCommandLine& l) {
               *address = l.aggregator.grpc_address;
               *security = l.aggregator.grpc_security;
             });
       }},
      {"alerter", "127.0.0.1:5558",
       [](const std::vector<std::string>& args, std::string* address, ServerSecurity* security) {
         return Reduce<alerter::AlerterCommandLine>(
             testing::ParseCommandLineForTest(alerter::ParseAlerterCommandLine,
                                              "etcd-monitor-alerter", args),
             [&](const alerter::AlerterCommandLine& l) {
               *address = l.alerter.grpc_address;
               *security = l.alerter.grpc_security;
             });
       }},
  };
}

using GatewayParsed = testing::ParsedCommandLine<gateway::GatewayCommandLine>;

GatewayParsed ParseGateway(const std::vector<std::string>& args) {
  return testing::ParseCommandLineForTest(gateway::ParseGatewayCommandLine, "etcd-monitor-gateway",
                                          args);
}

class GrpcFlagsTest : public ::testing::Test {
 protected:
  GrpcFlagsTest() {
    token_file_ = Write("token", std::string(kToken) + "\n", 0600);
    // Only the flags look at these files: names and modes matter, not PEM content.
    cert_ = Write("server.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
    key_ = Write("server-key.pem", "-----BEGIN PRIVATE KEY-----\n", 0600);
    ca_ = Write("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
    open_key_ = Write("open-key.pem", "-----BEGIN PRIVATE KEY-----\n", 0644);
  }

  std::string Write(const std::string& name, const std::string& content, mode_t mode) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }

  // Every variable the three services read, cleared for each test and restored afterwards.
  testing::ScopedEnv env_{"LOG_LEVEL",         "LOG_FORMAT",
                          "API_TOKEN",         "WEBHOOK_URL",
                          "WEBHOOK_TOKEN",     "WEBHOOK_HMAC_SECRET",
                          "SLACK_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY",
                          "SMTP_URL",          "SMTP_PASSWORD",
                          "CLUSTER",           "METRICS_INTERVAL",
                          "ENDPOINTS",         "DIAL_TIMEOUT",
                          "CA_FILE",           "CERT_FILE",
                          "KEY_FILE",          "INSECURE_SKIP_TLS",
                          "ETCD_USER",         "ETCD_PASSWORD",
                          "API_HOST",          "API_PORT"};
  testing::TempDir dir_;
  std::string token_file_, cert_, key_, ca_, open_key_;
};

// Without flags both services listen on 127.0.0.1, plaintext and open: only this host reaches
// them.
TEST_F(GrpcFlagsTest, ServicesListenOnLoopbackByDefault) {
  for (const ServerCommandLine& server : Servers()) {
    std::string address;
    ServerSecurity security;
    auto parsed = server.parse({}, &address, &security);
    ASSERT_TRUE(parsed.result.ok()) << server.name << ": " << parsed.err;
    EXPECT_EQ(address, server.default_address) << server.name;
    EXPECT_TRUE(IsLoopbackAddress(address)) << server.name;
    EXPECT_FALSE(security.tls()) << server.name;
    EXPECT_TRUE(security.token.empty()) << server.name;
  }
}

// Any address reachable from elsewhere, without TLS and a way to authenticate callers, is a
// usage error: exit 2, one line that names the flags still missing.
TEST_F(GrpcFlagsTest, NonLoopbackAddressWithoutTlsAndAuthenticationIsRefused) {
  const std::string all_missing =
      "add --grpc-tls-cert-file and --grpc-tls-key-file, and --grpc-token-file or "
      "--grpc-client-ca-file";
  for (const ServerCommandLine& server : Servers()) {
    const std::vector<BadValueCase> cases = {
        {{"--grpc-listen=0.0.0.0:5557"}, "--grpc-listen \"0.0.0.0:5557\"", all_missing},
        {{"--grpc-listen=[::]:5557"}, "--grpc-listen \"[::]:5557\"", all_missing},
        {{"--grpc-listen=10.1.2.3:5557"}, "--grpc-listen", all_missing},
        {{"--grpc-listen=monitor.example.com:5557"}, "--grpc-listen", all_missing},
        // A token alone would travel in clear.
        {{"--grpc-listen=0.0.0.0:5557", "--grpc-token-file=" + token_file_},
         "--grpc-listen",
         "add --grpc-tls-cert-file and --grpc-tls-key-file (or"},
        // TLS alone lets anyone call.
        {{"--grpc-listen=0.0.0.0:5557", "--grpc-tls-cert-file=" + cert_,
          "--grpc-tls-key-file=" + key_},
         "--grpc-listen",
         "add --grpc-token-file or --grpc-client-ca-file"},
    };
    testing::ExpectEachBadValueIsOneErrorLine(
        [&](const std::vector<std::string>& args) {
          std::string address;
          ServerSecurity security;
          return server.parse(args, &address, &security);
        },
        cases);
    for (const BadValueCase& c : cases) {
      std::string address;
      ServerSecurity security;
      EXPECT_THAT(server.parse(c.args, &address, &security).err, Not(HasSubstr(kToken)))
          << server.name;
    }
  }
}

// TLS with a token, or TLS with a client CA (mTLS), may listen anywhere; a token also works on
// loopback, where every call then needs it.
TEST_F(GrpcFlagsTest, NonLoopbackAddressWithTlsAndTokenOrClientCaStarts) {
  for (const ServerCommandLine& server : Servers()) {
    std::string address;
    ServerSecurity security;
    auto with_token =
        server.parse({"--grpc-listen=0.0.0.0:5557", "--grpc-tls-cert-file=" + cert_,
                      "--grpc-tls-key-file=" + key_, "--grpc-token-file=" + token_file_},
                     &address, &security);
    ASSERT_TRUE(with_token.result.ok()) << server.name << ": " << with_token.err;
    EXPECT_EQ(address, "0.0.0.0:5557");
    EXPECT_EQ(security.tls_cert_file, cert_);
    EXPECT_EQ(security.tls_key_file, key_);
    EXPECT_EQ(security.token.Reveal(), kToken);
    EXPECT_THAT(with_token.out + with_token.err, Not(HasSubstr(kToken)));

    auto mtls = server.parse({"--grpc-listen=0.0.0.0:5557", "--grpc-tls-cert-file=" + cert_,
                              "--grpc-tls-key-file=" + key_, "--grpc-client-ca-file=" + ca_},
                             &address, &security);
    ASSERT_TRUE(mtls.result.ok()) << server.name << ": " << mtls.err;
    EXPECT_EQ(security.client_ca_file, ca_);
    EXPECT_TRUE(security.token.empty());

    auto loopback_token = server.parse({"--grpc-token-file=" + token_file_}, &address, &security);
    ASSERT_TRUE(loopback_token.result.ok()) << server.name << ": " << loopback_token.err;
    EXPECT_EQ(address, server.default_address);
    EXPECT_EQ(security.token.Reveal(), kToken);
    EXPECT_FALSE(security.tls());
  }
}

// Incomplete or unsafe TLS settings, and bad token files: one line each, never the token.
TEST_F(GrpcFlagsTest, EachBadSecurityValueIsOneErrorLine) {
  const std::string empty_token = Write("empty-token", "", 0600);
  for (const ServerCommandLine& server : Servers()) {
    const std::vector<BadValueCase> cases = {
        {{"--grpc-listen=5557"}, "--grpc-listen", "\"5557\""},
        {{"--grpc-tls-cert-file=" + cert_},
         "--grpc-tls-cert-file and --grpc-tls-key-file go together",
         "go together"},
        {{"--grpc-tls-cert-file=" + cert_, "--grpc-tls-key-file=" + open_key_},
         "--grpc-tls-key-file",
         "mode 0644 lets group or others read this private key"},
        {{"--grpc-client-ca-file=" + ca_}, "--grpc-client-ca-file needs", "--grpc-tls-cert-file"},
        {{"--grpc-tls-cert-file=/no/such/cert.pem", "--grpc-tls-key-file=" + key_},
         "--grpc-tls-cert-file",
         "no such file"},
        {{"--grpc-token-file=/no/such/token"}, "--grpc-token-file", "no such file"},
        {{"--grpc-token-file=" + empty_token}, "--grpc-token-file", "empty"},
    };
    testing::ExpectEachBadValueIsOneErrorLine(
        [&](const std::vector<std::string>& args) {
          std::string address;
          ServerSecurity security;
          return server.parse(args, &address, &security);
        },
        cases);
  }
}

// A token file that group or others can read is used, with one warning naming the file (never
// the token), on the services and on the gateway.
TEST_F(GrpcFlagsTest, TokenFileOthersCanReadIsWarnedAbout) {
  const std::string open_token = Write("open-token", std::string(kToken) + "\n", 0644);
  for (const ServerCommandLine& server : Servers()) {
    std::string address;
    ServerSecurity security;
    auto parsed = server.parse({"--grpc-token-file=" + open_token}, &address, &security);
    ASSERT_TRUE(parsed.result.ok()) << server.name << ": " << parsed.err;
    EXPECT_EQ(security.token.Reveal(), kToken);
    ASSERT_THAT(Lines(parsed.err), SizeIs(1)) << parsed.err;
    EXPECT_THAT(parsed.err, StartsWith("warning: "));
    EXPECT_THAT(parsed.err, HasSubstr(open_token));
    EXPECT_THAT(parsed.err, Not(HasSubstr(kToken)));
  }
  GatewayParsed gateway = ParseGateway({"--grpc-token-file=" + open_token});
  ASSERT_TRUE(gateway.result.ok()) << gateway.err;
  ASSERT_THAT(Lines(gateway.err), SizeIs(1)) << gateway.err;
  EXPECT_THAT(gateway.err, StartsWith("warning: "));
  EXPECT_THAT(gateway.err, Not(HasSubstr(kToken)));
}

// --help lists every gRPC security flag of both services.
TEST_F(GrpcFlagsTest, HelpListsTheServerFlags) {
  for (const ServerCommandLine& server : Servers()) {
    std::string address;
    ServerSecurity security;
    auto parsed = server.parse({"--help"}, &address, &security);
    EXPECT_EQ(parsed.result.exit_code(), 0);
    for (const char* flag : {"--grpc-listen", "--grpc-tls-cert-file", "--grpc-tls-key-file",
                             "--grpc-client-ca-file", "--grpc-token-file"}) {
      EXPECT_THAT(parsed.out, HasSubstr(flag)) << server.name;
    }
  }
}

// The gateway never sends its token in clear to an address beyond loopback: refused at start,
// one line naming the address flag and --grpc-ca-file.
TEST_F(GrpcFlagsTest, GatewayRefusesToSendItsTokenInClearBeyondLoopback) {
  const std::vector<BadValueCase> cases = {
      {{"--grpc-token-file=" + token_file_, "--aggregator=10.0.0.5:5557"},
       "--aggregator \"10.0.0.5:5557\"",
       "the gRPC token would travel in clear; add --grpc-ca-file"},
      {{"--grpc-token-file=" + token_file_, "--alerter=alerter:5558"},
       "--alerter \"alerter:5558\"",
       "add --grpc-ca-file"},
      {{"--grpc-token-file=" + token_file_, "--aggregator=0.0.0.0:5557"},
       "--aggregator",
       "in clear"},
      {{"--grpc-cert-file=" + cert_, "--grpc-key-file=" + key_},
       "--grpc-cert-file needs",
       "--grpc-ca-file"},
      {{"--grpc-ca-file=" + ca_, "--grpc-cert-file=" + cert_}, "--grpc-cert-file and", "together"},
      {{"--grpc-ca-file=" + ca_, "--grpc-cert-file=" + cert_, "--grpc-key-file=" + open_key_},
       "--grpc-key-file",
       "mode 0644 lets group or others read"},
  };
  testing::ExpectEachBadValueIsOneErrorLine(ParseGateway, cases);
  for (const BadValueCase& c : cases) {
    EXPECT_THAT(ParseGateway(c.args).err, Not(HasSubstr(kToken)));
  }
}

// With TLS the token may go anywhere; without it, to loopback only (the defaults are
// localhost); without a token, plaintext anywhere is the operator's choice.
TEST_F(GrpcFlagsTest, GatewaySendsItsTokenOverTlsOrToLoopback) {
  GatewayParsed tls = ParseGateway({"--grpc-token-file=" + token_file_, "--grpc-ca-file=" + ca_,
                                    "--aggregator=aggregator:5557", "--alerter=alerter:5558"});
  ASSERT_TRUE(tls.result.ok()) << tls.err;
  const ClientSecurity& s = tls.result.value().grpc_security;
  EXPECT_EQ(s.ca_file, ca_);
  EXPECT_EQ(s.token.Reveal(), kToken);

  GatewayParsed loopback = ParseGateway({"--grpc-token-file=" + token_file_});
  ASSERT_TRUE(loopback.result.ok()) << loopback.err;
  EXPECT_FALSE(loopback.result.value().grpc_security.tls());

  GatewayParsed mtls = ParseGateway({"--grpc-ca-file=" + ca_, "--grpc-cert-file=" + cert_,
                                     "--grpc-key-file=" + key_, "--aggregator=10.0.0.5:5557"});
  ASSERT_TRUE(mtls.result.ok()) << mtls.err;
  EXPECT_EQ(mtls.result.value().grpc_security.cert_file, cert_);

  GatewayParsed plain = ParseGateway({"--aggregator=10.0.0.5:5557"});
  ASSERT_TRUE(plain.result.ok()) << plain.err;
}

// The address rule itself: loopback is 127.0.0.0/8, ::1 and localhost, nothing else.
TEST(LoopbackAddressTest, OnlyLoopbackHostsCount) {
  for (const char* loopback :
       {"127.0.0.1:5557", "127.8.9.10:1", "[::1]:5557", "localhost:5557", "LOCALHOST:0"}) {
    EXPECT_TRUE(IsLoopbackAddress(loopback)) << loopback;
  }
  for (const char* other :
       {"0.0.0.0:5557", "[::]:5557", "10.0.0.1:5557", "128.0.0.1:1", "localhost.example.com:5557",
        "aggregator:5557", "[::ffff:10.0.0.1]:1", ":5557"}) {
    EXPECT_FALSE(IsLoopbackAddress(other)) << other;
  }
}

// The token comparison: exact match of "Bearer <token>" only.
TEST(BearerTokenTest, OnlyTheExactTokenMatches) {
  const config::Secret token("abc123");
  EXPECT_TRUE(BearerTokenMatches("Bearer abc123", token));
  for (const char* wrong : {"", "Bearer ", "Bearer abc12", "Bearer abc1234", "Bearer abc124",
                            "bearer abc123", "abc123", "Basic abc123", "Bearer  abc123"}) {
    EXPECT_FALSE(BearerTokenMatches(wrong, token)) << wrong;
  }
  EXPECT_FALSE(BearerTokenMatches("Bearer ", config::Secret("")));
}

// The start-up log's description of a server's security: the mode, never the token or a path.
TEST(DescribeSecurityTest, NamesTheModeNeverTheSecret) {
  ServerSecurity s;
  EXPECT_EQ(DescribeSecurity(s), "none");
  s.token = config::Secret(kToken);
  EXPECT_EQ(DescribeSecurity(s), "token");
  s.tls_cert_file = "/etc/grpc/server.pem";
  s.tls_key_file = "/etc/grpc/server-key.pem";
  EXPECT_EQ(DescribeSecurity(s), "tls+token");
  s.client_ca_file = "/etc/grpc/ca.pem";
  EXPECT_EQ(DescribeSecurity(s), "mtls+token");
  s.token = config::Secret();
  EXPECT_EQ(DescribeSecurity(s), "mtls");
  s.client_ca_file.clear();
  EXPECT_EQ(DescribeSecurity(s), "tls");
}

}  // namespace
}  // namespace etcdmon::rpc
