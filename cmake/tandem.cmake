# Helpers shared by every folder's CMakeLists.

# tandem_add_test(NAME SOURCES f.cpp... LIBS lib... LABELS unit|kernel|model|e2e... [TIMEOUT s])
# A GoogleTest executable registered with ctest; it knows where ../shared is.
function(tandem_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  find_package(GTest REQUIRED)
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE TANDEM_SHARED_DIR="${TANDEM_SHARED_DIR}"
                                             TANDEM_BINARY_DIR="${CMAKE_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()

# Adds each listed subfolder that has a CMakeLists.txt (folders grow one library at a time).
function(tandem_add_subdirs)
  foreach(dir ${ARGN})
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/CMakeLists.txt)
      add_subdirectory(${dir})
    endif()
  endforeach()
endfunction()
