#pragma once
/// @file
/// `TaskGroup` and `task_group(body)`: structured concurrency with Python 3.11+ semantics.

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "spindle/aio/errors.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio {

class TaskGroup;
namespace detail {
template <class R, class F>
Task<R> run_task_group(F fn);
}  // namespace detail

/// A scope of tasks: the first child that fails cancels its siblings and the scope's own body; the scope then
/// waits for every child and throws an ExceptionGroup listing every failure. A cancelled child is not a
/// failure. Created only by `task_group(body)`, which plays Python's `async with TaskGroup() as tg:` (C++ has
/// no asynchronous destructor, so the block is a coroutine that receives the group).
///
/// **Thread safety:** loop thread only. **Errors:** `create_task` throws InvalidStateError once the group is
/// shutting down or finished. **Cancellation:** cancelling the task running the scope cancels every child;
/// the CancelledError propagates once they have all finished (unless a child failed: then ExceptionGroup).
/// **Python equivalent:** `asyncio.TaskGroup` (3.11+).
class TaskGroup final : private detail::DoneWatcher, private detail::Waiter {
 public:
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;
  ~TaskGroup() {
    abort_handle_.cancel();
    for (detail::TaskState* t : children_) {
      if (!t->done()) t->remove_watcher(this);
      t->unref();
    }
  }

  /// Schedules `task` as a child of the group (under the loop's eager task factory its first step runs now, as
  /// Python 3.12's TaskGroup does). Python: `tg.create_task(coro, name=...)`.
  template <class T>
  ScheduledTask<T> create_task(Task<T> task, std::string_view name = {}, const char* file = __builtin_FILE(),
                               int line = __builtin_LINE()) {
    if (aborting_ || (exiting_ && children_.empty())) {
      // Refused: the error tells the caller, so no "never awaited" report for it (Python closes the coroutine).
      detail::refuse_unstarted(task);
      if (aborting_) throw InvalidStateError("TaskGroup is shutting down");
      throw InvalidStateError("TaskGroup is finished");
    }
    detail::TaskState* s = task.state();
    detail::LoopCore* loop = parent_.loop();
    s->register_root(loop, name, file, line);
    s->ref();
    children_.insert(s);
    s->add_watcher(this);              // before the first step: an eager child may end in it
    s->start_root(loop->eager_tasks);  // the loop's task factory applies here too, as in Python 3.12
    return ScheduledTask<T>(std::move(task));
  }
  /// Schedules `fn(args...)` (a callable returning a Task, typically a coroutine lambda) as a child, keeping
  /// `fn` and `args` alive in the child until it ends, so that a capturing lambda's captures never dangle (see
  /// aio::create_task(fn, args...)). Python: `tg.create_task(fn(*args))`.
  // clang-format off: clang-format 14 mangles requires-clauses
  template <class F, class... A>
  requires detail::TaskCallable<F, A...> ScheduledTask<detail::TaskCallResult<std::decay_t<F>, std::decay_t<A>...>>
  create_task(F&& fn, A&&... args) {
    // clang-format on
    using R = detail::TaskCallResult<std::decay_t<F>, std::decay_t<A>...>;
    if (aborting_) throw InvalidStateError("TaskGroup is shutting down");
    if (exiting_ && children_.empty()) throw InvalidStateError("TaskGroup is finished");
    return create_task(
        detail::invoke_owned<R, std::decay_t<F>, std::decay_t<A>...>(std::forward<F>(fn), std::forward<A>(args)...));
  }

 private:
  template <class R, class F>
  friend Task<R> detail::run_task_group(F fn);

  explicit TaskGroup(detail::TaskState& parent) : parent_(parent), base_(parent.cancelling()) {}

  void abort_after_failure() noexcept {
    abort_pending_ = false;
    if (aborting_ || parent_cancel_requested_) return;
    abort();
    parent_cancel_requested_ = true;
    parent_.cancel();
  }

  void abort() noexcept {
    aborting_ = true;
    for (detail::TaskState* t : children_) {
      if (!t->done()) t->cancel();
    }
  }

  void task_done(detail::TaskState& t) noexcept override {
    children_.erase(&t);
    if (t.status() == detail::TaskState::Status::failed) {
      t.mark_retrieved();
      errors_.push_back(t.error());
      if (!aborting_ && !parent_cancel_requested_ && !abort_pending_) {
        // Through the loop, as asyncio's done-callbacks are: siblings woken in this same iteration finish their
        // step (and may fail too, so that every failure is reported) before they are cancelled.
        abort_pending_ = true;
        try {
          abort_handle_ = parent_.loop()->owner->call_soon([this] { abort_after_failure(); });
        } catch (...) {
          abort_after_failure();
        }
      }
    }
    t.unref();
    if (children_.empty() && waiting_) {
      waiting_ = false;
      parent_.wake();
    }
  }

  // The exit wait (Python's __aexit__ loop).
  bool cancel_wait(detail::TaskState&) noexcept override {
    if (!aborting_) {
      propagate_cancel_ = true;
      abort();
    }
    return false;
  }
  void abandon_wait(detail::TaskState&) noexcept override { waiting_ = false; }

  struct Exit {
    TaskGroup* g;
    bool await_ready() const noexcept { return g->children_.empty(); }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      g->waiting_ = true;
      g->parent_.suspend_on(g, h);
      if (g->parent_.must_cancel()) {
        g->parent_.clear_must_cancel();
        (void)g->cancel_wait(g->parent_);
      }
    }
    void await_resume() const noexcept {}
  };

  Exit begin_exit(const std::exception_ptr& body_error) {
    exiting_ = true;
    if (body_error != nullptr) {
      try {
        std::rethrow_exception(body_error);
      } catch (const CancelledError&) {
        propagate_cancel_ = true;
        cancel_error_ = body_error;
      } catch (...) {
        body_error_ = body_error;
      }
      if (!aborting_) abort();
    }
    return Exit{this};
  }

  void finish_exit() {
    if (parent_cancel_requested_ && parent_.uncancel() <= base_) propagate_cancel_ = false;
    if (propagate_cancel_ && errors_.empty()) {
      if (cancel_error_ != nullptr) std::rethrow_exception(cancel_error_);
      parent_.throw_cancelled();
    }
    if (body_error_ != nullptr) errors_.push_back(body_error_);
    if (!errors_.empty()) throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors_));
  }

  detail::TaskState& parent_;
  int base_;
  std::unordered_set<detail::TaskState*> children_;
  std::vector<std::exception_ptr> errors_;
  std::exception_ptr body_error_;
  std::exception_ptr cancel_error_;
  bool aborting_ = false;
  bool exiting_ = false;
  bool waiting_ = false;
  bool parent_cancel_requested_ = false;
  bool propagate_cancel_ = false;
  bool abort_pending_ = false;
  Handle abort_handle_;
};

namespace detail {
template <class R, class F>
Task<R> run_task_group(F fn) {
  TaskGroup tg(running_task());
  std::exception_ptr error;
  if constexpr (std::is_void_v<R>) {
    try {
      co_await fn(tg);
    } catch (...) {
      error = std::current_exception();
    }
    co_await tg.begin_exit(error);
    tg.finish_exit();
  } else {
    std::optional<R> value;
    try {
      value.emplace(co_await fn(tg));
    } catch (...) {
      error = std::current_exception();
    }
    co_await tg.begin_exit(error);
    tg.finish_exit();
    co_return std::move(*value);
  }
}
}  // namespace detail

/// Runs `body(tg)` (a callable returning Task<R>) as the block of a TaskGroup, waits for every child, and
/// returns the body's result. **Errors:** ExceptionGroup with every child failure (and the body's own, last).
/// **Python equivalent:** `async with asyncio.TaskGroup() as tg: <body>`.
///
/// Always awaited, so on a g++ with PR c++/100611 (see SPINDLE_GCC_PR100611) a temporary lambda that captures
/// something with a destructor by value is refused at compile time (it would be destroyed twice): name the
/// body first, or capture by reference (`[&]`, the usual spelling).
template <class F>
auto task_group(F&& body) {
  detail::reject_temporary_closure_on_gcc_pr100611<F>();
  using Body = std::decay_t<F>;
  using R = typename std::invoke_result_t<Body&, TaskGroup&>::value_type;
  return detail::run_task_group<R>(Body(std::forward<F>(body)));
}

}  // namespace spindle::aio
