# Hand-written fakes of the project's interfaces, for unit tests (header-only).
add_library(etcdmon_test_fakes INTERFACE)
add_library(etcdmon::test_fakes ALIAS etcdmon_test_fakes)
target_include_directories(etcdmon_test_fakes INTERFACE include)
target_link_libraries(etcdmon_test_fakes INTERFACE etcdmon::etcd)

# TempDir and WaitFor (header-only), for any test.
add_library(etcdmon_test_util INTERFACE)
add_library(etcdmon::test_util ALIAS etcdmon_test_util)
target_include_directories(etcdmon_test_util INTERFACE include)
target_link_libraries(etcdmon_test_util INTERFACE GTest::gtest Threads::Threads)
