# Findcereal: cereal (header-only; Debian libcereal-dev), whose headers spindle/process/codec.hpp includes, so
# every user of spindle::process needs them too. Defines the imported target cereal::cereal and cereal_FOUND,
# cereal_INCLUDE_DIR. cereal's own package config (1.3.1 and later) is preferred; older or hand-copied
# installs, which ship none, are found by their header.
# Used by spindle's own build (src/process/deps.cmake) and installed next to spindleConfig.cmake.
find_package(cereal CONFIG QUIET)
if(TARGET cereal::cereal)
  get_target_property(cereal_INCLUDE_DIR cereal::cereal INTERFACE_INCLUDE_DIRECTORIES)
else()
  find_path(cereal_INCLUDE_DIR cereal/cereal.hpp)
  mark_as_advanced(cereal_INCLUDE_DIR)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(cereal
  REQUIRED_VARS cereal_INCLUDE_DIR
  REASON_FAILURE_MESSAGE "spindle::process needs cereal's headers: install libcereal-dev (Debian)")

if(cereal_FOUND AND NOT TARGET cereal::cereal)
  add_library(cereal::cereal INTERFACE IMPORTED)
  set_target_properties(cereal::cereal PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${cereal_INCLUDE_DIR}")
endif()
