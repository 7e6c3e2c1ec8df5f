#pragma once
// Pieces shared by the thread-model queues: timeout handling as Python's `queue` does it, and the
// spin-then-park backoff the lock-free ring uses before it sleeps on a futex.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/core/detail/futex.hpp"

namespace spindle::detail {

/// The deadline of a queue operation: `block=false` polls, no timeout waits forever. A negative timeout is
/// rejected as Python rejects it (`ValueError: 'timeout' must be a non-negative number`).
inline SteadyTime queue_deadline(bool block, const std::optional<std::chrono::nanoseconds>& timeout) {
  if (!block || !timeout) return kNoDeadline;
  if (*timeout < std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("queue: 'timeout' must be a non-negative duration");
  }
  return deadline_after(*timeout);
}

/// Same for a timeout of any duration type.
template <class Rep, class Period>
SteadyTime queue_deadline(std::chrono::duration<Rep, Period> timeout) {
  if (timeout < timeout.zero()) throw std::invalid_argument("queue: 'timeout' must be a non-negative duration");
  return deadline_after(timeout);
}

/// Spin, then tell the caller to park. On these 2-vCPU machines a thread that only spins can starve the very
/// thread it waits for (4 threads, 2 vCPUs), while parking costs a ~25 us cross-vCPU wake-up: a bounded spin
/// (~700 pause instructions, tens of microseconds) catches hand-offs from a thread running on the other
/// vCPU, and only then do we pay for a futex sleep, which hands the vCPU to the thread we wait for.
///
/// Why no sched_yield() phase between the two: the kernel here (6.18, EEVDF) pushes a yielding task's
/// deadline back by a whole slice, so under load each yield hands the vCPU to an unrelated busy process for
/// milliseconds. Measured on W9 pinned to 2 CPUs next to two busy loops: 20 yields before parking gave
/// 0.7-12 M items/s (bimodal, often 14 s per run), no yields 9-17 M/s; on an idle machine both are within
/// run-to-run noise (17-30 M/s). See docs/queues.md.
class QueueBackoff {
 public:
  /// Spin rounds (each a burst of pause instructions, doubling up to 64) before parking.
  static constexpr int kSpinRounds = 16;

  /// Waits a little; false once it is time to park instead.
  bool pause() noexcept {
    if (round_ >= kSpinRounds) return false;
    const int n = 1 << std::min(round_, 6);
    for (int i = 0; i < n; ++i) cpu_relax();
    ++round_;
    return true;
  }

  /// After a wake-up, spin again, more briefly.
  void restart_after_wake() noexcept { round_ = kSpinRounds / 2; }

 private:
  int round_ = 0;
};

/// A futex-based wait list with a sleeper count, so that a notifier whose list is empty makes no syscall.
/// A waiter reads the key, *then* registers, re-checks its condition, and only then sleeps on the key; a
/// notifier changes the condition (seq_cst), then looks at the count (seq_cst): either it sees the waiter, or
/// the waiter's re-check sees the change (Dekker). A notifier takes every registered waiter at once
/// (`exchange(0)`), so a burst of notifications while a waiter is still waking costs one syscall, not one
/// each. Key before registration matters: a notifier that consumed our registration bumps the word after it,
/// so our sleep on the older key returns at once and we register again; the other order could consume the
/// registration before the key read and leave us asleep unregistered (a lost wake-up). A waiter that did not
/// sleep leaves a stale registration, which costs one spare wake at most.
class QueueWaitList {
 public:
  /// Registers the caller as a would-be sleeper; returns the key to pass to sleep().
  std::uint32_t prepare() noexcept {
    const std::uint32_t key = word_.load(std::memory_order_seq_cst);
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    return key;
  }

  /// Sleeps unless a notification happened since prepare(); false on timeout.
  bool sleep(std::uint32_t key, SteadyTime deadline) noexcept { return futex_wait(word_, key, deadline); }

  /// Wakes the registered waiters, if any (no syscall when there are none).
  void notify() noexcept {
    if (waiters_.load(std::memory_order_seq_cst) == 0) return;
    const std::uint32_t n = waiters_.exchange(0, std::memory_order_seq_cst);
    if (n == 0) return;
    word_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(word_, static_cast<int>(std::min<std::uint32_t>(n, 1U << 30)));
  }

  /// Wakes everyone sleeping, registered or not (shutdown).
  void notify_all() noexcept {
    waiters_.exchange(0, std::memory_order_seq_cst);
    word_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake_all(word_);
  }

 private:
  std::atomic<std::uint32_t> waiters_{0};
  std::atomic<std::uint32_t> word_{0};
};

}  // namespace spindle::detail
