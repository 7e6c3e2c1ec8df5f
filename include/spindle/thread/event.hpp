#pragma once
/// @file
/// `Event`: a flag threads can wait for. Python equivalent: `threading.Event`.

#include <atomic>
#include <chrono>
#include <cstdint>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/thread/detail/acquire_api.hpp"

namespace spindle {

/// A boolean flag: set() wakes every waiter, clear() resets it, wait() blocks until it is set.
///
/// One futex word holds the flag, a "someone sleeps" bit and a generation that set() advances, so set() on
/// an event nobody waits for is one atomic exchange and no syscall, and a waiter woken by set() returns true
/// even if another thread clear()s the flag before the waiter runs again (Python's semantics: a set()
/// followed at once by clear() still releases everyone who was waiting).
///
/// **Memory ordering:** everything a thread did before set() is visible to a thread whose wait() returned
/// true or which saw is_set() true.
/// **Thread safety:** all members may be called concurrently from any thread.
/// **Errors:** none; nothing throws.
/// **Python equivalent:** `threading.Event`.
class Event {
 public:
  /// A clear event.
  Event() noexcept = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  /// Sets the flag and wakes every waiter. Setting a set event does nothing.
  void set() noexcept;
  /// Resets the flag; later wait()s block until the next set().
  void clear() noexcept { word_.fetch_and(~kSetBit, std::memory_order_relaxed); }
  /// True if the flag is set.
  bool is_set() const noexcept { return (word_.load(std::memory_order_acquire) & kSetBit) != 0; }

  /// Blocks until the flag is set; returns true (as Python's `wait()` without timeout).
  bool wait() noexcept { return wait_until(detail::kNoDeadline); }
  /// Blocks until the flag is set or `timeout` passes (<= 0 polls); true if it was set. Python:
  /// `wait(timeout)`.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) noexcept {
    return wait_until(detail::deadline_after(timeout));
  }
  /// As wait(timeout); nullopt waits forever.
  bool wait(detail::OptionalTimeout timeout) noexcept { return wait_until(detail::deadline_of(timeout)); }
  /// Blocks until the flag is set or the steady-clock `deadline` passes; true if it was set.
  bool wait_until(detail::SteadyTime deadline) noexcept;

 private:
  static constexpr uint32_t kSetBit = 1;
  static constexpr uint32_t kWaitersBit = 2;
  static constexpr uint32_t kGenerationStep = 4;  // set() adds this: the high 30 bits count set()s
  std::atomic<uint32_t> word_{0};
};

}  // namespace spindle
