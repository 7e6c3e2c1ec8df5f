# One package test (tests/package/CMakeLists.txt), by MODE:
#   install           installs the built tree into PREFIX (outside both trees) by way of a staging directory
#                     that is then moved, so that the package must be relocatable, and checks that no
#                     installed CMake or pkg-config file names the source or build tree;
#   find_package      builds and runs tests/package/consumer with find_package(spindle CONFIG) from PREFIX;
#   find_package_mpi  builds tests/package/consumer_mpi with find_package(spindle COMPONENTS mpi) from PREFIX
#                     and runs it under mpirun -np 2 (where spindle was built with MPI);
#   pkg_config_mpi    the same program compiled with `pkg-config --cflags --libs spindle-mpi`, run the same way;
#   pkg_config        builds and runs it with `c++ main.cpp $(pkg-config --cflags --libs spindle)`, PREFIX's;
#   add_subdirectory  builds and runs it with spindle's source tree as a subdirectory;
#   uninstall         removes PREFIX.
# The consumer prints "consumer ok 42" only when its thread, aio and process results are all right.
cmake_minimum_required(VERSION 3.25)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " command)
    message(FATAL_ERROR "command failed (${rc}): ${command}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

function(run_consumer)  # the consumer's command line (its program, or a launcher and the program)
  run(${ARGN})
  if(NOT LAST_OUTPUT MATCHES "consumer ok 42")
    message(FATAL_ERROR "unexpected consumer output: ${LAST_OUTPUT}")
  endif()
  message(STATUS "${MODE}: ${LAST_OUTPUT}")
endfunction()

function(under path tree result)
  file(RELATIVE_PATH rel ${tree} ${path})
  if(rel MATCHES "^\\.\\.(/|$)" OR IS_ABSOLUTE "${rel}")
    set(${result} FALSE PARENT_SCOPE)
  else()
    set(${result} TRUE PARENT_SCOPE)
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

if(MODE STREQUAL "install")
  foreach(tree IN ITEMS ${SPINDLE_SOURCE_DIR} ${SPINDLE_BUILD_DIR})
    under(${PREFIX} ${tree} inside)
    if(inside)
      message(FATAL_ERROR "the install prefix ${PREFIX} must lie outside ${tree}")
    endif()
  endforeach()
  file(REMOVE_RECURSE ${PREFIX} ${PREFIX}.staging)
  run(${CMAKE_COMMAND} --install ${SPINDLE_BUILD_DIR} --prefix ${PREFIX}.staging)
  file(RENAME ${PREFIX}.staging ${PREFIX})
  foreach(f ${LIBDIR}/cmake/spindle/spindleConfig.cmake ${LIBDIR}/cmake/spindle/spindleConfigVersion.cmake
            ${LIBDIR}/cmake/spindle/FindLibUring.cmake ${LIBDIR}/pkgconfig/spindle.pc
            include/spindle/spindle.hpp include/spindle/core/future.hpp)
    if(NOT EXISTS ${PREFIX}/${f})
      message(FATAL_ERROR "install is missing ${f}")
    endif()
  endforeach()
  # Exported targets must name dependencies (LibUring::LibUring), never a library path of this machine's build.
  file(GLOB_RECURSE described ${PREFIX}/${LIBDIR}/cmake/*.cmake ${PREFIX}/${LIBDIR}/pkgconfig/*.pc)
  foreach(f IN LISTS described)
    file(READ ${f} text)
    foreach(tree IN ITEMS ${SPINDLE_SOURCE_DIR} ${SPINDLE_BUILD_DIR} ${PREFIX}.staging)
      string(FIND "${text}" "${tree}" at)
      if(NOT at EQUAL -1)
        message(FATAL_ERROR "${f} names ${tree}: the package must not depend on the trees it was built in")
      endif()
    endforeach()
    if(text MATCHES "liburing\\.(so|a)")
      message(FATAL_ERROR "${f} names a liburing file instead of finding liburing on the consumer's machine")
    endif()
  endforeach()
  message(STATUS "installed into ${PREFIX}")
elseif(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
      -DCMAKE_BUILD_TYPE=Release -DCONSUMER_MODE=find_package -DCMAKE_PREFIX_PATH=${PREFIX})
  run(${CMAKE_COMMAND} --build ${WORK}/build -j 2)
  run_consumer(${WORK}/build/consumer)
elseif(MODE STREQUAL "find_package_mpi")
  run(${CMAKE_COMMAND} -S ${CONSUMER}_mpi -B ${WORK}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${PREFIX})
  run(${CMAKE_COMMAND} --build ${WORK}/build -j 2)
  run_consumer(timeout -k 5 120 ${MPIRUN} --allow-run-as-root --oversubscribe -np 2 --mca btl self,vader
               --mca btl_vader_single_copy_mechanism none ${WORK}/build/consumer_mpi)
elseif(MODE STREQUAL "pkg_config")
  find_program(PKG_CONFIG pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} ${PREFIX}/${LIBDIR}/pkgconfig)
  run(${PKG_CONFIG} --cflags --libs spindle)
  string(STRIP "${LAST_OUTPUT}" flags)
  message(STATUS "pkg-config --cflags --libs spindle: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  # Flags after the source, as a user writes them: static libraries resolve in command-line order.
  run(${CXX} -O1 ${CONSUMER}/main.cpp -o ${WORK}/consumer ${flags})
  run_consumer(${WORK}/consumer)
elseif(MODE STREQUAL "pkg_config_mpi")
  find_program(PKG_CONFIG pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} ${PREFIX}/${LIBDIR}/pkgconfig)
  run(${PKG_CONFIG} --cflags --libs spindle-mpi)
  string(STRIP "${LAST_OUTPUT}" flags)
  message(STATUS "pkg-config --cflags --libs spindle-mpi: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CXX} -O1 ${CONSUMER}_mpi/main.cpp -o ${WORK}/consumer_mpi ${flags})
  run_consumer(timeout -k 5 120 ${MPIRUN} --allow-run-as-root --oversubscribe -np 2 --mca btl self,vader
               --mca btl_vader_single_copy_mechanism none ${WORK}/consumer_mpi)
elseif(MODE STREQUAL "add_subdirectory")
  # No build type: the parent's choice must survive add_subdirectory (spindle sets a default only as the top-level
  # project), and the library builds unoptimised, in half the time: this test is about targets and linking. A
  # unity build, as a parent may choose (CMAKE_UNITY_BUILD), in 0.6x the time again.
  run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${WORK}/build -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX}
      -DCMAKE_BUILD_TYPE= -DCMAKE_UNITY_BUILD=ON -DCONSUMER_MODE=add_subdirectory
      -DSPINDLE_SOURCE_DIR=${SPINDLE_SOURCE_DIR})
  file(STRINGS ${WORK}/build/CMakeCache.txt build_type REGEX "^CMAKE_BUILD_TYPE:")
  if(NOT build_type MATCHES "^CMAKE_BUILD_TYPE:[A-Z]+=$")
    message(FATAL_ERROR "add_subdirectory(spindle) changed the parent's build type: ${build_type}")
  endif()
  run(${CMAKE_COMMAND} --build ${WORK}/build -j 2)
  run_consumer(${WORK}/build/consumer)
elseif(MODE STREQUAL "uninstall")
  file(REMOVE_RECURSE ${PREFIX} ${PREFIX}.staging)
else()
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()
