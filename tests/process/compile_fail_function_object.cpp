// Must NOT compile: a function object handed to a process pool's submit and map (checked by
// tests/process/extra.cmake: one static_assert line naming the fix, `pool.submit(my_function, args...)`).
#include <vector>

#include "spindle/process/process_pool_executor.hpp"

struct Doubler {
  int operator()(int x) const { return 2 * x; }
};

int main() {
  spindle::process::ProcessPoolExecutor pool(1);
  auto f = pool.submit(Doubler{}, 1);
  auto out = pool.map(Doubler{}, std::vector<int>{1, 2});
  (void)f;
  (void)out;
}
