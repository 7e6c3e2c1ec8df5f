#include <gtest/gtest.h>

#include <latch>
#include <thread>

#include "census.hpp"
#include "spindle/aio.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

using namespace std::chrono_literals;
namespace aio = spindle::aio;

namespace {

class Bridges : public spindle::test::LeakCheckedTest {};

TEST_F(Bridges, ToThreadRunsOffTheLoopThread) {
  auto main = []() -> aio::Task<bool> {
    const auto loop_thread = std::this_thread::get_id();
    auto other = co_await aio::to_thread([] { return std::this_thread::get_id(); });
    co_return other != loop_thread;
  };
  EXPECT_TRUE(aio::run(main(), {.handle_sigint = false}));
}

TEST_F(Bridges, AwaitingAFutureSuspendsTheTaskNotTheThread) {
  spindle::ThreadPoolExecutor pool(1);
  std::latch release(1);
  auto tick = [&]() -> aio::Task<int> {  // named: a lambda coroutine must outlive its frame
    co_await aio::yield_now();
    release.count_down();
    co_return 1;
  };
  auto main = [&]() -> aio::Task<int> {
    auto fut = pool.submit([&] {
      release.wait();  // completes only after the loop proved it is still running tasks
      return 5;
    });
    auto ticker = aio::create_task(tick());
    const int v = co_await std::move(fut);
    co_return v + co_await ticker;
  };
  EXPECT_EQ(aio::run(main(), {.handle_sigint = false}), 6);
}

TEST_F(Bridges, ExceptionsCrossTheBridge) {
  auto main = []() -> aio::Task<void> {
    co_await aio::to_thread([]() -> int { throw std::runtime_error("from thread"); });
  };
  EXPECT_THROW(aio::run(main(), {.handle_sigint = false}), std::runtime_error);
}

TEST_F(Bridges, VirtualClockDoesNotJumpPastThreadWork) {
  // With a virtual clock the loop jumps to the next timer when idle, but not while a thread's result is due.
  auto main = []() -> aio::Task<int> {
    co_return co_await aio::wait_for(aio::to_thread([] {
                                       std::this_thread::sleep_for(20ms);  // real work on the pool thread
                                       return 3;
                                     }),
                                     1h);
  };
  EXPECT_EQ(aio::run(main(), {.clock = std::make_shared<aio::VirtualClock>(), .handle_sigint = false}), 3);
}

TEST_F(Bridges, CancellingTheAwaitingTaskStopsWaiting) {
  spindle::ThreadPoolExecutor pool(1);
  std::latch release(1);
  auto main = [&]() -> aio::Task<bool> {
    auto fut = pool.submit([&] {
      release.wait();
      return 1;
    });
    auto waiter =
        aio::create_task([](spindle::Future<int> f) -> aio::Task<int> { co_return co_await std::move(f); }(fut));
    co_await aio::yield_now();
    waiter.cancel();
    bool cancelled = false;
    try {
      co_await waiter;
    } catch (const spindle::CancelledError&) {
      cancelled = true;
    }
    release.count_down();
    co_return cancelled;
  };
  EXPECT_TRUE(aio::run(main(), {.handle_sigint = false}));
  pool.shutdown();
}

TEST_F(Bridges, CallSoonThreadsafeWakesAnIdleLoop) {
  aio::EventLoop loop;
  std::thread t([&] { loop.call_soon_threadsafe([&] { loop.stop(); }); });
  loop.run_forever();  // returns only because the other thread's callback ran
  t.join();
  loop.close();
}

}  // namespace
