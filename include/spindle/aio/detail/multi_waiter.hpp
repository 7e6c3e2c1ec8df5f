#pragma once
// One waiter for many tasks: gather, wait and as_completed suspend the awaiting task on it. It watches every
// task (a pointer in each task's first watcher slot: no allocation per task in the common case) and
// optionally arms a deadline on the awaiting task's own timer ticket.

#include <climits>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "spindle/aio/detail/core.hpp"

namespace spindle::aio::detail {

/// The tasks a MultiWaiter watches, read in place from the caller's array (gather's and wait's vector of
/// tasks, or an array of states): a 100k-task gather then needs no second vector of pointers. The array must
/// stay unchanged while the waiter lives.
class TaskList {
 public:
  /// Over `n` task handles (`Task<T>`: anything with `state()`) or `TaskState*`s starting at `first`.
  template <class Handle>
  TaskList(const Handle* first, std::size_t n) noexcept : base_(first), size_(n), at_(&at<Handle>) {}

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  TaskState* operator[](std::size_t i) const noexcept { return at_(base_, i); }

  class Iterator {
   public:
    Iterator(const TaskList* list, std::size_t i) noexcept : list_(list), i_(i) {}
    TaskState* operator*() const noexcept { return (*list_)[i_]; }
    Iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    bool operator!=(const Iterator& o) const noexcept { return i_ != o.i_; }

   private:
    const TaskList* list_;
    std::size_t i_;
  };
  Iterator begin() const noexcept { return {this, 0}; }
  Iterator end() const noexcept { return {this, size_}; }

 private:
  template <class Handle>
  static TaskState* at(const void* base, std::size_t i) noexcept {
    const Handle& h = static_cast<const Handle*>(base)[i];
    if constexpr (std::is_pointer_v<Handle>) {
      return h;
    } else {
      return h.state();
    }
  }

  const void* base_;
  std::size_t size_;
  TaskState* (*at_)(const void*, std::size_t) noexcept;
};

class MultiWaiter final : public Waiter, public DoneWatcher {
 public:
  enum class Mode : std::uint8_t {
    all,              // every task done
    first_completed,  // any task done
    first_exception,  // any task failed (not cancelled), or all done
    gather,           // any task failed or was cancelled, or all done
  };
  enum class OnCancel : std::uint8_t {
    forward,  // cancelling the awaiting task cancels the tasks (gather)
    detach,   // the awaiting task stops waiting, the tasks go on (wait)
  };

  MultiWaiter(TaskList tasks, Mode mode, OnCancel on_cancel, std::int64_t deadline_ns = INT64_MAX)
      : tasks_(tasks), deadline_(deadline_ns), mode_(mode), on_cancel_(on_cancel) {}
  MultiWaiter(const MultiWaiter&) = delete;
  MultiWaiter& operator=(const MultiWaiter&) = delete;
  ~MultiWaiter() { release(); }

  // The tasks are counted and watched in one pass, in await_suspend: a gather of 100k tasks then reads each
  // task's state once on the way in (and, with every task done, not at all on the way out: see release).
  bool await_ready() const noexcept { return tasks_.empty(); }

  bool await_suspend(std::coroutine_handle<> h) {
    TaskState& me = running_task();
    parent_ = &me;
    watching_ = true;  // first: if add_watcher throws, release() unregisters what was registered
    remaining_ = 0;
    for (std::size_t i = 0, n = tasks_.size(); i < n; ++i) {
      if (i + 8 < n) __builtin_prefetch(tasks_[i + 8]);  // see for_each_task in gather.hpp
      TaskState* t = tasks_[i];
      if (!t->done()) {
        ++remaining_;
        t->add_watcher(this);
      } else if (first_failure_ == nullptr && fails(*t)) {
        first_failure_ = t;
      }
    }
    if (satisfied_now() || (deadline_ != INT64_MAX && deadline_ <= running_core().time_ns())) {
      release();  // no wait (a deadline already past is a timeout now), and no cancellation point
      parent_ = nullptr;
      return false;
    }
    if (me.must_cancel()) {
      if (on_cancel_ == OnCancel::detach) {
        release();
        return false;  // await_resume throws CancelledError
      }
      me.clear_must_cancel();
      forward_cancel();
    }
    if (deadline_ != INT64_MAX) {
      me.loop()->timers.push(deadline_, &me);
      armed_ = true;
    }
    me.suspend_on(this, h);
    return true;
  }

  void await_resume() {
    release();
    if (parent_ != nullptr && on_cancel_ == OnCancel::detach) parent_->throw_if_cancelled();
    if (!satisfied_now() && deadline_ != INT64_MAX) timed_out_ = true;
  }

  bool cancel_wait(TaskState&) noexcept override {
    if (on_cancel_ == OnCancel::forward) {
      forward_cancel();
      return false;
    }
    release();
    return true;
  }
  void timer_fired(TaskState& t) noexcept override {
    armed_ = false;
    timed_out_ = true;
    t.wake();
  }
  void task_done(TaskState& t) noexcept override {
    --remaining_;
    if (first_failure_ == nullptr && fails(t)) first_failure_ = &t;
    if (!woken_ && satisfied_now()) {
      woken_ = true;
      parent_->wake();
    }
  }
  void abandon_wait(TaskState&) noexcept override { release(); }

  /// The deadline passed before the condition held.
  bool timed_out() const noexcept { return timed_out_; }
  /// The awaiting task was cancelled and the cancellation forwarded to the tasks.
  bool cancel_forwarded() const noexcept { return forwarded_; }
  /// The first task (in completion order) that failed, or was cancelled in gather mode.
  TaskState* first_failure() const noexcept { return first_failure_; }

 private:
  bool fails(const TaskState& t) const noexcept {
    if (t.status() == TaskState::Status::failed) return mode_ == Mode::first_exception || mode_ == Mode::gather;
    if (t.status() == TaskState::Status::cancelled) return mode_ == Mode::gather;
    return false;
  }
  bool satisfied_now() const noexcept {
    if (remaining_ == 0) return true;
    switch (mode_) {
      case Mode::all:
        return false;
      case Mode::first_completed:
        return remaining_ < tasks_.size();
      case Mode::first_exception:
      case Mode::gather:
        return first_failure_ != nullptr;
    }
    return false;
  }
  void forward_cancel() noexcept {
    forwarded_ = true;
    const std::string msg = parent_->cancel_message();
    for (TaskState* t : tasks_) {
      if (!t->done()) t->cancel(msg);
    }
  }
  void release() noexcept {
    if (watching_) {
      watching_ = false;
      if (remaining_ > 0) {  // a done task has already dropped its watchers
        for (TaskState* t : tasks_) {
          if (!t->done()) t->remove_watcher(this);
        }
      }
    }
    if (armed_) {
      armed_ = false;
      parent_->loop()->timers.cancel(parent_);
    }
  }

  TaskList tasks_;
  std::int64_t deadline_;
  TaskState* parent_ = nullptr;
  TaskState* first_failure_ = nullptr;
  std::size_t remaining_ = 0;
  Mode mode_;
  OnCancel on_cancel_;
  bool watching_ = false;
  bool armed_ = false;
  bool woken_ = false;
  bool timed_out_ = false;
  bool forwarded_ = false;
};

}  // namespace spindle::aio::detail
