#pragma once

// Thin RAII and error helpers over the libzmq C API, shared by the sender and the receiver.
// The C API is used directly (rather than cppzmq) so that EAGAIN and EINTR are plain return
// values and no exception can escape the I/O threads.

#include <zmq.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "etcdmon/status/status.h"
#include "etcdmon/transport/context.h"

namespace etcdmon::transport::detail {

struct ContextDeleter {
  void operator()(void* context) const;  // zmq_ctx_term, retried on EINTR
};
struct SocketDeleter {
  void operator()(void* socket) const { zmq_close(socket); }
};
/// Declare a ContextPtr before the SocketPtrs of that context: sockets must close first, or
/// zmq_ctx_term() waits for them forever.
using ContextPtr = std::unique_ptr<void, ContextDeleter>;
/// A socket's hold on its context: its own (terminated with it) or a SharedContext's.
using ContextHolder = std::shared_ptr<void>;
using SocketPtr = std::unique_ptr<void, SocketDeleter>;

/// "<what>: <zmq_strerror(errno)>" with a code that fits errno.
Status ZmqError(std::string_view what);

Result<ContextPtr> NewContext();
Result<SocketPtr> NewSocket(void* context, int type);

Status SetIntOption(void* socket, int option, int value, std::string_view name);
Status SetStringOption(void* socket, int option, std::string_view value, std::string_view name);
Status SetMillisOption(void* socket, int option, std::chrono::milliseconds value,
                       std::string_view name);

/// One socket of `type` in `shared` (or, when null, in a new context of its own). Move `context`
/// into a member declared before the socket's member: the socket must close before its context
/// terminates.
struct ContextAndSocket {
  ContextHolder context;
  SocketPtr socket;  // declared last: destroyed first
};
Result<ContextAndSocket> NewContextAndSocket(int type,
                                             const std::shared_ptr<SharedContext>& shared);

/// Makes `socket` a CURVE server with this secret key (Z85).
Status SetCurveServer(void* socket, const std::string& secret_key);

/// Makes `socket` a CURVE client of the server with public key `server_key`, using this key pair
/// (all Z85).
Status SetCurveClient(void* socket, const std::string& server_key, const std::string& public_key,
                      const std::string& secret_key);

/// Binds `socket` to `endpoint` and returns the endpoint actually bound (with the port chosen
/// for ":0").
Result<std::string> Bind(void* socket, const std::string& endpoint);

/// The port of "tcp://host:port"; 0 when there is none.
uint16_t PortOfEndpoint(std::string_view endpoint);

/// The endpoint a socket last bound or connected to (ZMQ_LAST_ENDPOINT).
Result<std::string> LastEndpoint(void* socket);

/// zmq_poll that returns 0 (nothing ready) when interrupted by a signal; -1 on real errors.
int Poll(zmq_pollitem_t* items, int count, std::chrono::milliseconds timeout);

/// An owned zmq_msg_t.
class Message {
 public:
  Message() { zmq_msg_init(&msg_); }
  ~Message() { zmq_msg_close(&msg_); }
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  zmq_msg_t* get() { return &msg_; }
  const void* data() { return zmq_msg_data(&msg_); }
  std::size_t size() { return zmq_msg_size(&msg_); }
  bool more() { return zmq_msg_more(&msg_) != 0; }
  std::string_view view() { return {static_cast<const char*>(data()), size()}; }

 private:
  zmq_msg_t msg_;
};

/// Receives one frame without blocking, retrying on EINTR. True when a frame was read; false
/// when none was waiting (EAGAIN) or on another error (errno says which).
bool ReceiveFrame(void* socket, Message& message);

/// Sends one frame without blocking, retrying on EINTR. True when queued; false with errno set
/// (EAGAIN: no connected peer or its queue is full; EHOSTUNREACH: unknown ROUTER peer).
bool SendFrame(void* socket, const void* data, std::size_t size, bool more);

/// Reads and discards the remaining frames of a multipart message.
void DiscardRest(void* socket, Message& last);

/// A file descriptor any thread can signal to wake an I/O thread out of zmq_poll (an eventfd,
/// polled as a raw fd next to the sockets). Notify() is safe from any thread.
class Waker {
 public:
  static Result<std::unique_ptr<Waker>> Create();
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  void Notify();
  /// Clears pending notifications (called by the I/O thread after poll reports the fd).
  void Drain();
  int fd() const { return fd_; }

 private:
  explicit Waker(int fd) : fd_(fd) {}
  int fd_;
};

/// One event of a socket monitor (zmq_socket_monitor).
struct MonitorEvent {
  uint16_t event = 0;  // ZMQ_EVENT_*
  uint32_t value = 0;  // errno, fd or interval, depending on the event
};

/// Reads one event from a monitor PAIR socket without blocking; nullopt when none is waiting.
std::optional<MonitorEvent> ReadMonitorEvent(void* monitor);

}  // namespace etcdmon::transport::detail
