#include "spindle/thread/thread_pool_executor.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <latch>
#include <memory>
#include <numeric>
#include <string>
#include <vector>
#include <ctime>
#include <thread>

#include "census.hpp"
#include "spindle/core/wait.hpp"
#include "spindle/thread/event.hpp"

using namespace std::chrono_literals;
using spindle::Future;
using spindle::ThreadPoolExecutor;

namespace {

class PoolTest : public spindle::test::LeakCheckedTestWithParam<std::size_t> {};

INSTANTIATE_TEST_SUITE_P(Workers, PoolTest, ::testing::Values(1, 2, 4, 16));

int square(int x) { return x * x; }

TEST_P(PoolTest, SubmitReturnsResults) {
  ThreadPoolExecutor pool(GetParam());
  std::vector<Future<int>> fs;
  for (int i = 0; i < 1000; ++i) fs.push_back(pool.submit(square, i));
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(fs[i].result(), i * i);
  EXPECT_LE(pool.num_threads(), GetParam());
}

TEST_P(PoolTest, ArgumentsAreCopiedOrMoved) {
  ThreadPoolExecutor pool(GetParam());
  auto owned = std::make_unique<int>(5);
  auto f = pool.submit([](std::unique_ptr<int> p, const std::string& s) { return *p + static_cast<int>(s.size()); },
                       std::move(owned), std::string("abc"));
  EXPECT_EQ(f.result(), 8);
  auto v = pool.submit([] {});
  v.result();
  auto m = pool.submit([] { return std::make_unique<int>(3); });
  EXPECT_EQ(*std::move(m).result(), 3);
}

TEST_P(PoolTest, ExceptionReachesFutureAndWorkerSurvives) {
  ThreadPoolExecutor pool(GetParam());
  auto bad = pool.submit([]() -> int { throw std::invalid_argument("bad input"); });
  EXPECT_THROW(bad.result(), std::invalid_argument);
  auto odd = pool.submit([]() -> int { throw 42; });  // not a std::exception
  try {
    odd.result();
    FAIL() << "expected a throw";
  } catch (int v) {
    EXPECT_EQ(v, 42);
  }
  EXPECT_EQ(pool.submit(square, 3).result(), 9);
}

TEST_P(PoolTest, SubmitAfterShutdownThrows) {
  ThreadPoolExecutor pool(GetParam());
  pool.submit(square, 1).result();
  pool.shutdown();
  EXPECT_THROW(pool.submit(square, 2), spindle::ShutdownError);
  pool.shutdown();  // twice is fine
}

TEST_P(PoolTest, ShutdownWaitsForQueuedWork) {
  std::atomic<int> ran{0};
  std::vector<Future<void>> fs;
  {
    ThreadPoolExecutor pool(GetParam());
    for (int i = 0; i < 500; ++i) fs.push_back(pool.submit([&] { ran.fetch_add(1); }));
  }  // destructor = shutdown(wait=true)
  EXPECT_EQ(ran.load(), 500);
  for (auto& f : fs) EXPECT_TRUE(f.done());
}

TEST_P(PoolTest, ShutdownCancelFuturesCancelsQueuedWork) {
  ThreadPoolExecutor pool(GetParam());
  std::latch release(1);
  std::latch all_started(static_cast<std::ptrdiff_t>(GetParam()));
  std::vector<Future<void>> blockers;
  // Each submission finds no idle thread and starts one (as in Python), so every worker gets a blocker.
  for (std::size_t i = 0; i < GetParam(); ++i)
    blockers.push_back(pool.submit([&] {
      all_started.count_down();
      release.wait();
    }));
  all_started.wait();
  std::vector<Future<int>> queued;
  for (int i = 0; i < 100; ++i) queued.push_back(pool.submit(square, i));
  pool.shutdown(false, true);  // every worker is blocked: all 100 are still queued
  for (auto& f : queued) EXPECT_TRUE(f.cancelled());
  release.count_down();
  pool.shutdown(true);
  for (auto& b : blockers) EXPECT_NO_THROW(b.result());
  EXPECT_EQ(pool.num_threads(), GetParam());
}

TEST_P(PoolTest, FuturesSurviveThePool) {
  Future<int> f;
  {
    ThreadPoolExecutor pool(GetParam());
    f = pool.submit(square, 7);
  }
  EXPECT_EQ(f.result(), 49);
}

TEST_P(PoolTest, MapYieldsInInputOrder) {
  ThreadPoolExecutor pool(GetParam());
  std::vector<int> in(100);
  std::iota(in.begin(), in.end(), 0);
  std::vector<int> out;
  for (int v : pool.map(square, in)) out.push_back(v);
  ASSERT_EQ(out.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(out[i], i * i);
  std::vector<int> chunked;
  for (int v : pool.map(square, in, {.chunksize = 7})) chunked.push_back(v);
  EXPECT_EQ(chunked, out);
}

TEST_P(PoolTest, WaitingOnPoolFromInsidePoolDoesNotDeadlock) {
  ThreadPoolExecutor pool(GetParam());
  // With one worker the inner task can only run because the waiting task runs it inline.
  auto outer = pool.submit([&pool] { return pool.submit(square, 6).result() + 1; });
  EXPECT_EQ(outer.result(), 37);
}

TEST(PoolBasics, MapBuffersizeBoundsLookahead) {
  ThreadPoolExecutor pool(2);
  std::atomic<int> produced{0};
  // An input range that counts how far it has been read (views::iota | transform does not compile with
  // clang 14 and libstdc++ 12).
  struct Counting {
    std::atomic<int>* produced;
    struct iterator {
      using value_type = int;
      using difference_type = std::ptrdiff_t;
      std::atomic<int>* produced = nullptr;
      int i = 0;
      int operator*() const { return i; }
      iterator& operator++() {
        produced->fetch_add(1);
        ++i;
        return *this;
      }
      void operator++(int) { ++*this; }
      bool operator==(std::default_sentinel_t) const { return i == 1000; }
    };
    iterator begin() const { return {produced, 0}; }
    std::default_sentinel_t end() const { return {}; }
  };
  Counting counting{&produced};
  auto results = pool.map([](int x) { return x; }, counting, {.buffersize = 4});
  int consumed = 0;
  for (int v : results) {
    EXPECT_EQ(v, consumed);
    ++consumed;
    EXPECT_LE(produced.load(), consumed + 4) << "submission runs at most buffersize ahead";
    if (consumed == 10) break;
  }
  EXPECT_LE(produced.load(), 14);
}

TEST(PoolBasics, MapVoidFunctionAndEmptyInput) {
  ThreadPoolExecutor pool(2);
  std::atomic<int> n{0};
  std::vector<int> in{1, 2, 3};
  int count = 0;
  for (auto v : pool.map([&](int x) { n.fetch_add(x); }, in)) {
    (void)v;
    ++count;
  }
  EXPECT_EQ(count, 3);
  EXPECT_EQ(n.load(), 6);
  std::vector<int> empty;
  for (int v : pool.map(square, empty)) ADD_FAILURE() << v;
  EXPECT_THROW(pool.map(square, in, {.chunksize = 0}), std::invalid_argument);
}

TEST(PoolBasics, MapExceptionSurfacesAtItsItem) {
  ThreadPoolExecutor pool(2);
  std::vector<int> in{1, 2, 3, 4};
  auto results = pool.map([](int x) { return x == 3 ? throw std::runtime_error("three") : x; }, in);
  auto it = results.begin();
  EXPECT_EQ(*it, 1);
  ++it;
  EXPECT_EQ(*it, 2);
  EXPECT_THROW(++it, std::runtime_error);
}

TEST(PoolBasics, MapTimeout) {
  ThreadPoolExecutor pool(1);
  std::latch release(1);
  std::vector<int> in{1, 2};
  {
    auto results = pool.map(
        [&](int x) {
          release.wait();
          return x;
        },
        in, {.timeout = 1ms});
    EXPECT_THROW(results.begin(), spindle::TimeoutError);
    release.count_down();
  }
}

TEST(PoolBasics, DefaultMaxWorkersFollowsPython) {
  ThreadPoolExecutor pool;
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(pool.max_workers(), std::min<std::size_t>(32, cores + 4));
  EXPECT_EQ(pool.num_threads(), 0u) << "threads start lazily";
}

TEST(PoolBasics, ThreadNamesCarryThePrefix) {
  ThreadPoolExecutor pool({.max_workers = 1, .thread_name_prefix = "worker", .run_pending_on_wait = false});
  auto name = pool.submit([] {
                    char buf[16] = {};
                    pthread_getname_np(pthread_self(), buf, sizeof buf);
                    return std::string(buf);
                  })
                  .result();
  EXPECT_EQ(name, "worker_0");
}

TEST(PoolBasics, InitializerRunsPerThread) {
  thread_local int initialised = 0;
  ThreadPoolExecutor pool({.max_workers = 2, .initializer = [] { initialised = 1; }});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(pool.submit([] { return initialised; }).result(), 1);
}

TEST(PoolBasics, FailingInitializerBreaksThePool) {
  ThreadPoolExecutor pool({.max_workers = 1, .initializer = [] { throw std::runtime_error("no db"); }});
  auto f = pool.submit(square, 2);
  try {
    f.result();
    FAIL() << "expected BrokenExecutor";
  } catch (const spindle::BrokenExecutor& e) {
    EXPECT_NE(std::string(e.what()).find("no db"), std::string::npos);
  }
  EXPECT_THROW(pool.submit(square, 3), spindle::BrokenExecutor);
}

TEST(PoolBasics, ShutdownWithWaitFromOwnTaskThrows) {
  ThreadPoolExecutor pool({.max_workers = 2, .run_pending_on_wait = false});
  auto f = pool.submit([&pool] { pool.shutdown(true); });
  EXPECT_THROW(f.result(), spindle::InvalidStateError);
}

TEST(PoolBasics, WaitAndAsCompletedOverPoolFutures) {
  ThreadPoolExecutor pool(2);
  std::vector<Future<int>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(pool.submit(square, i));
  auto r = spindle::wait(fs);
  EXPECT_EQ(r.done.size(), 50u);
  int sum = 0;
  for (auto& f : spindle::as_completed(fs)) sum += f.result();
  EXPECT_EQ(sum, 40425);
}

// Waits (bounded) until every started worker sleeps for want of work.
bool all_workers_park(const ThreadPoolExecutor& pool) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (pool.parked_workers() < pool.num_threads()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(PoolBasics, ParkedWorkersCountsOnlyIdleWorkers) {
  ThreadPoolExecutor pool(1);
  EXPECT_EQ(pool.parked_workers(), 0u);
  std::latch release(1);
  spindle::Event running;
  auto f = pool.submit([&] {
    running.set();
    release.wait();
  });
  running.wait();
  EXPECT_EQ(pool.parked_workers(), 0u) << "a worker running a task is not parked";
  release.count_down();
  f.result();
  EXPECT_TRUE(all_workers_park(pool)) << "the idle worker never parked";
}

// The idle pool does not spin. Idle workers poll only briefly before sleeping, so over an idle
// interval the process uses almost no CPU. The interval is the measurement, not synchronisation.
TEST(PoolBasics, IdleWorkersDoNotSpin) {
  auto cpu_seconds = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  ThreadPoolExecutor pool(4);
  std::vector<Future<int>> fs;
  for (int i = 0; i < 4000; ++i) fs.push_back(pool.submit(square, i));
  for (auto& f : fs) f.result();
  // Once every worker has stopped polling and parked, the interval below measures idleness alone.
  ASSERT_TRUE(all_workers_park(pool)) << pool.parked_workers() << " of " << pool.num_threads() << " parked";
  const double before = cpu_seconds();
  std::this_thread::sleep_for(300ms);
  const double used = cpu_seconds() - before;
  EXPECT_LT(used, 0.03) << "4 idle workers burned " << used << " s of CPU in 0.3 s";
}

// Python's idle semaphore: a submit takes an idle worker's token, so the next submit starts a thread instead
// of queueing behind the same idle worker. Two tasks that must meet can only do so on two threads.
TEST(PoolBasics, TwoQuickSubmitsDoNotBothCountOnOneIdleWorker) {
  ThreadPoolExecutor pool({.max_workers = 4, .run_pending_on_wait = false});
  pool.submit([] {}).result();  // one worker, now idle: one token
  spindle::Event a_here, b_here;
  auto a = pool.submit([&] {
    a_here.set();
    return b_here.wait(10s);
  });
  auto b = pool.submit([&] {
    b_here.set();
    return a_here.wait(10s);
  });
  EXPECT_TRUE(a.result());
  EXPECT_TRUE(b.result()) << "the second task waited behind the first on the one idle worker";
  // Not exactly 2: if the first worker has not yet left its token when `a` is submitted, `a` starts a thread
  // too (as in Python).
  EXPECT_GE(pool.num_threads(), 2u);
}

TEST(PoolBasics, CancelQueuedTaskNeverRuns) {
  ThreadPoolExecutor pool(1);
  std::latch release(1);
  auto blocker = pool.submit([&] { release.wait(); });
  std::atomic<bool> ran{false};
  auto victim = pool.submit([&] { ran = true; });
  EXPECT_TRUE(victim.cancel());
  release.count_down();
  blocker.result();
  pool.shutdown();
  EXPECT_FALSE(ran.load());
  EXPECT_TRUE(victim.cancelled());
}

}  // namespace
