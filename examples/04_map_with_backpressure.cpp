// ThreadPoolExecutor.map with buffersize (Python 3.14): the input is read lazily and at most `buffersize`
// tasks run ahead of the consumer, so an endless input does not fill memory.
#include <cstdio>
#include <iterator>

#include "spindle/thread/thread_pool_executor.hpp"

// 1, 2, 3, ... without end: an input range (std::views::iota would do, but clang 14 cannot compile it with
// libstdc++ 12's ranges).
struct Naturals {
  struct iterator {
    using value_type = long long;
    using difference_type = std::ptrdiff_t;
    long long n = 1;
    long long operator*() const { return n; }
    iterator& operator++() {
      ++n;
      return *this;
    }
    iterator operator++(int) { return {n++}; }
    bool operator==(std::unreachable_sentinel_t) const { return false; }
  };
  iterator begin() const { return {}; }
  std::unreachable_sentinel_t end() const { return {}; }
};

int main() {
  spindle::ThreadPoolExecutor pool(2);
  long long total = 0;
  int taken = 0;
  // An unbounded input: with buffersize the pool only ever holds 8 tasks of it.
  for (long long square : pool.map([](long long x) { return x * x; }, Naturals{}, {.buffersize = 8})) {
    total += square;
    if (++taken == 1000) break;  // leaving the loop cancels what was submitted ahead
  }
  std::printf("sum of the first 1000 squares: %lld\n", total);
  return total == 333'833'500LL ? 0 : 1;
}
