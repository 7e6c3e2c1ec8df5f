#include "spindle/thread/event.hpp"

#include "spindle/core/detail/futex.hpp"

namespace spindle {

void Event::set() noexcept {
  uint32_t w = word_.load(std::memory_order_relaxed);
  for (;;) {
    if (w & kSetBit) {
      // Already set: still a release operation, so a waiter that sees the flag sees our writes too.
      if (word_.compare_exchange_weak(w, w, std::memory_order_release, std::memory_order_relaxed)) return;
      continue;
    }
    // New generation, flag set, waiters bit cleared: everyone who sleeps now is woken below.
    const uint32_t next = ((w & ~kWaitersBit) + kGenerationStep) | kSetBit;
    if (word_.compare_exchange_weak(w, next, std::memory_order_release, std::memory_order_relaxed)) break;
  }
  if (w & kWaitersBit) detail::futex_wake_all(word_);
}

bool Event::wait_until(detail::SteadyTime deadline) noexcept {
  uint32_t w = word_.load(std::memory_order_acquire);
  if (w & kSetBit) return true;
  const uint32_t generation = w & ~(kSetBit | kWaitersBit);
  for (;;) {
    if (w & kSetBit) return true;
    if ((w & ~(kSetBit | kWaitersBit)) != generation) return true;  // set (and maybe cleared) meanwhile
    if (!(w & kWaitersBit)) {
      // Announce the sleeper before sleeping, so set() knows to wake us.
      if (!word_.compare_exchange_weak(w, w | kWaitersBit, std::memory_order_acquire, std::memory_order_acquire))
        continue;
      w |= kWaitersBit;
    }
    const bool woken = detail::futex_wait(word_, w, deadline);
    w = word_.load(std::memory_order_acquire);
    if (!woken) return (w & kSetBit) || (w & ~(kSetBit | kWaitersBit)) != generation;
  }
}

}  // namespace spindle
