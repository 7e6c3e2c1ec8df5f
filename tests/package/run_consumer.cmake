# Builds and runs tests/package/consumer against spindle. MODE=find_package installs the already built tree
# into WORK/prefix first and also checks the pkg-config file; MODE=add_subdirectory builds spindle as part of
# the consumer.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

set(consumer ${CMAKE_CURRENT_LIST_DIR}/consumer)
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${SPINDLE_BUILD_DIR} --prefix ${WORK}/prefix)
  foreach(f lib/cmake/spindle/spindleConfig.cmake lib/cmake/spindle/spindleConfigVersion.cmake
            lib/pkgconfig/spindle.pc include/spindle/core/future.hpp)
    if(NOT EXISTS ${WORK}/prefix/${f})
      message(FATAL_ERROR "install is missing ${f}")
    endif()
  endforeach()
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
      -DCMAKE_BUILD_TYPE=Release -DCONSUMER_MODE=find_package -DCMAKE_PREFIX_PATH=${WORK}/prefix)
  # pkg-config must describe the same libraries.
  find_program(PKG_CONFIG pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} ${WORK}/prefix/lib/pkgconfig)
  run(${PKG_CONFIG} --cflags --libs spindle)
  if(NOT LAST_OUTPUT MATCHES "-lspindle_core")
    message(FATAL_ERROR "pkg-config output lacks -lspindle_core: ${LAST_OUTPUT}")
  endif()
  string(STRIP "${LAST_OUTPUT}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} ${consumer}/main.cpp -o ${WORK}/consumer_pkgconfig ${flags})
  run(${WORK}/consumer_pkgconfig)
else()
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
      -DCMAKE_BUILD_TYPE=Release -DCONSUMER_MODE=add_subdirectory -DSPINDLE_SOURCE_DIR=${SPINDLE_SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} --build ${WORK}/build -j 2)
run(${WORK}/build/consumer)
if(NOT LAST_OUTPUT MATCHES "consumer ok 42")
  message(FATAL_ERROR "unexpected consumer output: ${LAST_OUTPUT}")
endif()
message(STATUS "${MODE}: ${LAST_OUTPUT}")
