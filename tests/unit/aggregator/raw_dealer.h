#pragma once

// A DEALER on the aggregator's ingest socket that sends hand-made SampleBatch frames, for the
// tests of the ingest path and of the attacks on it.

#include <zmq.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "etcdmon/proto/schema.h"
#include "etcdmonitor/v1/samples.pb.h"

namespace etcdmon::aggregator::raw_ingest {

/// The serialized batch `sequence` of `collector` holding `samples`, sent for `cluster` (empty:
/// the aggregator's default cluster).
inline std::string Frame(const std::string& collector, uint64_t sequence,
                         const std::vector<etcdmonitor::v1::MemberSample>& samples,
                         const std::string& cluster = "") {
  etcdmonitor::v1::SampleBatch batch;
  batch.set_schema_version(proto::kSchemaVersion);
  batch.set_collector_id(collector);
  batch.set_cluster(cluster);
  batch.set_sequence(sequence);
  for (const etcdmonitor::v1::MemberSample& s : samples) {
    *batch.add_samples() = s;
  }
  return batch.SerializeAsString();
}

class RawDealer {
 public:
  explicit RawDealer(const std::string& endpoint)
      : context_(zmq_ctx_new()), socket_(zmq_socket(context_, ZMQ_DEALER)) {
    int linger = 0;
    zmq_setsockopt(socket_, ZMQ_LINGER, &linger, sizeof(linger));
    connected_ = zmq_connect(socket_, endpoint.c_str()) == 0;
  }
  ~RawDealer() {
    zmq_close(socket_);
    zmq_ctx_term(context_);
  }
  RawDealer(const RawDealer&) = delete;
  RawDealer& operator=(const RawDealer&) = delete;

  bool connected() const { return connected_; }

  bool Send(const std::string& frame) {
    return zmq_send(socket_, frame.data(), frame.size(), 0) == static_cast<int>(frame.size());
  }

  // The next ack within `timeout`: its sequence, or 0 when none came. Its collector id goes to
  // last_ack_collector().
  uint64_t NextAck(std::chrono::milliseconds timeout) {
    last_ack_collector_.clear();
    zmq_pollitem_t item{socket_, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, static_cast<long>(timeout.count())) <= 0) {
      return 0;
    }
    char buffer[512];
    const int size = zmq_recv(socket_, buffer, sizeof(buffer), 0);
    etcdmonitor::v1::Ack ack;
    if (size <= 0 || static_cast<std::size_t>(size) > sizeof(buffer) ||
        !ack.ParseFromArray(buffer, size)) {
      return 0;
    }
    last_ack_collector_ = ack.collector_id();
    return ack.sequence();
  }
  const std::string& last_ack_collector() const { return last_ack_collector_; }

  // Sends `frame` and waits for the ack of `sequence`.
  bool SendAndAwaitAck(const std::string& frame, uint64_t sequence) {
    return Send(frame) && NextAck(std::chrono::seconds(10)) == sequence;
  }

  // Sends batch `sequence` of `collector` holding `samples`; true once its ack came back.
  bool SendAndAwaitAck(const std::string& collector, uint64_t sequence,
                       const std::vector<etcdmonitor::v1::MemberSample>& samples) {
    return SendAndAwaitAck(Frame(collector, sequence, samples), sequence) &&
           last_ack_collector_ == collector;
  }

 private:
  void* context_;
  void* socket_;
  bool connected_ = false;
  std::string last_ack_collector_;
};

}  // namespace etcdmon::aggregator::raw_ingest
