#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/aio.hpp"

using namespace std::chrono_literals;
namespace aio = spindle::aio;

namespace {

class AioBasics : public spindle::test::LeakCheckedTest {
 protected:
  aio::RunOptions vopts() {
    return aio::RunOptions{.clock = std::make_shared<aio::VirtualClock>(), .handle_sigint = false};
  }
};

aio::Task<int> answer() { co_return 42; }

aio::Task<int> add(int a, int b) {
  const int x = co_await answer();
  co_return a + b + x;
}

TEST_F(AioBasics, RunReturnsTheMainResult) { EXPECT_EQ(aio::run(add(1, 2), vopts()), 45); }

aio::Task<std::string> spelled(int n) {
  std::string s = std::to_string(n);
  co_await aio::sleep(0ms);
  co_return s + "!";
}

// A coroutine made on one thread and run on another after the first has exited (as a Python program passes
// a coroutine object to a loop on another thread). Its frame comes from the making thread's frame pool,
// which must not give the memory back when that thread exits (regression: it did, and running the task
// touched unmapped memory).
TEST_F(AioBasics, CoroutineMadeOnAThreadThatExitedStillRuns) {
  std::vector<aio::Task<std::string>> made;
  std::thread maker([&] {
    for (int i = 0; i < 100; ++i) made.push_back(spelled(i));
  });
  maker.join();
  std::vector<std::string> big(8, std::string(std::size_t{1} << 20, 'x'));  // reuse what was freed, if any
  auto main = [&]() -> aio::Task<std::string> {
    std::string all;
    for (auto& t : made) all += co_await std::move(t);
    co_return all;
  };
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += std::to_string(i) + "!";
  EXPECT_EQ(aio::run(main(), vopts()), expected);
}

TEST_F(AioBasics, ExceptionPropagatesThroughAwaitAndRun) {
  auto boom = []() -> aio::Task<int> {
    throw std::runtime_error("boom");
    co_return 0;
  };
  auto outer = [&]() -> aio::Task<int> { co_return co_await boom(); };
  EXPECT_THROW(aio::run(outer(), vopts()), std::runtime_error);
}

TEST_F(AioBasics, SleepUsesTheVirtualClock) {
  auto clock = std::make_shared<aio::VirtualClock>();
  auto main = [&]() -> aio::Task<std::int64_t> {
    auto& loop = aio::EventLoop::get_running_loop();
    const auto t0 = loop.time();
    co_await aio::sleep(3600s);
    co_return std::chrono::duration_cast<std::chrono::seconds>(loop.time() - t0).count();
  };
  EXPECT_EQ(aio::run(main(), {.clock = clock, .handle_sigint = false}), 3600);
}

TEST_F(AioBasics, CreateTaskRunsConcurrentlyInDeadlineOrder) {
  std::vector<int> order;
  auto sleeper = [&](int id, std::chrono::milliseconds d) -> aio::Task<int> {
    co_await aio::sleep(d);
    order.push_back(id);
    co_return id;
  };
  auto main = [&]() -> aio::Task<int> {
    auto a = aio::create_task(sleeper(1, 30ms));
    auto b = aio::create_task(sleeper(2, 10ms));
    auto c = aio::create_task(sleeper(3, 20ms));
    co_return co_await a + co_await b + co_await c;
  };
  EXPECT_EQ(aio::run(main(), vopts()), 6);
  EXPECT_EQ(order, (std::vector<int>{2, 3, 1}));
}

TEST_F(AioBasics, CancelRaisesInsideTheTaskAndCleanupRuns) {
  bool cleaned = false;
  auto spin = [&]() -> aio::Task<void> {
    struct Cleanup {
      bool* flag;
      ~Cleanup() { *flag = true; }
    } c{&cleaned};
    for (;;) co_await aio::sleep(100ms);
  };
  auto main = [&]() -> aio::Task<bool> {
    auto t = aio::create_task(spin(), "spinner");
    co_await aio::sleep(1s);
    EXPECT_TRUE(t.cancel("stop"));
    try {
      co_await t;
    } catch (const spindle::CancelledError& e) {
      EXPECT_STREQ(e.what(), "stop");
    }
    co_return t.cancelled();
  };
  EXPECT_TRUE(aio::run(main(), vopts()));
  EXPECT_TRUE(cleaned);
}

TEST_F(AioBasics, TaskMayDeclineCancellation) {
  auto stubborn = []() -> aio::Task<int> {
    try {
      co_await aio::sleep(1h);
    } catch (const spindle::CancelledError&) {
      co_return 7;
    }
    co_return 0;
  };
  auto main = [&]() -> aio::Task<int> {
    auto t = aio::create_task(stubborn());
    co_await aio::yield_now();
    t.cancel();
    const int v = co_await t;
    EXPECT_FALSE(t.cancelled());
    co_return v;
  };
  EXPECT_EQ(aio::run(main(), vopts()), 7);
}

// Every sleeping task is suspended on one shared waiter: cancelling a sleep must disarm that task's timer only,
// and a sleep after the cancelled one ends at its own deadline, not at the cancelled one's.
TEST_F(AioBasics, ACancelledSleepsTimerNeitherWakesTheNextSleepNorOtherSleepers) {
  auto sleeper = []() -> aio::Task<std::chrono::steady_clock::time_point> {
    try {
      co_await aio::sleep(10s);
    } catch (const spindle::CancelledError&) {
    }
    co_await aio::sleep(5s);
    co_return aio::EventLoop::get_running_loop().time();
  };
  auto bystander = []() -> aio::Task<std::chrono::steady_clock::time_point> {
    co_await aio::sleep(3s);
    co_return aio::EventLoop::get_running_loop().time();
  };
  auto main = [&]() -> aio::Task<std::vector<std::chrono::nanoseconds>> {
    const auto t0 = aio::EventLoop::get_running_loop().time();
    auto a = aio::create_task(sleeper());
    auto b = aio::create_task(bystander());
    co_await aio::sleep(1s);
    EXPECT_TRUE(a.cancel());
    const auto ta = co_await a;
    const auto tb = co_await b;
    co_return std::vector<std::chrono::nanoseconds>{ta - t0, tb - t0};
  };
  const auto t = aio::run(main(), vopts());
  EXPECT_EQ(t[0], 6s);  // cancelled at 1 s, then 5 s: not 10 s (the old timer), not earlier
  EXPECT_EQ(t[1], 3s);
}

// W3 (100k sleeping tasks) pays these in every frame: a regression here is a regression in bytes per task.
TEST_F(AioBasics, TaskStateAndSleepAwaiterStaySmall) {
  if constexpr (sizeof(void*) == 8) {
    EXPECT_LE(sizeof(aio::detail::TaskState), 88u);  // a W3 sleeper's frame: 160 bytes, not 176
    EXPECT_LE(sizeof(aio::detail::Promise<std::int64_t>), 96u);
    EXPECT_LE(sizeof(aio::detail::SleepAwaiter), 8u);
  }
}

aio::Task<int> seven_later() {
  co_await aio::sleep(10ms);
  co_return 7;
}

aio::Task<void> await_into(aio::Task<int> t, std::vector<std::string>& log) {
  log.push_back("got " + std::to_string(co_await t));
}

aio::Task<void> await_briefly(aio::Task<int> t, std::vector<std::string>& log) {
  // asyncio.wait with a timeout: stops watching the task without cancelling it.
  std::vector<aio::Task<int>> one{std::move(t)};
  auto r = co_await aio::wait(std::move(one), 1ms);
  if (r.done.empty()) log.push_back("gave up");
}

aio::Task<int> fails_later() {
  co_await aio::sleep(10ms);
  throw std::runtime_error("boom");
}

aio::Task<void> await_error(aio::Task<int> t, std::vector<std::string>& log) {
  try {
    co_await t;
  } catch (const std::runtime_error& e) {
    log.push_back(e.what());
  }
}

// A task keeps its first watcher in one word that the rare parts (name, callbacks, error) take over when they
// are first needed; the watcher registered before must be carried over and still be told.
TEST_F(AioBasics, AnAwaiterIsToldEvenWhenTheTaskGainsItsRarePartsWhileAwaited) {
  auto main = []() -> aio::Task<std::vector<std::string>> {
    std::vector<std::string> log;
    aio::Task<int> child = aio::create_task(seven_later());
    aio::Task<void> first = aio::create_task(await_into(child, log));      // the first watcher
    aio::Task<void> second = aio::create_task(await_briefly(child, log));  // the second, removed at 1 ms
    co_await aio::sleep(0ms);
    child.set_name("renamed");  // the rare parts appear now
    bool called = false;
    child.add_done_callback([&called] { called = true; });
    co_await second;
    co_await first;
    log.push_back(child.get_name());

    // No rare part before the task fails: storing its exception makes them, with the watcher carried over.
    aio::Task<int> failing = aio::create_task(fails_later());
    aio::Task<void> third = aio::create_task(await_error(failing, log));
    co_await third;  // 10 ms later than the child: its callback, queued when it ended, has run
    if (called) log.push_back("callback");
    co_return log;
  };
  EXPECT_EQ(aio::run(main(), vopts()), (std::vector<std::string>{"gave up", "got 7", "renamed", "boom", "callback"}));
}

TEST_F(AioBasics, CancelBeforeStartNeverRunsTheBody) {
  bool ran = false;
  auto body = [&]() -> aio::Task<void> {
    ran = true;
    co_return;
  };
  auto main = [&]() -> aio::Task<bool> {
    auto t = aio::create_task(body());
    t.cancel();
    try {
      co_await t;
    } catch (const spindle::CancelledError&) {
    }
    co_return t.cancelled();
  };
  EXPECT_TRUE(aio::run(main(), vopts()));
  EXPECT_FALSE(ran);
}

TEST_F(AioBasics, CurrentTaskAndNames) {
  auto main = []() -> aio::Task<std::string> {
    auto t = aio::create_task([]() -> aio::Task<std::string> { co_return aio::current_task().get_name(); }(), "worker");
    co_return co_await t;
  };
  EXPECT_EQ(aio::run(main(), vopts()), "worker");
}

TEST_F(AioBasics, FramesAreNotLeaked) {
  const long before = aio::detail::live_frames();
  auto main = []() -> aio::Task<int> {
    int s = 0;
    for (int i = 0; i < 100; ++i) s += co_await aio::create_task(answer());
    co_return s;
  };
  EXPECT_EQ(aio::run(main(), vopts()), 4200);
  EXPECT_EQ(aio::detail::live_frames(), before);
}

}  // namespace
