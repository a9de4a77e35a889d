#pragma once

// The ZAP handler (ZeroMQ RFC 27) of the batch receiver's ROUTER: decides at the handshake which
// connections the ingest socket accepts.
//
// libzmq asks the handler bound to inproc://zeromq.zap.01 in the socket's context about every
// CURVE handshake of any server socket of that context, and about NULL handshakes of sockets
// with a ZAP domain. The ingest ROUTER sets kIngestZapDomain, so both reach it:
//  - more connected peers than max_peers: refused (too_many_peers), whatever the mechanism;
//  - CURVE with an allow-list: a client key not on the list is refused (unknown_key); an
//    accepted connection's User-Id is its public key (Z85), which the receiver reads from every
//    message to check the batch's collector id;
//  - CURVE without an allow-list, and NULL: accepted (User-Id: the key, or empty).
// Requests of other domains (the snapshot PUB socket, which may share the context) are accepted
// unchanged: subscribers only read, and are not collectors.
//
// Peers are counted from the ROUTER's socket monitor (accepted minus disconnected TCP
// connections), which this class reads on its own thread next to the ZAP socket.
//
// Owns one thread (Start() to Stop()). SetKeys(), keys(), peers() are safe from any thread.

#include <spdlog/fwd.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "etcdmon/status/status.h"
#include "etcdmon/transport/batch_receiver.h"
#include "etcdmon/transport/collector_keys.h"
#include "zmq_util.h"

namespace etcdmon::transport::detail {

/// The ZAP domain of the ingest ROUTER.
inline constexpr char kIngestZapDomain[] = "etcdmon-ingest";

class ZapAuthenticator final {
 public:
  struct Options {
    void* context = nullptr;  // the server socket's libzmq context
    std::size_t max_peers = 1024;
    /// Called on the handler's thread for every connection it refuses, and for every failed
    /// handshake the monitor reports (kHandshakeFailed).
    std::function<void(RejectReason)> refused;
    std::shared_ptr<spdlog::logger> logger;  // optional
  };

  /// Binds the ZAP endpoint in `options.context` and monitors `server_socket` (call before the
  /// server binds, so that no connection is missed). `keys`: the allow-list, null for none.
  /// @return Unavailable when another ZAP handler is bound in that context.
  static Result<std::unique_ptr<ZapAuthenticator>> Create(
      Options options, void* server_socket, std::shared_ptr<const CollectorKeys> keys);

  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

  /// Starts answering. Handshakes before Start() wait (libzmq queues the requests).
  void Start();
  /// Stops the thread and closes the sockets. Idempotent; safe without Start(). Call after the
  /// server socket is closed and before its context terminates.
  void Stop();

  /// Replaces the allow-list for handshakes from now on. Null: any key.
  void SetKeys(std::shared_ptr<const CollectorKeys> keys);
  std::shared_ptr<const CollectorKeys> keys() const;
  /// TCP connections of the server socket now open (handshaking or established).
  std::size_t peers() const { return peers_.load(std::memory_order_relaxed); }

 private:
  explicit ZapAuthenticator(Options options);
  void Run();
  void ReadMonitorEvents();
  bool AnswerOne();  // false when no request was waiting

  Options options_;
  std::unique_ptr<Waker> waker_;
  SocketPtr zap_;      // REP on inproc://zeromq.zap.01; used by the thread while it runs
  SocketPtr monitor_;  // PAIR of the server socket's monitor; used by the thread while it runs
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool stopped_ = false;  // owner's thread only
  std::atomic<std::size_t> peers_{0};

  mutable std::mutex mu_;
  std::shared_ptr<const CollectorKeys> keys_;  // guarded by mu_
};

}  // namespace etcdmon::transport::detail
