// W9's moodycamel peer: thread MPMC bounded queue (bench/workloads/w9_mpmc_queue.cpp, docs/bench.md).
//
// One `moodycamel::BlockingConcurrentQueue<std::uint64_t>` constructed with capacity 1024, as spindle's
// Queue(maxsize=1024); 2 producer threads (producer p enqueues p, p+2, p+4, ... below `items`), 2 consumer
// threads each taking items/2 with the blocking wait_dequeue() and summing them. All 4 and the main thread meet
// at a std::latch; the time runs from the latch to the last thread joined, as spindle's. The total must be
// 0 + 1 + ... + items-1 (else exit 1). Prints `W9 peer=moodycamel items=N seconds=... per_s=... ns_per_item=...`.
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
#include <latch>
#include <thread>
#include <vector>

#include "peer_cli.hpp"

int main(int argc, char** argv) {
  const peer::Cli cli(argc, argv, "W9", {{.name = "items", .value = 10'000'000, .quick = 200'000, .multiple_of = 2}});
  const std::int64_t items = cli["items"];
  constexpr int producers = 2;
  constexpr int consumers = 2;
  moodycamel::BlockingConcurrentQueue<std::uint64_t> queue(1024);

  std::latch start(producers + consumers + 1);
  std::vector<std::uint64_t> sums(consumers, 0);
  std::vector<std::thread> threads;
  threads.reserve(producers + consumers);
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      start.arrive_and_wait();
      for (std::int64_t v = p; v < items; v += producers) {
        while (!queue.try_enqueue(static_cast<std::uint64_t>(v))) std::this_thread::yield();
      }
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      start.arrive_and_wait();
      std::uint64_t sum = 0;
      std::uint64_t v = 0;
      for (std::int64_t i = 0; i < items / consumers; ++i) {
        queue.wait_dequeue(v);
        sum += v;
      }
      sums[static_cast<std::size_t>(c)] = sum;
    });
  }
  start.arrive_and_wait();
  const double t0 = peer::now_s();
  for (auto& t : threads) t.join();
  const double seconds = peer::now_s() - t0;

  std::uint64_t sum = 0;
  for (const auto s : sums) sum += s;
  const auto n = static_cast<std::uint64_t>(items);
  peer::Line(cli, "moodycamel")
      .add("items", items)
      .add("seconds", seconds)
      .add("per_s", static_cast<std::int64_t>(static_cast<double>(items) / seconds))
      .add("ns_per_item", seconds * 1e9 / static_cast<double>(items), 1)
      .emit();
  return peer::sum_ok("W9", static_cast<long long>(sum), static_cast<long long>(n * (n - 1) / 2)) ? 0 : 1;
}
