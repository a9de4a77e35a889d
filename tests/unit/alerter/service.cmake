etcdmon_add_test(NAME alert_store_test
  SOURCES alert_store_test.cpp
  LIBS etcdmon::alerter etcdmon::sqlite etcdmon::test_util)
# The alerter service over many clusters: a scripted snapshot source, a fake clock, gRPC in
# process.
etcdmon_add_test(NAME alerter_service_test
  SOURCES service_test.cpp
  LIBS etcdmon::alerter etcdmon::proto etcdmon::rpc etcdmon::test_util gRPC::grpc++
       spdlog::spdlog)
