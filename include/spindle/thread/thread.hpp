#pragma once
/// @file
/// `Thread`: an OS thread with Python's interface. Python equivalent: `threading.Thread`.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/thread/detail/acquire_api.hpp"
#include "spindle/thread/detail/thread_core.hpp"

namespace spindle {

/// Construction options of a Thread (use with designated initializers: `{.name = "spinner"}`).
struct ThreadOptions {
  /// The thread's name; empty means Python's default, "Thread-N". The kernel sees its first 15 bytes (as
  /// `top -H`, `ps -L` and debuggers show them).
  std::string name = {};
  /// A daemon thread is detached, not joined, when its Thread object is destroyed while it still runs.
  bool daemon = false;
};

/// Runs `target(args...)` on a new OS thread once start() is called. The target and the arguments are
/// copied or moved in at construction (as std::thread does) and destroyed on the thread right after the
/// target returns, before join() can return.
///
/// An exception escaping the target does not terminate the process: it is reported through
/// spindle::report_unhandled_exception (where = "thread NAME"), as Python's `threading.excepthook` does,
/// and the thread ends normally.
///
/// **Destruction:** destroying a Thread that still runs joins it, unless it is a daemon (or it is destroyed
/// on its own thread, where joining would deadlock), which is detached and keeps running (the process exiting kills it,
/// as Python's daemon threads at shutdown; it must not touch objects that static destruction tears down). A Thread that
/// was never started does nothing. Unlike std::thread, a running thread never calls std::terminate.
///
/// **Thread safety:** all members may be called from any thread, except that the object must not be moved,
/// assigned or destroyed concurrently with other calls.
/// **Errors:** start() twice, join() before start(), join() from the thread itself and set_daemon() after
/// start() throw InvalidStateError (Python: RuntimeError); start() throws std::system_error if the OS
/// refuses a thread.
/// **Python equivalent:** `threading.Thread(target=f, args=(...), name=..., daemon=...)`.
class Thread {
 public:
  /// A thread with no target (start() runs nothing). Mostly a moved-to placeholder.
  Thread();

  /// A thread that will run `fn(args...)`.
  // clang-format off: clang-format 14 mangles requires-clauses
  template <class F, class... Args>
  requires(!std::is_same_v<std::remove_cvref_t<F>, Thread> && !std::is_same_v<std::remove_cvref_t<F>, ThreadOptions> &&
           std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>) explicit Thread(F&& fn, Args&&... args)
      : Thread(ThreadOptions{}, std::forward<F>(fn), std::forward<Args>(args)...) {}
  // clang-format on

  /// A thread named and flagged by `options` that will run `fn(args...)`.
  // clang-format off: clang-format 14 mangles requires-clauses
  template <class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> Thread(ThreadOptions options, F&& fn,
                                                                              Args&&... args)
      : core_(std::make_shared<detail::ThreadTarget<std::decay_t<F>, std::decay_t<Args>...>>(
            std::forward<F>(fn), std::forward<Args>(args)...)) {
    // clang-format on
    init(std::move(options));
  }

  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  /// Takes over `other`'s thread; `other` becomes an empty, unstartable placeholder.
  Thread(Thread&& other) noexcept = default;
  /// Finishes this object's thread (join, or detach for a daemon) first, then takes over `other`'s.
  Thread& operator=(Thread&& other) noexcept;
  /// Joins a running non-daemon thread; detaches a daemon one (see the class comment).
  virtual ~Thread();

  /// Starts the thread and returns once it runs (its ids are known, as Python's start() waits for).
  /// **Errors:** InvalidStateError if called twice ("threads can only be started once").
  void start();

  /// Blocks until the thread finishes. **Errors:** InvalidStateError before start() or from the thread
  /// itself (it would deadlock).
  void join() { join_until(detail::kNoDeadline); }
  /// Waits at most `timeout` for the thread to finish; true if it did. On false the thread still runs and
  /// is_alive() stays true (Python's join(timeout) returns None: check is_alive()).
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(detail::deadline_after(timeout));
  }
  /// As join(timeout); nullopt waits forever.
  bool join(detail::OptionalTimeout timeout) { return join_until(detail::deadline_of(timeout)); }
  /// Waits until the thread finishes or the steady-clock `deadline` passes; true if it finished.
  bool join_until(detail::SteadyTime deadline);

  /// True from start() until the target returns or throws. Python: `is_alive()`.
  bool is_alive() const noexcept;
  /// The thread's name. Python: `name`.
  std::string name() const;
  /// Renames the thread. The kernel name is updated too while the thread runs. Python: `name = ...`.
  void set_name(std::string name);
  /// The pthread id (Python's `ident`, which is the same number); 0 before start().
  std::uint64_t ident() const noexcept;
  /// The kernel thread id (`gettid`, as `top -H` shows); 0 before start(). Python: `native_id`.
  int native_id() const noexcept;
  /// Whether the thread is a daemon. Python: `daemon`.
  bool daemon() const noexcept;
  /// Makes the thread a daemon or not. **Errors:** InvalidStateError after start() (Python:
  /// RuntimeError "cannot set daemon status of active thread").
  void set_daemon(bool daemon);

 private:
  void init(ThreadOptions options);
  void finish() noexcept;  // join or detach, as the destructor does

  std::shared_ptr<detail::ThreadCore> core_;
};

/// The calling thread's name: a spindle Thread's name, "MainThread" on the main thread, else the kernel
/// name. Python: `threading.current_thread().name`.
std::string current_thread_name();
/// The calling thread's pthread id. Python: `threading.get_ident()`.
std::uint64_t get_ident() noexcept;
/// The calling thread's kernel id (cached per thread: no syscall after the first). Python:
/// `threading.get_native_id()`.
int get_native_id() noexcept;

}  // namespace spindle
