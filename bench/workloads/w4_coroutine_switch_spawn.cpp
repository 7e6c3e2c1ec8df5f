// W4 (docs/bench.md): coroutine switch (two tasks each yielding to the loop 500,000 times) and spawn+await
// (1,000,000 times create a task returning `i & 0xff` and await it).

#include <cstdint>
#include <cstdio>

#include "spindle/aio.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

aio::Task<std::int64_t> yielder(std::int64_t n) {
  std::int64_t k = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    co_await aio::yield_now();
    ++k;
  }
  co_return k;
}

aio::Task<std::int64_t> switch_main(std::int64_t n, double& seconds) {
  const double t0 = now_s();
  auto a = aio::create_task(yielder(n));
  auto b = aio::create_task(yielder(n));
  const std::int64_t r = co_await a + co_await b;
  seconds = now_s() - t0;
  co_return r;
}

aio::Task<std::int64_t> leaf(std::int64_t i) { co_return i & 0xff; }

aio::Task<std::int64_t> spawn_main(std::int64_t n, double& seconds) {
  for (std::int64_t i = 0; i < 1000; ++i) co_await aio::create_task(leaf(i));  // warm the frame pool
  const double t0 = now_s();
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += co_await aio::create_task(leaf(i));
  seconds = now_s() - t0;
  co_return sum;
}

int run_w4(const Options& options) {
  const aio::RunOptions ro{.debug = false, .handle_sigint = false};
  int rc = 0;
  if (selected(options, "switch")) {
    const std::int64_t per_task = options.count("yields");
    double seconds = 0;
    const std::int64_t r = aio::run(switch_main(per_task, seconds), ro);
    Line("W4")
        .add("peer", "spindle-aio")
        .add("test", "switch")
        .add("switches", 2 * per_task)
        .add("seconds", seconds)
        .add("ns_per_switch", seconds * 1e9 / static_cast<double>(2 * per_task), 1)
        .emit(options);
    if (r != 2 * per_task) {
      std::fprintf(stderr, "W4 switch: wrong count %lld\n", static_cast<long long>(r));
      rc = 1;
    }
  }
  if (selected(options, "spawn")) {
    const std::int64_t n = options.count("tasks");
    double seconds = 0;
    const std::int64_t sum = aio::run(spawn_main(n, seconds), ro);
    std::int64_t expected = 0;
    for (std::int64_t i = 0; i < n; ++i) expected += i & 0xff;
    Line("W4")
        .add("peer", "spindle-aio")
        .add("test", "spawn")
        .add("tasks", n)
        .add("seconds", seconds)
        .add("ns_per_task", seconds * 1e9 / static_cast<double>(n), 1)
        .emit(options);
    if (!sum_ok("W4 spawn", static_cast<long long>(sum), static_cast<long long>(expected))) rc = 1;
  }
  return rc;
}

const Register register_w4(
    {.id = "W4",
     .summary = "coroutine switch (2 x 500k yields) and spawn+await (1M tasks)",
     .variants = {"switch", "spawn"},
     .params = {{.name = "yields", .help = "switch: yields per task (2 tasks)", .value = "500000", .quick = "20000"},
                {.name = "tasks", .help = "spawn: tasks created and awaited", .value = "1000000", .quick = "50000"}},
     .run = run_w4,
     .compare = {"ns_per_switch", "ns_per_task"},
     .peers = {python_peer("w4_coroutine_switch_spawn.py"), native_peer("asio", "w4_asio", "libasio-dev")}});

}  // namespace
}  // namespace spindle::bench
