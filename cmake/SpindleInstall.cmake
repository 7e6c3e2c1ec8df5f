# `cmake --install` gives consumers find_package(spindle CONFIG) -> spindle::spindle (and spindle::<module>),
# a version file, and a pkg-config file.
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

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/spindleConfig.cmake.in
  ${PROJECT_BINARY_DIR}/spindleConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/spindle)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/spindleConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/spindleConfig.cmake ${PROJECT_BINARY_DIR}/spindleConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/spindle)

# pkg-config: static libraries, so every module is listed, top first (link order).
set(_spindle_pc_libs "")
list(REVERSE _spindle_modules)
foreach(m IN LISTS _spindle_modules)
  string(APPEND _spindle_pc_libs " -l${m}")
endforeach()
get_property(_spindle_pc_private GLOBAL PROPERTY SPINDLE_PC_PRIVATE_LIBS)
file(RELATIVE_PATH _spindle_pc_up "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" _spindle_pc_up "${_spindle_pc_up}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/spindle.pc.in ${PROJECT_BINARY_DIR}/spindle.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/spindle.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
