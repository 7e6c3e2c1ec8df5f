// Must NOT compile: a capturing lambda handed to a process pool (checked by tests/process/extra.cmake, which
// expects one static_assert that says why, Python's "Can't pickle local object", and names the spelling that
// works, `pool.submit(my_function, args...)`, and no other error after it).
#include "spindle/process/process_pool_executor.hpp"

int main() {
  spindle::process::ProcessPoolExecutor pool(1);
  int captured = 41;
  auto f = pool.submit([captured](int x) { return captured + x; }, 1);
  (void)f;
}
