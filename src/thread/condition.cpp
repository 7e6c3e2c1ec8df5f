#include "spindle/thread/condition.hpp"

#include "spindle/core/detail/futex.hpp"
#include "spindle/core/errors.hpp"

namespace spindle {

Condition::Condition() : own_(std::make_unique<RLock>()), rlock_(own_.get()) {}

Condition::~Condition() = default;

void Condition::unlink(Waiter* w) noexcept {
  (w->prev != nullptr ? w->prev->next : head_) = w->next;
  (w->next != nullptr ? w->next->prev : tail_) = w->prev;
  w->prev = w->next = nullptr;
}

bool Condition::wait_until(detail::SteadyTime deadline) {
  if (!owned()) throw InvalidStateError("cannot wait on un-acquired lock");
  // The waiter lives on this stack frame. It is safe: a notifier touches it only while holding the lock,
  // and this frame cannot return before it re-acquires that lock.
  Waiter me;
  me.prev = tail_;
  (tail_ != nullptr ? tail_->next : head_) = &me;
  tail_ = &me;

  uint32_t saved = 0;
  if (lock_ != nullptr) {
    lock_->release();
  } else {
    saved = rlock_->release_save();
  }
  while (me.signalled.load(std::memory_order_acquire) == 0) {
    if (!detail::futex_wait(me.signalled, 0, deadline)) break;
  }
  if (lock_ != nullptr) {
    lock_->acquire_until(detail::kNoDeadline);
  } else {
    rlock_->acquire_restore(saved);
  }
  // Under the lock again: a notifier either took us off the list and signalled us (then we report true, even
  // if the deadline also passed, so the notification is not lost) or never saw us, so we leave the list.
  if (me.signalled.load(std::memory_order_relaxed) != 0) return true;
  unlink(&me);
  return false;
}

void Condition::notify(std::size_t n) {
  if (!owned()) throw InvalidStateError("cannot notify on un-acquired lock");
  while (n > 0 && head_ != nullptr) {
    Waiter* w = head_;
    unlink(w);
    w->signalled.store(1, std::memory_order_release);
    // The waiter cannot return (and free its node) before we release the lock, so the address is valid.
    detail::futex_wake(w->signalled, 1);
    --n;
  }
}

}  // namespace spindle
