// Waiting on a pool's queued work from inside the pool (issue #10, defect 8): every untimed way of waiting
// either runs the task (helping) or throws DeadlockError; timed waits time out. Never a hang.
//
// Each scenario runs as an "outer" task that waits on an "inner" task queued behind it, while every other
// worker is held busy, so only helping can run the inner task. The test thread waits on the outer future with
// a guard timeout: a hang (the bug) becomes a test failure, and cancelling the queued work
// (shutdown(cancel_futures)) releases the stuck worker so the pool can still be torn down.

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "census.hpp"
#include "spindle/core/wait.hpp"
#include "spindle/thread/event.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

using namespace std::chrono_literals;
using spindle::DeadlockError;
using spindle::Future;
using spindle::ThreadPoolExecutor;

namespace {

// Far longer than any scenario takes when it works (milliseconds, also under sanitizers).
constexpr auto kGuard = 20s;

thread_local bool t_initialised = false;
std::atomic<bool> g_pool_has_initializer{false};

int square(int x) { return x * x; }
int checked_square(int x) {
  // A helped task runs on a worker, which ran the initializer (if any) before it took any work.
  if (g_pool_has_initializer.load() && !t_initialised)
    throw std::logic_error("ran on a thread the initializer did not prepare");
  return x * x;
}

// Parameters: workers, and whether the pool has an initializer (whose per-thread set-up helped tasks must see).
class SelfWait : public spindle::test::LeakCheckedTestWithParam<std::tuple<std::size_t, bool>> {
 protected:
  static spindle::ThreadPoolOptions options() {
    const auto [workers, with_init] = GetParam();
    g_pool_has_initializer = with_init;
    spindle::ThreadPoolOptions o{.max_workers = workers};
    if (with_init) o.initializer = [] { t_initialised = true; };
    return o;
  }
};

// Runs `body(pool)` as a task of `pool` while every other worker is held busy, so a task `body` submits is
// queued behind it and only the outer worker can run it. Returns the outer future once done (or fails).
template <class Body>
auto run_outer(ThreadPoolExecutor& pool, Body body) {
  const std::size_t others = pool.max_workers() - 1;
  std::latch started(static_cast<std::ptrdiff_t>(others));
  std::latch release(1);
  std::vector<Future<void>> blockers;
  for (std::size_t i = 0; i < others; ++i)
    blockers.push_back(pool.submit([&] {
      started.count_down();
      release.wait();
    }));
  started.wait();
  auto outer = pool.submit([&pool, body = std::move(body)] { return body(pool); });
  if (!outer.wait_for(kGuard)) {
    ADD_FAILURE() << "waiting on the pool's own queued work hung";
    pool.shutdown(false, true);  // cancels the queued inner work, which releases the waiter
  }
  release.count_down();
  outer.wait();
  for (auto& b : blockers) b.result();
  return outer;
}

// A task that must run on a prepared worker.
Future<int> inner(ThreadPoolExecutor& pool, int x) { return pool.submit(checked_square, x); }

INSTANTIATE_TEST_SUITE_P(WorkersAndInitializer, SelfWait,
                         ::testing::Combine(::testing::Values(1, 2, 4), ::testing::Bool()),
                         [](const auto& test) {
                           return std::to_string(std::get<0>(test.param)) + "workers" +
                                  (std::get<1>(test.param) ? "_initializer" : "");
                         });

TEST_P(SelfWait, Result) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) { return inner(pool, 6).result() + 1; });
  EXPECT_EQ(outer.result(), 37);
}

TEST_P(SelfWait, ResultOnRvalue) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) { return inner(pool, 6).result() + 1; });
  EXPECT_EQ(std::move(outer).result(), 37);
}

TEST_P(SelfWait, Wait) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    auto f = inner(pool, 5);
    f.wait();
    return f.result();
  });
  EXPECT_EQ(outer.result(), 25);
}

TEST_P(SelfWait, WaitUntilTheEndOfTimeIsUntimed) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    auto f = inner(pool, 5);
    auto g = inner(pool, 6);
    return f.wait_until(std::chrono::steady_clock::time_point::max()) &&
           g.wait_for(std::chrono::nanoseconds::max());
  });
  EXPECT_TRUE(outer.result());
}

TEST_P(SelfWait, Exception) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    auto ok = inner(pool, 5);
    auto bad = pool.submit([]() -> int { throw std::runtime_error("inner failed"); });
    return ok.exception() == nullptr && bad.exception() != nullptr;
  });
  EXPECT_TRUE(outer.result());
}

TEST_P(SelfWait, WaitAllCompleted) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    std::vector<Future<int>> fs{inner(pool, 1), inner(pool, 2), inner(pool, 3)};
    auto r = spindle::wait(fs, std::nullopt, spindle::ALL_COMPLETED);
    return r.done.size() == 3 && r.not_done.empty();
  });
  EXPECT_TRUE(outer.result());
}

TEST_P(SelfWait, WaitFirstCompleted) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    std::vector<Future<int>> fs{inner(pool, 1), inner(pool, 2)};
    auto r = spindle::wait(fs, std::nullopt, spindle::FIRST_COMPLETED);
    return !r.done.empty();
  });
  EXPECT_TRUE(outer.result());
}

TEST_P(SelfWait, WaitFirstException) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    std::vector<Future<int>> fs{inner(pool, 1), pool.submit([]() -> int { throw std::runtime_error("x"); }), inner(pool, 3)};
    auto r = spindle::wait(fs, std::nullopt, spindle::FIRST_EXCEPTION);
    bool saw_failure = false;
    for (auto& f : r.done) saw_failure = saw_failure || f.exception() != nullptr;
    return saw_failure;
  });
  EXPECT_TRUE(outer.result());
}

TEST_P(SelfWait, AsCompleted) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    std::vector<Future<int>> fs{inner(pool, 1), inner(pool, 2), inner(pool, 3)};
    int sum = 0;
    for (auto& f : spindle::as_completed(fs)) sum += f.result();
    return sum;
  });
  EXPECT_EQ(outer.result(), 14);
}

TEST_P(SelfWait, MapInsideAWorker) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    std::vector<int> in(20);
    std::iota(in.begin(), in.end(), 0);
    int sum = 0;
    for (int v : pool.map(checked_square, in, {.chunksize = 3})) sum += v;
    return sum;
  });
  EXPECT_EQ(outer.result(), 2470);
}

TEST_P(SelfWait, NestedSelfWaits) {
  ThreadPoolExecutor executor(options());
  // Helping recurses: the helped task itself waits on queued work.
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    return pool.submit([&pool] { return pool.submit([&pool] { return inner(pool, 3).result(); }).result(); }).result();
  });
  EXPECT_EQ(outer.result(), 9);
}

// A timed wait never helps (the task could outlast the timeout) and never throws DeadlockError: it times out.
// (These held before the fix too; they pin the contract down.)
TEST_P(SelfWait, TimedWaitsTimeOut) {
  ThreadPoolExecutor executor(options());
  auto outer = run_outer(executor, [](ThreadPoolExecutor& pool) {
    auto f = inner(pool, 2);
    int timeouts = 0;
    const auto count = [&timeouts](int b) { timeouts |= 1 << b; };
    try {
      (void)f.result(1ms);
    } catch (const spindle::TimeoutError&) {
      count(0);
    }
    try {
      (void)f.exception(1ms);
    } catch (const spindle::TimeoutError&) {
      count(1);
    }
    if (!f.wait_for(1ms)) count(2);
    std::vector<Future<int>> fs{f};
    int bit = 3;
    for (auto mode : {spindle::ALL_COMPLETED, spindle::FIRST_COMPLETED, spindle::FIRST_EXCEPTION}) {
      if (spindle::wait(fs, 1ms, mode).not_done.size() == 1) count(bit);
      ++bit;
    }
    try {
      for (auto& g : spindle::as_completed(fs, 1ms)) (void)g;
    } catch (const spindle::TimeoutError&) {
      count(6);
    }
    try {
      for (int v : pool.map(square, std::vector<int>{1}, {.timeout = 1ms})) (void)v;
    } catch (const spindle::TimeoutError&) {
      count(7);
    }
    return timeouts;
  });
  EXPECT_EQ(outer.result(), 0xff) << "every timed wait timed out (one bit each)";
}

// ---- helping off: the waits that can never end throw DeadlockError ------------------------------------------------

class NoHelping : public spindle::test::LeakCheckedTestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(Workers, NoHelping, ::testing::Values(1, 2, 4));

// Every worker runs one outer task; all meet, then each waits (through `door`) on a task queued behind them.
// Without helping none can run, so the last to block is told: exactly one DeadlockError, and once its task has
// ended, its worker runs the queued work and the others finish.
template <class Door>
void every_worker_waits_on_queued_work(std::size_t workers, Door door) {
  ThreadPoolExecutor pool({.max_workers = workers, .run_pending_on_wait = false});
  std::latch met(static_cast<std::ptrdiff_t>(workers));
  std::vector<Future<int>> outers;
  for (std::size_t i = 0; i < workers; ++i)
    outers.push_back(pool.submit([&] {
      met.arrive_and_wait();
      return door(pool);
    }));
  for (auto& o : outers) {
    if (!o.wait_for(kGuard)) {
      ADD_FAILURE() << "a deadlocked wait hung instead of throwing DeadlockError";
      pool.shutdown(false, true);
      break;
    }
  }
  int deadlocks = 0;
  for (auto& o : outers) {
    try {
      EXPECT_EQ(o.result(), 1);
    } catch (const DeadlockError& e) {
      ++deadlocks;
      EXPECT_NE(std::string(e.what()).find("deadlock"), std::string::npos);
    } catch (const spindle::CancelledError&) {
      // only after the guard failed
    }
  }
  EXPECT_EQ(deadlocks, 1);
}

TEST_P(NoHelping, ResultThrowsDeadlockError) {
  every_worker_waits_on_queued_work(GetParam(), [](ThreadPoolExecutor& pool) {
    return pool.submit([] { return 1; }).result();
  });
}

TEST_P(NoHelping, WaitAndExceptionThrowDeadlockError) {
  every_worker_waits_on_queued_work(GetParam(), [](ThreadPoolExecutor& pool) {
    auto f = pool.submit([] { return 1; });
    f.wait();
    return f.exception() == nullptr ? 1 : 0;
  });
  every_worker_waits_on_queued_work(GetParam(), [](ThreadPoolExecutor& pool) {
    return pool.submit([] { return 1; }).exception() == nullptr ? 1 : 0;
  });
}

TEST_P(NoHelping, SpindleWaitThrowsDeadlockErrorInEveryMode) {
  for (auto mode : {spindle::ALL_COMPLETED, spindle::FIRST_COMPLETED, spindle::FIRST_EXCEPTION}) {
    SCOPED_TRACE(static_cast<int>(mode));
    every_worker_waits_on_queued_work(GetParam(), [mode](ThreadPoolExecutor& pool) {
      std::vector<Future<int>> fs{pool.submit([] { return 1; }), pool.submit([] { return 1; })};
      auto r = spindle::wait(fs, std::nullopt, mode);
      return r.done.empty() ? 0 : 1;
    });
  }
}

TEST_P(NoHelping, AsCompletedThrowsDeadlockError) {
  every_worker_waits_on_queued_work(GetParam(), [](ThreadPoolExecutor& pool) {
    std::vector<Future<int>> fs{pool.submit([] { return 1; })};
    int n = 0;
    for (auto& f : spindle::as_completed(fs)) n += f.result();
    return n;
  });
}

TEST_P(NoHelping, MapThrowsDeadlockError) {
  every_worker_waits_on_queued_work(GetParam(), [](ThreadPoolExecutor& pool) {
    int n = 0;
    for (int v : pool.map([](int x) { return x; }, std::vector<int>{1})) n += v;
    return n;
  });
}

// Not provable, so not reported: one worker waits on queued work while another is merely busy (it may finish
// and run it). The wait must sleep, then succeed.
TEST(NoHelpingBasics, BusyOtherWorkerIsNoDeadlock) {
  ThreadPoolExecutor pool({.max_workers = 2, .run_pending_on_wait = false});
  spindle::Event inner_queued;
  std::latch release(1);
  auto busy = pool.submit([&] {
    inner_queued.wait();
    release.wait();
  });
  auto outer = pool.submit([&] {
    auto f = pool.submit([] { return 7; });
    inner_queued.set();
    return f.result();
  });
  release.count_down();
  ASSERT_TRUE(outer.wait_for(kGuard));
  EXPECT_EQ(outer.result(), 7);
  busy.result();
}

// ---- pools waiting on each other ----------------------------------------------------------------------------------

class Cycle : public spindle::test::LeakCheckedTestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(Workers, Cycle, ::testing::Values(1, 2, 4));

// Every worker of A waits on a task queued in B and every worker of B on one queued in A. A worker never runs
// another pool's task, so nothing can move: the last to block gets DeadlockError, which frees its worker.
TEST_P(Cycle, PoolsWaitingOnEachOtherThrowDeadlockError) {
  const std::size_t n = GetParam();
  ThreadPoolExecutor a({.max_workers = n, .thread_name_prefix = "A"});
  ThreadPoolExecutor b({.max_workers = n, .thread_name_prefix = "B"});
  std::latch met(static_cast<std::ptrdiff_t>(2 * n));
  std::vector<Future<int>> outers;
  for (std::size_t i = 0; i < n; ++i) {
    outers.push_back(a.submit([&] {
      met.arrive_and_wait();
      return b.submit([] { return 1; }).result();
    }));
    outers.push_back(b.submit([&] {
      met.arrive_and_wait();
      return a.submit([] { return 1; }).result();
    }));
  }
  for (auto& o : outers) {
    if (!o.wait_for(kGuard)) {
      ADD_FAILURE() << "pools waiting on each other hung";
      a.shutdown(false, true);
      b.shutdown(false, true);
      break;
    }
  }
  int deadlocks = 0;
  for (auto& o : outers) {
    try {
      EXPECT_EQ(o.result(), 1);
    } catch (const DeadlockError&) {
      ++deadlocks;
    } catch (const spindle::CancelledError&) {
    }
  }
  EXPECT_EQ(deadlocks, 1);
}

// In the same cycle a timed wait times out (and so breaks the cycle) rather than raising.
TEST(CycleBasics, TimedWaitInACycleTimesOut) {
  ThreadPoolExecutor a({.max_workers = 1});
  ThreadPoolExecutor b({.max_workers = 1});
  std::latch met(2);
  auto on_a = a.submit([&] {
    met.arrive_and_wait();
    try {
      return b.submit([] { return 1; }).result(50ms);
    } catch (const spindle::TimeoutError&) {
      return -1;
    }
  });
  auto on_b = b.submit([&] {
    met.arrive_and_wait();
    return a.submit([] { return 1; }).result();
  });
  ASSERT_TRUE(on_b.wait_for(kGuard));
  EXPECT_EQ(on_a.result(), -1);
  EXPECT_EQ(on_b.result(), 1);
}

// A worker never helps another pool: that task would run beyond its pool's max_workers, on a thread its pool's
// initializer never prepared.
TEST(CycleBasics, WorkerNeverRunsAnotherPoolsTask) {
  ThreadPoolExecutor a({.max_workers = 1, .thread_name_prefix = "A"});
  ThreadPoolExecutor b({.max_workers = 1, .thread_name_prefix = "B"});
  spindle::Event submitted;
  auto blocker = b.submit([&] { submitted.wait(); });
  auto outer = a.submit([&] {
    auto f = b.submit([] {
      char buf[16] = {};
      pthread_getname_np(pthread_self(), buf, sizeof buf);
      return std::string(buf);
    });
    submitted.set();
    return f.result();
  });
  ASSERT_TRUE(outer.wait_for(kGuard));
  EXPECT_EQ(outer.result(), "B_0");
  blocker.result();
}

// ---- the initializer ---------------------------------------------------------------------------------------------

// An initializer that waits on its own pool cannot be helped (the thread is not ready to run tasks) and, with
// one worker, nobody else can: the wait throws, which breaks the pool with a message naming the deadlock.
TEST(InitializerBasics, InitializerWaitingOnItsOwnPoolBreaksThePool) {
  ThreadPoolExecutor* self = nullptr;
  ThreadPoolExecutor pool({.max_workers = 1, .initializer = [&self] { self->submit([] {}).result(); }});
  self = &pool;
  auto f = pool.submit(square, 2);
  ASSERT_TRUE(f.wait_for(kGuard)) << "the initializer's wait on its own pool hung";
  try {
    f.result();
    FAIL() << "expected BrokenExecutor";
  } catch (const spindle::BrokenExecutor& e) {
    EXPECT_NE(std::string(e.what()).find("deadlock"), std::string::npos) << e.what();
  }
}

}  // namespace
