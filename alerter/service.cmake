# The alert store (SQLite), the gRPC AlertService, the alerter service and its binary.
target_sources(etcdmon_alerter PRIVATE
  src/service/alert_grpc.cpp
  src/service/alert_store.cpp
  src/service/flags.cpp
  src/service/service.cpp
)
target_link_libraries(etcdmon_alerter
  PUBLIC etcdmon::config etcdmon::rpc spdlog::spdlog
  PRIVATE etcdmon::files etcdmon::sqlite etcdmon::transport etcdmon::proto CLI11::CLI11
          gRPC::grpc++ nlohmann_json::nlohmann_json)

add_executable(etcd-monitor-alerter main.cpp)
target_link_libraries(etcd-monitor-alerter PRIVATE etcdmon::alerter etcdmon::logging
                                                   etcdmon::runtime spdlog::spdlog)
