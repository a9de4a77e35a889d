# (rules) The rules, rules files (YAML or JSON through yaml-cpp) and the alert engine.
target_sources(etcdmon_alerter PRIVATE
  src/rules/rule.cpp
  src/rules/rule_cluster.cpp
  src/rules/rule_member.cpp
  src/rules/rules_file.cpp
  src/rules/engine.cpp
)
target_link_libraries(etcdmon_alerter
  PUBLIC etcdmon::config
  PRIVATE etcdmon::proto etcdmon::metrics etcdmon::yaml)
