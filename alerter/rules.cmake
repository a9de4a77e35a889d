# (rules) The rules, rules files (YAML or JSON through yaml-cpp) and the alert engine.
target_sources(etcdmon_alerter PRIVATE
  src/rule.cpp
  src/rule_cluster.cpp
  src/rule_member.cpp
  src/rules_file.cpp
  src/engine.cpp
)
target_link_libraries(etcdmon_alerter
  PUBLIC etcdmon::config
  PRIVATE etcdmon::proto etcdmon::metrics yaml-cpp)
