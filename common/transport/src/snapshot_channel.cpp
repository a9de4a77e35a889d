#include "etcdmon/transport/snapshot_channel.h"

#include "etcdmon/proto/schema.h"
#include "etcdmon/transport/curve.h"
#include "zmq_util.h"

namespace etcdmon::transport {

namespace {

// Every cluster's snapshot goes out each tick, so a queue must hold a few ticks of the largest
// fleet (kMaxClusters) without dropping one cluster's news for another's; beyond it a
// subscriber that stopped reading loses messages, and a live one catches up at the next tick.
constexpr int kHighWaterMark = 4 * 1024;

}  // namespace

struct SnapshotPublisher::Impl {
  detail::ContextHolder context;  // declared before the socket: sockets close first
  detail::SocketPtr socket;
  std::string endpoint;
  uint16_t port = 0;
  std::string frame;  // reused serialization buffer
};

SnapshotPublisher::SnapshotPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SnapshotPublisher::~SnapshotPublisher() = default;

Result<std::unique_ptr<SnapshotPublisher>> SnapshotPublisher::Create(
    SnapshotPublisherOptions options) {
  auto impl = std::make_unique<Impl>();
  Result<detail::ContextAndSocket> zmq = detail::NewContextAndSocket(ZMQ_PUB, options.context);
  if (!zmq.ok()) {
    return zmq.status();
  }
  impl->context = std::move(zmq->context);
  impl->socket = std::move(zmq->socket);
  void* s = impl->socket.get();
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(s, ZMQ_LINGER, 0, "ZMQ_LINGER"));
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(s, ZMQ_SNDHWM, kHighWaterMark, "ZMQ_SNDHWM"));
  if (!options.curve_secret_key.empty()) {
    if (!IsValidCurveKey(options.curve_secret_key)) {
      return Status::InvalidArgument(
          "snapshot publisher: the CURVE secret key is not 40 Z85 "
          "characters");
    }
    ETCDMON_RETURN_IF_ERROR(detail::SetCurveServer(s, options.curve_secret_key));
  }
  Result<std::string> bound = detail::Bind(s, options.endpoint);
  if (!bound.ok()) {
    return bound.status();
  }
  impl->endpoint = std::move(bound).value();
  impl->port = detail::PortOfEndpoint(impl->endpoint);
  return std::unique_ptr<SnapshotPublisher>(new SnapshotPublisher(std::move(impl)));
}

Status SnapshotPublisher::Publish(etcdmonitor::v1::ClusterSnapshot& snapshot) {
  snapshot.set_schema_version(proto::kSchemaVersion);
  if (!snapshot.SerializeToString(&impl_->frame)) {
    return Status::Internal("serializing ClusterSnapshot failed");
  }
  // PUB never blocks: with DONTWAIT a full pipe drops the message for that subscriber.
  if (zmq_send(impl_->socket.get(), impl_->frame.data(), impl_->frame.size(), ZMQ_DONTWAIT) < 0 &&
      zmq_errno() != EAGAIN) {
    return detail::ZmqError("publishing a snapshot");
  }
  return Status::Ok();
}

const std::string& SnapshotPublisher::endpoint() const { return impl_->endpoint; }
uint16_t SnapshotPublisher::port() const { return impl_->port; }

struct SnapshotSubscriber::Impl {
  detail::ContextHolder context;
  detail::SocketPtr socket;
};

SnapshotSubscriber::SnapshotSubscriber(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SnapshotSubscriber::~SnapshotSubscriber() = default;

Result<std::unique_ptr<SnapshotSubscriber>> SnapshotSubscriber::Create(
    SnapshotSubscriberOptions options) {
  auto impl = std::make_unique<Impl>();
  Result<detail::ContextAndSocket> zmq = detail::NewContextAndSocket(ZMQ_SUB, options.context);
  if (!zmq.ok()) {
    return zmq.status();
  }
  impl->context = std::move(zmq->context);
  impl->socket = std::move(zmq->socket);
  void* s = impl->socket.get();
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(s, ZMQ_LINGER, 0, "ZMQ_LINGER"));
  // No ZMQ_CONFLATE: it keeps one message, and with several clusters on the stream that would
  // drop every cluster's snapshot but one. Readers drain the queue and keep the newest of each.
  ETCDMON_RETURN_IF_ERROR(detail::SetIntOption(s, ZMQ_RCVHWM, kHighWaterMark, "ZMQ_RCVHWM"));
  const int64_t max_size = static_cast<int64_t>(options.max_frame_bytes);
  if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_size, sizeof(max_size)) != 0) {
    return detail::ZmqError("setting ZMQ_MAXMSGSIZE");
  }
  if (!options.curve_server_key.empty()) {
    if (!IsValidCurveKey(options.curve_server_key)) {
      return Status::InvalidArgument(
          "snapshot subscriber: the publisher's CURVE key is not 40 "
          "Z85 characters");
    }
    Result<CurveKeyPair> mine = GenerateCurveKeyPair();
    if (!mine.ok()) {
      return mine.status();
    }
    ETCDMON_RETURN_IF_ERROR(
        detail::SetCurveClient(s, options.curve_server_key, mine->public_key, mine->secret_key));
  }
  ETCDMON_RETURN_IF_ERROR(detail::SetStringOption(s, ZMQ_SUBSCRIBE, "", "ZMQ_SUBSCRIBE"));
  if (zmq_connect(s, options.endpoint.c_str()) != 0) {
    return detail::ZmqError("connecting to " + options.endpoint);
  }
  return std::unique_ptr<SnapshotSubscriber>(new SnapshotSubscriber(std::move(impl)));
}

Result<bool> SnapshotSubscriber::Receive(etcdmonitor::v1::ClusterSnapshot& out,
                                         std::chrono::milliseconds timeout) {
  zmq_pollitem_t item{impl_->socket.get(), 0, ZMQ_POLLIN, 0};
  const int ready = detail::Poll(&item, 1, timeout);
  if (ready < 0) {
    return detail::ZmqError("waiting for a snapshot");
  }
  if (ready == 0 || (item.revents & ZMQ_POLLIN) == 0) {
    return false;
  }
  detail::Message message;
  if (zmq_msg_recv(message.get(), impl_->socket.get(), ZMQ_DONTWAIT) < 0) {
    if (zmq_errno() == EAGAIN) {
      return false;
    }
    return detail::ZmqError("receiving a snapshot");
  }
  if (!out.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
    return Status::InvalidArgument("snapshot frame of " + std::to_string(message.size()) +
                                   " bytes is not a ClusterSnapshot");
  }
  ETCDMON_RETURN_IF_ERROR(proto::CheckSchemaVersion(out.schema_version()));
  return true;
}

}  // namespace etcdmon::transport
