#include "spindle/thread/semaphore.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/thread/barrier.hpp"
#include "spindle/thread/thread.hpp"

using namespace std::chrono_literals;
using spindle::BoundedSemaphore;
using spindle::Semaphore;
using spindle::Thread;

namespace {

class SemaphoreTest : public spindle::test::LeakCheckedTest {};
class SemaphoreThreadsTest : public spindle::test::LeakCheckedTestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, SemaphoreThreadsTest, ::testing::Values(1, 2, 4, 16));

TEST_F(SemaphoreTest, BadValuesAreRejected) {
  EXPECT_THROW(Semaphore(-1), std::invalid_argument);
  EXPECT_THROW(BoundedSemaphore(-3), std::invalid_argument);
  EXPECT_THROW(Semaphore(1LL << 33), std::invalid_argument);
  Semaphore s(0);
  EXPECT_THROW(s.release(0), std::invalid_argument);
  EXPECT_THROW(s.release(-2), std::invalid_argument);
  EXPECT_EQ(s.value(), 0U);
  EXPECT_THROW(s.acquire(false, 1ms), std::invalid_argument);
  Semaphore big(0xFFFFFFFFLL);
  EXPECT_THROW(big.release(), std::invalid_argument);  // would overflow the 32-bit counter
}

TEST_F(SemaphoreTest, CountsDownAndUp) {
  Semaphore s(2);
  EXPECT_EQ(s.value(), 2U);
  EXPECT_TRUE(s.acquire());
  EXPECT_TRUE(s.acquire(false));
  EXPECT_FALSE(s.acquire(false));
  EXPECT_FALSE(s.acquire(0ms));
  EXPECT_FALSE(s.acquire(1ms));
  EXPECT_FALSE(s.acquire(-1s));
  s.release(3);
  EXPECT_EQ(s.value(), 3U);
  EXPECT_TRUE(s.acquire(std::nullopt));
  EXPECT_TRUE(s.acquire(true, 1ms));
  EXPECT_EQ(s.value(), 1U);
  Semaphore def;
  EXPECT_EQ(def.value(), 1U);  // Python's default
}

TEST_F(SemaphoreTest, BoundedRejectsExtraReleases) {
  BoundedSemaphore b(2);
  EXPECT_THROW(b.release(), std::invalid_argument);
  b.acquire();
  b.acquire();
  EXPECT_THROW(b.release(3), std::invalid_argument);
  EXPECT_EQ(b.value(), 0U);  // unchanged by the failed release
  b.release(2);
  Semaphore& base = b;
  EXPECT_THROW(base.release(), std::invalid_argument);  // the bound holds through the base class too
  EXPECT_EQ(b.value(), 2U);
  {
    std::lock_guard guard(b);
    EXPECT_EQ(b.value(), 1U);
  }
  EXPECT_EQ(b.value(), 2U);
}

TEST_P(SemaphoreThreadsTest, ReleaseNWakesNWaiters) {
  const int n = GetParam();
  Semaphore s(0);
  std::atomic<int> got{0};
  std::vector<Thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      if (s.acquire(30s)) got.fetch_add(1);
    });
  }
  for (auto& t : threads) t.start();
  s.release(n);
  for (auto& t : threads) t.join();
  EXPECT_EQ(got.load(), n);
  EXPECT_EQ(s.value(), 0U);
}

TEST_P(SemaphoreThreadsTest, LimitsConcurrency) {
  const int n = GetParam();
  constexpr int kSlots = 2;
  constexpr int kIters = 300;
  BoundedSemaphore s(kSlots);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<Thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < kIters; ++k) {
        std::lock_guard guard(s);
        const int now = inside.fetch_add(1) + 1;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::yield();
        inside.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), kSlots);
  EXPECT_GE(most.load(), 1);
  EXPECT_EQ(s.value(), static_cast<std::size_t>(kSlots));
}

}  // namespace
