#pragma once
/// @file
/// Bridges between the async model and threads: `co_await` a `spindle::Future` (suspends the task, not the
/// thread), `to_thread`, `EventLoop::run_in_executor`. Python equivalent: `asyncio.wrap_future`,
/// `asyncio.to_thread`, `loop.run_in_executor`.

#include <atomic>
#include <coroutine>
#include <memory>
#include <type_traits>
#include <utility>

#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/future.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::aio {

namespace detail {

/// Shared by the awaiting task (loop thread) and the future's completer (any thread): the completer posts a
/// wake-up through call_soon_threadsafe; the task may have stopped waiting (cancelled, loop closed) by then,
/// which `task` being null says.
struct FutureBridge {
  std::atomic<int> refs{2};
  TaskState* task = nullptr;  // loop thread only
  LoopCore* core = nullptr;
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  void fire() noexcept {  // loop thread
    if (task != nullptr) {
      --core->external_pending;
      std::exchange(task, nullptr)->wake();
    }
  }
  void detach() noexcept {  // loop thread
    if (task != nullptr) {
      --core->external_pending;
      task = nullptr;
    }
  }
};

struct BridgeRef {
  FutureBridge* b;
  explicit BridgeRef(FutureBridge* bridge) noexcept : b(bridge) {}
  BridgeRef(BridgeRef&& o) noexcept : b(std::exchange(o.b, nullptr)) {}
  BridgeRef(const BridgeRef&) = delete;
  BridgeRef& operator=(const BridgeRef&) = delete;
  BridgeRef& operator=(BridgeRef&&) = delete;
  ~BridgeRef() {
    if (b != nullptr) b->release();
  }
};

template <class T, bool Move>
class [[nodiscard("a future awaitable does nothing unless awaited")]] FutureAwaiter final : public Waiter {
 public:
  explicit FutureAwaiter(Future<T> f) noexcept : fut_(std::move(f)) {}
  FutureAwaiter(const FutureAwaiter&) = delete;
  FutureAwaiter& operator=(const FutureAwaiter&) = delete;
  ~FutureAwaiter() { drop(); }

  bool await_ready() const noexcept { return fut_.done(); }
  bool await_suspend(std::coroutine_handle<> h) {
    TaskState& t = running_task();
    task_ = &t;
    if (t.must_cancel()) return false;
    auto* b = new FutureBridge();
    b->task = &t;
    b->core = t.loop();
    std::shared_ptr<RemoteQueue> remote = t.loop()->owner->remote();
    LoopCore* core = t.loop();
    bridge_ = b;
    ++core->external_pending;
    t.suspend_on(this, h);
    fut_.add_done_callback([ref = BridgeRef(b), remote, core](const Future<T>&) mutable {
      FutureBridge* raw = ref.b;
      auto wake = [r = std::move(ref)]() { r.b->fire(); };
      (void)raw;
      remote->post(new CallbackImpl<decltype(wake)>(core, 1, std::move(wake)));
    });
    return true;
  }
  T await_resume() {
    drop();
    if (task_ != nullptr) task_->throw_if_cancelled();
    if constexpr (Move) {
      return std::move(fut_).result();
    } else {
      return fut_.result();
    }
  }
  bool cancel_wait(TaskState&) noexcept override {
    fut_.cancel();  // only succeeds if the work has not started, as concurrent.futures
    drop();
    return true;
  }
  void abandon_wait(TaskState&) noexcept override { drop(); }

 private:
  void drop() noexcept {
    if (bridge_ != nullptr) {
      bridge_->detach();
      std::exchange(bridge_, nullptr)->release();
    }
  }
  Future<T> fut_;
  FutureBridge* bridge_ = nullptr;
  TaskState* task_ = nullptr;
};

template <class F, class... A>
auto to_thread_impl(F fn, A... args) -> Task<std::invoke_result_t<F&, A&...>> {
  auto fut = EventLoop::get_running_loop().run_in_executor(nullptr, std::move(fn), std::move(args)...);
  co_return co_await FutureAwaiter<typename decltype(fut)::value_type, true>(std::move(fut));
}

}  // namespace detail

/// Runs `fn(args...)` on the running loop's default executor (a ThreadPoolExecutor created on first use) and
/// awaits it: blocking calls leave the loop free. **Errors:** rethrows what `fn` throws. **Cancellation:**
/// cancelling the task stops the wait (the call itself runs on; a thread cannot be interrupted).
/// Always awaited, so on a g++ with PR c++/100611 (SPINDLE_GCC_PR100611) a temporary lambda that captures by
/// value something with a destructor is refused at compile time (that compiler destroys it twice): name it
/// first, or pass the values as `args`. **Python equivalent:** `await asyncio.to_thread(fn, *args)`.
template <class F, class... A>
auto to_thread(F&& fn, A&&... args) -> Task<std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>> {
  detail::reject_temporary_closure_on_gcc_pr100611<F>();
  return detail::to_thread_impl<std::decay_t<F>, std::decay_t<A>...>(std::forward<F>(fn), std::forward<A>(args)...);
}

template <class F, class... A>
auto EventLoop::run_in_executor(ThreadPoolExecutor* executor, F&& fn, A&&... args) {
  ThreadPoolExecutor& ex = executor != nullptr ? *executor : default_executor();
  return ex.submit(std::forward<F>(fn), std::forward<A>(args)...);
}

/// Awaitable view of a Future, for code that prefers a name to the operator. Python: `asyncio.wrap_future`.
template <class T>
detail::FutureAwaiter<T, true> wrap_future(Future<T> f) noexcept {
  return detail::FutureAwaiter<T, true>(std::move(f));
}

}  // namespace spindle::aio

namespace spindle {

/// `co_await future` inside a spindle::aio task: suspends the task (not the thread) until the future is done,
/// then returns its result (moved out of an rvalue future) or rethrows. Found by argument-dependent lookup.
template <class T>
aio::detail::FutureAwaiter<T, true> operator co_await(Future<T>&& f) noexcept {
  return aio::detail::FutureAwaiter<T, true>(std::move(f));
}
/// On an lvalue future the result is copied.
template <class T>
aio::detail::FutureAwaiter<T, false> operator co_await(const Future<T>& f) noexcept {
  return aio::detail::FutureAwaiter<T, false>(f);
}

}  // namespace spindle
