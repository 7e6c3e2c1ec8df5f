// W9's oneTBB peer: thread MPMC bounded queue (bench/workloads/w9_mpmc_queue.cpp, docs/bench.md).
//
// One `tbb::concurrent_bounded_queue<std::uint64_t>` with set_capacity(1024), as spindle's Queue(maxsize=1024);
// 2 producer threads (producer p pushes p, p+2, p+4, ... below `items`) with the blocking push(), 2 consumer
// threads each popping items/2 with the blocking pop() and summing them. All 4 and the main thread meet at a
// std::latch; the time runs from the latch to the last thread joined, as spindle's. The total must be
// 0 + 1 + ... + items-1 (else exit 1). Prints
// `W9 peer=onetbb-bounded-queue items=N seconds=... per_s=... ns_per_item=...`.
//
// oneTBB's blocking push/pop spin briefly, then park on its own monitor: the same contract as spindle's
// Queue.put/get (block while full/empty), so both sides pay the same wake-ups when the queue fills or drains.

#include <oneapi/tbb/concurrent_queue.h>

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
  tbb::concurrent_bounded_queue<std::uint64_t> queue;
  queue.set_capacity(1024);

  std::latch start(producers + consumers + 1);
  std::vector<std::uint64_t> sums(consumers, 0);
  std::vector<std::thread> threads;
  threads.reserve(producers + consumers);
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      start.arrive_and_wait();
      for (std::int64_t v = p; v < items; v += producers) queue.push(static_cast<std::uint64_t>(v));
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      start.arrive_and_wait();
      std::uint64_t sum = 0;
      std::uint64_t v = 0;
      for (std::int64_t i = 0; i < items / consumers; ++i) {
        queue.pop(v);
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
  peer::Line(cli, "onetbb-bounded-queue")
      .add("items", items)
      .add("seconds", seconds)
      .add("per_s", static_cast<std::int64_t>(static_cast<double>(items) / seconds))
      .add("ns_per_item", seconds * 1e9 / static_cast<double>(items), 1)
      .emit();
  return peer::sum_ok("W9", static_cast<long long>(sum), static_cast<long long>(n * (n - 1) / 2)) ? 0 : 1;
}
