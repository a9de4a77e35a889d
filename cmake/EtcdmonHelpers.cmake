# Small helpers shared by every CMakeLists.txt of the project.

# etcdmon_add_test(NAME <target> SOURCES <files...> LIBS <targets...> [LABEL unit|integration|e2e])
# One GoogleTest executable, linked to gtest_main. Unit tests are registered case by case.
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
  if(ARG_LABEL STREQUAL "unit")
    gtest_discover_tests(${ARG_NAME}
      TEST_PREFIX "${ARG_NAME}."
      DISCOVERY_TIMEOUT 60
      PROPERTIES LABELS unit TIMEOUT 120)
  else()
    # Integration and end-to-end suites run as one ctest test per executable, so a suite can
    # start its etcd cluster once (SetUpTestSuite) instead of once per case. They take turns on
    # the "etcd" lock: two clusters electing leaders on two cores at once make each other flaky.
    add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
    set_tests_properties(${ARG_NAME} PROPERTIES
      LABELS ${ARG_LABEL} TIMEOUT 600 RESOURCE_LOCK etcd)
  endif()
endfunction()

# A test that starts the product's binaries: for each target named, the test gets the binary's
# path as a compile definition (etcd-monitor: ETCDMON_BINARY; etcd-monitor-NAME:
# ETCDMON_NAME_BINARY) and is built after it. Does nothing when the test does not exist (tests
# off).
function(etcdmon_test_runs TEST)
  if(NOT TARGET ${TEST})
    return()
  endif()
  foreach(binary IN LISTS ARGN)
    if(binary STREQUAL "etcd-monitor")
      set(definition ETCDMON_BINARY)
    else()
      string(REPLACE "etcd-monitor-" "" name "${binary}")
      string(TOUPPER "${name}" name)
      set(definition ETCDMON_${name}_BINARY)
    endif()
    target_compile_definitions(${TEST} PRIVATE ${definition}="$<TARGET_FILE:${binary}>")
  endforeach()
  add_dependencies(${TEST} ${ARGN})
endfunction()
