// The remote_write encoder (labels, order, validation) and the client's verdict on each kind of
// answer, against a local HTTP receiver. The real Prometheus receiver is in
// tests/integration/remote_write_test.cpp.

#include "etcdmon/remote_write/remote_write.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "etcdmon/testing/http_server.h"

namespace etcdmon::remote_write {
namespace {

Series MemberSeries(const std::string& member, std::vector<Sample> samples) {
  return Series{"etcd_server_has_leader", {{"member", member}, {"cluster", "prod"}}, samples};
}

TEST(RemoteWriteEncodeTest, RoundTripsWithSortedLabelsAndExternalLabelsAdded) {
  Result<std::string> body = EncodeWriteRequest(
      {MemberSeries("etcd1", {{1000, 1}, {2000, 0.5}}), MemberSeries("etcd2", {{1000, 0}})},
      {{"region", "eu-1"}, {"cluster", "ignored: the series has its own"}});
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  Result<std::vector<Series>> decoded = DecodeWriteRequest(*body);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), 2u);
  const Series& first = (*decoded)[0];
  EXPECT_EQ(first.name, "etcd_server_has_leader");
  const Labels expected = {{"__name__", "etcd_server_has_leader"},
                           {"cluster", "prod"},
                           {"member", "etcd1"},
                           {"region", "eu-1"}};
  EXPECT_EQ(first.labels, expected);
  ASSERT_EQ(first.samples.size(), 2u);
  EXPECT_EQ(first.samples[1].timestamp_ms, 2000);
  EXPECT_EQ(first.samples[1].value, 0.5);
  EXPECT_EQ((*decoded)[1].labels[2].second, "etcd2");
}

TEST(RemoteWriteEncodeTest, RefusesWhatAReceiverWouldMisread) {
  const std::vector<std::vector<Series>> bad = {
      {Series{"bad-name", {}, {{1, 1}}}},
      {Series{"m", {{"0label", "v"}}, {{1, 1}}}},
      {Series{"m", {{"a", "1"}, {"a", "2"}}, {{1, 1}}}},
      {Series{"m", {{"a", ""}}, {{1, 1}}}},
      {Series{"m", {{"__name__", "other"}}, {{1, 1}}}},
      {Series{"m", {}, {}}},
      {Series{"m", {}, {{2, 1}, {1, 1}}}},
  };
  for (const std::vector<Series>& series : bad) {
    Result<std::string> body = EncodeWriteRequest(series, {});
    EXPECT_EQ(body.status().code(), StatusCode::kInvalidArgument) << series[0].name;
  }
  EXPECT_FALSE(EncodeWriteRequest({MemberSeries("e", {{1, 1}})}, {{"bad-label", "x"}}).ok());
  EXPECT_FALSE(EncodeWriteRequest({MemberSeries("e", {{1, 1}})}, {{"__name__", "x"}}).ok());
  EXPECT_FALSE(EncodeWriteRequest({MemberSeries("e", {{1, 1}})}, {{"r", "a"}, {"r", "b"}}).ok());
  EXPECT_FALSE(DecodeWriteRequest("not snappy at all").ok());
}

TEST(RemoteWriteClientTest, SendsTheProtocolHeadersAndJudgesEachAnswer) {
  testing::HttpServer receiver;
  ASSERT_TRUE(receiver.Start().ok());
  testing::CannedResponse accepted;
  accepted.status = 204;
  testing::CannedResponse overloaded;
  overloaded.status = 503;
  testing::CannedResponse throttled;
  throttled.status = 429;
  testing::CannedResponse out_of_order;
  out_of_order.status = 400;
  out_of_order.body = "out of order sample";
  receiver.SetSequence("/api/v1/write", {accepted, overloaded, throttled, out_of_order});

  ClientOptions options;
  options.url = receiver.Url("/api/v1/write");
  options.bearer_token = "s3cret-token";
  Result<std::unique_ptr<Client>> client = Client::Create(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<std::string> body = EncodeWriteRequest({MemberSeries("etcd1", {{1000, 1}})}, {});
  ASSERT_TRUE(body.ok());

  const SendResult first = (*client)->Send(*body);
  EXPECT_EQ(first.outcome, SendOutcome::kAccepted);
  EXPECT_EQ(first.http_status, 204);
  EXPECT_EQ((*client)->Send(*body).outcome, SendOutcome::kRetryable);
  EXPECT_EQ((*client)->Send(*body).outcome, SendOutcome::kRetryable);
  const SendResult rejected = (*client)->Send(*body);
  EXPECT_EQ(rejected.outcome, SendOutcome::kRejected);
  EXPECT_EQ(rejected.detail, "out of order sample");

  const std::vector<testing::RecordedRequest> requests = receiver.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].Header("Content-Encoding"), "snappy");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/x-protobuf");
  EXPECT_EQ(requests[0].Header("X-Prometheus-Remote-Write-Version"), "0.1.0");
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer s3cret-token");
  EXPECT_EQ(requests[0].body, *body);

  // No receiver at all: worth sending again later, and the token is not in the detail.
  receiver.Stop();
  const SendResult down = (*client)->Send(*body);
  EXPECT_EQ(down.outcome, SendOutcome::kRetryable);
  EXPECT_EQ(down.http_status, 0);
  EXPECT_EQ(down.detail.find("s3cret"), std::string::npos) << down.detail;
}

TEST(RemoteWriteClientTest, RefusesUrlsThatAreNotHttp) {
  ClientOptions options;
  options.url = "ftp://example.com/write";
  EXPECT_EQ(Client::Create(options).status().code(), StatusCode::kInvalidArgument);
}

// Credentials in the URL would end up in error messages and logs: refused, without echoing them.
TEST(RemoteWriteClientTest, RefusesCredentialsInTheUrl) {
  ClientOptions options;
  for (const char* url : {"https://alice:s3cret@mimir.example/api/v1/push",
                          "http://token@127.0.0.1:9090/api/v1/write"}) {
    SCOPED_TRACE(url);
    options.url = url;
    const Status refused = Client::Create(options).status();
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(refused.message().find("s3cret"), std::string::npos) << refused.message();
  }
  // An '@' after the host (in the path or query) is not a credential.
  options.url = "http://127.0.0.1:9090/api/v1/write?tenant=a@b";
  EXPECT_TRUE(Client::Create(options).ok());
}

}  // namespace
}  // namespace etcdmon::remote_write
