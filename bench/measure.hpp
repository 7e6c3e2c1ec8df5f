#pragma once
// What every benchmark program measures with, spindle's workloads and the native peers alike (so that both
// sides time, read memory and check their sums the same way): standard C++ and POSIX only.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <type_traits>

namespace spindle::bench {

/// Seconds on the monotonic clock since some fixed point.
inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Peak resident set size of this process in KiB.
inline long maxrss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/// The workload's self-check: true if `got` is the expected sum; otherwise says so on stderr (a figure
/// from a wrong computation is not a figure).
inline bool sum_ok(const std::string& what, long long got, long long expected) {
  if (got == expected) return true;
  std::fprintf(stderr, "%s: wrong sum %lld, expected %lld\n", what.c_str(), got, expected);
  return false;
}

/// Prevents the compiler from optimising `value` away.
template <class T>
inline void do_not_optimize(T& value) {
  if constexpr (std::is_integral_v<T> || std::is_pointer_v<T>) {
    asm volatile("" : "+r"(value));  // keeps a scalar in a register: a barrier without a store per iteration
  } else {
    asm volatile("" : "+m"(value) : : "memory");
  }
}

}  // namespace spindle::bench
