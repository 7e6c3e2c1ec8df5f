#include "spindle/thread/rlock.hpp"

#include "spindle/core/errors.hpp"
#include "spindle/thread/thread.hpp"

namespace spindle {

// owner_ is only ever equal to the caller's id if the caller stored it itself, so relaxed loads suffice for
// the ownership test; the happens-before for the protected data comes from inner_.

bool RLock::is_owned() const noexcept { return owner_.load(std::memory_order_relaxed) == get_native_id(); }

bool RLock::acquire_until(detail::SteadyTime deadline) noexcept {
  const int me = get_native_id();
  if (owner_.load(std::memory_order_relaxed) == me) {
    ++count_;
    return true;
  }
  if (!inner_.acquire_until(deadline)) return false;
  owner_.store(me, std::memory_order_relaxed);
  count_ = 1;
  return true;
}

bool RLock::try_acquire() noexcept {
  const int me = get_native_id();
  if (owner_.load(std::memory_order_relaxed) == me) {
    ++count_;
    return true;
  }
  if (!inner_.try_acquire()) return false;
  owner_.store(me, std::memory_order_relaxed);
  count_ = 1;
  return true;
}

void RLock::release() {
  if (!is_owned()) throw InvalidStateError("cannot release un-acquired lock");
  if (--count_ == 0) {
    owner_.store(0, std::memory_order_relaxed);
    inner_.release();
  }
}

uint32_t RLock::release_save() {
  if (!is_owned()) throw InvalidStateError("cannot release un-acquired lock");
  const uint32_t saved = count_;
  count_ = 0;
  owner_.store(0, std::memory_order_relaxed);
  inner_.release();
  return saved;
}

void RLock::acquire_restore(uint32_t count) noexcept {
  inner_.acquire_until(detail::kNoDeadline);
  owner_.store(get_native_id(), std::memory_order_relaxed);
  count_ = count;
}

}  // namespace spindle
