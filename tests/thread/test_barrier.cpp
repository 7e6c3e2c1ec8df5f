#include "spindle/thread/barrier.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/thread/thread.hpp"

using namespace std::chrono_literals;
using spindle::Barrier;
using spindle::BrokenBarrierError;
using spindle::Thread;

namespace {

class BarrierTest : public spindle::test::LeakCheckedTest {};
class BarrierPartiesTest : public spindle::test::LeakCheckedTestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Parties, BarrierPartiesTest, ::testing::Values(1, 2, 4, 16));

void wait_for_waiters(Barrier& b, std::size_t n) {
  while (b.n_waiting() < n) std::this_thread::yield();
}

TEST_F(BarrierTest, BadPartiesAreRejected) {
  EXPECT_THROW(Barrier(0), std::invalid_argument);
  EXPECT_THROW(Barrier(-2), std::invalid_argument);
  Barrier b(3);
  EXPECT_EQ(b.parties(), 3U);
  EXPECT_EQ(b.n_waiting(), 0U);
  EXPECT_FALSE(b.broken());
}

TEST_P(BarrierPartiesTest, CyclesGiveEachThreadADistinctIndexAndRunTheActionOnce) {
  const int parties = GetParam();
  constexpr int kCycles = 30;
  std::atomic<int> actions{0};
  std::atomic<int> action_thread{0};
  Barrier b(parties, [&] {
    actions.fetch_add(1);
    action_thread = spindle::get_native_id();
  });
  std::mutex m;
  std::vector<std::vector<std::size_t>> indices(kCycles);
  std::atomic<int> last_index_ran_action{0};
  std::vector<Thread> threads;
  for (int p = 0; p < parties; ++p) {
    threads.emplace_back([&] {
      for (int cycle = 0; cycle < kCycles; ++cycle) {
        const std::size_t index = b.wait();
        if (index + 1 == static_cast<std::size_t>(parties) && action_thread.load() == spindle::get_native_id()) {
          last_index_ran_action.fetch_add(1);
        }
        std::lock_guard guard(m);
        indices[static_cast<std::size_t>(cycle)].push_back(index);
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(actions.load(), kCycles);
  EXPECT_EQ(last_index_ran_action.load(), kCycles);
  std::vector<std::size_t> expected(static_cast<std::size_t>(parties));
  std::iota(expected.begin(), expected.end(), 0U);
  for (auto& cycle : indices) {
    std::sort(cycle.begin(), cycle.end());
    EXPECT_EQ(cycle, expected);
  }
  EXPECT_FALSE(b.broken());
}

TEST_F(BarrierTest, TimeoutBreaksTheBarrierForEveryone) {
  Barrier b(3);
  std::atomic<int> broken_waiters{0};
  Thread other([&] {
    try {
      b.wait();  // no timeout of its own: released by the other waiter's timeout
    } catch (const BrokenBarrierError&) {
      broken_waiters.fetch_add(1);
    }
  });
  other.start();
  wait_for_waiters(b, 1);
  EXPECT_THROW(b.wait(5ms), BrokenBarrierError);
  other.join();
  EXPECT_EQ(broken_waiters.load(), 1);
  EXPECT_TRUE(b.broken());
  EXPECT_THROW(b.wait(), BrokenBarrierError);  // stays broken
  b.reset();
  EXPECT_FALSE(b.broken());
}

TEST_F(BarrierTest, DefaultTimeoutApplies) {
  Barrier b(2, {}, 2ms);
  EXPECT_THROW(b.wait(), BrokenBarrierError);
  EXPECT_TRUE(b.broken());
  b.reset();
  EXPECT_THROW(b.wait(std::nullopt), BrokenBarrierError);  // nullopt: the default timeout, as Python's None
}

TEST_F(BarrierTest, AbortReleasesWaiters) {
  Barrier b(3);
  std::atomic<int> broken_waiters{0};
  std::vector<Thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] {
      try {
        b.wait();
      } catch (const BrokenBarrierError&) {
        broken_waiters.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.start();
  wait_for_waiters(b, 2);
  b.abort();
  for (auto& t : threads) t.join();
  EXPECT_EQ(broken_waiters.load(), 2);
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0U);
}

TEST_F(BarrierTest, FailingActionBreaksTheBarrier) {
  Barrier b(2, [] { throw std::runtime_error("action failed"); });
  std::atomic<int> broken_waiters{0};
  Thread other([&] {
    try {
      b.wait();
    } catch (const BrokenBarrierError&) {
      broken_waiters.fetch_add(1);
    }
  });
  other.start();
  wait_for_waiters(b, 1);
  EXPECT_THROW(b.wait(), std::runtime_error);  // the thread that ran the action gets its exception
  other.join();
  EXPECT_EQ(broken_waiters.load(), 1);
  EXPECT_TRUE(b.broken());
}

TEST_F(BarrierTest, ResetBreaksCurrentWaitersAndTheBarrierIsReusable) {
  Barrier b(2);
  std::atomic<int> broken_waiters{0};
  Thread waiter([&] {
    try {
      b.wait();
    } catch (const BrokenBarrierError&) {
      broken_waiters.fetch_add(1);
    }
  });
  waiter.start();
  wait_for_waiters(b, 1);
  b.reset();
  waiter.join();
  EXPECT_EQ(broken_waiters.load(), 1);
  EXPECT_FALSE(b.broken());
  // A full cycle works after the reset.
  std::size_t other_index = 99;
  Thread again([&] { other_index = b.wait(); });
  again.start();
  const std::size_t mine = b.wait();
  again.join();
  EXPECT_EQ(mine + other_index, 1U);
}

TEST_F(BarrierTest, SinglePartyNeverBlocks) {
  int actions = 0;
  Barrier b(1, [&] { ++actions; });
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.wait(0ms), 0U);
  EXPECT_EQ(actions, 5);
}

}  // namespace
