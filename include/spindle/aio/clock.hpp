#pragma once
/// @file
/// The clocks an EventLoop can run on: the monotonic clock, or a virtual clock that tests advance (so timer
/// tests never sleep, as tokio's `time::pause()`).

#include <atomic>
#include <chrono>
#include <cstdint>

namespace spindle::aio {

/// A loop's source of time, in nanoseconds of `std::chrono::steady_clock`'s epoch.
///
/// **Thread safety:** `now_ns` may be called from any thread. **Python equivalent:** the `time()` a loop uses
/// (`loop.time()` reads `time.monotonic()`).
class Clock {
 public:
  virtual ~Clock() = default;
  /// Current time in nanoseconds.
  virtual std::int64_t now_ns() const noexcept = 0;
  /// True for a clock the loop may move forward itself: when every task waits on a timer and nothing else is
  /// pending, the loop jumps to the next deadline instead of sleeping.
  virtual bool is_virtual() const noexcept { return false; }
  /// Moves a virtual clock to `t` (ignored by real clocks or if `t` is in the past).
  virtual void advance_to(std::int64_t /*t*/) noexcept {}
};

/// `std::chrono::steady_clock`. The default. **Thread safety:** any thread.
/// **Python equivalent:** `time.monotonic`.
class MonotonicClock final : public Clock {
 public:
  std::int64_t now_ns() const noexcept override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

/// A clock that only moves when told: by `advance()`, or by the loop when it would otherwise sleep until the
/// next timer (auto-advance). Starts at a fixed, arbitrary instant.
///
/// **Thread safety:** any thread. **Python equivalent:** none in asyncio (tests patch `loop.time`); tokio's
/// paused clock.
class VirtualClock final : public Clock {
 public:
  /// `auto_advance`: let the loop jump to the next deadline when it is idle.
  explicit VirtualClock(bool auto_advance = true) : auto_(auto_advance) {}
  std::int64_t now_ns() const noexcept override { return now_.load(std::memory_order_acquire); }
  bool is_virtual() const noexcept override { return auto_; }
  void advance_to(std::int64_t t) noexcept override {
    std::int64_t cur = now_.load(std::memory_order_relaxed);
    while (t > cur && !now_.compare_exchange_weak(cur, t, std::memory_order_acq_rel)) {
    }
  }
  /// Moves the clock forward by `d`; the loop sees it at its next iteration.
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> d) noexcept {
    now_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(), std::memory_order_acq_rel);
  }

 private:
  std::atomic<std::int64_t> now_{1'000'000'000'000};
  bool auto_;
};

}  // namespace spindle::aio
