#include "zap_authenticator.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <string_view>
#include <utility>
#include <vector>

namespace etcdmon::transport::detail {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr std::string_view kZapVersion = "1.0";
// How long the loop may sleep in zmq_poll; Stop() wakes it earlier through the waker.
constexpr std::chrono::milliseconds kMaxPollWait{100};
constexpr int kMonitorEvents =
    ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
// A ZAP request: version, request id, domain, address, routing id, mechanism, credentials.
constexpr std::size_t kMaxRequestFrames = 8;

std::string NewMonitorEndpoint() {
  static std::atomic<uint64_t> next{0};
  return "inproc://batch-receiver-monitor-" + std::to_string(next.fetch_add(1));
}

}  // namespace

ZapAuthenticator::ZapAuthenticator(Options options) : options_(std::move(options)) {}

ZapAuthenticator::~ZapAuthenticator() { Stop(); }

Result<std::unique_ptr<ZapAuthenticator>> ZapAuthenticator::Create(
    Options options, void* server_socket, std::shared_ptr<const CollectorKeys> keys) {
  std::unique_ptr<ZapAuthenticator> zap(new ZapAuthenticator(std::move(options)));
  zap->keys_ = std::move(keys);
  Result<std::unique_ptr<Waker>> waker = Waker::Create();
  if (!waker.ok()) {
    return waker.status();
  }
  zap->waker_ = std::move(*waker);
  void* context = zap->options_.context;
  Result<SocketPtr> rep = NewSocket(context, ZMQ_REP);
  if (!rep.ok()) {
    return rep.status();
  }
  zap->zap_ = std::move(*rep);
  ETCDMON_RETURN_IF_ERROR(SetIntOption(zap->zap_.get(), ZMQ_LINGER, 0, "ZMQ_LINGER"));
  if (zmq_bind(zap->zap_.get(), kZapEndpoint) != 0) {
    return ZmqError("binding the ZAP handler (is another ingest receiver in this context?)");
  }
  const std::string monitor_endpoint = NewMonitorEndpoint();
  if (zmq_socket_monitor(server_socket, monitor_endpoint.c_str(), kMonitorEvents) != 0) {
    return ZmqError("zmq_socket_monitor");
  }
  Result<SocketPtr> pair = NewSocket(context, ZMQ_PAIR);
  if (!pair.ok()) {
    return pair.status();
  }
  zap->monitor_ = std::move(*pair);
  ETCDMON_RETURN_IF_ERROR(SetIntOption(zap->monitor_.get(), ZMQ_LINGER, 0, "ZMQ_LINGER"));
  if (zmq_connect(zap->monitor_.get(), monitor_endpoint.c_str()) != 0) {
    return ZmqError("connecting the socket monitor");
  }
  return zap;
}

void ZapAuthenticator::Start() {
  if (thread_.joinable() || stopped_) {
    return;
  }
  thread_ = std::thread([this] { Run(); });
}

void ZapAuthenticator::Stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  stop_.store(true);
  waker_->Notify();
  if (thread_.joinable()) {
    thread_.join();
  }
  monitor_.reset();
  zap_.reset();
}

void ZapAuthenticator::SetKeys(std::shared_ptr<const CollectorKeys> keys) {
  std::lock_guard<std::mutex> lock(mu_);
  keys_ = std::move(keys);
}

std::shared_ptr<const CollectorKeys> ZapAuthenticator::keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_;
}

void ZapAuthenticator::ReadMonitorEvents() {
  while (std::optional<MonitorEvent> event = ReadMonitorEvent(monitor_.get())) {
    switch (event->event) {
      case ZMQ_EVENT_ACCEPTED:
        peers_.fetch_add(1, std::memory_order_relaxed);
        break;
      case ZMQ_EVENT_DISCONNECTED:
        if (peers_.load(std::memory_order_relaxed) > 0) {
          peers_.fetch_sub(1, std::memory_order_relaxed);
        }
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        // Not CURVE with this server's key (a wrong server key, no CURVE) or not ZMTP at all.
        if (options_.refused) {
          options_.refused(RejectReason::kHandshakeFailed);
        }
        break;
      default:
        break;
    }
  }
}

bool ZapAuthenticator::AnswerOne() {
  std::vector<std::string> frames;
  bool more = false;
  {
    Message first;
    if (!ReceiveFrame(zap_.get(), first)) {
      return false;
    }
    frames.emplace_back(first.view());
    more = first.more();
  }
  while (more) {
    Message next;
    if (!ReceiveFrame(zap_.get(), next)) {
      break;  // the frames of a message arrive together; defensive
    }
    if (frames.size() < kMaxRequestFrames) {
      frames.emplace_back(next.view());
    }
    more = next.more();
  }
  // A REP must answer every request it read, or it reads nothing more: a malformed one gets a
  // 500 (libzmq itself never sends one).
  std::string request_id = frames.size() > 1 ? frames[1] : std::string();
  std::string status = "200";
  std::string text = "OK";
  std::string user_id;
  if (frames.size() < 6 || frames[0] != kZapVersion) {
    status = "500";
    text = "malformed ZAP request";
  } else if (frames[2] == kIngestZapDomain) {
    const std::string& mechanism = frames[5];
    std::shared_ptr<const CollectorKeys> list = keys();
    if (peers() > options_.max_peers) {
      status = "400";
      text = "too many peers";
      if (options_.refused) {
        options_.refused(RejectReason::kTooManyPeers);
      }
    } else if (mechanism == "CURVE" && frames.size() >= 7 && frames[6].size() == 32) {
      std::array<char, 41> z85{};
      zmq_z85_encode(z85.data(), reinterpret_cast<const uint8_t*>(frames[6].data()), 32);
      user_id.assign(z85.data(), 40);
      if (list != nullptr && !list->Knows(user_id)) {
        status = "400";
        text = "unknown key";
        if (options_.refused) {
          options_.refused(RejectReason::kUnknownKey);
        }
        if (options_.logger) {
          // A public key is not a secret; it names the refused client for the operator.
          options_.logger->debug("ingest_key_refused key={} address={}", user_id, frames[3]);
        }
        user_id.clear();
      }
    } else if (mechanism != "NULL") {
      status = "400";  // PLAIN, which this socket never offers
      text = "mechanism not accepted";
      if (options_.refused) {
        options_.refused(RejectReason::kHandshakeFailed);
      }
    }
  }
  const std::string version(kZapVersion);
  const std::string metadata;
  const std::string* reply[] = {&version, &request_id, &status, &text, &user_id, &metadata};
  constexpr std::size_t kReplyFrames = sizeof(reply) / sizeof(reply[0]);
  for (std::size_t i = 0; i < kReplyFrames; ++i) {
    if (!SendFrame(zap_.get(), reply[i]->data(), reply[i]->size(), i + 1 < kReplyFrames)) {
      if (options_.logger) {
        options_.logger->error("zap_reply_failed error=\"{}\"", zmq_strerror(errno));
      }
      break;
    }
  }
  return true;
}

void ZapAuthenticator::Run() {
  pthread_setname_np(pthread_self(), "ingest-zap");
  while (!stop_.load()) {
    // Monitor events first: the count must include the connection a request is about (its
    // ACCEPTED event was queued before its handshake began).
    ReadMonitorEvents();
    while (AnswerOne()) {
      ReadMonitorEvents();
    }
    zmq_pollitem_t items[3] = {
        {zap_.get(), 0, ZMQ_POLLIN, 0},
        {monitor_.get(), 0, ZMQ_POLLIN, 0},
        {nullptr, waker_->fd(), ZMQ_POLLIN, 0},
    };
    if (Poll(items, 3, kMaxPollWait) < 0) {
      if (options_.logger) {
        options_.logger->error("zap_poll_failed error=\"{}\"", zmq_strerror(errno));
      }
      break;
    }
    if ((items[2].revents & ZMQ_POLLIN) != 0) {
      waker_->Drain();
    }
  }
}

}  // namespace etcdmon::transport::detail
