#pragma once
/// @file
/// `Barrier`: a reusable rendezvous for a fixed number of threads. Python equivalent: `threading.Barrier`.

#include <chrono>
#include <cstddef>
#include <functional>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/thread/condition.hpp"
#include "spindle/thread/detail/acquire_api.hpp"
#include "spindle/thread/lock.hpp"

namespace spindle {

/// `parties` threads call wait(); the last to arrive runs the optional `action` (once per cycle), then all
/// are released together and the barrier is ready for the next cycle. Python's algorithm, state for state:
/// a cycle fills, then drains (threads arriving for the next cycle wait until the previous one has left).
///
/// The barrier breaks when a waiter times out, when abort() is called, or when the action throws: every
/// thread waiting then, and every later wait() until reset(), throws BrokenBarrierError; the thread whose
/// action threw gets the action's exception instead. reset() breaks the current cycle for its waiters and
/// makes the barrier usable again.
///
/// **Thread safety:** all members may be called concurrently from any thread.
/// **Errors:** BrokenBarrierError as above; std::invalid_argument (Python: ValueError) for `parties` < 1.
/// **Python equivalent:** `threading.Barrier(parties, action, timeout)`.
class Barrier {
 public:
  /// A barrier for `parties` threads; `action` (may be empty) runs on the last arriving thread of each cycle;
  /// `timeout` is the default for wait() (nullopt: forever).
  explicit Barrier(long long parties, std::function<void()> action = {},
                   detail::OptionalTimeout timeout = std::nullopt);
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  /// Waits (at most the default timeout) until `parties` threads have called wait(); returns this thread's
  /// arrival index, 0 for the first to arrive ... parties - 1 for the last (which ran the action).
  /// **Errors:** BrokenBarrierError if the barrier is or becomes broken, or on timeout (which breaks it).
  std::size_t wait() { return wait_until(detail::deadline_of(default_timeout_)); }
  /// As wait(), with `timeout` instead of the default (<= 0: break unless this is the last thread).
  template <class Rep, class Period>
  std::size_t wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::deadline_after(timeout));
  }
  /// As wait(timeout); nullopt means the default timeout, as Python's `wait(None)`.
  std::size_t wait(detail::OptionalTimeout timeout) {
    return wait_until(detail::deadline_of(timeout ? timeout : default_timeout_));
  }
  /// As wait(), until the steady-clock `deadline`.
  std::size_t wait_until(detail::SteadyTime deadline);

  /// Returns the barrier to its initial state; threads waiting in the current cycle get BrokenBarrierError.
  void reset();
  /// Breaks the barrier: current and later waiters get BrokenBarrierError until reset(). Useful to release
  /// everyone when one party cannot come.
  void abort();

  /// The number of threads the barrier needs.
  std::size_t parties() const noexcept { return parties_; }
  /// How many threads currently wait in the filling cycle.
  std::size_t n_waiting();
  /// True if the barrier is broken.
  bool broken();

 private:
  enum class State { kFilling, kDraining, kResetting, kBroken };
  void enter();        // waits out a draining or resetting previous cycle
  void release_all();  // the last thread: run the action, start draining
  void wait_others(detail::SteadyTime deadline);
  void exit_cycle() noexcept;
  void break_barrier() noexcept;

  Lock lock_;
  Condition cond_{lock_};
  std::size_t parties_;
  std::function<void()> action_;
  detail::OptionalTimeout default_timeout_;
  State state_ = State::kFilling;  // guarded by lock_
  std::size_t count_ = 0;          // guarded by lock_
};

}  // namespace spindle
