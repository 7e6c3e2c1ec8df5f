// W2 (docs/bench.md): CPU-bound fan-out. 8 tasks, each `s += i*i` for i < 2,000,000 on uint64_t with an
// optimisation barrier on s every iteration, and the -x100 variant with 200,000,000 iterations. Modes serial,
// threads2 and processes2 (a spindle::process pool of 2); the timing includes starting and stopping the pool.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "spindle/process/process_pool_executor.hpp"
#include "spindle/thread/thread_pool_executor.hpp"
#include "workload.hpp"

namespace spindle::bench {

/// The W2 task body, shared with the lab's CPU demos and the process pool's variant.
std::uint64_t w2_task(std::uint64_t iterations) {
  std::uint64_t s = 0;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    s += i * i;
    do_not_optimize(s);
  }
  return s;
}

namespace {

double run_serial(std::int64_t tasks, std::uint64_t iterations, std::uint64_t& sum) {
  const double t0 = now_s();
  for (std::int64_t t = 0; t < tasks; ++t) sum += w2_task(iterations);
  return now_s() - t0;
}

double run_threads2(std::int64_t tasks, std::uint64_t iterations, std::uint64_t& sum) {
  const double t0 = now_s();
  {
    ThreadPoolExecutor pool(2);
    std::vector<Future<std::uint64_t>> fs;
    for (std::int64_t t = 0; t < tasks; ++t) fs.push_back(pool.submit(w2_task, iterations));
    for (auto& f : fs) sum += f.result();
  }
  return now_s() - t0;
}

double run_processes2(std::int64_t tasks, std::uint64_t iterations, std::uint64_t& sum) {
  process::init();  // the forkserver belongs to the program, not to the pool (see docs/processes.md)
  const double t0 = now_s();
  {
    process::ProcessPoolExecutor pool(2);
    std::vector<Future<std::uint64_t>> fs;
    for (std::int64_t t = 0; t < tasks; ++t) fs.push_back(pool.submit<&w2_task>(iterations));
    for (auto& f : fs) sum += f.result();
  }
  return now_s() - t0;
}

int run_variant(const Options& options, const std::string& id) {
  const std::int64_t tasks = options.count("tasks");
  const auto iterations = static_cast<std::uint64_t>(options.count("iterations"));
  std::uint64_t expected = 0;
  const double serial = run_serial(tasks, iterations, expected);
  int rc = 0;
  auto report = [&](const char* mode, double seconds, std::uint64_t sum) {
    Line(id)
        .add("peer", "spindle")
        .add("mode", mode)
        .add("tasks", tasks)
        .add("iterations", static_cast<std::int64_t>(iterations))
        .add("seconds", seconds)
        .add("speedup", serial / seconds, 2)
        .emit(options);
    if (!sum_ok(id + " " + mode, static_cast<long long>(sum), static_cast<long long>(expected))) rc = 1;
  };
  if (selected(options, "serial")) report("serial", serial, expected);
  if (selected(options, "threads2")) {
    std::uint64_t sum = 0;
    const double s = run_threads2(tasks, iterations, sum);
    report("threads2", s, sum);
  }
  if (selected(options, "processes2")) {
    std::uint64_t sum = 0;
    const double s = run_processes2(tasks, iterations, sum);
    report("processes2", s, sum);
  }
  return rc;
}

int run_w2(const Options& options) { return run_variant(options, "W2"); }
int run_w2_x100(const Options& options) { return run_variant(options, "W2-x100"); }

std::vector<Param> params(const char* iterations, const char* quick) {
  return {{.name = "tasks", .help = "tasks (each a loop)", .value = "8", .max = 1'000'000},
          {.name = "iterations",
           .help = "loop iterations per task",
           .value = iterations,
           .quick = quick,
           .max = 1'000'000'000'000}};
}

const Register register_w2({.id = "W2",
                            .summary = "CPU-bound fan-out: 8 tasks x 2M iterations, serial vs threads2 vs processes2",
                            .variants = {"serial", "threads2", "processes2"},
                            .params = params("2000000", "200000"),
                            .run = run_w2,
                            .compare = {"seconds"},
                            .peers = {python_peer("w2_cpu_fanout.py")}});
const Register register_w2_x100(
    {.id = "W2-x100",
     .summary = "CPU-bound fan-out: 8 tasks x 200M iterations, serial vs threads2 vs processes2",
     .variants = {"serial", "threads2", "processes2"},
     .params = params("200000000", "2000000"),
     .run = run_w2_x100});

}  // namespace
}  // namespace spindle::bench
