# Small helpers shared by every CMakeLists.txt of the project.

# etcdmon_add_unit_test(NAME <target> SOURCES <files...> LIBS <targets...>)
# One GoogleTest executable, linked to gtest_main, each TEST registered with ctest separately.
function(etcdmon_add_test)
  cmake_parse_arguments(ARG "" "NAME;LABEL" "SOURCES;LIBS" ${ARGN})
  if(NOT ETCDMON_BUILD_TESTS)
    return()
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main)
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS ${ARG_LABEL} TIMEOUT 300)
endfunction()
