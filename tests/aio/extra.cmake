# Compile-time checks of the async model's API shapes (each compiles one file with -fsyntax-only):
# - a forgotten co_await (`aio::sleep(1ms);`, `fetch(1);` as statements) must fail under -Werror, because Task
#   and the awaiters are [[nodiscard]]; the control case must compile;
# - on a g++ with PR c++/100611, a capturing lambda written inside `co_await aio::start_server(...)` must fail
#   with a message naming the bug (that compiler would destroy it twice); the named-handler control compiles.

set(_spindle_aio_syntax ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -Wall -Wextra -Werror -I${PROJECT_SOURCE_DIR}/include)

foreach(_case 1 2)
  add_test(NAME aio.compile_fail_forgotten_await_${_case}
           COMMAND ${_spindle_aio_syntax} -DSPINDLE_CASE=${_case}
                   ${CMAKE_CURRENT_SOURCE_DIR}/aio/compile_fail_forgotten_await.cpp)
  set_tests_properties(aio.compile_fail_forgotten_await_${_case} PROPERTIES
    PASS_REGULAR_EXPRESSION "error: ignoring return" LABELS unit TIMEOUT 120)
endforeach()
add_test(NAME aio.compile_forgotten_await_control
         COMMAND ${_spindle_aio_syntax} -DSPINDLE_CASE=0 ${CMAKE_CURRENT_SOURCE_DIR}/aio/compile_fail_forgotten_await.cpp)
set_tests_properties(aio.compile_forgotten_await_control PROPERTIES LABELS unit TIMEOUT 120)

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 15)
  add_test(NAME aio.compile_fail_closure_in_co_await
           COMMAND ${_spindle_aio_syntax} -DSPINDLE_CASE=1
                   ${CMAKE_CURRENT_SOURCE_DIR}/aio/compile_fail_closure_in_co_await.cpp)
  set_tests_properties(aio.compile_fail_closure_in_co_await PROPERTIES
    PASS_REGULAR_EXPRESSION "PR c\\+\\+/100611" LABELS unit TIMEOUT 120)
  add_test(NAME aio.compile_fail_closure_in_co_await_protocol_factory
           COMMAND ${_spindle_aio_syntax} -DSPINDLE_CASE=2
                   ${CMAKE_CURRENT_SOURCE_DIR}/aio/compile_fail_closure_in_co_await.cpp)
  set_tests_properties(aio.compile_fail_closure_in_co_await_protocol_factory PROPERTIES
    PASS_REGULAR_EXPRESSION "PR c\\+\\+/100611" LABELS unit TIMEOUT 120)
endif()
add_test(NAME aio.compile_closure_in_co_await_control
         COMMAND ${_spindle_aio_syntax} -DSPINDLE_CASE=0 ${CMAKE_CURRENT_SOURCE_DIR}/aio/compile_fail_closure_in_co_await.cpp)
set_tests_properties(aio.compile_closure_in_co_await_control PROPERTIES LABELS unit TIMEOUT 120)

# The TLS tests make their own certificates with OpenSSL's X509 API (tls_pki.hpp).
find_package(OpenSSL 3 REQUIRED)
foreach(_tls_test IN ITEMS test_tls stress_tls)
  if(TARGET ${_tls_test})
    target_link_libraries(${_tls_test} PRIVATE OpenSSL::Crypto)
  endif()
endforeach()
