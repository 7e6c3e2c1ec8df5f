#pragma once
/// @file
/// Async synchronisation primitives: `Lock`, `Event`, `Condition`, `Semaphore`, `BoundedSemaphore`,
/// `Barrier`. Python equivalent: `asyncio.Lock` and friends. They suspend tasks, never threads, and are meant
/// for tasks of one loop (use the thread-model primitives across threads).

#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <stdexcept>
#include <utility>

#include "spindle/aio/detail/wait_list.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio {

/// A mutual-exclusion lock for tasks, FIFO-fair: release() hands the lock to the first waiter directly.
/// Use `co_await lock.acquire(); ... lock.release();` or `auto held = co_await lock.scoped();`.
///
/// **Thread safety:** one loop's tasks only. **Errors:** release() of an unlocked lock throws
/// InvalidStateError. **Cancellation:** a task cancelled while waiting leaves the queue; one cancelled after it
/// was handed the lock keeps the lock (the cancellation is raised at its next suspension point).
/// **Python equivalent:** `asyncio.Lock` (`async with lock:`).
class Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  /// Awaitable that takes the lock. Python: `await lock.acquire()`.
  [[nodiscard("does nothing unless awaited: co_await it")]] auto acquire() noexcept {
    struct Awaiter final : detail::ListWaiter {
      Lock* lock;
      explicit Awaiter(Lock* l) : lock(l) {}
      bool await_ready() noexcept {
        if (!lock->locked_ && lock->waiters_.empty()) {
          lock->locked_ = true;
          return true;
        }
        return false;
      }
      bool await_suspend(std::coroutine_handle<> h) { return enqueue(lock->waiters_, h); }
      void await_resume() { finish(); }
    };
    return Awaiter(this);
  }
  /// Releases the lock (or hands it to the first waiter). Python: `release()`.
  void release() {
    if (!locked_) throw InvalidStateError("Lock is not acquired");
    if (waiters_.wake_first(true) == nullptr) locked_ = false;
  }
  /// Python: `locked()`.
  bool locked() const noexcept { return locked_; }

  /// Holds the lock until destroyed (from scoped()).
  class [[nodiscard]] Held {
   public:
    explicit Held(Lock* l) noexcept : l_(l) {}
    Held(Held&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    Held& operator=(Held&&) = delete;
    ~Held() {
      if (l_ != nullptr) l_->release();
    }

   private:
    Lock* l_;
  };
  /// `auto held = co_await lock.scoped();` — the C++ spelling of `async with lock:`.
  Task<Held> scoped() {
    co_await acquire();
    co_return Held(this);
  }

 private:
  detail::WaitList waiters_;
  bool locked_ = false;
};

/// A flag tasks can wait for. **Thread safety:** one loop's tasks only. **Cancellation:** wait() throws
/// CancelledError. **Python equivalent:** `asyncio.Event`.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Python: `is_set()`.
  bool is_set() const noexcept { return set_; }
  /// Sets the flag and wakes every waiter. Python: `set()`.
  void set() noexcept {
    set_ = true;
    waiters_.wake_all();
  }
  /// Python: `clear()`.
  void clear() noexcept { set_ = false; }
  /// Awaitable: returns at once if set, else waits for set(). Python: `await event.wait()`.
  [[nodiscard("does nothing unless awaited: co_await it")]] auto wait() noexcept {
    struct Awaiter final : detail::ListWaiter {
      Event* ev;
      explicit Awaiter(Event* e) : ev(e) {}
      bool await_ready() const noexcept { return ev->set_; }
      bool await_suspend(std::coroutine_handle<> h) { return enqueue(ev->waiters_, h); }
      void await_resume() { finish(); }
    };
    return Awaiter(this);
  }

 private:
  detail::WaitList waiters_;
  bool set_ = false;
};

/// A counter of permits. **Thread safety:** one loop's tasks only. **Errors:** a negative initial value throws
/// std::invalid_argument. **Cancellation:** as Lock. **Python equivalent:** `asyncio.Semaphore`.
class Semaphore {
 public:
  /// Python: `Semaphore(value=1)`.
  explicit Semaphore(std::size_t value = 1) : value_(value) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  virtual ~Semaphore() = default;

  /// Awaitable that takes a permit. Python: `await sem.acquire()`.
  [[nodiscard("does nothing unless awaited: co_await it")]] auto acquire() noexcept {
    struct Awaiter final : detail::ListWaiter {
      Semaphore* sem;
      explicit Awaiter(Semaphore* s) : sem(s) {}
      bool await_ready() noexcept {
        if (sem->value_ > 0 && sem->waiters_.empty()) {
          --sem->value_;
          return true;
        }
        return false;
      }
      bool await_suspend(std::coroutine_handle<> h) { return enqueue(sem->waiters_, h); }
      void await_resume() { finish(); }
    };
    return Awaiter(this);
  }
  /// Returns a permit (handing it to the first waiter if any). Python: `release()`.
  virtual void release() {
    if (waiters_.wake_first(true) == nullptr) ++value_;
  }
  /// Python: `locked()` — no permit available.
  bool locked() const noexcept { return value_ == 0; }
  /// Permits available now.
  std::size_t value() const noexcept { return value_; }

 protected:
  detail::WaitList waiters_;
  std::size_t value_;
};

/// A semaphore that refuses to be released above its initial value. **Errors:** such a release throws
/// std::invalid_argument. **Python equivalent:** `asyncio.BoundedSemaphore`.
class BoundedSemaphore final : public Semaphore {
 public:
  /// Python: `BoundedSemaphore(value=1)`.
  explicit BoundedSemaphore(std::size_t value = 1) : Semaphore(value), bound_(value) {}
  void release() override {
    if (waiters_.empty() && value_ >= bound_) throw std::invalid_argument("BoundedSemaphore released too many times");
    Semaphore::release();
  }

 private:
  std::size_t bound_;
};

/// A condition variable for tasks, bound to a Lock. **Errors:** wait/notify without holding the lock throw
/// InvalidStateError. **Cancellation:** wait() re-acquires the lock before CancelledError propagates, as
/// Python does. **Python equivalent:** `asyncio.Condition`.
class Condition {
 public:
  /// Uses its own lock. Python: `Condition()`.
  Condition() : lock_(&own_) {}
  /// Uses `lock`. Python: `Condition(lock)`.
  explicit Condition(Lock& lock) : lock_(&lock) {}
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  /// The underlying lock's operations. Python: `acquire()`, `release()`, `locked()`.
  auto acquire() noexcept { return lock_->acquire(); }
  /// Releases the lock.
  void release() { lock_->release(); }
  /// True while the lock is held.
  bool locked() const noexcept { return lock_->locked(); }
  /// `auto held = co_await cond.scoped();`
  Task<Lock::Held> scoped() { return lock_->scoped(); }

  /// Releases the lock, waits for notify, re-acquires. Python: `await cond.wait()`.
  Task<void> wait() {
    if (!lock_->locked()) throw InvalidStateError("Condition.wait: lock is not acquired");
    lock_->release();
    std::exception_ptr error;
    try {
      co_await Notified(this);
    } catch (...) {
      error = std::current_exception();
    }
    for (;;) {  // the lock is re-acquired even when cancelled
      try {
        co_await lock_->acquire();
        break;
      } catch (const CancelledError&) {
        error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  }
  /// Waits until `pred()` is true. Python: `await cond.wait_for(predicate)`.
  template <class P>
  Task<void> wait_for(P pred) {
    while (!pred()) co_await wait();
  }
  /// Wakes up to `n` waiters. Python: `notify(n=1)`.
  void notify(std::size_t n = 1) {
    if (!lock_->locked()) throw InvalidStateError("Condition.notify: lock is not acquired");
    for (std::size_t i = 0; i < n && !waiters_.empty(); ++i) waiters_.wake_first(false);
  }
  /// Python: `notify_all()`.
  void notify_all() {
    if (!lock_->locked()) throw InvalidStateError("Condition.notify_all: lock is not acquired");
    waiters_.wake_all();
  }

 private:
  struct Notified final : detail::ListWaiter {
    Condition* c;
    explicit Notified(Condition* cond) : c(cond) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) { return enqueue(c->waiters_, h); }
    void await_resume() { finish(); }
  };
  Lock own_;
  Lock* lock_;
  detail::WaitList waiters_;
};

/// Lets `parties` tasks wait for each other; wait() returns the arrival index (0..parties-1). abort() breaks
/// it. **Errors:** BrokenBarrierError once broken. **Cancellation:** a cancelled waiter leaves (the count goes
/// down). **Python equivalent:** `asyncio.Barrier` (3.11).
class Barrier {
 public:
  /// Python: `Barrier(parties)`.
  explicit Barrier(std::size_t parties) : parties_(parties) {
    if (parties == 0) throw std::invalid_argument("Barrier: parties must be > 0");
  }
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Waits for the others. Python: `await barrier.wait()`.
  [[nodiscard("does nothing unless awaited: co_await it")]] auto wait() {
    struct Awaiter final : detail::ListWaiter {
      Barrier* b;
      std::size_t index = 0;
      bool suspended = false;
      explicit Awaiter(Barrier* bar) : b(bar) {}
      bool await_ready() {
        if (b->broken_) throw BrokenBarrierError();
        index = b->count_++;
        if (b->count_ == b->parties_) {  // the last one releases the others
          b->count_ = 0;
          b->waiters_.wake_all(true);
          return true;
        }
        return false;
      }
      bool await_suspend(std::coroutine_handle<> h) {
        if (enqueue(b->waiters_, h)) return suspended = true;
        --b->count_;
        return false;
      }
      std::size_t await_resume() {
        if (suspended && !notified_ && b->count_ > 0) --b->count_;  // cancelled while waiting: leave
        if (notified_ && !granted_) throw BrokenBarrierError();
        finish();
        return index;
      }
    };
    return Awaiter(this);
  }
  /// Breaks the barrier: waiters and later callers get BrokenBarrierError. Python: `abort()`.
  void abort() noexcept {
    broken_ = true;
    count_ = 0;
    waiters_.wake_all(false);
  }
  /// Back to the initial state (waiters get BrokenBarrierError). Python: `reset()`.
  void reset() noexcept {
    waiters_.wake_all(false);
    broken_ = false;
    count_ = 0;
  }
  /// Python: `parties`, `n_waiting`, `broken`.
  std::size_t parties() const noexcept { return parties_; }
  /// Tasks waiting now.
  std::size_t n_waiting() const noexcept { return count_; }
  /// True once aborted.
  bool broken() const noexcept { return broken_; }

 private:
  detail::WaitList waiters_;
  std::size_t parties_;
  std::size_t count_ = 0;
  bool broken_ = false;
};

}  // namespace spindle::aio
