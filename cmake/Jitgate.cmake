# Helpers that keep every module's CMakeLists.txt to a few lines.
#
# jitgate_module(NAME SOURCES a.cc b.cc DEPS other_libs TESTS a_test.cc)
#   defines the static library jg_NAME and, when TESTS are given, the GoogleTest
#   executable jg_NAME_test registered with CTest.
include_guard(GLOBAL)

# Unit tests are built for compile speed, not run speed: in optimized builds their own
# translation units use -O1 and line tables only (about half the compile time of -O2 -g).
# The code under test keeps the build type's flags, since it lives in the jg_* libraries.
function(jitgate_test_options target)
  target_compile_options(${target} PRIVATE $<$<CONFIG:RelWithDebInfo,Release>:-O1 -g1>)
endfunction()

function(jitgate_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;TESTS;TEST_DEPS" ${ARGN})
  add_library(jg_${name} STATIC ${ARG_SOURCES})
  target_include_directories(jg_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(jg_${name} PUBLIC ${ARG_DEPS})
  if(ARG_TESTS AND JITGATE_TESTS)
    add_executable(jg_${name}_test ${ARG_TESTS})
    target_link_libraries(jg_${name}_test PRIVATE jg_${name} ${ARG_TEST_DEPS}
                          GTest::gmock GTest::gtest_main)
    jitgate_test_options(jg_${name}_test)
    add_test(NAME ${name} COMMAND jg_${name}_test --gtest_brief=1
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  endif()
endfunction()
