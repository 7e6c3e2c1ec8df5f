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
};

namespace detail {

/// The non-template half of run(): SIGINT handling and the final clean-up (cancel the remaining tasks, run
/// them to the end, shut the default executor down, close).
class RunScope {
 public:
  RunScope(EventLoop& loop, TaskState* main, bool handle_sigint);
  ~RunScope();
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;
  /// Throws KeyboardInterrupt if Ctrl-C cancelled the main task.
  void check_interrupted() const;
  /// Cancels the remaining tasks and runs the loop until they finish, then closes it.
  void finish();

 private:
  EventLoop& loop_;
  TaskState* main_;
  bool sigint_ = false;
  bool finished_ = false;
  int interrupts_ = 0;
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
                             .backend = options.backend});
  Task<T> task = loop.create_task(std::move(main));
  detail::RunScope scope(loop, task.state(), options.handle_sigint);
  if constexpr (std::is_void_v<T>) {
    try {
      loop.run_until_complete(task);
    } catch (const CancelledError&) {
      scope.check_interrupted();
      throw;
    }
    scope.finish();
  } else {
    std::optional<T> result;
    try {
      result.emplace(loop.run_until_complete(task));
    } catch (const CancelledError&) {
      scope.check_interrupted();
      throw;
    }
    scope.finish();
    return std::move(*result);
  }
}

/// `run(main(), true)`: with debug mode on. Python: `asyncio.run(main(), debug=True)`.
template <class T>
T run(Task<T> main, bool debug) {
  return run(std::move(main), RunOptions{.debug = debug});
}

}  // namespace spindle::aio
