// Pipeline: the public face of a run (detail::Core).

#include "spindle/pipeline/pipeline.hpp"

#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/future.hpp"

namespace spindle::pipeline {

namespace {
detail::Core& need(const std::unique_ptr<detail::Core>& core) {
  if (!core) throw InvalidStateError("pipeline: empty (default-constructed or moved from)");
  return *core;
}
}  // namespace

Pipeline::Pipeline() noexcept = default;
Pipeline::Pipeline(std::unique_ptr<detail::Graph> graph) : core_(std::make_unique<detail::Core>(std::move(graph))) {}
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;
Pipeline::~Pipeline() = default;

Report Pipeline::run() {
  detail::Core& core = need(core_);
  if (aio::EventLoop* l = core.foreign_loop(); l != nullptr && l == aio::EventLoop::running_loop())
    throw InvalidStateError(
        "pipeline: run() on the thread of the event loop its aio::Queue source reads would block that loop for "
        "good; use co_await p.run_async() there");
  core.start();
  return core.wait();
}
void Pipeline::start() { need(core_).start(); }
void Pipeline::stop() noexcept {
  if (core_) core_->stop();
}
void Pipeline::cancel() noexcept {
  if (core_) core_->cancel();
}
Report Pipeline::wait() { return need(core_).wait(); }
bool Pipeline::wait_for(std::chrono::milliseconds timeout) { return need(core_).wait_for(timeout); }
Report Pipeline::metrics() const { return need(core_).metrics(); }
State Pipeline::state() const noexcept { return core_ ? core_->state() : State::idle; }
bool Pipeline::done() const noexcept { return core_ && core_->done(); }

aio::Task<Report> Pipeline::run_async() {
  detail::Core& core = need(core_);
  core.start();
  Future<void> finished = core.finished();
  bool cancelled = false;
  try {
    co_await finished;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    core.cancel();
    try {
      core.wait();
    } catch (...) {
    }
    throw CancelledError();
  }
  co_return core.wait();
}

}  // namespace spindle::pipeline
