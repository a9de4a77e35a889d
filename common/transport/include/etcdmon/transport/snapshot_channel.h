#pragma once

// The aggregator's live stream: a ZeroMQ PUB socket sending one ClusterSnapshot per cluster per
// tick, and the SUB side the alerter and the gateway read it with. Snapshots arrive in order; a
// reader drains what is queued and keeps the newest of each cluster. The publisher never blocks:
// past a high-water mark of a few thousand messages a subscriber that stopped reading loses
// messages (a live one has every cluster's newest state again at the next tick).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "etcdmon/status/status.h"
#include "etcdmon/transport/context.h"
#include "etcdmonitor/v1/snapshot.pb.h"

namespace etcdmon::transport {

struct SnapshotPublisherOptions {
  /// Shared with other sockets of this process for inproc:// endpoints; null: a private one.
  std::shared_ptr<SharedContext> context;
  /// Where to listen; "tcp://127.0.0.1:0" picks a free port (see endpoint()).
  std::string endpoint = "tcp://0.0.0.0:5556";
  /// CURVE: this server's secret key (Z85). Empty: no encryption.
  std::string curve_secret_key;
};

/// Publishes snapshots. Single-threaded: one thread calls Publish() (ZeroMQ sockets are not
/// thread-safe). Publish never waits for subscribers.
class SnapshotPublisher final {
 public:
  /// Binds. Errors: the endpoint is in use or invalid, a bad key.
  static Result<std::unique_ptr<SnapshotPublisher>> Create(SnapshotPublisherOptions options);
  ~SnapshotPublisher();
  SnapshotPublisher(const SnapshotPublisher&) = delete;
  SnapshotPublisher& operator=(const SnapshotPublisher&) = delete;

  /// Stamps schema_version and sends; a subscriber whose queue is full loses this one.
  Status Publish(etcdmonitor::v1::ClusterSnapshot& snapshot);

  /// The bound endpoint, e.g. "tcp://127.0.0.1:40123".
  const std::string& endpoint() const;
  uint16_t port() const;

 private:
  struct Impl;
  explicit SnapshotPublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct SnapshotSubscriberOptions {
  /// Shared with other sockets of this process for inproc:// endpoints; null: a private one.
  std::shared_ptr<SharedContext> context;
  std::string endpoint = "tcp://127.0.0.1:5556";
  /// CURVE: the publisher's public key (Z85). Empty: no encryption.
  std::string curve_server_key;
  /// Larger frames are dropped by libzmq (the connection is reset).
  std::size_t max_frame_bytes = 16u << 20;
};

/// Reads the snapshots in order. Single-threaded. Connects in the background and reconnects by
/// itself when the publisher restarts.
class SnapshotSubscriber final {
 public:
  static Result<std::unique_ptr<SnapshotSubscriber>> Create(SnapshotSubscriberOptions options);
  ~SnapshotSubscriber();
  SnapshotSubscriber(const SnapshotSubscriber&) = delete;
  SnapshotSubscriber& operator=(const SnapshotSubscriber&) = delete;

  /// Waits up to `timeout` for a snapshot. true: `out` holds the oldest queued one (call again
  /// with a zero timeout to drain); false: none came.
  /// InvalidArgument for a frame that is not a ClusterSnapshot of this schema version (the caller
  /// counts it and goes on; `out` is then unspecified).
  Result<bool> Receive(etcdmonitor::v1::ClusterSnapshot& out, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit SnapshotSubscriber(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::transport
