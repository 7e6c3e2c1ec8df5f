# Extra checks of the processes model:
# - compile-fail tests: handing a capturing lambda or a function object to the pool must not compile, and
#   the one message must say why (Python's "Can't pickle local object") and name the spelling that works;
# - the libFuzzer target over the frame reader and the codec, when the compiler is clang, run for a bounded
#   time (SPINDLE_FUZZ_SECONDS, default 20) by CTest (label fuzz); CI can also call the binary directly.

get_target_property(_spindle_inc spindle_process INTERFACE_INCLUDE_DIRECTORIES)
foreach(_case IN ITEMS capturing_lambda function_object)
  add_test(NAME process.compile_fail_${_case}
           COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -I${PROJECT_SOURCE_DIR}/include
                   ${CMAKE_CURRENT_SOURCE_DIR}/process/compile_fail_${_case}.cpp)
  # The static_assert names the cause and the spelling that works; no error follows it (a `void` result,
  # a failed deduction).
  set_tests_properties(process.compile_fail_${_case} PROPERTIES
    PASS_REGULAR_EXPRESSION "Can't pickle local object[^\n]*pool\\.submit\\(my_function, args\\.\\.\\.\\)"
    FAIL_REGULAR_EXPRESSION "incomplete type|deduce|no matching"
    LABELS unit TIMEOUT 120)
endforeach()

if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(SPINDLE_FUZZ_SECONDS 20 CACHE STRING "Seconds each fuzz test runs under CTest")
  add_executable(fuzz_process_frames ${CMAKE_CURRENT_SOURCE_DIR}/process/fuzz_process_frames.cpp
                                     ${PROJECT_SOURCE_DIR}/src/process/frame.cpp
                                     ${PROJECT_SOURCE_DIR}/src/process/blob.cpp
                                     ${PROJECT_SOURCE_DIR}/src/core/pages.cpp)
  target_include_directories(fuzz_process_frames PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_features(fuzz_process_frames PRIVATE cxx_std_20)
  # -O1 whatever the build type (libFuzzer's advice): CI's warning-check build is -O0 (CMakePresets.json).
  target_compile_options(fuzz_process_frames PRIVATE -O1 -fsanitize=fuzzer,address,undefined
                                                     -fno-sanitize-recover=undefined)
  target_link_options(fuzz_process_frames PRIVATE -fsanitize=fuzzer,address,undefined)
  # New inputs go to the build tree's corpus; tests/process/fuzz_corpus holds the committed regressions.
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/fuzz_process_frames_corpus)
  add_test(NAME process.fuzz_frames_and_codec
           COMMAND fuzz_process_frames -max_total_time=${SPINDLE_FUZZ_SECONDS} -rss_limit_mb=1024 -max_len=65536
                   ${CMAKE_CURRENT_BINARY_DIR}/fuzz_process_frames_corpus ${CMAKE_CURRENT_SOURCE_DIR}/process/fuzz_corpus)
  set_tests_properties(process.fuzz_frames_and_codec PROPERTIES LABELS fuzz TIMEOUT 300)
endif()

# Unit tests of the processes model's internals (descriptor passing, the pool's dispatch policy, batched
# replies) include
# headers of src/process.
foreach(_internal IN ITEMS test_fd_passing test_dispatch_policy test_result_batch)
  if(TARGET ${_internal})
    target_include_directories(${_internal} PRIVATE ${PROJECT_SOURCE_DIR}/src/process)
  endif()
endforeach()

# Functions passed at run time (`pool.submit(heavy, 4)`) may come from a static library of the program.
if(TARGET test_process_pool_named_fn)
  add_library(spindle_test_named_fn_lib STATIC ${CMAKE_CURRENT_SOURCE_DIR}/process/named_fn_lib.cpp)
  target_link_libraries(test_process_pool_named_fn PRIVATE spindle_test_named_fn_lib)
endif()
