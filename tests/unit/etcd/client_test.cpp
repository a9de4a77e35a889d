// What NewEtcdClient and NewGatewayEtcdClient decide before any network traffic:
// configuration and TLS file errors, endpoint naming. Behaviour against real etcd is covered by
// tests/integration/etcd_client_test.cpp.

#include "etcdmon/etcd/client.h"

#include <gtest/gtest.h>

#include <string>

#include "etcdmon/etcd/gateway_client.h"

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

// Both clients make the same decisions.
struct ClientKind {
  const char* name;
  Result<std::unique_ptr<EtcdClient>> (*make)(const config::EtcdConnectionConfig&);
};

class NewEtcdClientTest : public ::testing::TestWithParam<ClientKind> {
 protected:
  Result<std::unique_ptr<EtcdClient>> NewClient(const config::EtcdConnectionConfig& c) {
    return GetParam().make(c);
  }
};

INSTANTIATE_TEST_SUITE_P(Clients, NewEtcdClientTest,
                         ::testing::Values(ClientKind{"grpc", &NewEtcdClient},
                                           ClientKind{"gateway", &NewGatewayEtcdClient}),
                         [](const ::testing::TestParamInfo<ClientKind>& info) {
                           return std::string(info.param.name);
                         });

// The client lists its endpoints as authorities in configuration order, without connecting.
TEST_P(NewEtcdClientTest, ListsEndpointsWithoutConnecting) {
  auto client = NewClient(TwoEndpoints());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->Endpoints(),
            (std::vector<std::string>{"127.0.0.1:2379", "localhost:22379"}));
}

// An invalid configuration is refused up front.
TEST_P(NewEtcdClientTest, RejectsInvalidConfig) {
  config::EtcdConnectionConfig c = TwoEndpoints();
  c.endpoints.clear();
  auto client = NewClient(c);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument);
}

// Unreadable TLS files are an error naming the file and its role.
TEST_P(NewEtcdClientTest, ReportsUnreadableTlsFilesByPath) {
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
    auto client = NewClient(cfg);
    ASSERT_FALSE(client.ok()) << c.name;
    EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(client.status().message().find(c.expected_fragment), std::string::npos)
        << c.name << ": " << client.status().message();
  }
}

// A call to an endpoint that is not configured fails at once, listing the configured ones.
TEST_P(NewEtcdClientTest, RejectsUnknownEndpoint) {
  auto client = NewClient(TwoEndpoints());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto status = (*client)->GetStatus("10.0.0.1:2379");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.status().message().find("127.0.0.1:2379, localhost:22379"), std::string::npos)
      << status.status().message();
}

// Snapshot refuses a non-positive timeout instead of running without a deadline.
TEST(GrpcEtcdClientTest, SnapshotRequiresATimeout) {
  auto client = NewEtcdClient(TwoEndpoints());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto result = (*client)->Snapshot(
      "127.0.0.1:2379", [](std::string_view) { return Status::Ok(); },
      std::chrono::milliseconds(0));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
}

// The gateway client leaves HashKV and snapshots to the gRPC client, saying so, without
// touching the network.
TEST(GatewayEtcdClientTest, HashKVAndSnapshotAreUnimplemented) {
  auto client = NewGatewayEtcdClient(TwoEndpoints());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto hash = (*client)->HashKV("127.0.0.1:2379", 0);
  EXPECT_EQ(hash.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(hash.status().message().find("gRPC client"), std::string::npos)
      << hash.status().message();
  auto snapshot = (*client)->Snapshot(
      "127.0.0.1:2379", [](std::string_view) { return Status::Ok(); },
      std::chrono::milliseconds(1000));
  EXPECT_EQ(snapshot.status().code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace etcdmon::etcd
