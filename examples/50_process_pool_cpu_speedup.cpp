// CPU-bound work in a process pool: the same 8 tasks run serially and on a pool of 2 processes. Python:
//
//   with ProcessPoolExecutor(max_workers=2) as pool:
//       results = list(pool.map(work, [N] * 8))

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "spindle/process.hpp"

namespace sp = spindle::process;

std::uint64_t work(std::uint64_t n) {
  std::uint64_t s = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    s += i * i;
    asm volatile("" : "+r"(s));  // keep the loop honest
  }
  return s;
}

int main() {
  sp::init();  // start the forkserver first thing (optional: the first pool would otherwise)
  constexpr std::uint64_t n = 20'000'000;
  constexpr int tasks = 8;
  using clock = std::chrono::steady_clock;

  auto t0 = clock::now();
  std::uint64_t serial = 0;
  for (int t = 0; t < tasks; ++t) serial += work(n);
  const double serial_s = std::chrono::duration<double>(clock::now() - t0).count();

  t0 = clock::now();
  std::uint64_t parallel = 0;
  {
    sp::ProcessPoolExecutor pool(2);
    for (std::uint64_t r : pool.map(work, std::vector<std::uint64_t>(tasks, n))) parallel += r;
  }
  const double pool_s = std::chrono::duration<double>(clock::now() - t0).count();

  std::printf("serial: %.3f s, 2 processes: %.3f s, speedup %.2fx\n", serial_s, pool_s, serial_s / pool_s);
  return serial == parallel ? 0 : 1;
}
