// W9's oneTBB peer: thread MPMC bounded queue (bench/workloads/w9_mpmc_queue.cpp, docs/bench.md).
//
// One `tbb::concurrent_bounded_queue<std::uint64_t>` with set_capacity(1024), as spindle's Queue(maxsize=1024):
// the producers use the blocking push(), the consumers the blocking pop() (the threads: w9_mpmc.hpp).
//
// oneTBB's blocking push/pop spin briefly, then park on its own monitor: the same contract as spindle's
// Queue.put/get (block while full/empty), so both sides pay the same wake-ups when the queue fills or drains.

#include <oneapi/tbb/concurrent_queue.h>

#include <cstdint>

#include "w9_mpmc.hpp"

int main(int argc, char** argv) {
  tbb::concurrent_bounded_queue<std::uint64_t> queue;
  queue.set_capacity(1024);
  return peer::run_w9(
      argc, argv, "onetbb-bounded-queue", [&](std::uint64_t v) { queue.push(v); },
      [&] {
        std::uint64_t v = 0;
        queue.pop(v);
        return v;
      });
}
