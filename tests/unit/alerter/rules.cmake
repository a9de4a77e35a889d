# (rules) unit tests of the rules, rules files and the alert engine.
etcdmon_add_test(NAME alerter_rules_test
  SOURCES rules_file_test.cpp rules_test.cpp engine_test.cpp engine_rolling_restart_test.cpp
          engine_restart_test.cpp
  LIBS etcdmon::alerter etcdmon::proto etcdmon::test_util)
