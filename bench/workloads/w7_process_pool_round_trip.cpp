// W7 (docs/bench.md): process pool round trip. 20,000 tasks `x + 1` on a started, warmed pool of 2 processes,
// all submitted then all collected; variants `submit` (one call per task), `map-c100` (chunks of 100) and
// `startup` (pool creation plus the first round trip); `submit-fn` and `map-fn-c100` are the same with the
// function passed at run time (`pool.submit(w7_inc, i)`, Python's spelling) instead of `submit<&w7_inc>`.

#include <cstdint>
#include <cstdio>
#include <numeric>
#include <vector>

#include "spindle/process/process_pool_executor.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

std::int64_t w7_inc(std::int64_t x) { return x + 1; }

void report(const Options& options, const char* variant, std::int64_t tasks, double seconds) {
  Line("W7")
      .add("peer", "spindle-ppe")
      .add("variant", variant)
      .add("tasks", tasks)
      .add("seconds", seconds)
      .add("per_s", static_cast<std::int64_t>(static_cast<double>(tasks) / seconds))
      .add("us_per_task", seconds * 1e6 / static_cast<double>(tasks), 3)
      .emit(options);
}

int run_w7(const Options& options) {
  const std::int64_t tasks = options.count("tasks");
  std::int64_t expected = 0;
  for (std::int64_t i = 0; i < tasks; ++i) expected += i + 1;
  int rc = 0;
  process::init();  // the forkserver is part of the process, not of a pool's startup

  if (selected(options, "startup")) {
    const double t0 = now_s();
    process::ProcessPoolExecutor pool(2);
    const std::int64_t r = pool.submit<&w7_inc>(41).result();
    const double seconds = now_s() - t0;
    report(options, "startup", 1, seconds);
    if (r != 42) rc = 1;
  }

  process::ProcessPoolExecutor pool(2);
  {  // warm-up: both workers started and the allocator touched
    std::vector<Future<std::int64_t>> warm;
    for (int i = 0; i < 2000; ++i) warm.push_back(pool.submit<&w7_inc>(i));
    for (auto& f : warm) f.result();
  }

  if (selected(options, "submit")) {
    std::vector<Future<std::int64_t>> futures;
    futures.reserve(static_cast<std::size_t>(tasks));
    const double t0 = now_s();
    for (std::int64_t i = 0; i < tasks; ++i) futures.push_back(pool.submit<&w7_inc>(i));
    std::int64_t sum = 0;
    for (auto& f : futures) sum += f.result();
    const double seconds = now_s() - t0;
    report(options, "submit", tasks, seconds);
    if (!sum_ok("W7 submit", static_cast<long long>(sum), static_cast<long long>(expected))) rc = 1;
  }

  if (selected(options, "submit-fn")) {
    std::vector<Future<std::int64_t>> futures;
    futures.reserve(static_cast<std::size_t>(tasks));
    const double t0 = now_s();
    for (std::int64_t i = 0; i < tasks; ++i) futures.push_back(pool.submit(w7_inc, i));
    std::int64_t sum = 0;
    for (auto& f : futures) sum += f.result();
    const double seconds = now_s() - t0;
    report(options, "submit-fn", tasks, seconds);
    if (!sum_ok("W7 submit-fn", static_cast<long long>(sum), static_cast<long long>(expected))) rc = 1;
  }

  if (selected(options, "map-c100")) {
    std::vector<std::int64_t> items(static_cast<std::size_t>(tasks));
    std::iota(items.begin(), items.end(), 0);
    const double t0 = now_s();
    const auto out = pool.map<&w7_inc>(items, {.chunksize = 100});
    const double seconds = now_s() - t0;
    report(options, "map-c100", tasks, seconds);
    if (!sum_ok("W7 map-c100", static_cast<long long>(std::accumulate(out.begin(), out.end(), std::int64_t{0})),
                static_cast<long long>(expected)))
      rc = 1;
  }
  if (selected(options, "map-fn-c100")) {
    std::vector<std::int64_t> items(static_cast<std::size_t>(tasks));
    std::iota(items.begin(), items.end(), 0);
    const double t0 = now_s();
    const auto out = pool.map(w7_inc, items, {.chunksize = 100});
    const double seconds = now_s() - t0;
    report(options, "map-fn-c100", tasks, seconds);
    if (!sum_ok("W7 map-fn-c100", static_cast<long long>(std::accumulate(out.begin(), out.end(), std::int64_t{0})),
                static_cast<long long>(expected)))
      rc = 1;
  }
  return rc;
}

const Register register_w7(
    {.id = "W7",
     .summary = "process pool round trip: 20k tasks x+1 on 2 processes (submit, map-c100, startup)",
     .variants = {"startup", "submit", "map-c100"},
     .params =
         {{.name = "tasks", .help = "submit, map-c100: tasks", .value = "20000", .quick = "2000", .max = 100'000'000}},
     .run = run_w7,
     .compare = {"us_per_task"},
     .peers = {python_peer("w7_process_pool_round_trip.py")}});

}  // namespace
}  // namespace spindle::bench
