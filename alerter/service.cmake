# The alert store (SQLite), the gRPC AlertService, the alerter service and its binary.
target_sources(etcdmon_alerter PRIVATE
  src/alert_store.cpp
)
target_link_libraries(etcdmon_alerter
  PRIVATE etcdmon::sqlite nlohmann_json::nlohmann_json)
