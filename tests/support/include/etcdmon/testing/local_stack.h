#pragma once

// deploy/local/stack.sh on free loopback ports, for the end-to-end tests: one way to pick the
// ports, pass them and start the stack, so that every test that runs the stack exercises the
// same script the same way (and none of them collides with another on a fixed port).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "etcdmon/status/status.h"

namespace etcdmon::testing {

/// The ports stack.sh is given, all free loopback ports picked at start.
struct LocalStackPorts {
  uint16_t etcd_client[3] = {};
  uint16_t etcd_peer[3] = {};
  uint16_t ingest = 0;
  uint16_t publish = 0;
  uint16_t aggregator_grpc = 0;
  uint16_t alerter_grpc = 0;
  uint16_t api = 0;
  uint16_t prometheus = 0;
  uint16_t tls = 0;  // the TLS proxy in front of the gateway
};

struct LocalStackOptions {
  std::string source_dir;  // the repository: deploy/local/stack.sh is under it
  std::string build_dir;   // BUILD_DIR: where the binaries are
  std::string work_dir;    // each attempt's STACK_DIR and start log go below it
  /// More environment for stack.sh (intervals, *_ARGS, ETCD_ROOT_PASSWORD_FILE, ...); the ports,
  /// STACK_DIR and BUILD_DIR are set by Start().
  std::vector<std::string> extra_env;
  std::chrono::seconds start_timeout{120};
};

/// A running stack. Stop() (or the destructor) runs `stack.sh stop`.
class LocalStack final {
 public:
  /// Runs `stack.sh start` on fresh free ports, up to three times when a port was taken in the
  /// meantime (each attempt in a fresh STACK_DIR: etcd keeps its peer URLs in its data dir).
  /// Any other failure is returned at once with the script's output.
  static Result<LocalStack> Start(const LocalStackOptions& options);

  LocalStack(LocalStack&& other) noexcept;
  LocalStack& operator=(LocalStack&& other) noexcept;
  LocalStack(const LocalStack&) = delete;
  LocalStack& operator=(const LocalStack&) = delete;
  ~LocalStack();

  /// `stack.sh <args...>` with this stack's environment, output to `log_file`; the output on
  /// success, else an error with the output.
  Result<std::string> Run(const std::vector<std::string>& args, const std::string& log_file,
                          std::chrono::seconds timeout = std::chrono::seconds(60)) const;
  /// `stack.sh stop`, once; later calls do nothing and return OK.
  Status Stop();

  const std::string& dir() const { return stack_dir_; }  // STACK_DIR
  const std::vector<std::string>& env() const { return env_; }
  const LocalStackPorts& ports() const { return ports_; }
  std::string ApiUrl() const;  // http://127.0.0.1:<api>

 private:
  LocalStack() = default;

  std::string script_;
  std::string stack_dir_;
  std::string stop_log_;
  std::vector<std::string> env_;
  LocalStackPorts ports_;
  bool running_ = false;
};

}  // namespace etcdmon::testing
