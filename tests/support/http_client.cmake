# A curl-based HTTP client for tests of REST APIs (any method, headers and status kept).
add_library(etcdmon_test_http_client src/http_client.cpp)
add_library(etcdmon::test_http_client ALIAS etcdmon_test_http_client)
target_include_directories(etcdmon_test_http_client PUBLIC include)
target_link_libraries(etcdmon_test_http_client
  PUBLIC nlohmann_json::nlohmann_json
  PRIVATE CURL::libcurl)

# A real Prometheus receiving remote_write (prometheus_receiver.h), on the client above.
add_library(etcdmon_test_prometheus src/prometheus_receiver.cpp)
add_library(etcdmon::test_prometheus ALIAS etcdmon_test_prometheus)
target_include_directories(etcdmon_test_prometheus PUBLIC include)
target_link_libraries(etcdmon_test_prometheus
  PUBLIC etcdmon::status
  PRIVATE etcdmon::test_http_client etcdmon::test_support etcdmon::test_util
          nlohmann_json::nlohmann_json)
