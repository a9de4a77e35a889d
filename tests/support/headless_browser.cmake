# Headless chromium for tests of the gateway's web pages (DOM dumps, screenshots).
add_library(etcdmon_test_browser src/headless_browser.cpp)
add_library(etcdmon::test_browser ALIAS etcdmon_test_browser)
target_include_directories(etcdmon_test_browser PUBLIC include)
target_link_libraries(etcdmon_test_browser
  PUBLIC etcdmon::status
  PRIVATE etcdmon::test_support)
