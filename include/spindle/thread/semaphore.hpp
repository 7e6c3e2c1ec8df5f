#pragma once
/// @file
/// `Semaphore` and `BoundedSemaphore`: counters that block at zero. Python equivalents:
/// `threading.Semaphore`, `threading.BoundedSemaphore`.

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/thread/detail/acquire_api.hpp"

namespace spindle {

/// A counter: acquire() decrements it, blocking while it is zero; release(n) increments it and wakes up to n
/// waiters. The counter is the futex word itself, so an uncontended acquire or release is one atomic
/// operation and release() makes a syscall only when someone sleeps. Not FIFO, like Python's.
///
/// **Thread safety:** all members may be called concurrently from any thread.
/// **Errors:** std::invalid_argument (Python's ValueError) for a negative or too large initial value
/// (the counter is 32-bit), for release(n) with n < 1 and when release would overflow the counter;
/// `acquire(false, timeout)` throws std::invalid_argument.
/// **Python equivalent:** `threading.Semaphore`.
class Semaphore : public detail::AcquireApi<Semaphore> {
 public:
  /// A semaphore whose counter starts at `value` (default 1). **Errors:** std::invalid_argument if
  /// `value` < 0 or above 2^32 - 1.
  explicit Semaphore(long long value = 1) : Semaphore(value, kMaxValue) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  using detail::AcquireApi<Semaphore>::acquire;

  /// Decrements the counter, waiting at most until `deadline` while it is zero; true if decremented.
  bool acquire_until(detail::SteadyTime deadline) noexcept;
  /// Decrements the counter if it is positive; never blocks.
  bool try_acquire() noexcept;
  /// Adds `n` to the counter and wakes up to `n` waiters. Python: `release(n=1)`.
  /// **Errors:** std::invalid_argument if `n` < 1 or the counter would overflow (and, for a
  /// BoundedSemaphore, go above its initial value); the counter is then unchanged.
  void release(long long n = 1);
  /// The current counter (a snapshot). Python: the private `_value`.
  std::size_t value() const noexcept { return count_.load(std::memory_order_relaxed); }

 protected:
  /// The largest value a counter can hold.
  static constexpr long long kMaxValue = 0xFFFFFFFF;
  /// A semaphore whose release() refuses to take the counter above `limit` (BoundedSemaphore's).
  Semaphore(long long value, long long limit);

 private:
  long long limit_;
  std::atomic<uint32_t> count_;
  std::atomic<uint32_t> sleepers_{0};  // threads inside acquire_until that may sleep on count_
};

/// A Semaphore whose release() refuses to raise the counter above its initial value: releasing more often
/// than acquiring is a bug it reports instead of hiding.
///
/// **Thread safety:** as Semaphore. **Errors:** as Semaphore, and release() above the initial value throws
/// std::invalid_argument (Python: ValueError "Semaphore released too many times").
/// **Python equivalent:** `threading.BoundedSemaphore`.
class BoundedSemaphore : public Semaphore {
 public:
  /// A bounded semaphore starting (and capped) at `value`. **Errors:** as Semaphore's constructor.
  /// The bound lives in the base, so release() through a `Semaphore&` is checked too.
  explicit BoundedSemaphore(long long value = 1) : Semaphore(value, value) {}
};

}  // namespace spindle
