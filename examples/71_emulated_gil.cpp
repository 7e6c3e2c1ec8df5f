// CPython's GIL, emulated: two CPU-bound "Python threads" take turns on one lock with a 5 ms switch
// interval, so together they run no faster than one; the same two threads without the GIL (free
// threading) use two cores. `spindle lab 002-cpu-bound` and `002-convoy` show the full experiments.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "spindle/lab/gil.hpp"

using spindle::lab::Gil;

std::uint64_t count_squares(std::uint64_t n, Gil* gil) {
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    total += i * i;
    asm volatile("" : "+r"(total));
    if (gil && (i & 1023) == 0) gil->tick();  // a bytecode boundary: hand over if a waiter asked
  }
  return total;
}

double run_two(Gil* gil, std::uint64_t n) {
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t a = 0, b = 0;
  auto body = [&](std::uint64_t& out) {
    if (gil) {
      Gil::Held held(*gil);  // a Python thread holds the GIL while it runs bytecode
      out = count_squares(n, gil);
    } else {
      out = count_squares(n, nullptr);
    }
  };
  std::thread t1(body, std::ref(a)), t2(body, std::ref(b));
  t1.join();
  t2.join();
  if (a != b) std::printf("mismatch!\n");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int main() {
  constexpr std::uint64_t n = 100'000'000;
  Gil gil;
  const double with_gil = run_two(&gil, n);
  const double free_threads = run_two(nullptr, n);
  std::printf("2 CPU threads under the GIL: %.3f s (%llu hand-offs)\n", with_gil,
              static_cast<unsigned long long>(gil.switches()));
  std::printf("2 CPU threads, free threading: %.3f s (%u cores here)\n", free_threads,
              std::thread::hardware_concurrency());
  return gil.switches() > 0 ? 0 : 1;
}
