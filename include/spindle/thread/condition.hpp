#pragma once
/// @file
/// `Condition`: a condition variable bound to its lock. Python equivalent: `threading.Condition`.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/thread/detail/acquire_api.hpp"
#include "spindle/thread/lock.hpp"
#include "spindle/thread/rlock.hpp"

namespace spindle {

/// Lets threads wait, while holding a lock, until another thread notifies them. As in Python the condition
/// owns or borrows its lock and is itself a lock (`acquire`/`release`, and `lock`/`unlock` for
/// std::unique_lock); wait() releases the lock completely (an RLock however deeply held), sleeps, and
/// re-acquires it before returning.
///
/// Each waiter sleeps on its own futex in a FIFO list guarded by the condition's lock, so notify(n) wakes
/// exactly the n longest waiters, and a notification is never lost: a waiter whose timeout expires at the
/// moment it is notified reports true (Python may report false and lose that notification). Spurious
/// wake-ups do not happen, but a woken thread must still re-check its predicate (another thread may take the
/// lock first), which wait_for() does for you.
///
/// **Thread safety:** all members may be called from any thread; wait/notify require holding the lock.
/// **Errors:** wait()/wait_for()/notify()/notify_all() without holding the lock throw InvalidStateError
/// (Python: RuntimeError). With a borrowed Lock (which has no owner) "holding" can only be checked as "the
/// lock is locked", as Python does; with an RLock the owner is checked exactly.
/// **Python equivalent:** `threading.Condition`.
class Condition : public detail::AcquireApi<Condition> {
 public:
  /// A condition with its own RLock, as Python's `Condition()`.
  Condition();
  /// A condition over `lock`, which must outlive it. Python: `Condition(lock)`.
  explicit Condition(Lock& lock) noexcept : lock_(&lock) {}
  /// A condition over `lock`, which must outlive it.
  explicit Condition(RLock& lock) noexcept : rlock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  ~Condition();

  using detail::AcquireApi<Condition>::acquire;

  /// Acquires the underlying lock, waiting at most until `deadline`.
  bool acquire_until(detail::SteadyTime deadline) noexcept {
    return lock_ != nullptr ? lock_->acquire_until(deadline) : rlock_->acquire_until(deadline);
  }
  /// One attempt at the underlying lock.
  bool try_acquire() noexcept { return lock_ != nullptr ? lock_->try_acquire() : rlock_->try_acquire(); }
  /// Releases the underlying lock (errors as its release()).
  void release() {
    if (lock_ != nullptr) {
      lock_->release();
    } else {
      rlock_->release();
    }
  }

  /// Waits until notified; returns true. Python: `wait()`.
  bool wait() { return wait_until(detail::kNoDeadline); }
  /// Waits until notified or `timeout` passes; false on timeout. Python: `wait(timeout)`.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::deadline_after(timeout));
  }
  /// As wait(timeout); nullopt waits forever.
  bool wait(detail::OptionalTimeout timeout) { return wait_until(detail::deadline_of(timeout)); }
  /// Waits until notified or the steady-clock `deadline` passes; false on timeout. The lock is held again
  /// when it returns, whatever happened.
  bool wait_until(detail::SteadyTime deadline);

  /// Waits until `predicate()` is true; returns its last value. Python: `wait_for(predicate)`.
  template <class Predicate>
  auto wait_for(Predicate predicate) -> std::decay_t<decltype(predicate())> {
    return wait_for_until(predicate, detail::kNoDeadline);
  }
  /// Waits until `predicate()` is true or `timeout` passes; returns the predicate's last value (false-ish
  /// on timeout). Python: `wait_for(predicate, timeout)`.
  template <class Predicate, class Rep, class Period>
  auto wait_for(Predicate predicate, std::chrono::duration<Rep, Period> timeout)
      -> std::decay_t<decltype(predicate())> {
    return wait_for_until(predicate, detail::deadline_after(timeout));
  }
  /// As wait_for(predicate, timeout); nullopt waits forever.
  template <class Predicate>
  auto wait_for(Predicate predicate, detail::OptionalTimeout timeout) -> std::decay_t<decltype(predicate())> {
    return wait_for_until(predicate, detail::deadline_of(timeout));
  }
  /// wait_for with an absolute steady-clock deadline; the predicate is checked before the first wait.
  template <class Predicate>
  auto wait_for_until(Predicate&& predicate, detail::SteadyTime deadline) -> std::decay_t<decltype(predicate())> {
    auto result = predicate();
    while (!result) {
      if (deadline != detail::kNoDeadline && std::chrono::steady_clock::now() >= deadline) break;
      wait_until(deadline);
      result = predicate();
    }
    return result;
  }

  /// Wakes up to `n` threads waiting on this condition, longest waiting first. Python: `notify(n=1)`.
  void notify(std::size_t n = 1);
  /// Wakes every waiting thread. Python: `notify_all()`.
  void notify_all() { notify(static_cast<std::size_t>(-1)); }

 private:
  struct Waiter {
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    std::atomic<uint32_t> signalled{0};
  };
  bool owned() const noexcept { return lock_ != nullptr ? lock_->locked() : rlock_->is_owned(); }
  void unlink(Waiter* w) noexcept;

  std::unique_ptr<RLock> own_;  // set only by the default constructor
  Lock* lock_ = nullptr;        // exactly one of lock_ / rlock_ is set
  RLock* rlock_ = nullptr;
  Waiter* head_ = nullptr;  // guarded by the condition's lock
  Waiter* tail_ = nullptr;
};

}  // namespace spindle
