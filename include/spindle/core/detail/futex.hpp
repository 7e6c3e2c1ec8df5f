#pragma once
// Thin futex wrappers: the waiting primitive under Future, the pool's parking and the queues. std::atomic::wait
// has no timeout, so spindle waits on futexes directly (Linux only, as is the rest of spindle).

#include <atomic>
#include <chrono>
#include <cstdint>

namespace spindle::detail {

/// Blocks while `*word == expected`, until woken or `deadline` (steady clock; max() = forever) passes.
/// Returns false on timeout. Spurious returns are possible: callers re-check their condition.
bool futex_wait(std::atomic<uint32_t>& word, uint32_t expected,
                std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max()) noexcept;

/// Wakes up to `count` threads blocked on `word`.
void futex_wake(std::atomic<uint32_t>& word, int count) noexcept;

/// Wakes every thread blocked on `word`.
void futex_wake_all(std::atomic<uint32_t>& word) noexcept;

/// A CPU hint for spin loops.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace spindle::detail
