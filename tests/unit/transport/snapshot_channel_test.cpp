#include "etcdmon/transport/snapshot_channel.h"

#include <gtest/gtest.h>
#include <zmq.h>

#include <chrono>
#include <string>

#include "etcdmon/proto/schema.h"
#include "etcdmon/transport/curve.h"

namespace etcdmon::transport {
namespace {

using namespace std::chrono_literals;

// Publishes until the subscriber has one (PUB/SUB drops what is sent before the subscription is
// up), bounded in attempts.
Result<bool> PublishUntilReceived(SnapshotPublisher& pub, SnapshotSubscriber& sub,
                                  etcdmonitor::v1::ClusterSnapshot& sent,
                                  etcdmonitor::v1::ClusterSnapshot& got) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    EXPECT_TRUE(pub.Publish(sent).ok());
    Result<bool> r = sub.Receive(got, 50ms);
    if (!r.ok() || *r) {
      return r;
    }
  }
  return false;
}

// A published snapshot reaches a subscriber intact, with the schema version stamped.
TEST(SnapshotChannelTest, DeliversSnapshots) {
  SnapshotPublisherOptions pub_options;
  pub_options.endpoint = "tcp://127.0.0.1:0";
  auto pub = SnapshotPublisher::Create(pub_options);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_NE((*pub)->port(), 0);
  SnapshotSubscriberOptions sub_options;
  sub_options.endpoint = (*pub)->endpoint();
  auto sub = SnapshotSubscriber::Create(sub_options);
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();

  etcdmonitor::v1::ClusterSnapshot sent, got;
  sent.set_cluster("prod");
  sent.set_member_count(3);
  Result<bool> r = PublishUntilReceived(**pub, **sub, sent, got);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(*r);
  EXPECT_EQ(got.cluster(), "prod");
  EXPECT_EQ(got.member_count(), 3u);
  EXPECT_EQ(got.schema_version(), proto::kSchemaVersion);
}

// A publisher and a subscriber sharing one context talk over inproc://.
TEST(SnapshotChannelTest, InprocWithASharedContext) {
  auto context = SharedContext::Create();
  ASSERT_TRUE(context.ok());
  SnapshotPublisherOptions pub_options;
  pub_options.endpoint = "inproc://snapshots";
  pub_options.context = *context;
  auto pub = SnapshotPublisher::Create(pub_options);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  SnapshotSubscriberOptions sub_options;
  sub_options.endpoint = "inproc://snapshots";
  sub_options.context = *context;
  auto sub = SnapshotSubscriber::Create(sub_options);
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  etcdmonitor::v1::ClusterSnapshot sent, got;
  sent.set_cluster("in-process");
  Result<bool> r = PublishUntilReceived(**pub, **sub, sent, got);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(got.cluster(), "in-process");
}

// Without a publisher, Receive times out with false, not an error.
TEST(SnapshotChannelTest, ReceiveTimesOut) {
  SnapshotSubscriberOptions options;
  options.endpoint = "tcp://127.0.0.1:1";
  auto sub = SnapshotSubscriber::Create(options);
  ASSERT_TRUE(sub.ok());
  etcdmonitor::v1::ClusterSnapshot got;
  Result<bool> r = (*sub)->Receive(got, 20ms);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

// A frame that is not a snapshot of this schema is an error for that frame only.
TEST(SnapshotChannelTest, RejectsForeignFrames) {
  void* ctx = zmq_ctx_new();
  void* raw_pub = zmq_socket(ctx, ZMQ_PUB);
  int linger = 0;
  zmq_setsockopt(raw_pub, ZMQ_LINGER, &linger, sizeof(linger));
  ASSERT_EQ(zmq_bind(raw_pub, "tcp://127.0.0.1:0"), 0);
  char endpoint[256];
  size_t len = sizeof(endpoint);
  zmq_getsockopt(raw_pub, ZMQ_LAST_ENDPOINT, endpoint, &len);
  SnapshotSubscriberOptions options;
  options.endpoint = endpoint;
  auto sub = SnapshotSubscriber::Create(options);
  ASSERT_TRUE(sub.ok());

  etcdmonitor::v1::ClusterSnapshot wrong_version;
  wrong_version.set_schema_version(proto::kSchemaVersion + 1);
  const std::string wrong = wrong_version.SerializeAsString();
  etcdmonitor::v1::ClusterSnapshot got;
  Result<bool> r = false;
  for (int attempt = 0; attempt < 200; ++attempt) {
    zmq_send(raw_pub, wrong.data(), wrong.size(), ZMQ_DONTWAIT);
    r = (*sub)->Receive(got, 50ms);
    if (!r.ok() || *r) {
      break;
    }
  }
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  const std::string garbage = "\xff\xff\xff not a protobuf";
  for (int attempt = 0; attempt < 200; ++attempt) {
    zmq_send(raw_pub, garbage.data(), garbage.size(), ZMQ_DONTWAIT);
    r = (*sub)->Receive(got, 50ms);
    if (!r.ok() || *r) {
      break;
    }
  }
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  sub->reset();
  zmq_close(raw_pub);
  zmq_ctx_term(ctx);
}

// With CURVE, the right server key receives; a wrong one receives nothing.
TEST(SnapshotChannelTest, Curve) {
  auto keys = GenerateCurveKeyPair();
  auto other = GenerateCurveKeyPair();
  ASSERT_TRUE(keys.ok() && other.ok());
  SnapshotPublisherOptions pub_options;
  pub_options.endpoint = "tcp://127.0.0.1:0";
  pub_options.curve_secret_key = keys->secret_key;
  auto pub = SnapshotPublisher::Create(pub_options);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();

  SnapshotSubscriberOptions good;
  good.endpoint = (*pub)->endpoint();
  good.curve_server_key = keys->public_key;
  auto good_sub = SnapshotSubscriber::Create(good);
  ASSERT_TRUE(good_sub.ok());
  SnapshotSubscriberOptions bad = good;
  bad.curve_server_key = other->public_key;
  auto bad_sub = SnapshotSubscriber::Create(bad);
  ASSERT_TRUE(bad_sub.ok());

  etcdmonitor::v1::ClusterSnapshot sent, got;
  sent.set_cluster("secure");
  Result<bool> r = PublishUntilReceived(**pub, **good_sub, sent, got);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(got.cluster(), "secure");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*pub)->Publish(sent).ok());
  }
  Result<bool> none = (*bad_sub)->Receive(got, 200ms);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

// A port in use is an error at Create.
TEST(SnapshotChannelTest, PortInUse) {
  SnapshotPublisherOptions options;
  options.endpoint = "tcp://127.0.0.1:0";
  auto first = SnapshotPublisher::Create(options);
  ASSERT_TRUE(first.ok());
  options.endpoint = (*first)->endpoint();
  auto second = SnapshotPublisher::Create(options);
  EXPECT_FALSE(second.ok());
}

}  // namespace
}  // namespace etcdmon::transport
