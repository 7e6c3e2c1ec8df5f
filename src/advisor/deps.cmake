# spindle_advisor's extra dependency: nlohmann-json (header-only, Debian nlohmann-json3-dev) for to_json().
# Private and build-only: no public header includes it, so the installed package does not require it.
find_package(nlohmann_json 3 REQUIRED)
set(SPINDLE_ADVISOR_PRIVATE_DEPS $<BUILD_INTERFACE:nlohmann_json::nlohmann_json>)
