#include "spindle/thread/lock.hpp"

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
using spindle::Lock;
using spindle::Thread;

namespace {

class LockTest : public spindle::test::LeakCheckedTest {};
class LockThreadsTest : public spindle::test::LeakCheckedTestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, LockThreadsTest, ::testing::Values(1, 2, 4, 16));

TEST_F(LockTest, AcquireRelease) {
  Lock l;
  EXPECT_FALSE(l.locked());
  EXPECT_TRUE(l.acquire());
  EXPECT_TRUE(l.locked());
  EXPECT_FALSE(l.acquire(false));
  EXPECT_FALSE(l.acquire(0ms));
  EXPECT_FALSE(l.acquire(-1s));
  EXPECT_FALSE(l.acquire(2ms));
  EXPECT_FALSE(l.acquire(true, 1ms));
  l.release();
  EXPECT_FALSE(l.locked());
  EXPECT_TRUE(l.acquire(false));
  l.release();
  EXPECT_TRUE(l.acquire(std::nullopt));
  l.release();
  EXPECT_TRUE(l.acquire(0.01s));
  l.release();
}

TEST_F(LockTest, ReleasingAnUnlockedLockThrows) {
  Lock l;
  EXPECT_THROW(l.release(), InvalidStateError);
  l.acquire();
  l.release();
  EXPECT_THROW(l.release(), InvalidStateError);
  EXPECT_FALSE(l.locked());
}

TEST_F(LockTest, NonBlockingWithTimeoutIsRejected) {
  Lock l;
  EXPECT_THROW(l.acquire(false, 1s), std::invalid_argument);
  EXPECT_THROW(l.acquire(false, std::optional<std::chrono::nanoseconds>(1s)), std::invalid_argument);
  EXPECT_FALSE(l.locked());
}

TEST_F(LockTest, WorksWithStandardLockWrappers) {
  Lock l;
  {
    std::lock_guard guard(l);
    EXPECT_TRUE(l.locked());
  }
  EXPECT_FALSE(l.locked());
  {
    std::unique_lock ul(l, std::try_to_lock);
    EXPECT_TRUE(ul.owns_lock());
    std::unique_lock other(l, std::defer_lock);
    EXPECT_FALSE(other.try_lock());
    EXPECT_FALSE(other.try_lock_for(1ms));
    EXPECT_FALSE(other.try_lock_until(std::chrono::system_clock::now() + 1ms));
  }
  Lock second;
  {
    std::scoped_lock both(l, second);
    EXPECT_TRUE(l.locked() && second.locked());
  }
  EXPECT_FALSE(l.locked() || second.locked());
}

TEST_F(LockTest, AnotherThreadMayRelease) {
  Lock l;
  l.acquire();
  Thread t([&] { l.release(); });
  t.start();
  t.join();
  EXPECT_FALSE(l.locked());
}

TEST_F(LockTest, BlockedAcquirerGetsTheLockWhenReleased) {
  Lock l;
  l.acquire();
  Event trying;
  std::atomic<int> got{-1};
  Thread t([&] {
    trying.set();
    got = l.acquire(30s) ? 1 : 0;
    l.release();
  });
  t.start();
  trying.wait();
  l.release();
  t.join();
  EXPECT_EQ(got.load(), 1);
  EXPECT_FALSE(l.locked());
}

TEST_P(LockThreadsTest, MutualExclusion) {
  Lock l;
  long counter = 0;  // plain: the lock is what protects it (TSan checks)
  constexpr int kIters = 5000;
  std::vector<Thread> threads;
  for (int i = 0; i < GetParam(); ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kIters; ++k) {
        if (k % 3 == 0) {
          std::lock_guard guard(l);
          ++counter;
        } else if (k % 3 == 1) {
          while (!l.acquire(1ms)) {
          }
          ++counter;
          l.release();
        } else {
          while (!l.acquire(false)) std::this_thread::yield();
          ++counter;
          l.release();
        }
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, static_cast<long>(GetParam()) * kIters);
  EXPECT_FALSE(l.locked());
}

}  // namespace
