#include "zmq_util.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace etcdmon::transport::detail {

void ContextDeleter::operator()(void* context) const {
  while (zmq_ctx_term(context) != 0 && errno == EINTR) {
  }
}

Status ZmqError(std::string_view what) {
  const int err = errno;
  std::string message = std::string(what) + ": " + zmq_strerror(err);
  switch (err) {
    case EINVAL:
    case EPROTONOSUPPORT:
    case ENOCOMPATPROTO:
      return Status::InvalidArgument(std::move(message));
    case EADDRINUSE:
    case EADDRNOTAVAIL:
    case ENODEV:
    case EAGAIN:
    case EHOSTUNREACH:
      return Status::Unavailable(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

Result<ContextPtr> NewContext() {
  void* context = zmq_ctx_new();
  if (context == nullptr) {
    return ZmqError("zmq_ctx_new");
  }
  return ContextPtr(context);
}

Result<SocketPtr> NewSocket(void* context, int type) {
  void* socket = zmq_socket(context, type);
  if (socket == nullptr) {
    return ZmqError("zmq_socket");
  }
  return SocketPtr(socket);
}

Status SetIntOption(void* socket, int option, int value, std::string_view name) {
  if (zmq_setsockopt(socket, option, &value, sizeof(value)) != 0) {
    return ZmqError("setting " + std::string(name));
  }
  return Status::Ok();
}

Status SetStringOption(void* socket, int option, std::string_view value, std::string_view name) {
  if (zmq_setsockopt(socket, option, value.data(), value.size()) != 0) {
    return ZmqError("setting " + std::string(name));
  }
  return Status::Ok();
}

Status SetMillisOption(void* socket, int option, std::chrono::milliseconds value,
                       std::string_view name) {
  if (value.count() < 0 || value.count() > 0x7fffffff) {
    return Status::InvalidArgument(std::string(name) +
                                   " out of range: " + std::to_string(value.count()) + " ms");
  }
  return SetIntOption(socket, option, static_cast<int>(value.count()), name);
}

Result<std::string> LastEndpoint(void* socket) {
  char buffer[256];
  size_t size = sizeof(buffer);
  if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, buffer, &size) != 0) {
    return ZmqError("reading ZMQ_LAST_ENDPOINT");
  }
  // The value is NUL-terminated and `size` counts the terminator.
  return std::string(buffer, size > 0 ? size - 1 : 0);
}

int Poll(zmq_pollitem_t* items, int count, std::chrono::milliseconds timeout) {
  const int rc = zmq_poll(items, count, static_cast<long>(timeout.count()));
  if (rc < 0 && errno == EINTR) {
    for (int i = 0; i < count; ++i) {
      items[i].revents = 0;
    }
    return 0;
  }
  return rc;
}

bool ReceiveFrame(void* socket, Message& message) {
  while (true) {
    if (zmq_msg_recv(message.get(), socket, ZMQ_DONTWAIT) >= 0) {
      return true;
    }
    if (errno != EINTR) {
      return false;
    }
  }
}

bool SendFrame(void* socket, const void* data, std::size_t size, bool more) {
  const int flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0);
  while (true) {
    if (zmq_send(socket, data, size, flags) >= 0) {
      return true;
    }
    if (errno != EINTR) {
      return false;
    }
  }
}

void DiscardRest(void* socket, Message& last) {
  while (last.more()) {
    if (!ReceiveFrame(socket, last)) {
      return;  // cannot happen: the frames of a message arrive together
    }
  }
}

Result<std::unique_ptr<Waker>> Waker::Create() {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    return Status::Internal(std::string("eventfd: ") + std::strerror(errno));
  }
  return std::unique_ptr<Waker>(new Waker(fd));
}

Waker::~Waker() { close(fd_); }

void Waker::Notify() {
  const uint64_t one = 1;
  // Fails only when the counter would overflow, i.e. the I/O thread is already due to wake.
  [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof(one));
}

void Waker::Drain() {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = read(fd_, &count, sizeof(count));
}

std::optional<MonitorEvent> ReadMonitorEvent(void* monitor) {
  // A monitor event is two frames: 6 bytes (uint16 event, uint32 value, host byte order) and
  // the peer's endpoint.
  Message first;
  if (!ReceiveFrame(monitor, first)) {
    return std::nullopt;
  }
  MonitorEvent event;
  if (first.size() >= 6) {
    const auto* bytes = static_cast<const uint8_t*>(first.data());
    std::memcpy(&event.event, bytes, sizeof(event.event));
    std::memcpy(&event.value, bytes + 2, sizeof(event.value));
  }
  DiscardRest(monitor, first);
  return event;
}

Result<ContextAndSocket> NewContextAndSocket(int type,
                                             const std::shared_ptr<SharedContext>& shared) {
  ContextAndSocket out;
  if (shared) {
    // Aliasing: the holder points at the libzmq context and keeps the SharedContext alive.
    out.context = ContextHolder(shared, shared->get());
  } else {
    Result<ContextPtr> context = NewContext();
    if (!context.ok()) {
      return context.status();
    }
    out.context = ContextHolder(std::move(context).value());
  }
  Result<SocketPtr> socket = NewSocket(out.context.get(), type);
  if (!socket.ok()) {
    return socket.status();
  }
  out.socket = std::move(socket).value();
  return out;
}

Status SetCurveServer(void* socket, const std::string& secret_key) {
  ETCDMON_RETURN_IF_ERROR(SetIntOption(socket, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER"));
  return SetStringOption(socket, ZMQ_CURVE_SECRETKEY, secret_key, "CURVE secret key");
}

Status SetCurveClient(void* socket, const std::string& server_key, const std::string& public_key,
                      const std::string& secret_key) {
  ETCDMON_RETURN_IF_ERROR(
      SetStringOption(socket, ZMQ_CURVE_SERVERKEY, server_key, "CURVE server key"));
  ETCDMON_RETURN_IF_ERROR(
      SetStringOption(socket, ZMQ_CURVE_PUBLICKEY, public_key, "CURVE public key"));
  return SetStringOption(socket, ZMQ_CURVE_SECRETKEY, secret_key, "CURVE secret key");
}

Result<std::string> Bind(void* socket, const std::string& endpoint) {
  if (zmq_bind(socket, endpoint.c_str()) != 0) {
    return ZmqError("binding " + endpoint);
  }
  return LastEndpoint(socket);
}

uint16_t PortOfEndpoint(std::string_view endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) {
    return 0;
  }
  unsigned long port = 0;
  for (char c : endpoint.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) {
      return 0;
    }
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  return port <= 65535 ? static_cast<uint16_t>(port) : 0;
}

}  // namespace etcdmon::transport::detail

namespace etcdmon::transport {

Result<std::shared_ptr<SharedContext>> SharedContext::Create() {
  Result<detail::ContextPtr> context = detail::NewContext();
  if (!context.ok()) {
    return context.status();
  }
  return std::shared_ptr<SharedContext>(new SharedContext(context->release()));
}

SharedContext::~SharedContext() { detail::ContextDeleter()(context_); }

}  // namespace etcdmon::transport
