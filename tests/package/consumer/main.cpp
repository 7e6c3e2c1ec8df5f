// A downstream program: it only sees spindle's public headers and its package.
#include <cstdio>

#include "spindle/thread/thread_pool_executor.hpp"

int main() {
  spindle::ThreadPoolExecutor pool(2);
  auto f = pool.submit([](int x) { return x * 6; }, 7);
  std::printf("consumer ok %d\n", f.result());
  return f.result() == 42 ? 0 : 1;
}
