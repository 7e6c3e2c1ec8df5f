// A worker that dies costs one future, not the pool. Python's ProcessPoolExecutor raises BrokenProcessPool
// for every pending future after one worker dies; spindle fails only the task that was running on it
// (WorkerCrashed, with the signal and the task's name), starts a replacement and carries on.

#include <signal.h>

#include <cstdio>
#include <vector>

#include "spindle/process.hpp"

namespace sp = spindle::process;

int square(int x) { return x * x; }
int crash(int) {
  ::raise(SIGSEGV);  // a bug in native code
  return 0;
}

int main() {
  sp::ProcessPoolExecutor pool(2);
  std::vector<spindle::Future<int>> fs;
  for (int i = 0; i < 100; ++i) fs.push_back(i == 50 ? pool.submit<&crash>(i) : pool.submit<&square>(i));
  int ok = 0, failed = 0;
  for (auto& f : fs) {
    try {
      f.result();
      ++ok;
    } catch (const spindle::WorkerCrashed& e) {
      ++failed;
      std::printf("one future failed: %s (signal %d, task %s)\n", e.what(), e.signal(), e.task().c_str());
    }
  }
  std::printf("%d results, %d failure; the pool still works: 7*7 = %d\n", ok, failed, pool.submit<&square>(7).result());
  return ok == 99 && failed == 1 ? 0 : 1;
}
