# spindle_pipeline: stages on the event loop (spindle::aio), on threads, and in worker processes
# (spindle::process, which brings spindle::thread). nlohmann-json (header-only) for Report::to_json(): private and
# build-only, as for the advisor.
find_package(nlohmann_json 3 REQUIRED)
set(SPINDLE_PIPELINE_DEPS spindle::aio spindle::process)
set(SPINDLE_PIPELINE_PRIVATE_DEPS $<BUILD_INTERFACE:nlohmann_json::nlohmann_json>)
