#pragma once
/// @file
/// `run(main())`: create a loop, run the main task, cancel what is left, close. Python: `asyncio.run`.

#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "spindle/aio/errors.hpp"
#include "spindle/aio/event_loop.hpp"

namespace spindle::aio {

/// Options of run() (designated initializers): `run(main(), {.debug = true})`.
struct RunOptions {
  /// Debug mode; unset: SPINDLE_AIO_DEBUG.
  std::optional<bool> debug = std::nullopt;
  /// The loop's clock (tests: a VirtualClock); null: monotonic.
  std::shared_ptr<Clock> clock = nullptr;
  /// Debug-mode threshold for a blocking step.
  std::chrono::nanoseconds slow_callback_duration = std::chrono::milliseconds(100);
  /// On the main thread, with SIGINT at its default disposition: Ctrl-C cancels the main task (so its cleanup
  /// runs) and run() throws KeyboardInterrupt; a second Ctrl-C kills the process as before.
  bool handle_sigint = true;
  /// The loop's I/O backend; unset: SPINDLE_AIO_BACKEND (see LoopOptions::backend).
  std::optional<Backend> backend = std::nullopt;
  /// How create_task starts tasks (aio::eager_task_factory: eagerly). Python: `loop.set_task_factory()`.
  TaskFactory task_factory = TaskFactory::standard;
};

namespace detail {

/// Ctrl-C while `main` runs (shared by run() and Runner::run()): on the main thread, with SIGINT at its default
/// disposition, the first SIGINT cancels `main`, a second one kills the process as before. The handler is
/// removed (the disposition restored) when the scope ends.
class SigintScope {
 public:
  SigintScope(EventLoop& loop, TaskState* main, bool handle_sigint);
  ~SigintScope();
  SigintScope(const SigintScope&) = delete;
  SigintScope& operator=(const SigintScope&) = delete;
  /// Throws KeyboardInterrupt if Ctrl-C cancelled the main task.
  void check_interrupted() const;

 private:
  EventLoop& loop_;
  TaskState* main_;
  bool installed_ = false;
  int interrupts_ = 0;
};

/// Cancels the loop's remaining tasks, runs the loop until they finish, then shuts the default executor down
/// (the clean-up of asyncio.run and Runner.close; the loop stays open).
void cancel_all_and_shut_down(EventLoop& loop);

/// Runs `main` (scheduled on `loop` if it is a plain coroutine) until it completes, with Ctrl-C handling: the
/// part of run() that Runner::run() shares. Leaves the other tasks alone.
template <class T>
T run_main(EventLoop& loop, Task<T> main, bool handle_sigint) {
  if (main.state()->is_root() && main.state()->loop() != &loop.core()) {
    throw InvalidStateError("run: the task belongs to a different event loop");
  }
  Task<T> task = main.state()->is_root() ? std::move(main) : loop.create_task(std::move(main));
  SigintScope sigint(loop, task.state(), handle_sigint);
  try {
    return loop.run_until_complete(task);
  } catch (const CancelledError&) {
    sigint.check_interrupted();
    throw;
  }
}

/// run()'s loop: cancel_all_and_shut_down then close, at finish() or, on the way out of an exception, in the
/// destructor (where a clean-up error is reported, not thrown).
class RunScope {
 public:
  explicit RunScope(EventLoop& loop) noexcept : loop_(loop) {}
  ~RunScope();
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;
  /// Cancels what is left, shuts the default executor down and closes the loop.
  void finish();

 private:
  EventLoop& loop_;
  bool finished_ = false;
};

}  // namespace detail

/// Runs `main` on a new event loop until it completes and returns its result; then cancels the tasks still
/// pending, waits for them, shuts the default executor down and closes the loop.
/// **Errors:** rethrows main's exception; KeyboardInterrupt after Ctrl-C; InvalidStateError if called while a
/// loop runs in this thread. **Python equivalent:** `asyncio.run(main(), debug=...)`.
template <class T>
T run(Task<T> main, RunOptions options = {}) {
  EventLoop loop(LoopOptions{.clock = std::move(options.clock),
                             .debug = options.debug,
                             .slow_callback_duration = options.slow_callback_duration,
                             .backend = options.backend,
                             .task_factory = options.task_factory});
  detail::RunScope scope(loop);
  if constexpr (std::is_void_v<T>) {
    detail::run_main(loop, std::move(main), options.handle_sigint);
    scope.finish();
  } else {
    T result = detail::run_main(loop, std::move(main), options.handle_sigint);
    scope.finish();
    return result;
  }
}

/// `run(main(), true)`: with debug mode on. Python: `asyncio.run(main(), debug=True)`.
template <class T>
T run(Task<T> main, bool debug) {
  return run(std::move(main), RunOptions{.debug = debug});
}

}  // namespace spindle::aio
