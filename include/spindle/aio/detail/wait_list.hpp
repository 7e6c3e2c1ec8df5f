#pragma once
// The intrusive FIFO of suspended tasks every async primitive keeps (Lock, Event, Semaphore, Condition, Queue,
// Barrier). A node lives in the awaiter, i.e. in the waiting coroutine's frame: waiting never allocates.

#include <coroutine>

#include "spindle/aio/detail/core.hpp"

namespace spindle::aio::detail {

class WaitList;

/// One suspended task in a WaitList. `granted` says the primitive handed the waiter what it asked for (a lock,
/// a permit, a queue slot or item) before the task ran: such an operation has completed, so a cancellation
/// that arrives afterwards is not raised at this await but at the task's next suspension point (the item or
/// permit is never lost).
class ListWaiter : public Waiter {
 public:
  ListWaiter() = default;
  ListWaiter(const ListWaiter&) = delete;
  ListWaiter& operator=(const ListWaiter&) = delete;

  bool cancel_wait(TaskState&) noexcept override {
    unlink();
    return true;
  }
  void abandon_wait(TaskState&) noexcept override { unlink(); }

  /// Suspends the running task on this node at the back of `list`. False if a cancellation is already due
  /// (the await then resumes at once and throws).
  inline bool enqueue(WaitList& list, std::coroutine_handle<> h);
  /// In await_resume: throws CancelledError if the task was cancelled and nothing was granted.
  void finish() {
    unlink();
    if (!granted_ && task_ != nullptr) task_->throw_if_cancelled();
  }
  inline void unlink() noexcept;

  ListWaiter* prev_ = nullptr;
  ListWaiter* next_ = nullptr;
  WaitList* list_ = nullptr;
  TaskState* task_ = nullptr;
  bool granted_ = false;
  bool notified_ = false;  // woken by the primitive (granted or not)

 protected:
  ~ListWaiter() { unlink(); }
};

class WaitList {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  ListWaiter* front() const noexcept { return head_; }
  void push_back(ListWaiter* w) noexcept {
    w->list_ = this;
    w->prev_ = tail_;
    w->next_ = nullptr;
    if (tail_ != nullptr) {
      tail_->next_ = w;
    } else {
      head_ = w;
    }
    tail_ = w;
  }
  void remove(ListWaiter* w) noexcept {
    if (w->prev_ != nullptr) {
      w->prev_->next_ = w->next_;
    } else {
      head_ = w->next_;
    }
    if (w->next_ != nullptr) {
      w->next_->prev_ = w->prev_;
    } else {
      tail_ = w->prev_;
    }
    w->prev_ = w->next_ = nullptr;
    w->list_ = nullptr;
  }
  /// Removes the first waiter and wakes it; `granted` marks the operation as completed for it.
  ListWaiter* wake_first(bool granted) noexcept {
    ListWaiter* w = head_;
    if (w == nullptr) return nullptr;
    remove(w);
    w->granted_ = granted;
    w->notified_ = true;
    w->task_->wake();
    return w;
  }
  /// Wakes every waiter.
  void wake_all(bool granted = false) noexcept {
    while (head_ != nullptr) wake_first(granted);
  }

 private:
  ListWaiter* head_ = nullptr;
  ListWaiter* tail_ = nullptr;
};

bool ListWaiter::enqueue(WaitList& list, std::coroutine_handle<> h) {
  TaskState& t = running_task();
  task_ = &t;
  if (t.must_cancel()) return false;
  list.push_back(this);
  t.suspend_on(this, h);
  return true;
}

void ListWaiter::unlink() noexcept {
  if (list_ != nullptr) list_->remove(this);
}

}  // namespace spindle::aio::detail
