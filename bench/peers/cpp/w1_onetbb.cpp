// W1's oneTBB peer: thread pool, tiny tasks (bench/workloads/w1_thread_pool_tiny.cpp, docs/bench.md).
//
// A `tbb::task_arena` of concurrency 2 stands for spindle's started, warmed pool of 2 workers; the main thread
// hands it `tasks` (1,000,000) tiny tasks through one `tbb::task_group`, task i storing `i & 0xff` into its
// pre-sized result slot, then waits for the group and sums the slots in submission order. oneTBB has no
// future: a task returns nothing, so the per-task result travels through the slot and "waiting for each
// result" is one wait for the whole group, after which every slot is readable. Two passes, as spindle's:
// `heap=cold` first, then `heap=warm` (oneTBB's task allocator reuses what the first pass freed).
// Prints `W1 peer=onetbb heap=cold|warm tasks=N workers=2 seconds=... per_s=... ns_per_task=...`.
//
// Who runs the tasks: in spindle the main thread only submits and waits; the 2 workers run every task. The
// closest honest oneTBB equivalent:
// - the arena reserves no slot for an external thread (reserved_for_masters = 0), so both of its slots are for
//   workers, and oneTBB's global pool is allowed 2 workers (global_control: by default it has
//   hardware_concurrency - 1, that is 1 on a 2-vCPU machine, and the arena would run on one worker);
// - tasks go in with `arena.enqueue(tg.defer(...))`, which does not make the calling thread join the arena
//   (task_group::run inside arena.execute would: the main thread would take an arena slot, and spawn into its
//   own deque, then run tasks itself while waiting);
// - the main thread waits with `tg.wait()` outside the arena: a thread can only execute tasks of an arena it
//   has joined, so it sleeps until the group's count reaches zero, as a caller of Future::result() does.
// A warm-up proves that 2 worker threads really run the arena's tasks (else exit 1: workers=2 would be false).

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "peer_cli.hpp"

namespace {

// True once 2 arena tasks have run at the same time, i.e. on 2 distinct worker threads (10 s at most).
bool both_workers_run(tbb::task_arena& arena) {
  std::atomic<int> arrived{0};
  std::atomic<int> met{0};  // tasks that saw the other one arrive while they were still running
  tbb::task_group tg;
  for (int k = 0; k < 2; ++k) {
    arena.enqueue(tg.defer([&] {
      arrived.fetch_add(1);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (arrived.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      if (arrived.load() >= 2) met.fetch_add(1);
    }));
  }
  tg.wait();
  return met.load() == 2;
}

}  // namespace

int main(int argc, char** argv) {
  const peer::Cli cli(argc, argv, "W1", {{.name = "tasks", .value = 1'000'000, .quick = 20'000, .max = 100'000'000}});
  const std::int64_t tasks = cli["tasks"];
  constexpr int workers = 2;

  const tbb::global_control allow(tbb::global_control::max_allowed_parallelism, workers + 1);
  tbb::task_arena arena(workers, /*reserved_for_masters=*/0);
  arena.initialize();
  if (!both_workers_run(arena)) {
    std::fprintf(stderr, "W1: oneTBB did not run the arena on %d worker threads\n", workers);
    return 1;
  }
  {  // warm-up, as spindle's: 20,000 tasks touch oneTBB's task allocator
    std::vector<std::int64_t> warm(20'000);
    tbb::task_group tg;
    for (std::size_t i = 0; i < warm.size(); ++i) {
      arena.enqueue(tg.defer([slot = &warm[i], i] { *slot = static_cast<std::int64_t>(i & 1); }));
    }
    tg.wait();
  }
  std::int64_t expected = 0;
  for (std::int64_t i = 0; i < tasks; ++i) expected += i & 0xff;

  int rc = 0;
  for (const char* heap : {"cold", "warm"}) {
    // The slots are written before the clock starts, as spindle reserves its futures' vector untimed.
    std::vector<std::int64_t> results(static_cast<std::size_t>(tasks));
    std::int64_t* const slots = results.data();
    tbb::task_group tg;

    const double t0 = peer::now_s();
    for (std::int64_t i = 0; i < tasks; ++i) arena.enqueue(tg.defer([slots, i] { slots[i] = i & 0xff; }));
    tg.wait();
    std::int64_t sum = 0;
    for (const auto r : results) sum += r;
    const double seconds = peer::now_s() - t0;

    peer::Line(cli, "onetbb")
        .add("heap", heap)
        .add("tasks", tasks)
        .add("workers", workers)
        .add("seconds", seconds)
        .add("per_s", static_cast<std::int64_t>(static_cast<double>(tasks) / seconds))
        .add("ns_per_task", seconds * 1e9 / static_cast<double>(tasks), 1)
        .emit();
    if (!peer::sum_ok("W1", static_cast<long long>(sum), static_cast<long long>(expected))) rc = 1;
  }
  return rc;
}
