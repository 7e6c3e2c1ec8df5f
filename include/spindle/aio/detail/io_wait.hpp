#pragma once
// One-shot readiness waits on a file descriptor (connect completion, UDP, pidfd). The awaiter registers a
// reader/writer with the running loop for the duration of the wait only and removes it on resume,
// cancellation or loop close, so a cancelled wait leaves nothing registered. Streams do not use this: they
// keep one persistent reader per connection (see stream_transport.cpp) to save an epoll_ctl per read.

#include <coroutine>

#include "spindle/aio/detail/wait_list.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio::detail {

/// `co_await IoWait(fd, write)`: suspends the running task until `fd` is readable (or writable).
/// **Cancellation:** CancelledError; the registration is removed.
class IoWait final : public Waiter {
 public:
  IoWait(int fd, bool write) noexcept : fd_(fd), write_(write) {}
  IoWait(const IoWait&) = delete;
  IoWait& operator=(const IoWait&) = delete;
  ~IoWait() { unregister(); }

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    TaskState& t = running_task();
    task_ = &t;
    if (t.must_cancel()) return false;
    EventLoop& loop = *t.loop()->owner;
    auto fire = [this] {
      unregister();
      if (task_ != nullptr) task_->wake();
    };
    if (write_) {
      loop.add_writer(fd_, fire);
    } else {
      loop.add_reader(fd_, fire);
    }
    loop_ = &loop;
    t.suspend_on(this, h);
    return true;
  }
  void await_resume() {
    unregister();
    task_->throw_if_cancelled();
  }
  bool cancel_wait(TaskState&) noexcept override {
    unregister();
    return true;
  }
  void abandon_wait(TaskState&) noexcept override {
    unregister();
    task_ = nullptr;
  }

 private:
  void unregister() noexcept {
    if (loop_ == nullptr) return;
    EventLoop* l = loop_;
    loop_ = nullptr;
    if (write_) {
      l->remove_writer(fd_);
    } else {
      l->remove_reader(fd_);
    }
  }
  int fd_;
  bool write_;
  EventLoop* loop_ = nullptr;
  TaskState* task_ = nullptr;
};

/// `co_await ListWait(list)`: parks the running task on `list` until the owner wakes it (drain, close,
/// serve_forever). **Cancellation:** leaves the list and throws CancelledError.
struct ListWait final : ListWaiter {
  WaitList& list;
  explicit ListWait(WaitList& l) noexcept : list(l) {}
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return enqueue(list, h); }
  void await_resume() { finish(); }
};

}  // namespace spindle::aio::detail
