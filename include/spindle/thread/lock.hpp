#pragma once
/// @file
/// `Lock`: a non-reentrant mutual-exclusion lock with timeouts. Python equivalent: `threading.Lock`.

#include <atomic>
#include <cstdint>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/thread/detail/acquire_api.hpp"

namespace spindle {

/// A futex-based mutex with Python's interface (`acquire(blocking, timeout)`, `release()`, `locked()`) and the
/// standard Lockable/TimedLockable one (`lock`, `try_lock`, `unlock`, `try_lock_for`, `try_lock_until`), so
/// `std::lock_guard`/`std::unique_lock`/`std::scoped_lock` work. Uncontended acquire and release are one
/// atomic operation each; a contended acquire spins briefly, then sleeps on a futex (no lost wake-ups: the
/// word records that someone sleeps). Not fair, like Python's.
///
/// As in Python, the lock has no owner: any thread may release it (a plain hand-off signal), and a thread that
/// acquires it twice deadlocks itself (use RLock for that).
///
/// **Thread safety:** all members may be called concurrently from any thread.
/// **Errors:** release() of an unlocked lock throws InvalidStateError (Python: RuntimeError "release
/// unlocked lock"); `acquire(false, timeout)` throws std::invalid_argument (Python: ValueError).
/// **Python equivalent:** `threading.Lock`.
class Lock : public detail::AcquireApi<Lock> {
 public:
  /// An unlocked lock.
  Lock() noexcept = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  using detail::AcquireApi<Lock>::acquire;

  /// Blocks until the lock is acquired (true) or `deadline` (steady clock) passes (false); a deadline already
  /// past polls once. Never throws.
  bool acquire_until(detail::SteadyTime deadline) noexcept { return try_acquire() || acquire_slow(deadline); }
  /// One attempt, never blocks; true if acquired.
  bool try_acquire() noexcept {
    uint32_t expected = kUnlocked;
    return word_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire, std::memory_order_relaxed);
  }
  /// Unlocks; wakes one waiter if any sleeps. **Errors:** InvalidStateError if the lock is not locked.
  void release() {
    const uint32_t previous = word_.exchange(kUnlocked, std::memory_order_release);
    if (previous != kLocked) release_slow(previous);
  }
  /// True while some thread holds the lock (a snapshot). Python: `locked()`.
  bool locked() const noexcept { return word_.load(std::memory_order_relaxed) != kUnlocked; }

 private:
  bool acquire_slow(detail::SteadyTime deadline) noexcept;         // contended: spin, then sleep
  void release_slow(uint32_t previous);                            // wake a sleeper, or report a bad release
  enum : uint32_t { kUnlocked = 0, kLocked = 1, kContended = 2 };  // Drepper's three-state futex mutex
  std::atomic<uint32_t> word_{kUnlocked};
};

}  // namespace spindle
