#include "spindle/thread/condition.hpp"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/thread/event.hpp"
#include "spindle/thread/thread.hpp"

using namespace std::chrono_literals;
using spindle::Condition;
using spindle::Event;
using spindle::InvalidStateError;
using spindle::Lock;
using spindle::RLock;
using spindle::Thread;

namespace {

class ConditionTest : public spindle::test::LeakCheckedTest {};
class ConditionThreadsTest : public spindle::test::LeakCheckedTestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, ConditionThreadsTest, ::testing::Values(1, 2, 4, 16));

TEST_F(ConditionTest, WaitAndNotifyRequireTheLock) {
  Condition own;
  EXPECT_THROW(own.wait(), InvalidStateError);
  EXPECT_THROW(own.wait(1ms), InvalidStateError);
  EXPECT_THROW(own.notify(), InvalidStateError);
  EXPECT_THROW(own.notify_all(), InvalidStateError);
  EXPECT_THROW(own.wait_for([] { return false; }, 1ms), InvalidStateError);

  Lock l;
  Condition over_lock(l);
  EXPECT_THROW(over_lock.wait(1ms), InvalidStateError);
  EXPECT_THROW(over_lock.notify(), InvalidStateError);
  std::lock_guard guard(over_lock);
  EXPECT_TRUE(l.locked());
  over_lock.notify();  // fine while held, with nobody waiting

  RLock r;
  Condition over_rlock(r);
  r.acquire();
  std::atomic<bool> refused{false};
  Thread t([&] {  // r is locked, but not by this thread: the RLock's owner is checked exactly
    try {
      over_rlock.notify();
    } catch (const InvalidStateError&) {
      refused = true;
    }
  });
  t.start();
  t.join();
  EXPECT_TRUE(refused);
  r.release();
}

TEST_F(ConditionTest, TimedWaitReturnsFalseAndHoldsTheLockAgain) {
  Condition c;
  std::unique_lock guard(c);
  EXPECT_FALSE(c.wait(1ms));
  EXPECT_FALSE(c.wait(0ms));
  EXPECT_FALSE(c.wait(-1s));
  EXPECT_TRUE(guard.owns_lock());
  c.notify();  // still held: would throw otherwise
}

TEST_F(ConditionTest, WaitForReturnsThePredicatesLastValue) {
  Lock l;
  Condition c(l);
  std::lock_guard guard(c);
  int value = 0;
  EXPECT_EQ(c.wait_for([&] { return value; }, 0ms), 0);
  EXPECT_EQ(c.wait_for([&] { return value; }, 1ms), 0);
  value = 7;
  EXPECT_EQ(c.wait_for([&] { return value; }), 7);
  EXPECT_EQ(c.wait_for([&] { return value; }, std::nullopt), 7);
}

TEST_F(ConditionTest, WaitReleasesAnRLockHeldSeveralTimes) {
  RLock r;
  Condition c(r);
  bool ready = false;
  std::atomic<unsigned> depth_after{0};
  Event waiting;
  Thread t([&] {
    r.acquire();
    r.acquire();
    r.acquire();
    waiting.set();
    c.wait_for([&] { return ready; });
    depth_after = r.recursion_count();
    r.release();
    r.release();
    r.release();
  });
  t.start();
  waiting.wait();
  {
    std::lock_guard guard(c);  // would deadlock if wait() had released only one level
    ready = true;
    c.notify();
  }
  t.join();
  EXPECT_EQ(depth_after.load(), 3U);
  EXPECT_FALSE(r.locked());
}

// Polls `predicate` under the condition's lock without waiting on the condition itself (the main thread must
// not become one of its waiters here). Holding the lock also proves a waiter registered: it enqueues itself
// before wait() releases the lock.
template <class P>
void poll_under(Condition& c, P predicate) {
  for (;;) {
    {
      std::lock_guard guard(c);
      if (predicate()) return;
    }
    std::this_thread::yield();
  }
}

TEST_F(ConditionTest, NotifyWakesExactlyNLongestWaitingFirst) {
  constexpr int kWaiters = 5;
  Condition c;
  int registered = 0;
  std::vector<int> order;  // guarded by c
  std::vector<Thread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      std::lock_guard guard(c);
      ++registered;
      const bool notified = c.wait();
      EXPECT_TRUE(notified);
      order.push_back(i);
    });
    // Start them one by one, each registered before the next starts, so the FIFO order is known.
    threads.back().start();
    poll_under(c, [&] { return registered == i + 1; });
  }
  {
    std::lock_guard guard(c);
    c.notify(2);
  }
  poll_under(c, [&] { return order.size() >= 2; });
  for (auto& t : {0, 1}) threads[static_cast<std::size_t>(t)].join();
  {
    std::lock_guard guard(c);
    // The two longest waiters woke (they may re-take the lock in either order); the other three still wait.
    ASSERT_EQ(order.size(), 2U) << "notify(2) woke more than two waiters";
    EXPECT_EQ(std::min(order[0], order[1]), 0);
    EXPECT_EQ(std::max(order[0], order[1]), 1);
    for (std::size_t k = 2; k < threads.size(); ++k) EXPECT_TRUE(threads[k].is_alive());
    c.notify_all();
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(order.size(), static_cast<std::size_t>(kWaiters));
}

TEST_P(ConditionThreadsTest, BoundedBufferProducerConsumer) {
  const int producers = GetParam();
  const int consumers = GetParam();
  constexpr int kItems = 2000;
  constexpr std::size_t kCapacity = 4;
  Condition c;
  std::deque<int> buffer;
  long consumed_sum = 0;
  int consumed = 0;
  std::vector<Thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&] {
      for (int i = 1; i <= kItems; ++i) {
        std::lock_guard guard(c);
        c.wait_for([&] { return buffer.size() < kCapacity; });
        buffer.push_back(i);
        c.notify_all();
      }
    });
  }
  for (int k = 0; k < consumers; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < kItems; ++i) {
        std::lock_guard guard(c);
        if (i % 2 == 0) {
          c.wait_for([&] { return !buffer.empty(); });
        } else {
          while (!c.wait_for([&] { return !buffer.empty(); }, 1ms)) {
          }
        }
        consumed_sum += buffer.front();
        ++consumed;
        buffer.pop_front();
        c.notify_all();
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(consumed, producers * kItems);
  EXPECT_EQ(consumed_sum, static_cast<long>(producers) * kItems * (kItems + 1) / 2);
  EXPECT_TRUE(buffer.empty());
}

}  // namespace
