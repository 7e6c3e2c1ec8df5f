# The advisor's tests run real programs: a tiny C++ helper with N CPU threads, whose path they get here.
add_executable(advisor_helper ${CMAKE_CURRENT_LIST_DIR}/advisor_helper.cpp)
target_link_libraries(advisor_helper PRIVATE Threads::Threads)
# Never sanitized: it is the measured workload, not code under test, and a sanitizer's start-up (TSan's ~50 ms of
# CPU on the main thread before main) showed up in the measurement as a working thread and a computing phase.
block()
  set(SPINDLE_SANITIZE "")
  spindle_target_defaults(advisor_helper)
endblock()
if(TARGET test_advisor)
  add_dependencies(test_advisor advisor_helper)
  target_compile_definitions(test_advisor PRIVATE SPINDLE_ADVISOR_HELPER="$<TARGET_FILE:advisor_helper>"
                                                  SPINDLE_ADVISOR_PROGRAMS="${CMAKE_CURRENT_LIST_DIR}/programs")
endif()
# The corpus: the same helper and the programs under programs/.
if(TARGET test_advisor_corpus)
  add_dependencies(test_advisor_corpus advisor_helper)
  target_compile_definitions(test_advisor_corpus PRIVATE SPINDLE_ADVISOR_HELPER="$<TARGET_FILE:advisor_helper>"
                                                         SPINDLE_ADVISOR_PROGRAMS="${CMAKE_CURRENT_LIST_DIR}/programs")
endif()
# "It must call correctly ... itself running the lab demos": the tests advise `spindle lab NAME --quick`.
if(TARGET test_advisor AND TARGET spindle_cli)
  add_dependencies(test_advisor spindle_cli)
  target_compile_definitions(test_advisor PRIVATE SPINDLE_CLI="$<TARGET_FILE:spindle_cli>")
endif()
# The JSON tests parse the report back with nlohmann-json (header-only).
if(TARGET test_advisor_json)
  find_package(nlohmann_json 3 REQUIRED)
  target_link_libraries(test_advisor_json PRIVATE nlohmann_json::nlohmann_json)
endif()
