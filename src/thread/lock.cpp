#include "spindle/thread/lock.hpp"

#include "spindle/core/detail/futex.hpp"
#include "spindle/core/errors.hpp"

namespace spindle {

namespace {
// A wake-up across vCPUs costs ~25 us; a short spin catches the common case of a lock held for a
// few hundred nanoseconds without sleeping.
constexpr int kSpins = 100;
}  // namespace

bool Lock::acquire_slow(detail::SteadyTime deadline) noexcept {
  uint32_t c = kLocked;
  for (int i = 0; i < kSpins; ++i) {
    detail::cpu_relax();
    c = word_.load(std::memory_order_relaxed);
    if (c == kUnlocked && try_acquire()) return true;
    if (c == kContended) break;  // others already sleep: spinning more would only steal CPU from the holder
  }
  // From here the word says "contended" whenever we might sleep, so release() knows to wake someone. Taking
  // the lock as kContended (not kLocked) may cost one unneeded wake-up later, never a lost one.
  c = word_.exchange(kContended, std::memory_order_acquire);
  while (c != kUnlocked) {
    if (!detail::futex_wait(word_, kContended, deadline)) {
      c = word_.exchange(kContended, std::memory_order_acquire);  // one last try after the timeout
      return c == kUnlocked;
    }
    c = word_.exchange(kContended, std::memory_order_acquire);
  }
  return true;
}

void Lock::release_slow(uint32_t previous) {
  if (previous == kUnlocked) throw InvalidStateError("release unlocked lock");
  detail::futex_wake(word_, 1);  // kContended: someone may sleep
}

}  // namespace spindle
