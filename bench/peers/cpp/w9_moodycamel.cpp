// W9's moodycamel peer: thread MPMC bounded queue (bench/workloads/w9_mpmc_queue.cpp, docs/bench.md).
//
// One `moodycamel::BlockingConcurrentQueue<std::uint64_t>` constructed with capacity 1024, as spindle's
// Queue(maxsize=1024); the consumers take with the blocking wait_dequeue() (the threads: w9_mpmc.hpp).
//
// moodycamel has no blocking bounded push: enqueue() allocates a new block when the preallocated ones are in
// use (the queue is then unbounded), and try_enqueue() never allocates but fails when they are. So a producer
// calls try_enqueue() and, when the queue is full, yields the CPU and retries: the full case spins with
// std::this_thread::yield() where spindle's put() parks. The bound is moodycamel's: the constructor
// preallocates ceil(1024 / 32) blocks of 32 slots, shared by the producers, so a producer whose current block
// is full can be refused while another's block still has room (about, not exactly, 1024 items in flight).
// No producer or consumer tokens: the plain calls, as spindle's Queue has no per-thread handles.

#include <blockingconcurrentqueue.h>

#include <cstdint>
#include <thread>

#include "w9_mpmc.hpp"

int main(int argc, char** argv) {
  moodycamel::BlockingConcurrentQueue<std::uint64_t> queue(1024);
  return peer::run_w9(
      argc, argv, "moodycamel",
      [&](std::uint64_t v) {
        while (!queue.try_enqueue(v)) std::this_thread::yield();
      },
      [&] {
        std::uint64_t v = 0;
        queue.wait_dequeue(v);
        return v;
      });
}
