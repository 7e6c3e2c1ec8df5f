#include "spindle/thread/rlock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/thread/event.hpp"
#include "spindle/thread/thread.hpp"

using namespace std::chrono_literals;
using spindle::Event;
using spindle::InvalidStateError;
using spindle::RLock;
using spindle::Thread;

namespace {

class RLockTest : public spindle::test::LeakCheckedTest {};
class RLockThreadsTest : public spindle::test::LeakCheckedTestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, RLockThreadsTest, ::testing::Values(1, 2, 4, 16));

TEST_F(RLockTest, OwnerMayReenter) {
  RLock l;
  EXPECT_FALSE(l.locked());
  EXPECT_FALSE(l.is_owned());
  EXPECT_TRUE(l.acquire());
  EXPECT_TRUE(l.acquire(false));
  EXPECT_TRUE(l.acquire(0ms));
  EXPECT_EQ(l.recursion_count(), 3U);
  EXPECT_TRUE(l.is_owned());
  l.release();
  l.release();
  EXPECT_TRUE(l.locked());
  l.release();
  EXPECT_FALSE(l.locked());
  EXPECT_EQ(l.recursion_count(), 0U);
}

TEST_F(RLockTest, ReleaseWithoutOwningThrows) {
  RLock l;
  EXPECT_THROW(l.release(), InvalidStateError);
  l.acquire();
  std::atomic<bool> refused{false};
  Thread t([&] {
    try {
      l.release();
    } catch (const InvalidStateError&) {
      refused = true;
    }
    EXPECT_FALSE(l.is_owned());
    EXPECT_EQ(l.recursion_count(), 0U);
  });
  t.start();
  t.join();
  EXPECT_TRUE(refused);
  EXPECT_TRUE(l.locked());  // still ours
  l.release();
  EXPECT_THROW(l.release(), InvalidStateError);
}

TEST_F(RLockTest, OthersWaitUntilFullyReleased) {
  RLock l;
  l.acquire();
  l.acquire();
  Event released_once;
  Event released_twice;
  std::atomic<int> polled_while_held{-1};
  std::atomic<int> got{-1};
  Thread t([&] {
    released_once.wait();
    polled_while_held = l.acquire(false) ? 1 : 0;
    released_twice.wait();
    got = l.acquire(30s) ? 1 : 0;
    l.release();
  });
  t.start();
  l.release();
  released_once.set();
  while (polled_while_held.load() == -1) std::this_thread::yield();
  EXPECT_EQ(polled_while_held.load(), 0);
  l.release();
  released_twice.set();
  t.join();
  EXPECT_EQ(got.load(), 1);
  EXPECT_FALSE(l.locked());
}

TEST_F(RLockTest, WorksWithStandardLockWrappers) {
  RLock l;
  {
    std::lock_guard outer(l);
    std::unique_lock inner(l);  // reentrant
    EXPECT_EQ(l.recursion_count(), 2U);
  }
  EXPECT_FALSE(l.locked());
  EXPECT_THROW(l.acquire(false, 1s), std::invalid_argument);
}

TEST_P(RLockThreadsTest, MutualExclusionWithReentry) {
  RLock l;
  long counter = 0;
  constexpr int kIters = 3000;
  std::vector<Thread> threads;
  for (int i = 0; i < GetParam(); ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kIters; ++k) {
        std::lock_guard outer(l);
        std::lock_guard inner(l);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, static_cast<long>(GetParam()) * kIters);
  EXPECT_FALSE(l.locked());
}

}  // namespace
