etcdmon_add_test(NAME alert_store_test
  SOURCES alert_store_test.cpp
  LIBS etcdmon::alerter etcdmon::sqlite etcdmon::test_util)
