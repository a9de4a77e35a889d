#include "etcdmon/testing/local_stack.h"

#include <utility>

#include "etcdmon/testing/ports.h"
#include "etcdmon/testing/process.h"

namespace etcdmon::testing {
namespace {

constexpr int kAttempts = 3;
constexpr std::size_t kPortCount = 13;

std::string Three(const uint16_t (&ports)[3]) {
  return std::to_string(ports[0]) + " " + std::to_string(ports[1]) + " " + std::to_string(ports[2]);
}

LocalStackPorts AssignPorts(const std::vector<uint16_t>& p) {
  LocalStackPorts ports;
  for (int i = 0; i < 3; ++i) {
    ports.etcd_client[i] = p[i];
    ports.etcd_peer[i] = p[3 + i];
  }
  ports.ingest = p[6];
  ports.publish = p[7];
  ports.aggregator_grpc = p[8];
  ports.alerter_grpc = p[9];
  ports.api = p[10];
  ports.prometheus = p[11];
  ports.tls = p[12];
  return ports;
}

}  // namespace

Result<LocalStack> LocalStack::Start(const LocalStackOptions& options) {
  Status last = Status::Internal("stack.sh start was not tried");
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    Result<std::vector<uint16_t>> picked = PickFreeLoopbackPorts(kPortCount);
    if (!picked.ok()) {
      return picked.status();
    }
    LocalStack stack;
    stack.script_ = options.source_dir + "/deploy/local/stack.sh";
    stack.ports_ = AssignPorts(*picked);
    const LocalStackPorts& p = stack.ports_;
    const std::string suffix = "-" + std::to_string(attempt);
    stack.stack_dir_ = options.work_dir + "/stack" + suffix;
    stack.stop_log_ = options.work_dir + "/stop" + suffix + ".log";
    stack.env_ = {"STACK_DIR=" + stack.stack_dir_,
                  "BUILD_DIR=" + options.build_dir,
                  "ETCD_CLIENT_PORTS=" + Three(p.etcd_client),
                  "ETCD_PEER_PORTS=" + Three(p.etcd_peer),
                  "INGEST_PORT=" + std::to_string(p.ingest),
                  "PUBLISH_PORT=" + std::to_string(p.publish),
                  "AGGREGATOR_GRPC_PORT=" + std::to_string(p.aggregator_grpc),
                  "ALERTER_GRPC_PORT=" + std::to_string(p.alerter_grpc),
                  "API_PORT=" + std::to_string(p.api),
                  "PROMETHEUS_PORT=" + std::to_string(p.prometheus),
                  "TLS_PORT=" + std::to_string(p.tls)};
    stack.env_.insert(stack.env_.end(), options.extra_env.begin(), options.extra_env.end());
    const std::string log = options.work_dir + "/start" + suffix + ".log";
    stack.running_ = true;  // a failed start may leave processes behind: stop them too
    Result<std::string> started = stack.Run({"start"}, log, options.start_timeout);
    if (started.ok()) {
      return stack;
    }
    last = started.status();
    (void)stack.Stop();
    if (ReadWholeFile(log).find("already in use") == std::string::npos) {
      return last;
    }
  }
  return Status::Unavailable("stack.sh start failed " + std::to_string(kAttempts) +
                             " times on ports in use; the last: " + last.ToString());
}

LocalStack::LocalStack(LocalStack&& other) noexcept
    : script_(std::move(other.script_)),
      stack_dir_(std::move(other.stack_dir_)),
      stop_log_(std::move(other.stop_log_)),
      env_(std::move(other.env_)),
      ports_(other.ports_),
      running_(std::exchange(other.running_, false)) {}

LocalStack& LocalStack::operator=(LocalStack&& other) noexcept {
  if (this != &other) {
    (void)Stop();
    script_ = std::move(other.script_);
    stack_dir_ = std::move(other.stack_dir_);
    stop_log_ = std::move(other.stop_log_);
    env_ = std::move(other.env_);
    ports_ = other.ports_;
    running_ = std::exchange(other.running_, false);
  }
  return *this;
}

LocalStack::~LocalStack() { (void)Stop(); }

Result<std::string> LocalStack::Run(const std::vector<std::string>& args,
                                    const std::string& log_file,
                                    std::chrono::seconds timeout) const {
  std::vector<std::string> argv = {"/bin/bash", script_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, log_file, timeout, env_);
}

Status LocalStack::Stop() {
  if (!running_) {
    return Status::Ok();
  }
  running_ = false;
  Result<std::string> stopped = Run({"stop"}, stop_log_);
  return stopped.ok() ? Status::Ok() : stopped.status();
}

std::string LocalStack::ApiUrl() const { return "http://127.0.0.1:" + std::to_string(ports_.api); }

}  // namespace etcdmon::testing
