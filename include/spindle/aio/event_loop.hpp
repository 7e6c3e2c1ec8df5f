#pragma once
/// @file
/// `EventLoop`: one per thread, epoll-based, with a timer heap, thread-safe wake-ups (eventfd), I/O readiness
/// callbacks and signal handlers. Python equivalent: `asyncio.AbstractEventLoop` / `asyncio.BaseEventLoop`.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "spindle/aio/detail/io_backend.hpp"

#include "spindle/aio/clock.hpp"
#include "spindle/aio/detail/core.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/future.hpp"

namespace spindle {
class ThreadPoolExecutor;
}

namespace spindle::aio {

namespace detail {

/// A callback scheduled on the loop (call_soon, call_later, readers, signal handlers). Reference-counted by
/// the handles, the ready queue and the timer heap that point at it.
class CallbackBase : public Runnable {
 public:
  CallbackBase(LoopCore* loop, std::uint32_t refs) noexcept : loop_(loop), refs_(refs) {}
  void run() noexcept override {
    queued_ = false;
    if (!cancelled_) invoke_guarded();
    unref();
  }
  void on_timer() noexcept override { enqueue(); }
  void discard() noexcept override {
    queued_ = false;
    unref();
  }
  void ref() noexcept override { ++refs_; }
  void unref() noexcept override {
    if (--refs_ == 0) delete this;
  }
  /// Puts the callback on the ready queue (with a reference) unless it is there already.
  void enqueue() noexcept {
    if (queued_ || cancelled_) return;
    queued_ = true;
    ref();
    loop_->ready.push(this);
  }
  void cancel() noexcept {
    cancelled_ = true;
    loop_->timers.cancel(this);
  }
  bool cancelled() const noexcept { return cancelled_; }
  std::int64_t when_ = 0;
  LoopCore* loop_;

 protected:
  virtual void invoke() = 0;

 private:
  void invoke_guarded() noexcept;
  std::uint32_t refs_;
  bool cancelled_ = false;
  bool queued_ = false;
};

template <class F>
class CallbackImpl final : public CallbackBase {
 public:
  template <class G>
  CallbackImpl(LoopCore* loop, std::uint32_t refs, G&& fn) : CallbackBase(loop, refs), fn_(std::forward<G>(fn)) {}

 protected:
  void invoke() override { fn_(); }

 private:
  F fn_;
};

/// The part of a loop other threads may reach: call_soon_threadsafe posts here. It outlives the loop (shared
/// ownership), so a late post after close() is dropped instead of touching freed memory.
class RemoteQueue {
 public:
  virtual ~RemoteQueue() = default;
  /// Hands `cb` (holding one reference) to the loop; false (and `cb` is destroyed) if the loop is closed.
  virtual bool post(CallbackBase* cb) noexcept = 0;
};

}  // namespace detail

/// A scheduled callback. Python equivalent: `asyncio.Handle`.
/// **Thread safety:** loop thread only.
class Handle {
 public:
  Handle() noexcept = default;
  Handle(const Handle& o) noexcept : cb_(o.cb_) {
    if (cb_ != nullptr) cb_->ref();
  }
  Handle(Handle&& o) noexcept : cb_(std::exchange(o.cb_, nullptr)) {}
  Handle& operator=(Handle o) noexcept {
    std::swap(cb_, o.cb_);
    return *this;
  }
  ~Handle() {
    if (cb_ != nullptr) cb_->unref();
  }
  /// Prevents the callback from running (if it has not yet). Python: `cancel()`.
  void cancel() noexcept {
    if (cb_ != nullptr) cb_->cancel();
  }
  /// Python: `cancelled()`.
  bool cancelled() const noexcept { return cb_ != nullptr && cb_->cancelled(); }

 protected:
  friend class EventLoop;
  explicit Handle(detail::CallbackBase* adopted) noexcept : cb_(adopted) {}
  detail::CallbackBase* cb_ = nullptr;
};

/// A callback scheduled for a time. Python equivalent: `asyncio.TimerHandle`.
/// **Thread safety:** loop thread only.
class TimerHandle : public Handle {
 public:
  TimerHandle() noexcept = default;
  /// The scheduled time on the loop's clock. Python: `when()`.
  std::chrono::steady_clock::time_point when() const noexcept {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(cb_->when_));
  }

 private:
  friend class EventLoop;
  explicit TimerHandle(detail::CallbackBase* adopted) noexcept : Handle(adopted) {}
};

/// What the loop's exception handler receives. Python equivalent: the `context` dict of
/// `loop.call_exception_handler`.
struct ExceptionContext {
  std::string message;           ///< what happened ("Task exception was never retrieved", ...)
  std::exception_ptr exception;  ///< the error, if any
  std::string task;              ///< the task's name, if a task is involved
  std::string created_at;        ///< where the task was created ("file:line"), when known
};

/// An event loop's I/O backend. Python has one per platform; spindle offers both on Linux.
using Backend = detail::Backend;

/// How create_task starts a task: `standard` schedules its first step; `eager` runs it at once, inside the
/// caller, until the coroutine first suspends (a task that never suspends is done when create_task returns, with
/// no trip through the loop). Python: the loop's task factory (`None` or `asyncio.eager_task_factory`, 3.12).
enum class TaskFactory : std::uint8_t { standard, eager };
/// Python 3.12: `asyncio.eager_task_factory` (`loop.set_task_factory(aio::eager_task_factory)`).
inline constexpr TaskFactory eager_task_factory = TaskFactory::eager;

/// Construction options of an EventLoop (designated initializers).
struct LoopOptions {
  /// The clock; null means the monotonic clock. Tests pass a VirtualClock.
  std::shared_ptr<Clock> clock = nullptr;
  /// Debug mode; unset means the environment variable SPINDLE_AIO_DEBUG (=1 turns it on).
  std::optional<bool> debug = std::nullopt;
  /// In debug mode, a step longer than this is reported while it still runs. Python:
  /// `loop.slow_callback_duration` (0.1 s).
  std::chrono::nanoseconds slow_callback_duration = std::chrono::milliseconds(100);
  /// The I/O backend: epoll or io_uring, which falls back to epoll where io_uring cannot be set up (seccomp,
  /// kernel.io_uring_disabled, an old kernel); EventLoop::backend() says which one runs. Unset means the
  /// environment variable SPINDLE_AIO_BACKEND (`epoll`, `io_uring` or `uring`; absent or empty: epoll; anything
  /// else: the constructor throws std::invalid_argument).
  std::optional<Backend> backend = std::nullopt;
  /// How `aio::create_task` and `loop.create_task` start tasks (see TaskFactory). Python: `set_task_factory`.
  TaskFactory task_factory = TaskFactory::standard;
};

/// The event loop: runs tasks and callbacks on the thread that calls run_forever / run_until_complete.
///
/// An iteration waits for I/O (epoll; with no timeout when nothing is due, so an idle loop uses no CPU),
/// takes callbacks posted from other threads, moves due timers to the ready queue, then runs what was ready
/// when the iteration began. The ready queue and the timer heap are intrusive: scheduling a task never
/// allocates. While the ready queue is busy, epoll is polled only every 64 iterations.
///
/// **Thread safety:** only `call_soon_threadsafe` (and `stop` through it) may be called from another thread;
/// everything else on the loop's thread. **Errors:** running a closed or already running loop throws
/// InvalidStateError; exceptions from callbacks go to the exception handler, never out of run_forever.
/// **Python equivalent:** `asyncio` event loop (`new_event_loop()`).
class EventLoop {
 public:
  /// A new, idle loop.
  explicit EventLoop(LoopOptions options = {});
  /// Closes the loop (see close()).
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// The loop running on this thread; throws InvalidStateError if none. Python: `get_running_loop()`.
  static EventLoop& get_running_loop();
  /// The loop running on this thread or null.
  static EventLoop* running_loop() noexcept;

  /// Runs `fn()` in a later step. Python: `call_soon(callback)`.
  template <class F>
  Handle call_soon(F&& fn) {
    check_open();
    auto* cb = new detail::CallbackImpl<std::decay_t<F>>(&core_, 1, std::forward<F>(fn));
    cb->enqueue();
    return Handle(cb);
  }
  /// Runs `fn()` after `delay`. Python: `call_later(delay, callback)`.
  template <class Rep, class Period, class F>
  TimerHandle call_later(std::chrono::duration<Rep, Period> delay, F&& fn) {
    return call_at_ns(core_.time_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count(),
                      std::forward<F>(fn));
  }
  /// Runs `fn()` at `when` on the loop's clock (see time()). Python: `call_at(when, callback)`.
  template <class F>
  TimerHandle call_at(std::chrono::steady_clock::time_point when, F&& fn) {
    return call_at_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count(),
                      std::forward<F>(fn));
  }
  /// Runs `fn()` on the loop's thread; callable from any thread; wakes a sleeping loop (eventfd). After the
  /// loop is closed the callback is dropped. Python: `call_soon_threadsafe(callback)`.
  template <class F>
  void call_soon_threadsafe(F&& fn) {
    remote_->post(new detail::CallbackImpl<std::decay_t<F>>(&core_, 1, std::forward<F>(fn)));
  }

  /// The loop's time (its clock; read once per iteration). Python: `loop.time()`.
  std::chrono::steady_clock::time_point time() noexcept {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(core_.time_ns()));
  }
  /// The loop's clock.
  Clock& clock() noexcept { return *clock_; }

  /// Runs until stop(). Python: `run_forever()`.
  void run_forever();
  /// Runs until `task` is done and returns its result (scheduling it first if it is a plain coroutine).
  /// Python: `run_until_complete(future)`.
  template <class T>
  T run_until_complete(Task<T> task) {
    if (!task.state()->is_root()) task = create_task(std::move(task));
    run_until_done(task.state());
    return std::move(task).result();
  }
  /// Stops run_forever after the current iteration. Python: `stop()`.
  void stop() noexcept { stopping_ = true; }
  /// True while run_forever runs. Python: `is_running()`.
  bool is_running() const noexcept { return running_; }
  /// Python: `is_closed()`.
  bool is_closed() const noexcept { return closed_; }
  /// Releases the loop: pending tasks are reported ("Task was destroyed but it is pending!") and destroyed,
  /// callbacks and timers dropped, the default executor shut down (waiting for its threads). Idempotent.
  /// Throws InvalidStateError while running. Python: `close()`.
  void close();

  /// Schedules `task` on this loop (callable before the loop runs); with the eager task factory, on the loop's
  /// running thread, runs its first step now. Python: `loop.create_task(coro, name)`.
  template <class T>
  ScheduledTask<T> create_task(Task<T> task, std::string_view name = {}, const char* file = __builtin_FILE(),
                               int line = __builtin_LINE()) {
    if (closed_) detail::refuse_unstarted(task);  // check_open() throws: no "never awaited" report on top
    check_open();
    task.state()->make_root(&core_, name, file, line, core_.eager_tasks);
    return ScheduledTask<T>(std::move(task));
  }

  /// Sets how create_task starts tasks (TaskFactory::standard or aio::eager_task_factory). Python 3.12:
  /// `loop.set_task_factory(asyncio.eager_task_factory)` / `set_task_factory(None)`.
  void set_task_factory(TaskFactory factory) noexcept { core_.eager_tasks = factory == TaskFactory::eager; }
  /// Python: `loop.get_task_factory()`.
  TaskFactory get_task_factory() const noexcept {
    return core_.eager_tasks ? TaskFactory::eager : TaskFactory::standard;
  }

  /// Calls `fn()` whenever `fd` is readable (level-triggered), replacing a previous reader. Python:
  /// `add_reader(fd, callback)`.
  void add_reader(int fd, std::function<void()> fn);
  /// Python: `remove_reader(fd)`; true if a reader was registered.
  bool remove_reader(int fd);
  /// Calls `fn()` whenever `fd` is writable. Python: `add_writer(fd, callback)`.
  void add_writer(int fd, std::function<void()> fn);
  /// Python: `remove_writer(fd)`.
  bool remove_writer(int fd);

  /// Runs `fn()` on the loop when signal `sig` arrives (the previous disposition is restored on removal or
  /// close). Python: `add_signal_handler(sig, callback)`.
  void add_signal_handler(int sig, std::function<void()> fn);
  /// Python: `remove_signal_handler(sig)`.
  bool remove_signal_handler(int sig);

  /// The handler for errors nobody can catch. Python: `set_exception_handler(handler)`.
  using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;
  /// Installs `handler` (empty: the default, which forwards to spindle's unhandled-exception handler).
  void set_exception_handler(ExceptionHandler handler);
  /// Python: `call_exception_handler(context)`.
  void call_exception_handler(const ExceptionContext& context) noexcept;
  /// The default handler's behaviour. Python: `default_exception_handler(context)`.
  static void default_exception_handler(const ExceptionContext& context) noexcept;

  /// Python: `get_debug()` / `set_debug()`.
  bool get_debug() const noexcept { return core_.debug; }
  /// The I/O backend this loop runs on (io_uring may have fallen back to epoll).
  Backend backend() const noexcept { return backend_; }
  /// Turns debug mode on or off (effective at the next run_forever).
  void set_debug(bool on) noexcept { core_.debug = on; }
  /// Python: `slow_callback_duration`.
  std::chrono::nanoseconds slow_callback_duration() const noexcept { return slow_; }
  /// Where debug-mode reports go (one line each); empty: stderr. Python: the `asyncio` logger.
  void set_debug_logger(std::function<void(std::string_view)> logger);

  /// Runs `fn(args...)` on `executor` (null: the loop's default ThreadPoolExecutor, created on first use) and
  /// returns its Future, which a task can `co_await`. Python: `run_in_executor(executor, func, *args)`.
  template <class F, class... A>
  auto run_in_executor(ThreadPoolExecutor* executor, F&& fn, A&&... args);
  /// The default executor (created on first use). Python: the loop's default executor.
  ThreadPoolExecutor& default_executor();
  /// Replaces the default executor with a pool this loop does not own. Python: `set_default_executor()`.
  void set_default_executor(ThreadPoolExecutor* executor);
  /// Shuts the default executor down, waiting for its threads. Python: `shutdown_default_executor()`.
  void shutdown_default_executor();

  /// Internal: whether stream sockets receive by completion on this loop (io_uring's multishot recv).
  bool completion_recv() const noexcept;
  /// Internal: receives stream socket `fd`'s bytes into `sink` as they arrive (then runs sink->received() from
  /// the ready queue), or resumes after pause_recv. Only where completion_recv().
  void start_recv(int fd, detail::RecvSink* sink);
  /// Internal: stops receiving on `fd`; bytes the kernel already took still reach the sink.
  void pause_recv(int fd) noexcept;
  /// Internal: ends receiving on `fd`: nothing more reaches its sink (call before closing the fd).
  void remove_recv(int fd) noexcept;
  /// Internal: whether stream sockets send by completion on this loop (io_uring's IORING_OP_SEND).
  bool completion_send() const noexcept;
  /// Internal: sends a copy of `d` on stream socket `fd` with the loop's next poll, then reports to `sink`
  /// (on_sent during the I/O dispatch, sent() from the ready queue). One at a time per fd.
  void send(int fd, std::string_view d, detail::SendSink* sink);
  /// Internal: ends the send in flight on `fd` (cancelled): nothing more reaches its sink (call before
  /// closing the fd).
  void remove_send(int fd) noexcept;

  /// Internal: the hot state tasks use.
  detail::LoopCore& core() noexcept { return core_; }
  /// Internal: the handle other threads post to.
  const std::shared_ptr<detail::RemoteQueue>& remote() const noexcept { return remote_; }

 private:
  struct Impl;
  template <class F>
  TimerHandle call_at_ns(std::int64_t when, F&& fn) {
    check_open();
    auto* cb = new detail::CallbackImpl<std::decay_t<F>>(&core_, 1, std::forward<F>(fn));
    cb->when_ = when;
    try {
      core_.timers.push(when, cb);
    } catch (...) {
      cb->unref();
      throw;
    }
    return TimerHandle(cb);
  }
  void check_open() const;
  void run_until_done(detail::TaskState* task);
  void run_once();

  detail::LoopCore core_;
  std::shared_ptr<Clock> clock_;
  Backend backend_ = Backend::epoll;
  std::shared_ptr<detail::RemoteQueue> remote_;
  std::unique_ptr<Impl> impl_;
  std::chrono::nanoseconds slow_;
  std::uint64_t iteration_ = 0;
  bool running_ = false;
  bool stopping_ = false;
  bool closed_ = false;
};

}  // namespace spindle::aio
