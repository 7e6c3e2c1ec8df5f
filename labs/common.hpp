#pragma once
// Helpers shared by the lab's demos: the seed's cpu_task, clocks, memory figures, "not available" rows.

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

#include "spindle/lab/demo.hpp"

namespace spindle::labs {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Seconds since `start`.
inline double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

/// Times `fn()` in seconds.
template <class F>
double timed(F&& fn) {
  const auto start = Clock::now();
  fn();
  return since(start);
}

/// The seed's cpu_task: `total += i * i for i < n`. The empty asm keeps the compiler from replacing the
/// loop by its closed form or vectorising it away: the work is really done, one multiply-add per step.
inline std::uint64_t cpu_task(std::uint64_t n = 2'000'000) {
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    total += i * i;
    asm volatile("" : "+r"(total));
  }
  return total;
}

/// cpu_task without its default argument: the one function the process demos submit by name.
inline std::uint64_t cpu_task_n(std::uint64_t n) { return cpu_task(n); }

/// The closed form of cpu_task(n), to check results (mod 2^64, as the loop wraps).
inline std::uint64_t cpu_task_expected(std::uint64_t n = 2'000'000) {
  // sum_{i<n} i^2 = (n-1) n (2n-1) / 6: divide the factors first (one of n-1, n is even; one of the three is
  // a multiple of 3), then multiply with unsigned wrap-around as the loop does.
  if (n == 0) return 0;
  std::uint64_t a = n - 1, b = n, c = 2 * n - 1;
  (a % 2 == 0 ? a : b) /= 2;
  (a % 3 == 0 ? a : b % 3 == 0 ? b : c) /= 3;
  return a * b * c;
}

/// CPU time (user + system) of the whole process, in seconds.
inline double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// CPU time of the calling thread, in seconds: the work a serial run needs, whatever the machine's load.
inline double thread_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// Wall time and cores used (process CPU / wall) of `fn()`.
struct Usage {
  double wall = 0, cores = 0;
};
template <class F>
Usage usage_of(F&& fn) {
  const double cpu0 = process_cpu_s();
  const double wall = timed(std::forward<F>(fn));
  return {wall, wall > 0 ? (process_cpu_s() - cpu0) / wall : 0.0};
}

/// Cores this process may use.
inline int cores() {
  const unsigned n = std::thread::hardware_concurrency();
  return n ? static_cast<int>(n) : 1;
}

/// Resident set size now, in KiB (/proc/self/statm).
inline long rss_kib() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "re")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/// Virtual size now, in KiB.
inline long vm_kib() {
  long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "re")) {
    if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

}  // namespace spindle::labs
