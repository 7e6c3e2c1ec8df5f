# Extra checks of the processes model:
# - a compile-fail test: handing a capturing lambda to the pool must not compile, and the message must say
#   why (Python's "Can't pickle local object");
# - the libFuzzer target over the frame reader and the codec, when the compiler is clang, run for a bounded
#   time (SPINDLE_FUZZ_SECONDS, default 20) by CTest (label fuzz); CI can also call the binary directly.

get_target_property(_spindle_inc spindle_process INTERFACE_INCLUDE_DIRECTORIES)
add_test(NAME process.compile_fail_capturing_lambda
         COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include
                 ${CMAKE_CURRENT_SOURCE_DIR}/process/compile_fail_capturing_lambda.cpp)
set_tests_properties(process.compile_fail_capturing_lambda PROPERTIES
  PASS_REGULAR_EXPRESSION "Can't pickle local object" LABELS unit TIMEOUT 120)

if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(SPINDLE_FUZZ_SECONDS 20 CACHE STRING "Seconds each fuzz test runs under CTest")
  add_executable(fuzz_process_frames ${CMAKE_CURRENT_SOURCE_DIR}/process/fuzz_process_frames.cpp
                                     ${PROJECT_SOURCE_DIR}/src/process/frame.cpp)
  target_include_directories(fuzz_process_frames PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_features(fuzz_process_frames PRIVATE cxx_std_20)
  target_compile_options(fuzz_process_frames PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
  target_link_options(fuzz_process_frames PRIVATE -fsanitize=fuzzer,address,undefined)
  # New inputs go to the build tree's corpus; tests/process/fuzz_corpus holds the committed regressions.
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz_process_frames_corpus)
  add_test(NAME process.fuzz_frames_and_codec
           COMMAND fuzz_process_frames -max_total_time=${SPINDLE_FUZZ_SECONDS} -rss_limit_mb=1024 -max_len=65536
                   ${CMAKE_CURRENT_BINARY_DIR}/fuzz_process_frames_corpus ${CMAKE_CURRENT_SOURCE_DIR}/process/fuzz_corpus)
  set_tests_properties(process.fuzz_frames_and_codec PROPERTIES LABELS fuzz TIMEOUT 300)
endif()

# Unit tests of the processes model's internals (descriptor passing, the pool's dispatch policy) include
# headers of src/process.
foreach(_internal IN ITEMS test_fd_passing test_dispatch_policy)
  if(TARGET ${_internal})
    target_include_directories(${_internal} PRIVATE ${PROJECT_SOURCE_DIR}/src/process)
  endif()
endforeach()
