#include "spindle/thread/barrier.hpp"

#include <mutex>
#include <stdexcept>

#include "spindle/core/errors.hpp"

namespace spindle {

Barrier::Barrier(long long parties, std::function<void()> action, detail::OptionalTimeout timeout)
    : parties_(0), action_(std::move(action)), default_timeout_(timeout) {
  if (parties < 1) throw std::invalid_argument("Barrier parties must be >= 1");
  parties_ = static_cast<std::size_t>(parties);
}

std::size_t Barrier::wait_until(detail::SteadyTime deadline) {
  std::unique_lock guard(lock_);
  enter();
  const std::size_t index = count_++;
  try {
    if (index + 1 == parties_) {
      release_all();
    } else {
      wait_others(deadline);
    }
  } catch (...) {
    --count_;
    exit_cycle();
    throw;
  }
  --count_;
  exit_cycle();
  return index;
}

void Barrier::enter() {
  // Threads of the next cycle wait here until the previous cycle has drained or the reset has completed.
  // As in Python this wait has no timeout: draining only needs the released threads to wake up and leave,
  // and timing out here would break a cycle that has already completed.
  while (state_ == State::kDraining || state_ == State::kResetting) cond_.wait();
  if (state_ == State::kBroken) throw BrokenBarrierError();
}

void Barrier::release_all() {
  try {
    if (action_) action_();
    state_ = State::kDraining;
    cond_.notify_all();
  } catch (...) {
    break_barrier();  // the others get BrokenBarrierError; this thread gets the action's own exception
    throw;
  }
}

void Barrier::wait_others(detail::SteadyTime deadline) {
  if (!cond_.wait_for_until([this] { return state_ != State::kFilling; }, deadline)) {
    break_barrier();
    throw BrokenBarrierError("barrier timed out");
  }
  if (state_ == State::kBroken || state_ == State::kResetting) throw BrokenBarrierError();
}

void Barrier::exit_cycle() noexcept {
  // The last thread out of a draining or resetting cycle opens the barrier for the next one.
  if (count_ == 0 && (state_ == State::kDraining || state_ == State::kResetting)) {
    state_ = State::kFilling;
    cond_.notify_all();
  }
}

void Barrier::break_barrier() noexcept {
  state_ = State::kBroken;
  cond_.notify_all();
}

void Barrier::reset() {
  std::lock_guard guard(lock_);
  if (count_ > 0) {
    if (state_ == State::kFilling || state_ == State::kBroken) {
      state_ = State::kResetting;  // waiters of this cycle leave with BrokenBarrierError
    }
    // kDraining: the cycle completed; leaving it draining lets its threads return normally.
    // kResetting: already resetting.
  } else {
    state_ = State::kFilling;
  }
  cond_.notify_all();
}

void Barrier::abort() {
  std::lock_guard guard(lock_);
  break_barrier();
}

std::size_t Barrier::n_waiting() {
  std::lock_guard guard(lock_);
  return state_ == State::kFilling ? count_ : 0;
}

bool Barrier::broken() {
  std::lock_guard guard(lock_);
  return state_ == State::kBroken;
}

}  // namespace spindle
