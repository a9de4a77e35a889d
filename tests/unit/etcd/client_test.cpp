// What NewEtcdClient decides before any network traffic: configuration and TLS file errors,
// endpoint naming. Behaviour against real etcd is covered by
// tests/integration/etcd_client_test.cpp.

#include "etcdmon/etcd/client.h"

#include <gtest/gtest.h>

#include <string>

namespace etcdmon::etcd {
namespace {

config::EtcdConnectionConfig TwoEndpoints() {
  config::EtcdConnectionConfig c;
  config::Endpoint a;
  a.host = "127.0.0.1";
  a.port = 2379;
  config::Endpoint b;
  b.scheme = "http";
  b.host = "localhost";
  b.port = 22379;
  c.endpoints = {a, b};
  return c;
}

// The client lists its endpoints as authorities in configuration order, without connecting.
TEST(NewEtcdClientTest, ListsEndpointsWithoutConnecting) {
  auto client = NewEtcdClient(TwoEndpoints());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->Endpoints(),
            (std::vector<std::string>{"127.0.0.1:2379", "localhost:22379"}));
}

// An invalid configuration is refused up front.
TEST(NewEtcdClientTest, RejectsInvalidConfig) {
  config::EtcdConnectionConfig c = TwoEndpoints();
  c.endpoints.clear();
  auto client = NewEtcdClient(c);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument);
}

// Unreadable TLS files are an error naming the file and its role.
TEST(NewEtcdClientTest, ReportsUnreadableTlsFilesByPath) {
  struct Case {
    const char* name;
    void (*mutate)(config::TlsConfig&);
    const char* expected_fragment;
  };
  const Case cases[] = {
      {"ca", [](config::TlsConfig& t) { t.ca_file = "/nonexistent/etcdmon/ca.pem"; },
       "cannot read CA file \"/nonexistent/etcdmon/ca.pem\""},
      {"cert",
       [](config::TlsConfig& t) {
         t.cert_file = "/nonexistent/etcdmon/client.pem";
         t.key_file = "/nonexistent/etcdmon/client-key.pem";
       },
       "cannot read client certificate file \"/nonexistent/etcdmon/client.pem\""},
      {"empty ca", [](config::TlsConfig& t) { t.ca_file = "/dev/null"; },
       "CA file \"/dev/null\" is empty"},
  };
  for (const Case& c : cases) {
    config::EtcdConnectionConfig cfg = TwoEndpoints();
    c.mutate(cfg.tls);
    auto client = NewEtcdClient(cfg);
    ASSERT_FALSE(client.ok()) << c.name;
    EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(client.status().message().find(c.expected_fragment), std::string::npos)
        << c.name << ": " << client.status().message();
  }
}

// A call to an endpoint that is not configured fails at once, listing the configured ones.
TEST(NewEtcdClientTest, RejectsUnknownEndpoint) {
  auto client = NewEtcdClient(TwoEndpoints());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto status = (*client)->GetStatus("10.0.0.1:2379");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.status().message().find("127.0.0.1:2379, localhost:22379"), std::string::npos)
      << status.status().message();
}

// Snapshot refuses a non-positive timeout instead of running without a deadline.
TEST(NewEtcdClientTest, SnapshotRequiresATimeout) {
  auto client = NewEtcdClient(TwoEndpoints());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto result = (*client)->Snapshot(
      "127.0.0.1:2379", [](std::string_view) { return Status::Ok(); },
      std::chrono::milliseconds(0));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace etcdmon::etcd
