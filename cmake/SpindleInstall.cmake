# `cmake --install` gives consumers find_package(spindle CONFIG) -> spindle::spindle (and spindle::<module>),
# a version file, and a pkg-config file. The modules are static libraries, so both must carry every
# dependency the modules link (src/*/deps.cmake declare them with spindle_package_dependency()).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(_spindle_modules GLOBAL PROPERTY SPINDLE_MODULES)
install(TARGETS spindle ${_spindle_modules}
        EXPORT spindleTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/spindle DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT spindleTargets NAMESPACE spindle:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/spindle)
# spindle::mpi, where MPI was found: a component of its own (find_package(spindle COMPONENTS mpi)), so that a
# consumer without MPI finds the rest; its targets file is read only when the component is asked for.
if(TARGET spindle_mpi)
  install(TARGETS spindle_mpi
          EXPORT spindleMpiTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT spindleMpiTargets NAMESPACE spindle:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/spindle)
endif()

# The config finds each dependency again on the consumer's machine (find_dependency), with spindle's own
# find modules installed beside it; the exported targets name only imported targets (LibUring::LibUring,
# cereal::cereal, Threads::Threads), never a path from this machine.
get_property(_spindle_deps GLOBAL PROPERTY SPINDLE_PACKAGE_DEPENDENCIES)
get_property(_spindle_find_modules GLOBAL PROPERTY SPINDLE_FIND_MODULES)
set(SPINDLE_FIND_DEPENDENCIES "")
foreach(dep IN LISTS _spindle_deps)
  string(APPEND SPINDLE_FIND_DEPENDENCIES "find_dependency(${dep})\n")
endforeach()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/spindleConfig.cmake.in
  ${PROJECT_BINARY_DIR}/spindleConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/spindle)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/spindleConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/spindleConfig.cmake ${PROJECT_BINARY_DIR}/spindleConfigVersion.cmake
              ${_spindle_find_modules}
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/spindle)

# pkg-config: static libraries, so every module is listed, top first (link order), and the dependencies go in
# Requires/Libs, not the .private fields that only `pkg-config --static` reads.
set(_spindle_pc_libs "")
list(REVERSE _spindle_modules)
foreach(m IN LISTS _spindle_modules)
  string(APPEND _spindle_pc_libs " -l${m}")
endforeach()
get_property(_spindle_pc_dep_libs GLOBAL PROPERTY SPINDLE_PC_LIBS)
get_property(_spindle_pc_dep_cflags GLOBAL PROPERTY SPINDLE_PC_CFLAGS)
get_property(_spindle_pc_requires GLOBAL PROPERTY SPINDLE_PC_REQUIRES)
list(REMOVE_DUPLICATES _spindle_pc_dep_cflags)
foreach(flag IN LISTS _spindle_pc_dep_libs)
  string(APPEND _spindle_pc_libs " ${flag}")
endforeach()
set(_spindle_pc_cflags "")
foreach(flag IN LISTS _spindle_pc_dep_cflags)
  string(APPEND _spindle_pc_cflags " ${flag}")
endforeach()
list(JOIN _spindle_pc_requires ", " _spindle_pc_requires)
file(RELATIVE_PATH _spindle_pc_up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" _spindle_pc_up "${_spindle_pc_up}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/spindle.pc.in ${PROJECT_BINARY_DIR}/spindle.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/spindle.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
# spindle-mpi.pc, where spindle::mpi is built: `pkg-config --libs spindle-mpi` gives spindle_mpi, then spindle's
# modules and MPI's libraries (Requires: spindle and MPI's own module), in the order static linking needs.
if(TARGET spindle_mpi)
  set(_spindle_mpi_pc_requires "spindle")
  if(NOT SPINDLE_MPI_PC_REQUIRES STREQUAL "")
    string(APPEND _spindle_mpi_pc_requires ", ${SPINDLE_MPI_PC_REQUIRES}")
  endif()
  string(STRIP "${SPINDLE_MPI_PC_LIBS}" _spindle_mpi_pc_libs)
  if(NOT _spindle_mpi_pc_libs STREQUAL "")
    set(_spindle_mpi_pc_libs " ${_spindle_mpi_pc_libs}")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/spindle-mpi.pc.in ${PROJECT_BINARY_DIR}/spindle-mpi.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/spindle-mpi.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
