// W9 (docs/bench.md): thread MPMC bounded queue. Queue<int64_t>(maxsize=1024); 2 producers, producer p puts
// p, p+2, p+4, ... (N/2 items each); 2 consumers each get N/2 items and sum them; N = 10,000,000. The total
// must be 0 + 1 + ... + N-1.

#include <cstdint>
#include <cstdio>
#include <latch>
#include <thread>
#include <vector>

#include "spindle/thread/queue.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

int run_w9(const Options& options) {
  const std::int64_t items = options.count("items");
  constexpr int producers = 2;
  constexpr int consumers = 2;
  Queue<std::int64_t> queue(1024);

  std::latch start(producers + consumers + 1);
  std::vector<std::int64_t> sums(consumers, 0);
  std::vector<std::thread> threads;
  threads.reserve(producers + consumers);
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      start.arrive_and_wait();
      for (std::int64_t v = p; v < items; v += producers) queue.put(v);
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      start.arrive_and_wait();
      std::int64_t sum = 0;
      for (std::int64_t i = 0; i < items / consumers; ++i) sum += queue.get();
      sums[static_cast<std::size_t>(c)] = sum;
    });
  }
  start.arrive_and_wait();
  const double t0 = now_s();
  for (auto& t : threads) t.join();
  const double seconds = now_s() - t0;

  std::int64_t sum = 0;
  for (const auto s : sums) sum += s;
  const std::int64_t expected = items * (items - 1) / 2;
  Line("W9")
      .add("peer", "spindle-queue")
      .add("items", items)
      .add("seconds", seconds)
      .add("per_s", static_cast<std::int64_t>(static_cast<double>(items) / seconds))
      .add("ns_per_item", seconds * 1e9 / static_cast<double>(items), 1)
      .emit(options);
  return sum_ok("W9", static_cast<long long>(sum), static_cast<long long>(expected)) ? 0 : 1;
}

const Register register_w9({.id = "W9",
                            .summary = "thread MPMC bounded queue (capacity 1024), 2 producers, 2 consumers, 10M items",
                            .variants = {},
                            .params = {{.name = "items",
                                        .help = "items (even: split between 2 consumers)",
                                        .value = "10000000",
                                        .quick = "200000",
                                        .multiple_of = 2}},
                            .run = run_w9,
                            .compare = {"ns_per_item"},
                            .peers = {python_peer("w9_mpmc_queue.py"),
                                      native_peer("onetbb-bounded-queue", "w9_onetbb", "libtbb-dev"),
                                      native_peer("moodycamel", "w9_moodycamel", "libconcurrentqueue-dev")}});

}  // namespace
}  // namespace spindle::bench
