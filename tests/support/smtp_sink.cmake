# An SMTP sink on 127.0.0.1 for tests of mail senders (the alerter's email channel).
# Included from tests/support/CMakeLists.txt.
add_library(etcdmon_test_smtp_sink
  ${CMAKE_CURRENT_LIST_DIR}/src/smtp_sink.cpp)
add_library(etcdmon::test_smtp_sink ALIAS etcdmon_test_smtp_sink)
target_include_directories(etcdmon_test_smtp_sink PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
target_link_libraries(etcdmon_test_smtp_sink
  PUBLIC etcdmon::status Threads::Threads
  PRIVATE etcdmon::strings OpenSSL::SSL)
