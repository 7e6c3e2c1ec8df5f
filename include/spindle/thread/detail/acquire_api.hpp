#pragma once
// The timeout spellings every thread-model primitive accepts, written once. A primitive implements
// `acquire_until(SteadyTime)`, `try_acquire()` and `release()`; this mixin adds Python's `acquire(blocking,
// timeout)` overloads and the standard Lockable / TimedLockable names, so std::lock_guard, std::unique_lock and
// std::scoped_lock work with every spindle lock.

#include <chrono>
#include <optional>
#include <stdexcept>

#include "spindle/core/detail/deadline.hpp"

namespace spindle::detail {

/// An optional timeout as the thread-model primitives take it: nullopt = wait forever, <= 0 = poll.
using OptionalTimeout = std::optional<std::chrono::nanoseconds>;

/// The absolute deadline of an optional timeout (kNoDeadline for nullopt).
inline SteadyTime deadline_of(const OptionalTimeout& timeout) noexcept {
  return timeout ? deadline_after(*timeout) : kNoDeadline;
}

/// CRTP mixin: Python's acquire overloads plus lock()/try_lock()/unlock()/try_lock_for()/try_lock_until().
template <class Derived>
class AcquireApi {
 public:
  /// Python's `acquire(blocking=True)`: blocks until acquired (returns true), or with `blocking == false`
  /// tries once and returns whether it succeeded.
  bool acquire(bool blocking = true) { return blocking ? self().acquire_until(kNoDeadline) : self().try_acquire(); }
  /// Python's `acquire(timeout=t)`: waits at most `timeout` (<= 0 polls); true if acquired.
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return self().acquire_until(deadline_after(timeout));
  }
  /// As acquire(timeout) with an optional timeout: nullopt waits forever.
  bool acquire(OptionalTimeout timeout) { return self().acquire_until(deadline_of(timeout)); }
  /// Python's `acquire(blocking, timeout)`. **Errors:** std::invalid_argument if `blocking` is false and a
  /// timeout is given (Python raises ValueError).
  template <class Rep, class Period>
  bool acquire(bool blocking, std::chrono::duration<Rep, Period> timeout) {
    if (!blocking) throw std::invalid_argument("can't specify a timeout for a non-blocking call");
    return self().acquire_until(deadline_after(timeout));
  }
  /// As acquire(blocking, timeout) with an optional timeout; nullopt with `blocking == false` tries once.
  bool acquire(bool blocking, OptionalTimeout timeout) {
    if (!blocking) {
      if (timeout) throw std::invalid_argument("can't specify a timeout for a non-blocking call");
      return self().try_acquire();
    }
    return self().acquire_until(deadline_of(timeout));
  }

  /// Lockable: blocks until acquired.
  void lock() { self().acquire_until(kNoDeadline); }
  /// Lockable: one attempt, never blocks.
  bool try_lock() { return self().try_acquire(); }
  /// Lockable: the same as release().
  void unlock() { self().release(); }
  /// TimedLockable: acquire(timeout).
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> timeout) {
    return self().acquire_until(deadline_after(timeout));
  }
  /// TimedLockable: waits until the time point `t` of any clock.
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> t) {
    return self().acquire_until(to_steady(t));
  }

 protected:
  AcquireApi() = default;
  ~AcquireApi() = default;

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
};

}  // namespace spindle::detail
