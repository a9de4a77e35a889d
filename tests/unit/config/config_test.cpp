#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "etcdmon/config/types.h"

namespace etcdmon::config {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

struct EndpointCase {
  std::string input;
  std::string scheme;
  std::string host;
  uint16_t port;
};

// Every accepted spelling of an endpoint parses into scheme, host and port.
TEST(ParseEndpointTest, AcceptsValidForms) {
  const EndpointCase cases[] = {
      {"localhost:2379", "", "localhost", 2379},
      {"127.0.0.1:2379", "", "127.0.0.1", 2379},
      {"etcd1:22379", "", "etcd1", 22379},
      {"http://localhost:2379", "http", "localhost", 2379},
      {"https://10.0.0.1:2379", "https", "10.0.0.1", 2379},
      {"HTTPS://etcd.example.com:443", "https", "etcd.example.com", 443},
      {"[::1]:2379", "", "::1", 2379},
      {"https://[fe80::1%eth0]:2379", "https", "fe80::1%eth0", 2379},
      {"http://localhost:2379/", "http", "localhost", 2379},
      {"localhost:2379/", "", "localhost", 2379},
      {"etcd_1:1", "", "etcd_1", 1},
      {"host:65535", "", "host", 65535},
  };
  for (const EndpointCase& c : cases) {
    Result<Endpoint> endpoint = ParseEndpoint(c.input);
    ASSERT_TRUE(endpoint.ok()) << c.input << ": " << endpoint.status().ToString();
    EXPECT_EQ(endpoint->scheme, c.scheme) << c.input;
    EXPECT_EQ(endpoint->host, c.host) << c.input;
    EXPECT_EQ(endpoint->port, c.port) << c.input;
  }
}

struct EndpointErrorCase {
  std::string input;
  std::string reason;  // expected in the message
};

// Malformed endpoints are rejected with a message that names the input and the reason.
TEST(ParseEndpointTest, RejectsInvalidForms) {
  const EndpointErrorCase cases[] = {
      {"localhost", "missing port"},
      {"localhost:", "missing port"},
      {"http://localhost", "missing port"},
      {"[::1]", "missing port"},
      {"localhost:0", "port 0 out of range"},
      {"localhost:65536", "out of range"},
      {"localhost:99999999999", "out of range"},
      {"localhost:-1", "invalid port"},
      {"localhost:23x", "invalid port"},
      {"ftp://localhost:2379", "unknown scheme \"ftp\""},
      {"unix://localhost:2379", "unknown scheme"},
      {":2379", "empty host"},
      {"http://:2379", "empty host"},
      {"http://", "empty host"},
      {"[]:2379", "empty host"},
      {"", "empty endpoint"},
      {"localhost:2379/v3", "paths are not allowed"},
      {"http://localhost:2379/health", "paths are not allowed"},
      {"localhost:2379?x=1", "paths are not allowed"},
      {"::1:2379", "IPv6 addresses need brackets"},
      {"[::1:2379", "missing ']'"},
      {"[::1]2379", "after ']'"},
      {"user@localhost:2379", "user names are not allowed"},
      {"local host:2379", "invalid host"},
  };
  for (const EndpointErrorCase& c : cases) {
    Result<Endpoint> endpoint = ParseEndpoint(c.input);
    ASSERT_FALSE(endpoint.ok()) << c.input;
    EXPECT_EQ(endpoint.status().code(), StatusCode::kInvalidArgument) << c.input;
    EXPECT_THAT(endpoint.status().message(), HasSubstr("invalid endpoint \"" + c.input + "\""))
        << c.input;
    EXPECT_THAT(endpoint.status().message(), HasSubstr(c.reason)) << c.input;
  }
}

// The example message of the header comes out exactly.
TEST(ParseEndpointTest, MessageFormat) {
  EXPECT_EQ(ParseEndpoint("localhost").status().message(),
            "invalid endpoint \"localhost\": missing port");
}

// Authority brackets IPv6 hosts; Url uses the endpoint's scheme, else the default.
TEST(EndpointTest, AuthorityAndUrl) {
  const Endpoint plain{"", "localhost", 2379};
  EXPECT_EQ(plain.Authority(), "localhost:2379");
  EXPECT_EQ(plain.Url("http"), "http://localhost:2379");
  EXPECT_EQ(plain.Url("https"), "https://localhost:2379");
  const Endpoint v6{"https", "::1", 2379};
  EXPECT_EQ(v6.Authority(), "[::1]:2379");
  EXPECT_EQ(v6.Url("http"), "https://[::1]:2379");
  // Parsing what Url produces gives the endpoint back.
  Result<Endpoint> again = ParseEndpoint(v6.Url("http"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, v6);
}

struct DurationCase {
  std::string input;
  std::chrono::milliseconds expected;
};

// Go-style durations parse to milliseconds, sub-millisecond parts truncated.
TEST(ParseDurationTest, AcceptsGoDurations) {
  const DurationCase cases[] = {
      {"0", 0ms},
      {"0s", 0ms},
      {"500ms", 500ms},
      {"5s", 5s},
      {"1m30s", 90s},
      {"1h", 1h},
      {"2h45m", 2h + 45min},
      {"1.5s", 1500ms},
      {".5s", 500ms},
      {"1.s", 1s},
      {"1.0005s", 1000ms},
      {"1500us", 1ms},
      {"1500\xC2\xB5s", 1ms},
      {"2000000ns", 2ms},
      {"1ns", 0ms},
      {"1h1h", 2h},
      {"+5s", 5s},
      {"0.25h", 15min},
      {"1s500ms", 1500ms},
      {"2562047h", std::chrono::hours(2562047)},
  };
  for (const DurationCase& c : cases) {
    Result<std::chrono::milliseconds> duration = ParseDuration(c.input);
    ASSERT_TRUE(duration.ok()) << c.input << ": " << duration.status().ToString();
    EXPECT_EQ(duration->count(), c.expected.count()) << c.input;
  }
}

struct DurationErrorCase {
  std::string input;
  std::string reason;
};

// Empty, negative, unit-less, unknown-unit and overflowing durations are rejected.
TEST(ParseDurationTest, RejectsInvalidDurations) {
  const DurationErrorCase cases[] = {
      {"", "empty duration"},
      {"-5s", "negative"},
      {"5", "missing unit"},
      {"00", "missing unit"},
      {"1.5", "missing unit"},
      {"1m30", "missing unit"},
      {"5x", "unknown unit \"x\""},
      {"5sec", "unknown unit \"sec\""},
      {"5S", "unknown unit \"S\""},
      {"5 s", "unknown unit \" s\""},
      {"s", "expected a number"},
      {".s", "expected a number"},
      {"+", "expected a number"},
      {" 5s", "expected a number"},
      {"2562048h", "too large"},
      {"9223372036854775808ns", "too large"},
      {"99999999999999999999s", "too large"},
      {"2562047h48m", "too large"},
  };
  for (const DurationErrorCase& c : cases) {
    Result<std::chrono::milliseconds> duration = ParseDuration(c.input);
    ASSERT_FALSE(duration.ok()) << c.input;
    EXPECT_EQ(duration.status().code(), StatusCode::kInvalidArgument) << c.input;
    EXPECT_THAT(duration.status().message(), HasSubstr("invalid duration \"" + c.input + "\""))
        << c.input;
    EXPECT_THAT(duration.status().message(), HasSubstr(c.reason)) << c.input;
  }
}

// The example message of the header comes out as documented.
TEST(ParseDurationTest, MessageFormat) {
  EXPECT_THAT(ParseDuration("5x").status().message(),
              HasSubstr("invalid duration \"5x\": unknown unit \"x\""));
}

// Each benchmark type has the spelling --benchmark-type takes.
TEST(BenchmarkTypeTest, Names) {
  EXPECT_EQ(BenchmarkTypeName(BenchmarkType::kWrite), "write");
  EXPECT_EQ(BenchmarkTypeName(BenchmarkType::kRead), "read");
  EXPECT_EQ(BenchmarkTypeName(BenchmarkType::kMixed), "mixed");
}

// UsesTls: https always, no scheme only when TLS settings are given, http never.
TEST(EtcdConnectionConfigTest, UsesTls) {
  EtcdConnectionConfig config;
  const Endpoint bare{"", "h", 1};
  const Endpoint http{"http", "h", 1};
  const Endpoint https{"https", "h", 1};
  EXPECT_FALSE(config.UsesTls(bare));
  EXPECT_FALSE(config.UsesTls(http));
  EXPECT_TRUE(config.UsesTls(https));
  config.tls.ca_file = "/ca.pem";
  EXPECT_TRUE(config.UsesTls(bare));
  EXPECT_FALSE(config.UsesTls(http));
}

// Secret keeps its value for Reveal() and reports emptiness.
TEST(SecretTest, RevealAndEmpty) {
  EXPECT_TRUE(Secret().empty());
  const Secret secret("hunter2");
  EXPECT_FALSE(secret.empty());
  EXPECT_EQ(secret.Reveal(), "hunter2");
}

}  // namespace
}  // namespace etcdmon::config
