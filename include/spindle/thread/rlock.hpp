#pragma once
/// @file
/// `RLock`: a reentrant lock owned by the thread that acquired it. Python equivalent: `threading.RLock`.

#include <atomic>
#include <cstdint>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/thread/detail/acquire_api.hpp"
#include "spindle/thread/lock.hpp"

namespace spindle {

class Condition;

/// A lock that the owning thread may acquire again; it is free once released as many times as acquired.
/// Python's interface (`acquire(blocking, timeout)`, `release()`, `locked()`) plus the standard Lockable /
/// TimedLockable one. A nested acquire by the owner is a plain increment (no atomic RMW).
///
/// **Thread safety:** all members may be called concurrently from any thread.
/// **Errors:** release() by a thread that does not own the lock throws InvalidStateError (Python:
/// RuntimeError "cannot release un-acquired lock"); `acquire(false, timeout)` throws std::invalid_argument.
/// **Python equivalent:** `threading.RLock`.
class RLock : public detail::AcquireApi<RLock> {
 public:
  /// An unlocked lock.
  RLock() noexcept = default;
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  using detail::AcquireApi<RLock>::acquire;

  /// Acquires (or re-enters) the lock, waiting at most until `deadline`; true if acquired. Never throws.
  bool acquire_until(detail::SteadyTime deadline) noexcept;
  /// One attempt, never blocks; true if acquired or re-entered.
  bool try_acquire() noexcept;
  /// Undoes one acquire; the lock is free after the last. **Errors:** InvalidStateError if the calling thread
  /// does not own the lock.
  void release();
  /// True while some thread holds the lock (a snapshot). Python 3.14: `RLock.locked()`.
  bool locked() const noexcept { return inner_.locked(); }
  /// True if the calling thread owns the lock. Python: the private `_is_owned()`.
  bool is_owned() const noexcept;
  /// How many times the owner acquired it; 0 when the calling thread does not own it.
  uint32_t recursion_count() const noexcept { return is_owned() ? count_ : 0; }

 private:
  friend class Condition;
  // Condition::wait releases the lock completely and restores the count afterwards (Python's
  // `_release_save` / `_acquire_restore`).
  uint32_t release_save();
  void acquire_restore(uint32_t count) noexcept;

  Lock inner_;
  std::atomic<int> owner_{0};  // native thread id of the owner, 0 when free
  uint32_t count_ = 0;         // only the owner reads or writes it
};

}  // namespace spindle
