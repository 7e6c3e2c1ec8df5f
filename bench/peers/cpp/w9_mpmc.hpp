#pragma once
// W9's harness for its native peers (bench/workloads/w9_mpmc_queue.cpp, docs/bench.md): 2 producer threads
// (producer p puts p, p+2, p+4, ... below `items`), 2 consumer threads each taking items/2 and summing them. All
// 4 and the main thread meet at a std::latch; the time runs from the latch to the last thread joined, as
// spindle's. The total must be 0 + 1 + ... + items-1 (else exit status 1). Prints
// `W9 peer=<name> items=N seconds=... per_s=... ns_per_item=...`. Only the queue's two calls differ per peer.

#include <cstdint>
#include <latch>
#include <thread>
#include <vector>

#include "peer_cli.hpp"

namespace peer {

// Runs W9 through `put(value)` and `take() -> value` (both blocking) and returns the exit status.
template <class Put, class Take>
int run_w9(int argc, char** argv, const char* name, Put put, Take take) {
  const Cli cli(argc, argv, "W9", {{.name = "items", .value = 10'000'000, .quick = 200'000, .multiple_of = 2}});
  const std::int64_t items = cli["items"];
  constexpr int producers = 2;
  constexpr int consumers = 2;

  std::latch start(producers + consumers + 1);
  std::vector<std::uint64_t> sums(consumers, 0);
  std::vector<std::thread> threads;
  threads.reserve(producers + consumers);
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      start.arrive_and_wait();
      for (std::int64_t v = p; v < items; v += producers) put(static_cast<std::uint64_t>(v));
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      start.arrive_and_wait();
      std::uint64_t sum = 0;
      for (std::int64_t i = 0; i < items / consumers; ++i) sum += take();
      sums[static_cast<std::size_t>(c)] = sum;
    });
  }
  start.arrive_and_wait();
  const double t0 = now_s();
  for (auto& t : threads) t.join();
  const double seconds = now_s() - t0;

  std::uint64_t sum = 0;
  for (const auto s : sums) sum += s;
  const auto n = static_cast<std::uint64_t>(items);
  Line(cli, name)
      .add("items", items)
      .add("seconds", seconds)
      .add("per_s", static_cast<std::int64_t>(static_cast<double>(items) / seconds))
      .add("ns_per_item", seconds * 1e9 / static_cast<double>(items), 1)
      .emit();
  return sum_ok("W9", static_cast<long long>(sum), static_cast<long long>(n * (n - 1) / 2)) ? 0 : 1;
}

}  // namespace peer
