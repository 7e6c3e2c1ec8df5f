// W1 (docs/bench.md): thread pool, tiny tasks. A started and warmed pool of 2 workers; the main thread submits
// 1,000,000 tasks returning `i & 0xff`, keeps one future per task, then waits for each in submission order and
// sums them.
//
// It runs the measured section twice and reports both: `heap=cold` is the first pass, whose million task
// states land on freshly faulted pages (on these VMs a first-touch page fault costs ~80 ns per 64-byte
// task, measured), `heap=warm` the second, which reuses the memory the first freed: the steady state of a
// long-running program.

#include <cstdint>
#include <cstdio>
#include <vector>

#include "spindle/thread/thread_pool_executor.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

int run_w1(const Options& options) {
  const std::int64_t tasks = options.count("tasks");
  constexpr int workers = 2;
  ThreadPoolExecutor pool(workers);
  {  // warm-up: start both workers and touch the allocator
    std::vector<Future<int>> warm;
    for (int i = 0; i < 20'000; ++i) warm.push_back(pool.submit([i] { return i & 1; }));
    for (auto& f : warm) f.result();
  }
  std::int64_t expected = 0;
  for (std::int64_t i = 0; i < tasks; ++i) expected += i & 0xff;

  int rc = 0;
  for (const char* heap : {"cold", "warm"}) {
    std::vector<Future<std::int64_t>> futures;
    futures.reserve(static_cast<std::size_t>(tasks));

    const double t0 = now_s();
    for (std::int64_t i = 0; i < tasks; ++i) futures.push_back(pool.submit([i] { return i & 0xff; }));
    std::int64_t sum = 0;
    for (auto& f : futures) sum += f.result();
    const double seconds = now_s() - t0;

    Line("W1")
        .add("peer", "spindle-tpe")
        .add("heap", heap)
        .add("tasks", tasks)
        .add("workers", workers)
        .add("seconds", seconds)
        .add("per_s", static_cast<std::int64_t>(static_cast<double>(tasks) / seconds))
        .add("ns_per_task", seconds * 1e9 / static_cast<double>(tasks), 1)
        .emit(options);
    if (!sum_ok("W1", static_cast<long long>(sum), static_cast<long long>(expected))) rc = 1;
  }
  return rc;
}

const Register register_w1({.id = "W1",
                            .summary = "thread pool, 1M tiny tasks with a future each, 2 workers",
                            .variants = {},
                            .params = {{.name = "tasks",
                                        .help = "tasks submitted per pass",
                                        .value = "1000000",
                                        .quick = "20000",
                                        .max = 100'000'000}},
                            .run = run_w1,
                            .compare = {"ns_per_task"},
                            .peers = {python_peer("w1_thread_pool_tiny.py"),
                                      native_peer("onetbb", "w1_onetbb", "libtbb-dev")}});

}  // namespace
}  // namespace spindle::bench
