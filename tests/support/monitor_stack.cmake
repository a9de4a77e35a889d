# An in-process aggregator + collectors on a real cluster, for tests of the layers on top.
add_library(etcdmon_test_monitor_stack src/monitor_stack.cpp)
add_library(etcdmon::test_monitor_stack ALIAS etcdmon_test_monitor_stack)
target_include_directories(etcdmon_test_monitor_stack PUBLIC include)
target_link_libraries(etcdmon_test_monitor_stack
  PUBLIC etcdmon::test_support etcdmon::aggregator etcdmon::collector etcdmon::proto
  PRIVATE gRPC::grpc++ spdlog::spdlog)
