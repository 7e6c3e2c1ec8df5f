#pragma once
/// @file
/// `run_coroutine_threadsafe`: a thread hands a coroutine to a running loop and gets a `spindle::Future` for its
/// result. Python equivalent: `asyncio.run_coroutine_threadsafe(coro, loop)`.

#include <exception>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/future.hpp"

namespace spindle::aio {

namespace detail {

/// The future's state and the link to the task that fills it, in one allocation. The future side may be used
/// from any thread; `task` only on the loop's thread. Its own done-callback (it is its own callback node) turns
/// a cancellation of the future into a cancellation of the task, posted to the loop.
template <class R>
class ThreadsafeState final : public spindle::detail::SharedState<R>, private spindle::detail::CallbackNode {
 public:
  ThreadsafeState(std::shared_ptr<RemoteQueue> remote, LoopCore* core)
      : spindle::detail::SharedState<R>(1), remote_(std::move(remote)), core_(core) {
    this->add_callback(this);  // pending: always registered
  }
  ThreadsafeState(const ThreadsafeState&) = delete;
  ThreadsafeState& operator=(const ThreadsafeState&) = delete;

  TaskState* task = nullptr;  // the running bridge task (loop thread only); null before it starts and once it ends

  /// Fails the future with `error` unless it is done already (lost races are silent: the first outcome wins).
  void fail(std::exception_ptr error) noexcept {
    if (this->try_claim()) this->set_exception_claimed(std::move(error));
  }
  /// The task's result.
  template <class... V>
  void succeed(V&&... value) noexcept {
    if (this->try_claim()) this->emplace_claimed(std::forward<V>(value)...);
  }

 private:
  ~ThreadsafeState() override {
    // Always completed before the last reference goes; should it not be, the node must not outlive us.
    if (!this->done()) this->remove_callback(this);
  }
  void invoke(spindle::detail::StateBase&) noexcept override {
    if (this->status() != spindle::detail::kCancelled) return;
    if (tls_running == core_) {  // cancelled on the loop's own thread: no need for a trip through the queue
      cancel_task();
      return;
    }
    this->add_ref();
    struct CancelTask {
      ThreadsafeState* s;
      explicit CancelTask(ThreadsafeState* st) noexcept : s(st) {}
      CancelTask(CancelTask&& o) noexcept : s(std::exchange(o.s, nullptr)) {}
      CancelTask(const CancelTask&) = delete;
      CancelTask& operator=(const CancelTask&) = delete;
      CancelTask& operator=(CancelTask&&) = delete;
      ~CancelTask() {
        if (s != nullptr) s->release();
      }
      void operator()() const noexcept { s->cancel_task(); }
    };
    CallbackBase* cb = nullptr;
    try {
      cb = new CallbackImpl<CancelTask>(core_, 1, CancelTask(this));
    } catch (...) {
      this->release();
      return;  // no memory for the request: the task runs to its end, its result is dropped
    }
    remote_->post(cb);  // a closed loop drops it (and our reference): its tasks are gone anyway
  }
  void discard() noexcept override {}
  void cancel_task() noexcept {
    if (task != nullptr && !task->done()) task->cancel();
  }

  std::shared_ptr<RemoteQueue> remote_;
  LoopCore* core_;
};

/// The loop side's reference to a ThreadsafeState, a parameter of the bridge coroutine: when the coroutine
/// frame goes without having completed the future (the loop closed with the task pending, or never ran it),
/// the future fails with a clear error instead of waiting for ever.
template <class R>
class ThreadsafeRef {
 public:
  explicit ThreadsafeRef(ThreadsafeState<R>* s) noexcept : s_(s) {}
  ThreadsafeRef(ThreadsafeRef&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  ThreadsafeRef(const ThreadsafeRef&) = delete;
  ThreadsafeRef& operator=(const ThreadsafeRef&) = delete;
  ThreadsafeRef& operator=(ThreadsafeRef&&) = delete;
  ~ThreadsafeRef() {
    if (s_ == nullptr) return;
    if (s_->task != nullptr) s_->task = nullptr;  // (a dropped submission never set it: no write then)
    s_->fail(std::make_exception_ptr(
        InvalidStateError("run_coroutine_threadsafe: the event loop was closed before the coroutine finished")));
    s_->release();
  }
  ThreadsafeState<R>* operator->() const noexcept { return s_; }
  ThreadsafeState<R>* get() const noexcept { return s_; }

 private:
  ThreadsafeState<R>* s_;
};

/// A cancellation of the bridge task (through the future, or by the loop's shutdown) cancels the future; any
/// other exception fails it (and so is retrieved: the task itself ends cleanly).
template <class R>
void threadsafe_caught(ThreadsafeRef<R>& state, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const CancelledError&) {
    state->task = nullptr;  // ending: a cancellation of the future has nothing left to cancel
    state->cancel();
    throw;
  } catch (...) {
    state->fail(std::current_exception());
  }
}

/// Keeps a callable and its arguments alive (type-erased, so that no coroutine frame of a header template holds
/// a field of a local type, which g++'s -Wsubobject-linkage refuses).
struct KeepAlive {
  virtual ~KeepAlive() = default;
};
template <class F, class... A>
struct KeepCall final : KeepAlive {
  template <class G, class... B>
  explicit KeepCall(G&& f, B&&... a) : fn(std::forward<G>(f)), args(std::forward<B>(a)...) {}
  F fn;
  std::tuple<A...> args;
};

/// The task the loop runs: awaits `coro` inline (a coroutine made on another thread has its frame go back to
/// that thread's pool when it is freed here). `keep` (the callable form's callable and arguments, in which a
/// coroutine lambda's captures live) is declared before `coro`, so it is destroyed after it.
template <class T>
Task<void> threadsafe_await(ThreadsafeRef<T> state, [[maybe_unused]] std::unique_ptr<KeepAlive> keep, Task<T> coro) {
  std::exception_ptr error;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(coro);
      state->succeed();
    } else {
      state->succeed(co_await std::move(coro));
    }
  } catch (...) {
    error = std::current_exception();
  }
  if (error) threadsafe_caught(state, error);
}

/// Creates the bridge task with `make(ref)` and schedules it on the running loop; a failure fails the future.
template <class R, class Make>
void schedule_threadsafe(ThreadsafeRef<R>& ref, Make&& make) noexcept {
  ThreadsafeState<R>* s = ref.get();
  s->add_ref();  // kept across a failed frame allocation, which destroys the moved-in reference
  try {
    Task<void> t = make(ref);  // moves `ref` into the task once the coroutine exists
    s->task = t.state();
    (void)aio::create_task(std::move(t));
  } catch (...) {
    s->task = nullptr;
    s->fail(std::current_exception());
  }
  s->release();
}

/// What call_soon_threadsafe carries to the loop for the callable form: on the loop's thread, calls
/// `fn(args...)` (kept alive with the coroutine) and schedules the bridge task. Dropped unrun (the loop closed
/// first), its reference fails the future.
template <class R, class F, class... A>
class CallSubmission {
 public:
  template <class G, class... B>
  explicit CallSubmission(ThreadsafeState<R>* s, G&& fn, B&&... args)
      : state_(s), keep_(std::make_unique<KeepCall<F, A...>>(std::forward<G>(fn), std::forward<B>(args)...)) {}
  CallSubmission(CallSubmission&&) noexcept = default;
  CallSubmission(const CallSubmission&) = delete;
  CallSubmission& operator=(const CallSubmission&) = delete;
  CallSubmission& operator=(CallSubmission&&) = delete;
  ~CallSubmission() = default;

  void operator()() {
    if (state_->status() == spindle::detail::kCancelled) return;  // cancelled before it was scheduled
    schedule_threadsafe(state_, *this);
  }
  /// The bridge task (called by schedule_threadsafe).
  Task<void> operator()(ThreadsafeRef<R>& ref) {
    Task<R> coro = std::apply(keep_->fn, keep_->args);
    return threadsafe_await<R>(std::move(ref), std::move(keep_), std::move(coro));
  }

 private:
  ThreadsafeRef<R> state_;
  std::unique_ptr<KeepCall<F, A...>> keep_;
};

/// The same for a coroutine moved in. Dropped or cancelled unstarted, the coroutine is not reported as never
/// awaited (the future says what became of it).
template <class T>
class TaskSubmission {
 public:
  TaskSubmission(ThreadsafeState<T>* s, Task<T> coro) noexcept : state_(s), coro_(std::move(coro)) {}
  TaskSubmission(TaskSubmission&&) noexcept = default;
  TaskSubmission(const TaskSubmission&) = delete;
  TaskSubmission& operator=(const TaskSubmission&) = delete;
  TaskSubmission& operator=(TaskSubmission&&) = delete;
  ~TaskSubmission() { refuse_unstarted(coro_); }

  void operator()() {
    if (state_->status() == spindle::detail::kCancelled) return;
    schedule_threadsafe(state_, *this);
  }
  /// The bridge task (called by schedule_threadsafe).
  Task<void> operator()(ThreadsafeRef<T>& ref) {
    return threadsafe_await<T>(std::move(ref), nullptr, std::move(coro_));
  }

 private:
  ThreadsafeRef<T> state_;
  Task<T> coro_;
};

/// Makes the future's state, posts `Submission(state, parts...)` to the loop and returns the future. A closed
/// loop drops the submission at once, which fails the future.
template <class R, class Submission, class... P>
Future<R> submit_threadsafe(EventLoop& loop, P&&... parts) {
  auto* s = new ThreadsafeState<R>(loop.remote(), &loop.core());
  s->add_ref();  // the future's
  Future<R> fut = spindle::detail::adopt_future<R>(s);
  loop.call_soon_threadsafe(Submission(s, std::forward<P>(parts)...));
  return fut;
}

}  // namespace detail

/// Schedules `fn(args...)` (a callable returning a Task, typically a coroutine lambda) on `loop` from any thread
/// and returns a Future of its result. The call happens on the loop's thread, which keeps `fn` and `args`
/// (decayed copies) alive until the coroutine ends. **Cancellation:** cancelling the future (at any time before
/// it is done) cancels the task on the loop. **Errors:** the future gets the coroutine's exception; if the loop
/// is closed (or closes before the coroutine ends) it fails with InvalidStateError, never hangs. `loop` must
/// exist at the call; it may be destroyed afterwards. **Thread safety:** any thread; waiting on the future from
/// the loop's own thread deadlocks. Python: `asyncio.run_coroutine_threadsafe(fn(*args), loop)`.
// clang-format off: clang-format 14 mangles requires-clauses
template <class F, class... A>
requires detail::TaskCallable<F, A...> Future<detail::TaskCallResult<std::decay_t<F>, std::decay_t<A>...>>
run_coroutine_threadsafe(EventLoop& loop, F&& fn, A&&... args) {
  // clang-format on
  using R = detail::TaskCallResult<std::decay_t<F>, std::decay_t<A>...>;
  using Submission = detail::CallSubmission<R, std::decay_t<F>, std::decay_t<A>...>;
  return detail::submit_threadsafe<R, Submission>(loop, std::forward<F>(fn), std::forward<A>(args)...);
}

/// Schedules the coroutine `coro` (created on any thread, not yet started) on `loop`; as the callable form
/// otherwise. A coroutine lambda must outlive `coro` (prefer the callable form). **Errors:**
/// InvalidStateError if `coro` is empty or already started or scheduled. Python:
/// `asyncio.run_coroutine_threadsafe(coro, loop)`.
template <class T>
Future<T> run_coroutine_threadsafe(Task<T> coro, EventLoop& loop) {
  if (!coro.valid()) throw InvalidStateError("run_coroutine_threadsafe: empty Task");
  if (coro.state()->started() || coro.state()->is_root())
    throw InvalidStateError("run_coroutine_threadsafe: the coroutine was already started or scheduled");
  return detail::submit_threadsafe<T, detail::TaskSubmission<T>>(loop, std::move(coro));
}

}  // namespace spindle::aio
