// concurrent.futures.wait with FIRST_COMPLETED, a timeout, and cancelling what has not started: the tools for
// "take the first answer, drop the rest".
#include <chrono>
#include <cstdio>
#include <vector>

#include "spindle/core/wait.hpp"
#include "spindle/thread/event.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

using namespace std::chrono_literals;

int main() {
  spindle::ThreadPoolExecutor pool(1);  // one worker: later submissions queue behind the first
  spindle::Event release;
  std::vector<spindle::Future<int>> futures;
  futures.push_back(pool.submit([&] {
    release.wait();
    return 1;
  }));
  for (int i = 2; i <= 4; ++i) futures.push_back(pool.submit([i] { return i; }));

  auto [done, not_done] = spindle::wait(futures, 20ms, spindle::FIRST_COMPLETED);
  std::printf("after 20 ms: %zu done, %zu not done\n", done.size(), not_done.size());

  int cancelled = 0;
  for (auto& f : not_done) cancelled += f.cancel() ? 1 : 0;  // only queued work can be cancelled
  std::printf("cancelled %d queued tasks; the running one cannot be\n", cancelled);
  release.set();
  std::printf("first task's result: %d\n", futures[0].result());
  return cancelled == 3 && futures[0].result() == 1 ? 0 : 1;
}
