// The emulated GIL: mutual exclusion, hand-off on a drop request, release around blocking waits, and CPU
// threads under it using about one core.

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/lab/gil.hpp"
#include "spindle/thread/event.hpp"

namespace {

using namespace std::chrono_literals;
using spindle::lab::Gil;

class GilTest : public spindle::test::LeakCheckedTestWithParam<int> {};

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

TEST_P(GilTest, OnlyOneHolderAtATimeAndEveryThreadFinishes) {
  const int threads = GetParam();
  Gil gil(std::chrono::microseconds(500));
  std::atomic<int> inside{0}, max_inside{0};
  std::atomic<long> total{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      Gil::Held held(gil);
      for (int i = 0; i < 20000; ++i) {
        const int now = inside.fetch_add(1) + 1;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        total.fetch_add(1, std::memory_order_relaxed);
        inside.fetch_sub(1);
        if (i % 64 == 0) gil.tick();
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(max_inside.load(), 1);
  EXPECT_EQ(total.load(), 20000L * threads);
}

INSTANTIATE_TEST_SUITE_P(Threads, GilTest, ::testing::Values(1, 2, 4, 16));

class GilBasics : public spindle::test::LeakCheckedTest {};

TEST_F(GilBasics, AWaiterGetsTheLockThroughADropRequest) {
  Gil gil(1ms);
  std::atomic<bool> stop{false};
  std::atomic<bool> holder_running{false};
  std::thread holder([&] {
    Gil::Held held(gil);
    holder_running = true;
    while (!stop.load()) gil.tick();  // a CPU loop that never blocks
  });
  while (!holder_running.load()) std::this_thread::yield();
  {
    Gil::Held held(gil);  // can only succeed if the holder honours the drop request at a tick()
    EXPECT_GE(gil.drop_requests(), 1u);
    stop = true;
  }
  holder.join();
  EXPECT_GE(gil.switches(), 1u);
}

TEST_F(GilBasics, ReleasedLetsAnotherThreadRunDuringABlockingWait) {
  Gil gil;
  spindle::Event ping;
  Gil::Held held(gil);
  std::thread other([&] {
    Gil::Held mine(gil);  // needs the GIL to "run bytecode" and answer
    ping.set();
  });
  bool answered = false;
  {
    Gil::Released released(gil);  // a blocking wait drops the GIL, as CPython does around I/O
    answered = ping.wait(10s);
  }
  EXPECT_TRUE(answered);
  {
    Gil::Released released(gil);
    other.join();
  }
}

TEST_F(GilBasics, CpuThreadsUnderTheGilUseAboutOneCore) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs 2 cores to tell 1 core from 2";
  Gil gil;
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = process_cpu_s();
  std::vector<std::thread> pool;
  for (int t = 0; t < 2; ++t) {
    pool.emplace_back([&] {
      Gil::Held held(gil);
      const auto end = std::chrono::steady_clock::now() + 400ms;
      unsigned long long x = 0;
      for (unsigned long long i = 0; std::chrono::steady_clock::now() < end; ++i) {
        x += i * i;
        if (i % 256 == 0) gil.tick();
      }
      EXPECT_NE(x, 1u);
    });
  }
  for (auto& t : pool) t.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cores_used = (process_cpu_s() - cpu0) / wall;
  EXPECT_LT(cores_used, 1.3) << "two CPU threads under one GIL must take turns";
  EXPECT_GE(gil.switches(), 2u);
}

}  // namespace
