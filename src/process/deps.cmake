# The processes model: cereal (header-only, Debian libcereal-dev) for the codec. Public: codec.hpp includes
# cereal's headers, so a consumer's find_package(spindle) finds cereal again (cmake/Findcereal.cmake) and
# spindle.pc adds its include directory when it is not a system one. Workers are started by re-exec'ing the
# program, which needs no library.
find_package(cereal REQUIRED)
set(SPINDLE_PROCESS_DEPS spindle::thread cereal::cereal)
set(_cereal_cflags "")
foreach(_dir IN LISTS cereal_INCLUDE_DIR)
  if(NOT _dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    list(APPEND _cereal_cflags -I${_dir})
  endif()
endforeach()
spindle_package_dependency(cereal FIND_MODULE PC_CFLAGS ${_cereal_cflags})
