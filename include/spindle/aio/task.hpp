#pragma once
/// @file
/// `Task<T>`: the coroutine type of spindle::aio, `create_task`, `sleep`, `current_task`, `all_tasks`.
/// Python equivalent: `async def` functions, `asyncio.Task`, `asyncio.create_task`, `asyncio.sleep`.

#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/aio/detail/core.hpp"
#include "spindle/core/errors.hpp"

/// 1 where g++ destroys a capturing closure written inside a `co_await` full-expression twice (GCC PR
/// c++/100611, seen on g++ 12; assumed until g++ 15, which is not verified here): spindle's always-awaited
/// entry points then refuse such a closure at compile time instead of letting it double-free at run time.
/// Define it to 0 on a g++ known to be fixed, or to 1 to check portability under clang.
#ifndef SPINDLE_GCC_PR100611
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 15
#define SPINDLE_GCC_PR100611 1
#else
#define SPINDLE_GCC_PR100611 0
#endif
#endif

namespace spindle::aio {

template <class T = void>
class Task;

namespace detail {

template <class T>
class Promise;

struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    return h.promise().on_final();
  }
  void await_resume() const noexcept {}
};

/// What every Task promise shares: frame allocation from the per-thread pool, start suspended, finish through
/// the task state.
template <class T>
class PromiseBase : public TaskState {
 public:
  PromiseBase() noexcept : TaskState(nullptr) {}
  Task<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { set_exception_from_current(); }
  std::coroutine_handle<> self_handle() noexcept final {
    return std::coroutine_handle<Promise<T>>::from_promise(static_cast<Promise<T>&>(*this));
  }

  static void* operator new(std::size_t size) { return frame_alloc(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_free(p, size); }
};

template <class T>
class Promise final : public PromiseBase<T> {
 public:
  ~Promise() override {
    if (this->status() == TaskState::Status::finished) value().~T();  // finished <=> a value was stored
  }
  // clang-format off: clang-format 14 mangles requires-clauses
  template <class U = T>
  requires std::is_constructible_v<T, U&&>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    // clang-format on
    ::new (static_cast<void*>(storage_)) T(std::forward<U>(v));
    this->set_finished();
  }
  T& value() noexcept { return *std::launder(reinterpret_cast<T*>(storage_)); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

template <>
class Promise<void> final : public PromiseBase<void> {
 public:
  void return_void() noexcept { set_finished(); }
};

/// The result of a finished task: moved out (awaiting an rvalue task) or copied.
template <class T, bool Move>
T take_result(Promise<T>* p) {
  p->rethrow_if_failed();
  if constexpr (std::is_void_v<T>) {
    return;
  } else if constexpr (Move) {
    return std::move(p->value());
  } else {
    return p->value();
  }
}

/// `co_await task`: an unstarted coroutine runs inline as part of the awaiting task (symmetric transfer, no
/// trip through the loop), as `await coro()` does in Python; a scheduled task is waited for, and cancelling
/// the awaiting task cancels it (asyncio's `_fut_waiter.cancel()`).
template <class T, bool Move>
class TaskAwaiter final : public Waiter, public DoneWatcher {
 public:
  explicit TaskAwaiter(Promise<T>* child) noexcept : child_(child) {}
  TaskAwaiter(const TaskAwaiter&) = delete;
  TaskAwaiter& operator=(const TaskAwaiter&) = delete;
  ~TaskAwaiter() {
    if (parent_ != nullptr && !child_->done()) child_->remove_watcher(this);
  }

  bool await_ready() const noexcept { return child_->done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    TaskState& me = running_task();
    if (!child_->started() && !child_->is_root()) return child_->start_child(&me, h);
    if (child_ == &me) throw InvalidStateError("a task cannot await itself");
    child_->add_watcher(this);
    parent_ = &me;
    me.suspend_on(this, h);
    if (me.must_cancel()) {  // cancelled before it suspended: forward to the awaited task, as asyncio does
      me.clear_must_cancel();
      child_->cancel(me.cancel_message());
    }
    return std::noop_coroutine();
  }
  T await_resume() { return take_result<T, Move>(child_); }

  bool cancel_wait(TaskState&) noexcept override {
    child_->cancel(parent_->cancel_message());
    return false;
  }
  void task_done(TaskState&) noexcept override { parent_->wake_direct(); }
  void abandon_wait(TaskState&) noexcept override {
    if (!child_->done()) child_->remove_watcher(this);
    parent_ = nullptr;
  }

 private:
  Promise<T>* child_;
  TaskState* parent_ = nullptr;
};

/// What a sleeping task is suspended on: one object for every sleep, as the timer entry points at the task
/// itself. Cancelling or abandoning the sleep cancels the task's timer.
class SleepWait final : public Waiter {
 public:
  bool cancel_wait(TaskState& task) noexcept override {
    task.loop()->timers.cancel(&task);
    return true;
  }
};
inline constinit SleepWait sleep_wait{};

/// Pushes the timer entry of `t`'s sleep of `delay_ns` (> 0). Out of line: the heap's push is too big to inline
/// into every coroutine that sleeps, and inlined it kept `yield_now()` (W4's switch) from being inlined at all.
void arm_sleep(TaskState& t, std::int64_t delay_ns);

/// `sleep(d)`: a timer entry that points at the task itself (no allocation); `sleep(0)` re-queues the task.
/// One word, no vtable (the waiter is the shared `sleep_wait`): it lives in every sleeping coroutine's frame.
/// No destructor: a frame suspended in a sleep cannot be destroyed while the task's timer is armed, because
/// the timer entry holds a reference on the task, whose frame owns every coroutine the task awaits; a closing
/// loop drops its entries (and abandons the task) before the last reference goes. The task itself may be
/// gone before this frame is (a child passed as a parameter outlives its parent's promise), so nothing here
/// points at it.
class [[nodiscard("sleep() does nothing unless awaited: co_await aio::sleep(...)")]] SleepAwaiter final {
 public:
  explicit SleepAwaiter(std::int64_t delay_ns) noexcept : delay_(delay_ns) {}
  SleepAwaiter(const SleepAwaiter&) = delete;
  SleepAwaiter& operator=(const SleepAwaiter&) = delete;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    TaskState& t = running_task();
    if (t.must_cancel()) return false;  // await_resume throws CancelledError
    if (delay_ <= 0) {
      t.suspend_on(&sleep_wait, h);
      t.schedule();
      return true;
    }
    arm_sleep(t, delay_);
    t.suspend_on(&sleep_wait, h);
    return true;
  }
  void await_resume() { running_task().throw_if_cancelled(); }

 private:
  std::int64_t delay_;
};

}  // namespace detail

/// A type-erased reference to a task (what `current_task()` and `all_tasks()` return).
///
/// **Thread safety:** use on the loop's thread only (tasks are not shared between threads, as in asyncio).
/// **Errors:** `exception()` throws InvalidStateError while the task runs and CancelledError if it was
/// cancelled. **Cancellation:** `cancel()` raises CancelledError inside the task at its next suspension point;
/// the task may catch it and decline. **Python equivalent:** `asyncio.Task` (untyped).
class AnyTask {
 public:
  /// An empty reference.
  AnyTask() noexcept = default;
  AnyTask(const AnyTask& o) noexcept : s_(o.s_) {
    if (s_ != nullptr) s_->ref();
  }
  AnyTask(AnyTask&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  AnyTask& operator=(AnyTask o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~AnyTask() {
    if (s_ != nullptr) s_->unref();
  }
  /// Refers to the task `s` (adds a reference).
  explicit AnyTask(detail::TaskState* s) noexcept : s_(s) {
    if (s_ != nullptr) s_->ref();
  }

  /// True if this refers to a task.
  bool valid() const noexcept { return s_ != nullptr; }
  /// Python: `done()`.
  bool done() const noexcept { return s_->done(); }
  /// Python: `cancelled()`.
  bool cancelled() const noexcept { return s_->status() == detail::TaskState::Status::cancelled; }
  /// Requests cancellation; false if the task is already done. Python: `cancel(msg=None)`.
  bool cancel(std::string_view msg = {}) { return s_->cancel(msg); }
  /// Python 3.11: `cancelling()` — pending cancellation requests.
  int cancelling() const noexcept { return s_->cancelling(); }
  /// Python 3.11: `uncancel()`.
  int uncancel() noexcept { return s_->uncancel(); }
  /// The task's exception (null if it succeeded). Python: `exception()`.
  std::exception_ptr exception() const {
    if (!s_->done()) throw InvalidStateError("exception(): task is not done");
    s_->mark_retrieved();
    if (cancelled()) std::rethrow_exception(s_->error());
    return s_->error();
  }
  /// Python: `get_name()` ("Task-N" unless named).
  std::string get_name() const { return s_->name(); }
  /// Python: `set_name()`.
  void set_name(std::string name) { s_->set_name(std::move(name)); }
  /// Calls `fn()` through the loop (call_soon) once the task is done. Python: `add_done_callback(fn)`.
  template <class F>
  void add_done_callback(F fn) {
    s_->add_done_callback(std::function<void()>(std::move(fn)));
  }
  /// The underlying state (for spindle's own combinators).
  detail::TaskState* state() const noexcept { return s_; }

  friend bool operator==(const AnyTask& a, const AnyTask& b) noexcept { return a.s_ == b.s_; }

 protected:
  struct Adopt {};
  AnyTask(detail::TaskState* s, Adopt) noexcept : s_(s) {}
  detail::TaskState* s_ = nullptr;
};

/// A coroutine that returns T, and the task that runs it once scheduled. Calling a `Task<T>` function creates
/// the coroutine without running it (as calling an `async def` does); `co_await` runs it inline in the awaiting
/// task, `create_task` schedules it as its own task. Copies refer to the same task.
///
/// **Thread safety:** loop thread only. **Errors:** `result()` rethrows the coroutine's exception, throws
/// CancelledError if it was cancelled and InvalidStateError if it is not done. An exception nobody retrieved
/// is reported when the task is destroyed ("Task exception was never retrieved").
/// **Cancellation:** see AnyTask. **Python equivalent:** `async def f() -> T` / `asyncio.Task[T]`.
template <class T>
class [[nodiscard("a coroutine does nothing until it is awaited (co_await) or scheduled (create_task)")]] Task
    : public AnyTask {
 public:
  /// The coroutine promise (frame allocation, result storage, task state).
  using promise_type = detail::Promise<T>;
  /// The result type.
  using value_type = T;

  /// An empty task reference.
  Task() noexcept = default;

  /// The result (a copy; `std::move(task).result()` moves it out). Python: `result()`.
  T result() const& {
    check_done();
    return detail::take_result<T, false>(promise());
  }
  /// Moves the result out.
  T result()&& {
    check_done();
    return detail::take_result<T, true>(promise());
  }

  /// Awaiting an lvalue task copies its result.
  auto operator co_await() const& noexcept { return detail::TaskAwaiter<T, false>(promise()); }
  /// Awaiting an rvalue task moves its result out.
  auto operator co_await()&& noexcept { return detail::TaskAwaiter<T, true>(promise()); }

 private:
  friend class detail::PromiseBase<T>;
  explicit Task(detail::TaskState * s) noexcept : AnyTask(s, Adopt{}) {}
  detail::Promise<T>* promise() const noexcept { return static_cast<detail::Promise<T>*>(s_); }
  void check_done() const {
    if (!s_->done()) throw InvalidStateError("result(): task is not done");
  }
};

template <class T>
Task<T> detail::PromiseBase<T>::get_return_object() noexcept {
  init_self(std::coroutine_handle<Promise<T>>::from_promise(static_cast<Promise<T>&>(*this)));
  return Task<T>(this);
}

/// What create_task returns: the Task<T>, already scheduled. Unlike Task<T> it may be discarded (the loop holds
/// the task until it ends, as TaskGroup holds its children), so `create_task(f());` and `tg.create_task(f());`
/// compile clean under [[nodiscard]]. Converts to Task<T>. Python: the `asyncio.Task` create_task returns.
template <class T>
class ScheduledTask : public Task<T> {
 public:
  /// An empty reference.
  ScheduledTask() noexcept = default;
  /// Refers to the scheduled `task`.
  explicit ScheduledTask(Task<T> task) noexcept : Task<T>(std::move(task)) {}
};

namespace detail {

/// A Task handed to an API that refuses it with an error: marked so that it is not also reported as "never
/// awaited" when it is destroyed (Python closes the coroutine in that case).
inline void refuse_unstarted(const AnyTask& task) noexcept {
  if (task.valid() && !task.state()->started()) task.state()->mark_retrieved();
}

/// The awaited result type of a callable that returns a Task.
template <class F, class... A>
using TaskCallResult = typename std::invoke_result_t<F&, A&...>::value_type;

/// Calls `fn(args...)` and awaits the Task it returns, keeping `fn` and `args` (copies, in this coroutine's
/// frame) alive until that Task is done: a coroutine lambda's captures live in the closure, not in the lambda's
/// own frame, so the closure must outlive every step of the coroutine.
template <class R, class F, class... A>
Task<R> invoke_owned(F fn, A... args) {
  if constexpr (std::is_void_v<R>) {
    co_await std::invoke(fn, args...);
  } else {
    co_return co_await std::invoke(fn, args...);
  }
}

/// A callable create_task can own: invoked with the stored arguments (as lvalues), it returns a Task.
// clang-format off: clang-format 14 mangles requires-clauses
template <class F, class... A>
concept TaskCallable = std::invocable < std::decay_t<F>
&, std::decay_t<A>&... > &&requires {
  typename std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>::promise_type;
};
// clang-format on

template <class F>
inline constexpr bool is_std_function = false;
template <class Sig>
inline constexpr bool is_std_function<std::function<Sig>> = true;

/// True when handing `F` (as deduced from a forwarding reference) to an awaited call inside a coroutine would
/// hit GCC PR c++/100611: an rvalue closure whose destruction does something (a capture by value of a string,
/// a shared_ptr...). A named (lvalue) callable and a closure that only captures references or trivial values
/// are safe. A std::function rvalue is let through: `start_server(std::move(handler), ...)` in a statement of
/// its own is the established safe spelling, and a lambda is seldom wrapped in one inside the co_await itself.
template <class F>
inline constexpr bool closure_hits_gcc_pr100611 =
    SPINDLE_GCC_PR100611 && !std::is_lvalue_reference_v<F> &&
    !std::is_trivially_destructible_v<std::remove_cvref_t<F>> && !std::is_function_v<std::remove_cvref_t<F>> &&
    !is_std_function<std::remove_cvref_t<F>>;

/// The compile-time refusal of the form that double-frees on the affected g++ (see closure_hits_gcc_pr100611).
template <class F>
constexpr void reject_temporary_closure_on_gcc_pr100611() {
  static_assert(!closure_hits_gcc_pr100611<F>,
                "g++ before 15 destroys a capturing lambda written inside a co_await expression twice (GCC PR "
                "c++/100611: a double free at run time). Name it first -- `auto handler = [...](...) -> "
                "aio::Task<void> {...}; co_await aio::start_server(handler, ...);` -- or capture only by reference, "
                "or use the two-step form (`aio::Server server(handler); co_await server.listen(host, port);`). "
                "See README.md, 'Compilers'.");
}

}  // namespace detail

namespace detail {
template <class T>
ScheduledTask<T> create_task_on_running(Task<T> task, std::string_view name, const char* file, int line, bool eager) {
  if (tls_running == nullptr) {
    refuse_unstarted(task);  // the error tells the caller: no "never awaited" report on top of it
    throw_no_loop();
  }
  task.state()->make_root(tls_running, name, file, line, eager || tls_running->eager_tasks);
  return ScheduledTask<T>(std::move(task));
}
}  // namespace detail

/// Schedules the coroutine `task` on the running loop as its own task and returns it (with the loop's eager
/// task factory, runs its first step now: see TaskFactory). `name` defaults to "Task-N". The creation site is
/// recorded for debug-mode reports. **Errors:** InvalidStateError without a running loop or if the task was
/// already started. Python: `asyncio.create_task(coro, name=...)`.
template <class T>
ScheduledTask<T> create_task(Task<T> task, std::string_view name = {}, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  return detail::create_task_on_running(std::move(task), name, file, line, false);
}

/// As create_task, but runs the task's first step now, inside the caller, until the coroutine first suspends
/// (whatever the loop's task factory): a coroutine that never suspends is done on return, without a trip
/// through the loop. Meanwhile current_task() is the new task. **Cancellation:** as any task's, from its first
/// suspension. Python 3.14: `asyncio.create_task(coro, eager_start=True)`.
template <class T>
ScheduledTask<T> create_eager_task(Task<T> task, std::string_view name = {}, const char* file = __builtin_FILE(),
                                   int line = __builtin_LINE()) {
  return detail::create_task_on_running(std::move(task), name, file, line, true);
}

/// Schedules `fn(args...)` (a callable returning a Task: typically a coroutine lambda) as its own task, keeping
/// `fn` and `args` (decayed copies; std::ref for a reference) alive in the task until it ends: the safe way to
/// start a capturing coroutine lambda, whose captures would dangle if the closure were a temporary that dies
/// before the task runs (`create_task([x]() -> Task<void> {...}())` is exactly that). Call it as a statement
/// (not inside a co_await) on g++ 12. **Errors:** as create_task(task). Python: `asyncio.create_task(fn(*args))`.
// clang-format off: clang-format 14 mangles requires-clauses
template <class F, class... A>
requires detail::TaskCallable<F, A...> ScheduledTask<detail::TaskCallResult<std::decay_t<F>, std::decay_t<A>...>>
create_task(F&& fn, A&&... args) {
  // clang-format on
  using R = detail::TaskCallResult<std::decay_t<F>, std::decay_t<A>...>;
  detail::running_core();  // no loop: throw before the closure is copied anywhere
  return create_task(
      detail::invoke_owned<R, std::decay_t<F>, std::decay_t<A>...>(std::forward<F>(fn), std::forward<A>(args)...));
}

/// create_eager_task for a callable returning a Task, owning `fn` and `args` as create_task(fn, args...) does.
/// Python 3.14: `asyncio.create_task(fn(*args), eager_start=True)`.
// clang-format off: clang-format 14 mangles requires-clauses
template <class F, class... A>
requires detail::TaskCallable<F, A...> ScheduledTask<detail::TaskCallResult<std::decay_t<F>, std::decay_t<A>...>>
create_eager_task(F&& fn, A&&... args) {
  // clang-format on
  using R = detail::TaskCallResult<std::decay_t<F>, std::decay_t<A>...>;
  detail::running_core();  // no loop: throw before the closure is copied anywhere
  return create_eager_task(
      detail::invoke_owned<R, std::decay_t<F>, std::decay_t<A>...>(std::forward<F>(fn), std::forward<A>(args)...));
}

/// Suspends the current task for `delay`; `sleep(0)` yields to the loop once. **Cancellation:** throws
/// CancelledError when the task is cancelled while it sleeps. Python: `await asyncio.sleep(delay)`.
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) noexcept {
  return detail::SleepAwaiter(std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count());
}

/// Yields to the loop once. Python: `await asyncio.sleep(0)`.
inline detail::SleepAwaiter yield_now() noexcept { return detail::SleepAwaiter(0); }

/// The task running now (empty outside a task). Python: `asyncio.current_task()`.
AnyTask current_task() noexcept;
/// The running loop's tasks that are not done. Python: `asyncio.all_tasks()`.
std::vector<AnyTask> all_tasks();

}  // namespace spindle::aio
