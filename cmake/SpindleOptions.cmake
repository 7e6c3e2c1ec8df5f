# Build-wide knobs for spindle's own targets. Nothing here leaks to consumers: warnings and sanitizers are
# applied per target, PRIVATE, through spindle_target_defaults().
set(SPINDLE_SANITIZE "" CACHE STRING "Sanitizers for spindle's own targets: '', 'address' (ASan+UBSan) or 'thread'")
set_property(CACHE SPINDLE_SANITIZE PROPERTY STRINGS "" address thread)

# Only as the top-level project: under add_subdirectory() the build type is the parent's to choose (a FORCEd cache
# entry here would silently change it).
if(PROJECT_IS_TOP_LEVEL AND NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

set(CMAKE_EXPORT_COMPILE_COMMANDS ON)

# spindle_target_defaults(<target> [LIBRARY]): C++20, warnings as the project demands them, and the chosen
# sanitizer. Under ASan+UBSan the library's own sources (LIBRARY) get every UBSan check. The rest (tests, doc
# snippets, examples, labs, the tool, benchmarks: over 80% of that build's compile time, and the margin of CI's
# 45 minutes) leave out the three checks that cost most to compile, about 30% of a pipeline test's compile time
# together: `null` (a null dereference is still a SEGV that ASan reports with its stack), `pointer-overflow` (a
# wild pointer that is used is still an ASan report) and `vptr` (a wrong downcast; a call on a freed object is
# still ASan's use-after-free).
function(spindle_target_defaults target)
  cmake_parse_arguments(ARG "LIBRARY" "" "" ${ARGN})
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "INTERFACE_LIBRARY")
    return()
  endif()
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual)
  if(SPINDLE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  # A unity build (CMAKE_UNITY_BUILD: the sanitizer presets) #includes a target's sources into a few files, where
  # GCC's -Wsubobject-linkage takes a type of one source's anonymous namespace for a header's, which it is not.
  # The target's final UNITY_BUILD decides (a target may turn it off after this call).
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE $<$<BOOL:$<TARGET_PROPERTY:UNITY_BUILD>>:-Wno-subobject-linkage>)
  endif()
  if(SPINDLE_SANITIZE STREQUAL "address")
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    if(NOT ARG_LIBRARY)
      target_compile_options(${target} PRIVATE -fno-sanitize=null,pointer-overflow,vptr)
    endif()
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  elseif(SPINDLE_SANITIZE STREQUAL "thread")
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  elseif(NOT SPINDLE_SANITIZE STREQUAL "")
    message(FATAL_ERROR "SPINDLE_SANITIZE must be '', 'address' or 'thread', not '${SPINDLE_SANITIZE}'")
  endif()
endfunction()

option(SPINDLE_WERROR "Treat warnings as errors" OFF)

# spindle_add_module(<name> SOURCES ... DEPS ...): one static library per module (core, thread, ...), so a
# module can be built and tested alone; spindle::spindle links them all.
function(spindle_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(spindle_${name} STATIC ${ARG_SOURCES})
  add_library(spindle::${name} ALIAS spindle_${name})
  set_target_properties(spindle_${name} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  target_include_directories(spindle_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(spindle_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  spindle_target_defaults(spindle_${name} LIBRARY)
  set_property(GLOBAL APPEND PROPERTY SPINDLE_MODULES spindle_${name})
endfunction()

# spindle_package_dependency(<Package> [FIND_MODULE] [PC_REQUIRES <pkg>...] [PC_LIBS <flag>...]
#                            [PC_CFLAGS <flag>...]): records what the installed package must say about one
# dependency of a module, next to the find_package() that finds it for the build: the installed
# spindleConfig.cmake calls find_dependency(<Package>) (with cmake/Find<Package>.cmake installed beside it when
# FIND_MODULE), and spindle.pc lists the pkg-config packages, flags and libraries. The modules are static
# libraries, so their dependencies are everyone's: nothing is "private" to a consumer's link.
function(spindle_package_dependency package)
  cmake_parse_arguments(ARG "FIND_MODULE" "" "PC_REQUIRES;PC_LIBS;PC_CFLAGS" ${ARGN})
  get_property(_known GLOBAL PROPERTY SPINDLE_PACKAGE_DEPENDENCIES)
  if(package IN_LIST _known)
    return()
  endif()
  set_property(GLOBAL APPEND PROPERTY SPINDLE_PACKAGE_DEPENDENCIES ${package})
  if(ARG_FIND_MODULE)
    set_property(GLOBAL APPEND PROPERTY SPINDLE_FIND_MODULES ${PROJECT_SOURCE_DIR}/cmake/Find${package}.cmake)
  endif()
  set_property(GLOBAL APPEND PROPERTY SPINDLE_PC_REQUIRES ${ARG_PC_REQUIRES})
  set_property(GLOBAL APPEND PROPERTY SPINDLE_PC_LIBS ${ARG_PC_LIBS})
  set_property(GLOBAL APPEND PROPERTY SPINDLE_PC_CFLAGS ${ARG_PC_CFLAGS})
endfunction()
