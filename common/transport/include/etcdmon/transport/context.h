#pragma once

// A ZeroMQ context shared by several sockets of one process, so that they can talk over
// inproc:// endpoints: the all-in-one binary runs collectors, aggregator and alerter in one
// process and connects them without a network hop or an open port.

#include <memory>

#include "etcdmon/status/status.h"

namespace etcdmon::transport {

/// Pass the same SharedContext in the options of every socket that must reach the others over
/// inproc:// (an inproc name is known only inside its context). Each socket keeps the context
/// alive; it terminates when the last socket and the last shared_ptr are gone. Thread-safe.
class SharedContext final {
 public:
  static Result<std::shared_ptr<SharedContext>> Create();
  ~SharedContext();
  SharedContext(const SharedContext&) = delete;
  SharedContext& operator=(const SharedContext&) = delete;

  /// The libzmq context (void*).
  void* get() const { return context_; }

 private:
  explicit SharedContext(void* context) : context_(context) {}
  void* context_;
};

}  // namespace etcdmon::transport
