#include "spindle/thread/semaphore.hpp"

#include <climits>
#include <stdexcept>

#include "spindle/core/detail/futex.hpp"

namespace spindle {

Semaphore::Semaphore(long long value, long long limit) : limit_(limit), count_(0) {
  if (value < 0) throw std::invalid_argument("semaphore initial value must be >= 0");
  if (value > kMaxValue) throw std::invalid_argument("semaphore initial value must be < 2^32");
  count_.store(static_cast<uint32_t>(value), std::memory_order_relaxed);
}

bool Semaphore::try_acquire() noexcept {
  uint32_t c = count_.load(std::memory_order_relaxed);
  while (c > 0) {
    if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
  }
  return false;
}

bool Semaphore::acquire_until(detail::SteadyTime deadline) noexcept {
  if (try_acquire()) return true;
  // Dekker-style hand-shake with release(): we announce ourselves (seq_cst) before the futex re-checks the
  // counter; release() adds to the counter (seq_cst) before it reads sleepers_. One of the two sees the other.
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  bool got = false;
  for (;;) {
    uint32_t c = count_.load(std::memory_order_seq_cst);
    while (c > 0) {
      if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acquire, std::memory_order_relaxed)) {
        got = true;
        break;
      }
    }
    if (got) break;
    if (!detail::futex_wait(count_, 0, deadline)) {
      got = try_acquire();
      break;
    }
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
  return got;
}

void Semaphore::release(long long n) {
  if (n < 1) throw std::invalid_argument("semaphore release count must be >= 1");
  uint32_t c = count_.load(std::memory_order_relaxed);
  do {
    if (static_cast<long long>(c) + n > limit_) {
      throw std::invalid_argument(limit_ < kMaxValue ? "Semaphore released too many times"
                                                     : "semaphore counter would overflow");
    }
  } while (!count_.compare_exchange_weak(c, static_cast<uint32_t>(c + n), std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    detail::futex_wake(count_, n > INT_MAX ? INT_MAX : static_cast<int>(n));
  }
}

}  // namespace spindle
