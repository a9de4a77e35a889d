#include "grpc_log.h"

#include <grpc/support/log.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace etcdmon::etcd::detail {
namespace {

void ForwardToSpdlog(gpr_log_func_args* args) {
  spdlog::default_logger_raw()->debug("grpc_log severity={} file={}:{} msg={}",
                                      gpr_log_severity_string(args->severity), args->file,
                                      args->line, args->message);
}

}  // namespace

void RouteGrpcLogsToSpdlog() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(&ForwardToSpdlog); });
}

}  // namespace etcdmon::etcd::detail
