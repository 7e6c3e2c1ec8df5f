# FindLibUring: liburing (Debian liburing-dev), the io_uring library of spindle::aio's io_uring poller.
# Defines the imported target LibUring::LibUring and LibUring_FOUND, LibUring_VERSION, LibUring_LIBRARY,
# LibUring_INCLUDE_DIR, and LibUring_FROM_PKGCONFIG (TRUE when liburing.pc was found: spindle.pc then says
# `Requires: liburing` instead of naming the library file).
# Used by spindle's own build (src/aio/deps.cmake) and installed next to spindleConfig.cmake, so that a
# consumer's find_package(spindle) finds liburing by the same rules. pkg-config, when present, only gives
# hints: the library is found with find_library either way, so the target holds one path, found on the
# consumer's machine, never one copied from spindle's build machine.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_LibUring QUIET liburing)
endif()

find_path(LibUring_INCLUDE_DIR liburing.h HINTS ${PC_LibUring_INCLUDEDIR} ${PC_LibUring_INCLUDE_DIRS})
find_library(LibUring_LIBRARY NAMES uring HINTS ${PC_LibUring_LIBDIR} ${PC_LibUring_LIBRARY_DIRS})
set(LibUring_VERSION ${PC_LibUring_VERSION})
set(LibUring_FROM_PKGCONFIG ${PC_LibUring_FOUND})

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LibUring
  REQUIRED_VARS LibUring_LIBRARY LibUring_INCLUDE_DIR
  VERSION_VAR LibUring_VERSION
  REASON_FAILURE_MESSAGE "spindle::aio needs liburing: install liburing-dev (Debian) or liburing-devel (Fedora)")

if(LibUring_FOUND AND NOT TARGET LibUring::LibUring)
  add_library(LibUring::LibUring UNKNOWN IMPORTED)
  set_target_properties(LibUring::LibUring PROPERTIES
    IMPORTED_LOCATION "${LibUring_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LibUring_INCLUDE_DIR}")
endif()
mark_as_advanced(LibUring_INCLUDE_DIR LibUring_LIBRARY)
