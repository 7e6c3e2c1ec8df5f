#pragma once
// The random-SIGKILL scenario (every future ends, no hang), shared by stress_process_pool_kills.cpp (modest size) and
// slow_process_pool_kills.cpp (full size): many tasks while workers are SIGKILLed at random. No hang, every
// future resolved, only tasks that were running on a killed worker fail (WorkerCrashed), every other result
// right, and the pool still accepts work.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "census.hpp"
#include "process_census.hpp"
#include "spindle/process/process_pool_executor.hpp"

namespace spindle::test::kills {

namespace sp = spindle::process;

inline long long triple(long long x) {
  if (x % 97 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // some tasks take a while
  return 3 * x;
}
inline const bool forkserver_started = (sp::init(), true);

inline long env_or(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v ? std::atol(v) : fallback;
}

class ProcessPoolKills : public spindle::test::ProcessCheckedTest {};

inline void run_kills(long tasks, long kills) {
  sp::ProcessPoolExecutor pool(4);
  std::vector<spindle::Future<long long>> fs;
  fs.reserve(static_cast<std::size_t>(tasks));
  std::mt19937 rng(12345);
  const long every = std::max(1L, tasks / (kills + 1));
  long killed = 0;
  for (long i = 0; i < tasks; ++i) {
    fs.push_back(pool.submit<&triple>(i));
    if (i % every == every - 1 && killed < kills) {
      const auto pids = pool.worker_pids();
      if (!pids.empty()) {
        ::kill(pids[rng() % pids.size()], SIGKILL);
        ++killed;
      }
      // Let the ledger catch up a little, so kills land on busy workers rather than on idle replacements.
      fs[static_cast<std::size_t>(i - every / 2)].wait();
    }
  }
  long ok = 0, crashed = 0;
  for (long i = 0; i < tasks; ++i) {
    auto& f = fs[static_cast<std::size_t>(i)];
    ASSERT_TRUE(f.wait_for(std::chrono::seconds(60))) << "future " << i << " never resolved";
    try {
      ASSERT_EQ(f.result(), 3 * i);
      ++ok;
    } catch (const spindle::WorkerCrashed&) {
      ++crashed;
    }
  }
  const auto st = pool.stats();
  std::printf("tasks=%ld kills=%ld ok=%ld crashed=%ld requeued=%llu workers_started=%llu\n", tasks, killed, ok,
              crashed, static_cast<unsigned long long>(st.requeued),
              static_cast<unsigned long long>(st.workers_started));
  // A kill fails at most the one task its worker was running.
  EXPECT_LE(crashed, killed);
  EXPECT_EQ(static_cast<std::uint64_t>(crashed), st.crashed);
  EXPECT_EQ(ok + crashed, tasks);
  EXPECT_EQ(pool.submit<&triple>(14).result(), 42);
}

}  // namespace spindle::test::kills
