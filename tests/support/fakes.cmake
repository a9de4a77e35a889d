# Hand-written fakes of the project's interfaces, for unit tests (header-only).
add_library(etcdmon_test_fakes INTERFACE)
add_library(etcdmon::test_fakes ALIAS etcdmon_test_fakes)
target_include_directories(etcdmon_test_fakes INTERFACE include)
target_link_libraries(etcdmon_test_fakes INTERFACE etcdmon::etcd)
