// Seed 000: four I/O-bound tasks take four times one task when run one after another, and about one task's
// time on a thread pool, because the waits overlap. (The seed sleeps 0.2 s; this example 50 ms to stay quick.)
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "spindle/core/wait.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

using namespace std::chrono_literals;

int io_task(int n) {
  std::this_thread::sleep_for(50ms);  // stands in for a network call: the CPU does nothing meanwhile
  return n;
}

int main() {
  auto seconds_since = [](auto t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };

  auto t0 = std::chrono::steady_clock::now();
  for (int n = 0; n < 4; ++n) io_task(n);
  const double serial = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  spindle::ThreadPoolExecutor pool(4);
  std::vector<spindle::Future<int>> futures;
  for (int n = 0; n < 4; ++n) futures.push_back(pool.submit(io_task, n));
  int sum = 0;
  for (auto& f : spindle::as_completed(futures)) sum += f.result();  // in completion order
  const double threaded = seconds_since(t0);

  std::printf("4 io_tasks sequentially : %.2fs\n4 io_tasks on 4 threads: %.2fs (sum of results %d)\n", serial, threaded,
              sum);
  return sum == 6 ? 0 : 1;
}
