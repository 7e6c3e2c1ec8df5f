#include "spindle/process/event.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <ctime>

namespace spindle::process {
namespace {
// Shared (not FUTEX_PRIVATE) futex operations: the word lives in memory mapped by several processes.
long futex(std::uint32_t* addr, int op, std::uint32_t val, const timespec* ts) {
  return ::syscall(SYS_futex, addr, op, val, ts, nullptr, 0);
}
}  // namespace

Event::Event() : shm_(sizeof(std::uint32_t)) {}

void Event::set() noexcept {
  std::atomic_ref<std::uint32_t>(*word()).store(1, std::memory_order_release);
  futex(word(), FUTEX_WAKE, INT_MAX, nullptr);
}

void Event::clear() noexcept { std::atomic_ref<std::uint32_t>(*word()).store(0, std::memory_order_release); }

bool Event::is_set() const noexcept {
  return std::atomic_ref<std::uint32_t>(*word()).load(std::memory_order_acquire) != 0;
}

bool Event::wait_until(std::optional<std::chrono::steady_clock::time_point> deadline) const noexcept {
  while (!is_set()) {
    timespec ts{};
    const timespec* tp = nullptr;
    if (deadline) {
      const auto left = *deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds::zero()) return is_set();
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      tp = &ts;
    }
    futex(word(), FUTEX_WAIT, 0, tp);
  }
  return true;
}

}  // namespace spindle::process
