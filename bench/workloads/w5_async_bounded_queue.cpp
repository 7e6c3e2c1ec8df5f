// W5 (docs/bench.md): async bounded queue. One producer task puts 0..N-1 into a queue of maxsize 100, one
// consumer task gets N = 1,000,000 items and sums them; one event loop.

#include <cstdint>
#include <cstdio>

#include "spindle/aio.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

aio::Task<void> producer(aio::Queue<std::int64_t>& q, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) co_await q.put(i);
}

aio::Task<std::int64_t> consumer(aio::Queue<std::int64_t>& q, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += co_await q.get();
  co_return sum;
}

aio::Task<std::int64_t> w5_main(std::int64_t n, double& seconds) {
  aio::Queue<std::int64_t> q(100);
  const double t0 = now_s();
  auto c = aio::create_task(consumer(q, n));
  auto p = aio::create_task(producer(q, n));
  co_await p;
  const std::int64_t sum = co_await c;
  seconds = now_s() - t0;
  co_return sum;
}

int run_w5(const Options& options) {
  const std::int64_t n = options.count("items");
  double seconds = 0;
  const std::int64_t sum = aio::run(w5_main(n, seconds), aio::RunOptions{.debug = false, .handle_sigint = false});
  Line("W5")
      .add("peer", "spindle-aio")
      .add("items", n)
      .add("seconds", seconds)
      .add("per_s", static_cast<std::int64_t>(static_cast<double>(n) / seconds))
      .add("ns_per_item", seconds * 1e9 / static_cast<double>(n), 1)
      .emit(options);
  const std::int64_t expected = n * (n - 1) / 2;
  return sum_ok("W5", static_cast<long long>(sum), static_cast<long long>(expected)) ? 0 : 1;
}

const Register register_w5(
    {.id = "W5",
     .summary = "async bounded queue (maxsize 100), 1M items, one producer, one consumer",
     .variants = {},
     .params = {{.name = "items", .help = "items put and got", .value = "1000000", .quick = "50000"}},
     .run = run_w5,
     .compare = {"ns_per_item"},
     .peers = {python_peer("w5_async_bounded_queue.py"), native_peer("asio", "w5_asio", "libasio-dev")}});

}  // namespace
}  // namespace spindle::bench
