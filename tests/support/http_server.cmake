# A canned-response HTTP server on 127.0.0.1 for tests of HTTP clients (common/http).
# Included from tests/support/CMakeLists.txt.
add_library(etcdmon_test_http_server
  ${CMAKE_CURRENT_LIST_DIR}/src/http_server.cpp)
add_library(etcdmon::test_http_server ALIAS etcdmon_test_http_server)
target_include_directories(etcdmon_test_http_server PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
target_link_libraries(etcdmon_test_http_server
  PUBLIC etcdmon::status Threads::Threads)
