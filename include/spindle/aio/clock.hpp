#pragma once
/// @file
/// The clocks an EventLoop can run on: the monotonic clock, or a virtual clock that tests advance (so timer
/// tests never sleep, as tokio's `time::pause()`).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace spindle::aio {

namespace detail {
/// What a loop gives the clock it runs on: told (from any thread) when the clock is moved by hand, so that a
/// loop asleep until a timer looks at its timers again.
class ClockWaker {
 public:
  virtual ~ClockWaker() = default;
  virtual void clock_moved() noexcept = 0;
};
}  // namespace detail

/// A loop's source of time, in nanoseconds of `std::chrono::steady_clock`'s epoch.
///
/// **Thread safety:** `now_ns` may be called from any thread. **Python equivalent:** the `time()` a loop uses
/// (`loop.time()` reads `time.monotonic()`).
class Clock {
 public:
  virtual ~Clock() = default;
  /// Current time in nanoseconds.
  virtual std::int64_t now_ns() const noexcept = 0;
  /// True for a virtual clock: one that moves only when told (by hand or by the loop), not with real time.
  virtual bool is_virtual() const noexcept { return false; }
  /// True for a clock the loop may move forward itself: when every task waits on a timer and nothing else is
  /// pending, the loop jumps to the next deadline instead of sleeping.
  virtual bool auto_advances() const noexcept { return false; }
  /// The loop's jump: moves an auto-advancing clock to `t` (ignored by real clocks or if `t` is in the past).
  /// Wakes no loop (the loop that jumps is awake); VirtualClock::advance() does.
  virtual void advance_to(std::int64_t /*t*/) noexcept {}
  /// Internal: a loop starting to run on this clock registers `waker` (held weakly; registering twice is one).
  virtual void attach(const std::weak_ptr<detail::ClockWaker>& /*waker*/) {}
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
/// paused clock (`time::pause`, `time::advance`).
class VirtualClock final : public Clock {
 public:
  /// `auto_advance`: let the loop jump to the next deadline when it is idle.
  explicit VirtualClock(bool auto_advance = true) : auto_(auto_advance) {}
  std::int64_t now_ns() const noexcept override { return now_.load(std::memory_order_acquire); }
  bool is_virtual() const noexcept override { return true; }
  bool auto_advances() const noexcept override { return auto_; }
  void advance_to(std::int64_t t) noexcept override {
    std::int64_t cur = now_.load(std::memory_order_relaxed);
    while (t > cur && !now_.compare_exchange_weak(cur, t, std::memory_order_acq_rel)) {
    }
  }
  /// Moves the clock forward by `d` and wakes the loops running on it, so that the timers now due run (the
  /// only way time passes without auto-advance). Callable from any thread. tokio: `time::advance(d)`.
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> d) noexcept {
    now_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(), std::memory_order_acq_rel);
    std::lock_guard lock(mu_);
    for (const auto& w : wakers_) {
      if (const auto loop = w.lock()) loop->clock_moved();
    }
  }
  void attach(const std::weak_ptr<detail::ClockWaker>& waker) override {
    std::lock_guard lock(mu_);
    std::erase_if(wakers_, [](const auto& w) { return w.expired(); });  // loops gone since
    const auto same = [&waker](const auto& w) { return !w.owner_before(waker) && !waker.owner_before(w); };
    if (std::none_of(wakers_.begin(), wakers_.end(), same)) wakers_.push_back(waker);
  }

 private:
  std::atomic<std::int64_t> now_{1'000'000'000'000};
  bool auto_;
  std::mutex mu_;  // guards wakers_
  std::vector<std::weak_ptr<detail::ClockWaker>> wakers_;
};

}  // namespace spindle::aio
