// ThreadPoolExecutor.map with buffersize (Python 3.14): the input is read lazily and at most `buffersize`
// tasks run ahead of the consumer, so an endless input does not fill memory.
#include <cstdio>
#include <ranges>

#include "spindle/thread/thread_pool_executor.hpp"

int main() {
  spindle::ThreadPoolExecutor pool(2);
  long long total = 0;
  int taken = 0;
  // An unbounded input: with buffersize the pool only ever holds 8 tasks of it.
  for (long long square : pool.map([](long long x) { return x * x; }, std::views::iota(1LL), {.buffersize = 8})) {
    total += square;
    if (++taken == 1000) break;  // leaving the loop cancels what was submitted ahead
  }
  std::printf("sum of the first 1000 squares: %lld\n", total);
  return total == 333'833'500LL ? 0 : 1;
}
