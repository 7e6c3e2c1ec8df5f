#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "census.hpp"
#include "spindle/aio.hpp"

using namespace std::chrono_literals;
namespace aio = spindle::aio;
using spindle::CancelledError;

namespace {

aio::RunOptions vopts() {
  return aio::RunOptions{.clock = std::make_shared<aio::VirtualClock>(), .handle_sigint = false};
}

class Primitives : public spindle::test::LeakCheckedTest {};

TEST_F(Primitives, LockIsExclusiveAndFifo) {
  aio::Lock lock;
  std::vector<int> order;
  int inside = 0;
  auto worker = [&](int id) -> aio::Task<void> {
    co_await lock.acquire();
    EXPECT_EQ(++inside, 1);
    order.push_back(id);
    co_await aio::sleep(10ms);
    --inside;
    lock.release();
  };
  auto main = [&]() -> aio::Task<void> {
    std::vector<aio::Task<void>> ts;
    for (int i = 0; i < 5; ++i) ts.push_back(worker(i));
    co_await aio::gather(std::move(ts));
  };
  aio::run(main(), vopts());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(lock.locked());
}

TEST_F(Primitives, LockScopedReleasesOnExceptionAndCancelledWaiterLeaves) {
  aio::Lock lock;
  auto main = [&]() -> aio::Task<void> {
    try {
      auto held = co_await lock.scoped();
      throw std::runtime_error("x");
    } catch (const std::runtime_error&) {
    }
    EXPECT_FALSE(lock.locked());
    co_await lock.acquire();
    auto waiter = aio::create_task([](aio::Lock& l) -> aio::Task<void> { co_await l.acquire(); }(lock));
    co_await aio::yield_now();
    waiter.cancel();
    EXPECT_THROW(co_await waiter, CancelledError);
    lock.release();
    EXPECT_FALSE(lock.locked());  // the cancelled waiter was not handed the lock
  };
  aio::run(main(), vopts());
}

TEST_F(Primitives, EventWakesAllWaiters) {
  aio::Event ev;
  int woke = 0;
  auto waiter = [&]() -> aio::Task<void> {
    co_await ev.wait();
    ++woke;
  };
  auto main = [&]() -> aio::Task<void> {
    auto a = aio::create_task(waiter());
    auto b = aio::create_task(waiter());
    co_await aio::sleep(5ms);
    EXPECT_EQ(woke, 0);
    ev.set();
    co_await a;
    co_await b;
    co_await ev.wait();  // set: no wait
  };
  aio::run(main(), vopts());
  EXPECT_EQ(woke, 2);
}

TEST_F(Primitives, SemaphoreLimitsConcurrency) {
  aio::Semaphore sem(2);
  int inside = 0, peak = 0;
  auto worker = [&]() -> aio::Task<void> {
    co_await sem.acquire();
    peak = std::max(peak, ++inside);
    co_await aio::sleep(10ms);
    --inside;
    sem.release();
  };
  auto main = [&]() -> aio::Task<void> {
    std::vector<aio::Task<void>> ts;
    for (int i = 0; i < 6; ++i) ts.push_back(worker());
    co_await aio::gather(std::move(ts));
  };
  aio::run(main(), vopts());
  EXPECT_EQ(peak, 2);
  aio::BoundedSemaphore b(1);
  EXPECT_THROW(b.release(), std::invalid_argument);
}

TEST_F(Primitives, ConditionNotifyAndWaitFor) {
  aio::Condition cond;
  int value = 0;
  auto consumer = [&]() -> aio::Task<int> {
    auto held = co_await cond.scoped();
    co_await cond.wait_for([&] { return value >= 3; });
    co_return value;
  };
  auto main = [&]() -> aio::Task<int> {
    auto c = aio::create_task(consumer());
    for (int i = 0; i < 3; ++i) {
      co_await aio::sleep(1ms);
      auto held = co_await cond.scoped();
      ++value;
      cond.notify_all();
    }
    co_return co_await c;
  };
  EXPECT_EQ(aio::run(main(), vopts()), 3);
}

TEST_F(Primitives, BarrierReleasesAllPartiesAndAbortBreaksIt) {
  aio::Barrier bar(3);
  auto party = [&]() -> aio::Task<std::size_t> { co_return co_await bar.wait(); };
  auto main = [&]() -> aio::Task<void> {
    auto r = co_await aio::gather(party(), party(), party());
    EXPECT_EQ(std::get<0>(r) + std::get<1>(r) + std::get<2>(r), 0u + 1u + 2u);
    auto lone = aio::create_task(party());
    co_await aio::yield_now();
    bar.abort();
    EXPECT_THROW(co_await lone, spindle::BrokenBarrierError);
  };
  aio::run(main(), vopts());
}

TEST_F(Primitives, BoundedQueueAppliesBackpressure) {
  aio::Queue<int> q(2);
  std::size_t max_seen = 0;
  long sum = 0;
  auto producer = [&]() -> aio::Task<void> {
    for (int i = 0; i < 100; ++i) {
      co_await q.put(i);
      max_seen = std::max(max_seen, q.qsize());
    }
  };
  auto consumer = [&]() -> aio::Task<void> {
    for (int i = 0; i < 100; ++i) {
      sum += co_await q.get();
      q.task_done();
      co_await aio::sleep(1ms);
    }
  };
  auto main = [&]() -> aio::Task<void> {
    auto c = aio::create_task(consumer());
    co_await producer();
    co_await q.join();
    co_await c;
  };
  aio::run(main(), vopts());
  EXPECT_EQ(sum, 4950);
  EXPECT_LE(max_seen, 2u);
}

TEST_F(Primitives, NowaitErrorsAndOrderings) {
  auto main = []() -> aio::Task<void> {
    aio::Queue<int> q(1);
    q.put_nowait(1);
    EXPECT_THROW(q.put_nowait(2), spindle::QueueFull);
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_THROW(q.get_nowait(), spindle::QueueEmpty);
    aio::LifoQueue<int> l;
    for (int i : {1, 2, 3}) co_await l.put(i);
    EXPECT_EQ(co_await l.get(), 3);
    aio::PriorityQueue<int> p;
    for (int i : {5, 1, 3}) co_await p.put(i);
    EXPECT_EQ(co_await p.get(), 1);
    EXPECT_EQ(co_await p.get(), 3);
  };
  aio::run(main(), vopts());
}

TEST_F(Primitives, QueueShutdownWakesBlockedGettersAndPutters) {
  aio::Queue<std::string> q(1);
  auto main = [&]() -> aio::Task<void> {
    co_await q.put("a");
    auto putter = aio::create_task([](aio::Queue<std::string>& qq) -> aio::Task<void> { co_await qq.put("b"); }(q));
    co_await aio::yield_now();
    q.shutdown();
    EXPECT_THROW(co_await putter, spindle::QueueShutDown);
    EXPECT_EQ(co_await q.get(), "a");  // drains what was queued
    EXPECT_THROW(co_await q.get(), spindle::QueueShutDown);
  };
  aio::run(main(), vopts());
}

TEST_F(Primitives, CancelledGetterLosesNoItem) {
  aio::Queue<int> q;
  auto main = [&]() -> aio::Task<void> {
    auto getter = aio::create_task([](aio::Queue<int>& qq) -> aio::Task<int> { co_return co_await qq.get(); }(q));
    co_await aio::yield_now();
    getter.cancel();
    q.put_nowait(7);  // the getter is no longer waiting: the item stays queued
    EXPECT_THROW(co_await getter, CancelledError);
    EXPECT_EQ(q.get_nowait(), 7);
  };
  aio::run(main(), vopts());
}

}  // namespace
