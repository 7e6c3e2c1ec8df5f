# The demo tests run every demo of labs/ with --quick: they link the spindle_labs object library (built with
# the apps, SPINDLE_BUILD_APPS).
if(TARGET test_demos)
  if(TARGET spindle_labs)
    target_link_libraries(test_demos PRIVATE spindle_labs spindle::spindle)
  else()
    set_target_properties(test_demos PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
endif()
# test_lab_json parses render_json's output back with nlohmann-json (header-only).
if(TARGET test_lab_json)
  find_package(nlohmann_json 3 REQUIRED)
  target_link_libraries(test_lab_json PRIVATE nlohmann_json::nlohmann_json)
endif()
