// W3 (docs/bench.md): async sleep fan-out. 100,000 tasks each sleeping 0.2 s, created as fast as possible, then
// gathered; the time runs from before the first task to all done. Memory: peak RSS against the RSS before.

#include <cstdint>
#include <cstdio>
#include <vector>

#include "spindle/aio.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

aio::Task<std::int64_t> sleeper(std::int64_t i) {
  co_await aio::sleep(std::chrono::milliseconds(200));
  co_return i & 1;
}

aio::Task<std::int64_t> fan_out(std::int64_t n, double& seconds) {
  const double t0 = now_s();
  std::vector<aio::Task<std::int64_t>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) tasks.push_back(aio::create_task(sleeper(i)));
  auto results = co_await aio::gather(std::move(tasks));
  seconds = now_s() - t0;
  std::int64_t sum = 0;
  for (auto r : results) sum += r;
  co_return sum;
}

int run_w3(const Options& options) {
  const std::int64_t n = options.count("tasks");
  const long base_rss = maxrss_kb();
  double seconds = 0;
  const std::int64_t sum = aio::run(fan_out(n, seconds), aio::RunOptions{.debug = false, .handle_sigint = false});
  const long peak = maxrss_kb();
  Line("W3")
      .add("peer", "spindle-aio")
      .add("tasks", n)
      .add("seconds", seconds)
      .add("overhead_s", seconds - 0.2)
      .add("maxrss_kb", static_cast<std::int64_t>(peak))
      .add("base_rss_kb", static_cast<std::int64_t>(base_rss))
      .add("bytes_per_task", static_cast<double>(peak - base_rss) * 1024.0 / static_cast<double>(n), 1)
      .emit(options);
  return sum_ok("W3", static_cast<long long>(sum), static_cast<long long>(n / 2)) ? 0 : 1;
}

const Register register_w3({.id = "W3",
                            .summary = "async sleep fan-out: 100k tasks sleeping 0.2 s, gathered",
                            .variants = {},
                            .params = {{.name = "tasks",
                                        .help = "tasks, each sleeping 0.2 s",
                                        .value = "100000",
                                        .quick = "10000",
                                        .max = 100'000'000}},
                            .run = run_w3,
                            .compare = {"overhead_s", "bytes_per_task"},
                            .peers = {python_peer("w3_async_sleep_fanout.py"),
                                      native_peer("libuv", "w3_libuv", "libuv1-dev")}});

}  // namespace
}  // namespace spindle::bench
