#include "spindle/core/detail/futex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

namespace spindle::detail {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex needs a plain 32-bit word");

namespace {
uint32_t* address(std::atomic<uint32_t>& word) noexcept {
  // The futex syscall takes the word's address; std::atomic<uint32_t> is layout-compatible with uint32_t.
  return reinterpret_cast<uint32_t*>(&word);
}
}  // namespace

bool futex_wait(std::atomic<uint32_t>& word, uint32_t expected,
                std::chrono::steady_clock::time_point deadline) noexcept {
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    syscall(SYS_futex, address(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
    return true;
  }
  // steady_clock is CLOCK_MONOTONIC on Linux, so the absolute deadline can go straight to FUTEX_WAIT_BITSET.
  auto since_epoch = deadline.time_since_epoch();
  if (since_epoch.count() < 0) since_epoch = {};
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count());
  const long rc =
      syscall(SYS_futex, address(word), FUTEX_WAIT_BITSET_PRIVATE, expected, &ts, nullptr, FUTEX_BITSET_MATCH_ANY);
  return !(rc == -1 && errno == ETIMEDOUT);
}

void futex_wake(std::atomic<uint32_t>& word, int count) noexcept {
  syscall(SYS_futex, address(word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& word) noexcept { futex_wake(word, INT_MAX); }

}  // namespace spindle::detail
