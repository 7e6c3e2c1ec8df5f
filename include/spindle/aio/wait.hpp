#pragma once
/// @file
/// `wait`, `as_completed`, `shield`. Python equivalent: `asyncio.wait`, `asyncio.as_completed`,
/// `asyncio.shield`.

#include <chrono>
#include <climits>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "spindle/aio/detail/multi_waiter.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/aio/timeout.hpp"

namespace spindle::aio {

/// When wait() returns. Python: `asyncio.FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`.
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };

/// The two sets wait() returns, in the input order. Python: the `(done, pending)` tuple.
template <class T>
struct WaitResult {
  std::vector<Task<T>> done;     ///< finished (or cancelled) tasks
  std::vector<Task<T>> pending;  ///< the others
};

/// Waits until `return_when` holds or `timeout` passes (no exception on timeout: the sets say what finished).
/// Coroutines are scheduled as tasks first. **Cancellation:** cancelling the waiting task does not cancel the
/// tasks. **Python equivalent:** `await asyncio.wait(tasks, timeout=None, return_when=ALL_COMPLETED)`.
template <class T>
Task<WaitResult<T>> wait(std::vector<Task<T>> tasks, std::optional<std::chrono::nanoseconds> timeout = std::nullopt,
                         ReturnWhen return_when = ReturnWhen::ALL_COMPLETED) {
  for (auto& t : tasks) t = detail::ensure_task(std::move(t));
  const std::int64_t deadline = timeout ? detail::deadline_in(*timeout) : INT64_MAX;
  const auto mode = return_when == ReturnWhen::ALL_COMPLETED     ? detail::MultiWaiter::Mode::all
                    : return_when == ReturnWhen::FIRST_COMPLETED ? detail::MultiWaiter::Mode::first_completed
                                                                 : detail::MultiWaiter::Mode::first_exception;
  if (!tasks.empty()) {
    detail::MultiWaiter w(detail::TaskList(tasks.data(), tasks.size()), mode, detail::MultiWaiter::OnCancel::detach,
                          deadline);
    co_await w;
  }
  WaitResult<T> r;
  for (auto& t : tasks) (t.done() ? r.done : r.pending).push_back(std::move(t));
  co_return r;
}

/// Yields tasks in the order they finish: `AsCompleted ac = as_completed(tasks); while (!ac.empty()) { auto t
/// = co_await ac.next(); use(t.result()); }`. Pinned in place (it watches the tasks); loop thread only.
/// **Errors:** `next()` throws TimeoutError once the optional timeout (measured from construction) passes.
/// **Cancellation:** cancelling the task awaiting next() leaves the tasks running.
/// **Python equivalent:** `for aw in asyncio.as_completed(aws, timeout=...): r = await aw`.
template <class T>
class AsCompleted final : private detail::DoneWatcher, private detail::Waiter {
 public:
  /// Watches `tasks` (coroutines are scheduled as tasks).
  explicit AsCompleted(std::vector<Task<T>> tasks, std::optional<std::chrono::nanoseconds> timeout = std::nullopt)
      : deadline_(timeout ? detail::deadline_in(*timeout) : INT64_MAX) {
    pending_.reserve(tasks.size());
    for (auto& t : tasks) {
      Task<T> task = detail::ensure_task(std::move(t));
      if (task.done()) {
        done_.push_back(std::move(task));
      } else {
        task.state()->add_watcher(this);
        pending_.push_back(std::move(task));
      }
    }
  }
  AsCompleted(const AsCompleted&) = delete;
  AsCompleted& operator=(const AsCompleted&) = delete;
  ~AsCompleted() {
    disarm();
    for (auto& t : pending_) t.state()->remove_watcher(this);
  }

  /// True when every task has been handed out.
  bool empty() const noexcept { return pending_.empty() && done_.empty(); }
  /// Tasks not handed out yet.
  std::size_t size() const noexcept { return pending_.size() + done_.size(); }

  /// Awaitable: the next task to finish.
  [[nodiscard("does nothing unless awaited: co_await it")]] auto next() noexcept {
    struct Next {
      AsCompleted* self;
      bool await_ready() const noexcept { return !self->done_.empty() || self->pending_.empty(); }
      bool await_suspend(std::coroutine_handle<> h) { return self->suspend(h); }
      Task<T> await_resume() { return self->take(); }
    };
    return Next{this};
  }

 private:
  bool suspend(std::coroutine_handle<> h) {
    detail::TaskState& me = detail::running_task();
    waiter_ = &me;
    if (me.must_cancel()) return false;
    if (deadline_ != INT64_MAX) {
      if (deadline_ <= me.loop()->time_ns()) return false;
      me.loop()->timers.push(deadline_, &me);
      armed_ = true;
    }
    me.suspend_on(this, h);
    return true;
  }
  Task<T> take() {
    disarm();
    detail::TaskState* me = std::exchange(waiter_, nullptr);
    if (me != nullptr) me->throw_if_cancelled();
    if (done_.empty()) {
      if (pending_.empty()) throw InvalidStateError("as_completed: no more tasks");
      throw TimeoutError();
    }
    Task<T> t = std::move(done_.front());
    done_.pop_front();
    return t;
  }
  void disarm() noexcept {
    if (armed_) {
      armed_ = false;
      waiter_->loop()->timers.cancel(waiter_);
    }
  }
  void task_done(detail::TaskState& s) noexcept override {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->state() == &s) {
        done_.push_back(std::move(*it));
        pending_.erase(it);
        break;
      }
    }
    if (waiter_ != nullptr && waiter_->suspended()) waiter_->wake();
  }
  bool cancel_wait(detail::TaskState&) noexcept override {
    disarm();
    return true;
  }
  void timer_fired(detail::TaskState& t) noexcept override {
    armed_ = false;
    t.wake();
  }
  void abandon_wait(detail::TaskState&) noexcept override {
    disarm();
    waiter_ = nullptr;
  }

  std::vector<Task<T>> pending_;
  std::deque<Task<T>> done_;
  std::int64_t deadline_;
  detail::TaskState* waiter_ = nullptr;
  bool armed_ = false;
};

/// Builds an AsCompleted. Python: `asyncio.as_completed(aws, timeout=None)`.
template <class T>
AsCompleted<T> as_completed(std::vector<Task<T>> tasks,
                            std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  return AsCompleted<T>(std::move(tasks), timeout);
}

namespace detail {

template <class T>
class ShieldAwaiter final : public Waiter, public DoneWatcher {
 public:
  explicit ShieldAwaiter(Task<T> inner) : inner_(std::move(inner)) {}
  ShieldAwaiter(const ShieldAwaiter&) = delete;
  ShieldAwaiter& operator=(const ShieldAwaiter&) = delete;
  ~ShieldAwaiter() { release(); }
  bool await_ready() {
    inner_ = ensure_task(std::move(inner_));
    return inner_.done();
  }
  bool await_suspend(std::coroutine_handle<> h) {
    TaskState& me = running_task();
    parent_ = &me;
    if (me.must_cancel()) return false;
    inner_.state()->add_watcher(this);
    watching_ = true;
    me.suspend_on(this, h);
    return true;
  }
  T await_resume() {
    release();
    if (parent_ != nullptr) parent_->throw_if_cancelled();
    return std::move(inner_).result();
  }
  bool cancel_wait(detail::TaskState&) noexcept override {
    release();  // the awaiting task gives up; the inner task goes on
    return true;
  }
  void task_done(TaskState&) noexcept override {
    watching_ = false;
    parent_->wake();
  }

 private:
  void release() noexcept {
    if (watching_) {
      watching_ = false;
      if (!inner_.done()) inner_.state()->remove_watcher(this);
    }
  }
  Task<T> inner_;
  TaskState* parent_ = nullptr;
  bool watching_ = false;
};

}  // namespace detail

/// Awaits `task` but protects it from cancellation: cancelling the awaiting task raises CancelledError there
/// while `task` keeps running. **Python equivalent:** `await asyncio.shield(aw)`.
template <class T>
[[nodiscard("does nothing unless awaited: co_await it")]] detail::ShieldAwaiter<T> shield(Task<T> task) {
  return detail::ShieldAwaiter<T>(std::move(task));
}

}  // namespace spindle::aio
