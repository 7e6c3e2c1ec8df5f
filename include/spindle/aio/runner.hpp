#pragma once
/// @file
/// `Runner`: one event loop reused across several `run(coro)` calls, then closed. Python equivalent:
/// `asyncio.Runner` (3.11).

#include <memory>
#include <utility>

#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio {

/// A loop kept across `run()` calls (tasks a run leaves pending go on in the next one), created on first use
/// and closed by `close()` or the destructor: what `aio::run` does, split in steps. Options as run()'s
/// (debug, clock, backend, Ctrl-C handling).
///
/// **Thread safety:** one thread. **Errors:** `run()` after `close()`, or from inside a running loop, throws
/// InvalidStateError; `run()` rethrows the coroutine's exception (the runner stays usable); Ctrl-C during
/// `run()` cancels the coroutine and throws KeyboardInterrupt. **Python equivalent:** `with asyncio.Runner(debug=)
/// as runner: runner.run(coro)`.
class Runner {
 public:
  /// A runner whose loop is made (with `options`) on first use. Python: `asyncio.Runner(debug=None)`.
  explicit Runner(RunOptions options = {}) noexcept : options_(std::move(options)) {}
  /// Closes the runner (see close()); an error on the way is reported, not thrown.
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  /// Runs `coro` on the runner's loop until it completes and returns its result; other tasks are left pending
  /// for the next run or close(). Python: `runner.run(coro)`.
  template <class T>
  T run(Task<T> coro) {
    EventLoop* loop = nullptr;
    try {
      loop = &loop_for_run();
    } catch (...) {
      detail::refuse_unstarted(coro);  // the error tells the caller: no "never awaited" report on top of it
      throw;
    }
    return detail::run_main(*loop, std::move(coro), options_.handle_sigint);
  }

  /// Cancels the tasks left, waits for them, shuts the default executor down and closes the loop; idempotent.
  /// Throws InvalidStateError from inside the runner's own running loop. Python: `runner.close()`.
  void close();

  /// The runner's loop (made now if need be). Throws InvalidStateError once closed. Python: `runner.get_loop()`.
  EventLoop& get_loop();

 private:
  EventLoop& loop_for_run();

  RunOptions options_;
  std::unique_ptr<EventLoop> loop_;
  bool closed_ = false;
};

}  // namespace spindle::aio
