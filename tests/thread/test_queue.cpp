// Queue, LifoQueue, PriorityQueue, SimpleQueue: Python's `queue` module semantics (3.13), including the
// shutdown matrix, on both engines (the lock-free ring behind a bounded Queue, the locked one elsewhere).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "census.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/thread/lifo_queue.hpp"
#include "spindle/thread/priority_queue.hpp"
#include "spindle/thread/queue.hpp"
#include "spindle/thread/simple_queue.hpp"

namespace spindle {
namespace {

using namespace std::chrono_literals;

/// An item that counts live instances, so tests can see that dropped and leftover items are destroyed.
struct Counted {
  static inline std::atomic<int> live{0};
  int value = 0;
  explicit Counted(int v) : value(v) { ++live; }
  Counted(Counted&& other) noexcept : value(other.value) { ++live; }
  Counted& operator=(Counted&&) noexcept = default;
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --live; }
  bool operator<(const Counted& other) const { return value < other.value; }
};

/// A type whose move may throw: a bounded Queue of it must fall back to the locked engine and still work.
struct ThrowingMove {
  int value = 0;
  explicit ThrowingMove(int v) : value(v) {}
  ThrowingMove(ThrowingMove&& other) noexcept(false) : value(other.value) {}
  ThrowingMove& operator=(ThrowingMove&&) noexcept(false) = default;
};

// ---- Behaviour every queue class shares, typed over the classes (bounded Queue = the ring engine). -------

struct RingFifo {
  template <class T>
  using Q = Queue<T>;
};
struct Lifo {
  template <class T>
  using Q = LifoQueue<T>;
};
struct Priority {
  template <class T>
  using Q = PriorityQueue<T>;
};

template <class Kind>
class AnyQueue : public test::LeakCheckedTest {};
using Kinds = ::testing::Types<RingFifo, Lifo, Priority>;
TYPED_TEST_SUITE(AnyQueue, Kinds);

TYPED_TEST(AnyQueue, NegativeMaxsizeIsRejected) {
  using Q = typename TypeParam::template Q<int>;
  EXPECT_THROW(Q(-1), std::invalid_argument);
  EXPECT_NO_THROW(Q(0));
}

TYPED_TEST(AnyQueue, QsizeEmptyFullFollowTheBound) {
  typename TypeParam::template Q<int> q(2);
  EXPECT_EQ(q.maxsize(), 2U);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  q.put(1);
  EXPECT_EQ(q.qsize(), 1U);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());
  q.put(2);
  EXPECT_EQ(q.qsize(), 2U);
  EXPECT_TRUE(q.full());
  (void)q.get();
  EXPECT_EQ(q.qsize(), 1U);
  EXPECT_FALSE(q.full());
}

TYPED_TEST(AnyQueue, UnboundedIsNeverFull) {
  typename TypeParam::template Q<int> q;
  for (int i = 0; i < 5000; ++i) q.put_nowait(i);
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 5000U);
  long sum = 0;
  for (int i = 0; i < 5000; ++i) sum += q.get_nowait();
  EXPECT_EQ(sum, 4999L * 5000 / 2);
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(AnyQueue, PutNowaitOnFullThrowsQueueFull) {
  typename TypeParam::template Q<int> q(1);
  q.put_nowait(7);
  EXPECT_THROW(q.put_nowait(8), QueueFull);
  EXPECT_THROW(q.put(8, false), QueueFull);
  EXPECT_THROW(q.put(8, false, 1h), QueueFull);  // block=false ignores the timeout, as in Python
  EXPECT_EQ(q.qsize(), 1U);
  EXPECT_EQ(q.get(), 7);
}

TYPED_TEST(AnyQueue, GetNowaitOnEmptyThrowsQueueEmpty) {
  typename TypeParam::template Q<int> q(4);
  EXPECT_THROW((void)q.get_nowait(), QueueEmpty);
  EXPECT_THROW((void)q.get(false), QueueEmpty);
  q.put(3);
  EXPECT_EQ(q.get_nowait(), 3);
  EXPECT_THROW((void)q.get_nowait(), QueueEmpty);
}

TYPED_TEST(AnyQueue, TimedPutOnFullThrowsQueueFull) {
  typename TypeParam::template Q<int> q(1);
  q.put(1);
  EXPECT_THROW(q.put(2, 5ms), QueueFull);
  EXPECT_THROW(q.put(2, true, 0ns), QueueFull);
  EXPECT_THROW(q.put(2, std::chrono::duration<double>(0.002)), QueueFull);
  EXPECT_EQ(q.qsize(), 1U);
}

TYPED_TEST(AnyQueue, TimedGetOnEmptyThrowsQueueEmpty) {
  typename TypeParam::template Q<int> q(1);
  EXPECT_THROW((void)q.get(5ms), QueueEmpty);
  EXPECT_THROW((void)q.get(true, 0ns), QueueEmpty);
  q.put(4);
  EXPECT_EQ(q.get(5ms), 4);
}

TYPED_TEST(AnyQueue, NegativeTimeoutIsRejected) {
  typename TypeParam::template Q<int> q(1);
  EXPECT_THROW((void)q.get(-1ms), std::invalid_argument);
  EXPECT_THROW(q.put(1, true, -1ms), std::invalid_argument);
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(AnyQueue, BlockedPutWaitsForRoom) {
  typename TypeParam::template Q<int> q(1);
  q.put(1);
  std::atomic<bool> put_done{false};
  std::latch started(1);
  std::thread producer([&] {
    started.count_down();
    q.put(2);  // blocks: the queue is full
    put_done = true;
  });
  started.wait();
  EXPECT_FALSE(put_done.load());  // cannot have completed: nothing was taken yet
  EXPECT_EQ(q.get(), 1);
  producer.join();
  EXPECT_TRUE(put_done.load());
  EXPECT_EQ(q.get_nowait(), 2);
}

TYPED_TEST(AnyQueue, BlockedGetWaitsForAnItem) {
  typename TypeParam::template Q<int> q(1);
  std::latch started(1);
  int got = -1;
  std::thread consumer([&] {
    started.count_down();
    got = q.get();
  });
  started.wait();
  q.put(42);
  consumer.join();
  EXPECT_EQ(got, 42);
}

TYPED_TEST(AnyQueue, BoundedQueueNeverHoldsMoreThanMaxsize) {
  typename TypeParam::template Q<int> q(3);
  constexpr int kItems = 2000;
  std::atomic<std::size_t> max_seen{0};
  std::thread producer([&] {
    for (int i = 0; i < kItems; ++i) q.put(i);
  });
  long sum = 0;
  for (int i = 0; i < kItems; ++i) {
    const std::size_t n = q.qsize();
    if (n > max_seen) max_seen = n;
    sum += q.get();
  }
  producer.join();
  EXPECT_LE(max_seen.load(), 3U);
  EXPECT_EQ(sum, long{kItems - 1} * kItems / 2);
}

TYPED_TEST(AnyQueue, TaskDoneAndJoin) {
  typename TypeParam::template Q<int> q(8);
  q.join();  // nothing put: returns at once
  EXPECT_THROW(q.task_done(), InvalidStateError);
  for (int i = 0; i < 3; ++i) q.put(i);
  for (int i = 0; i < 3; ++i) (void)q.get();
  q.task_done();
  q.task_done();
  std::atomic<bool> joined{false};
  std::latch started(1);
  std::thread joiner([&] {
    started.count_down();
    q.join();
    joined = true;
  });
  started.wait();
  EXPECT_FALSE(joined.load());  // one item is still not done
  q.task_done();
  joiner.join();
  EXPECT_TRUE(joined.load());
  EXPECT_THROW(q.task_done(), InvalidStateError);  // more calls than items
  q.join();
}

TYPED_TEST(AnyQueue, MoveOnlyItems) {
  typename TypeParam::template Q<std::unique_ptr<int>> q(4);
  q.put(std::make_unique<int>(5));
  q.put_nowait(std::make_unique<int>(5));
  q.emplace(new int(5));
  auto a = q.get();
  auto b = q.get_nowait();
  auto c = q.get(1s);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a + *b + *c, 15);
}

TYPED_TEST(AnyQueue, LeftoverItemsAreDestroyedWithTheQueue) {
  const int before = Counted::live.load();
  {
    typename TypeParam::template Q<Counted> q(8);
    for (int i = 0; i < 5; ++i) q.put(Counted(i));
    (void)q.get();
    EXPECT_EQ(Counted::live.load(), before + 4);
  }
  EXPECT_EQ(Counted::live.load(), before);
}

// The 3.13 shutdown matrix.

TYPED_TEST(AnyQueue, PutAfterShutdownThrows) {
  typename TypeParam::template Q<int> q(4);
  EXPECT_FALSE(q.is_shutdown());
  q.shutdown();
  EXPECT_TRUE(q.is_shutdown());
  EXPECT_THROW(q.put(1), QueueShutDown);
  EXPECT_THROW(q.put_nowait(1), QueueShutDown);
  EXPECT_THROW(q.put(1, 1ms), QueueShutDown);
  EXPECT_TRUE(q.empty());
}

TYPED_TEST(AnyQueue, GetDrainsThenThrowsAfterShutdown) {
  typename TypeParam::template Q<int> q(4);
  q.put(1);
  q.put(2);
  q.shutdown();
  EXPECT_EQ(q.qsize(), 2U);
  EXPECT_EQ(q.get() + q.get_nowait(), 3);
  EXPECT_THROW((void)q.get(), QueueShutDown);
  EXPECT_THROW((void)q.get_nowait(), QueueShutDown);  // ShutDown, not Empty
  EXPECT_THROW((void)q.get(1ms), QueueShutDown);
  q.task_done();
  q.task_done();
  q.join();
}

TYPED_TEST(AnyQueue, ImmediateShutdownDropsItemsAndReleasesJoin) {
  const int before = Counted::live.load();
  typename TypeParam::template Q<Counted> q(8);
  for (int i = 0; i < 5; ++i) q.put(Counted(i));
  Counted taken = q.get();  // taken, not yet done: join must wait for it
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0U);
  EXPECT_EQ(Counted::live.load(), before + 1);  // the 4 left were destroyed by shutdown
  EXPECT_THROW((void)q.get(), QueueShutDown);
  EXPECT_THROW(q.put(Counted(9)), QueueShutDown);
  std::atomic<bool> joined{false};
  std::latch started(1);
  std::thread joiner([&] {
    started.count_down();
    q.join();
    joined = true;
  });
  started.wait();
  EXPECT_FALSE(joined.load());
  q.task_done();  // for `taken`
  joiner.join();
  EXPECT_TRUE(joined.load());
  EXPECT_THROW(q.task_done(), InvalidStateError);  // dropped items count as done already
}

TYPED_TEST(AnyQueue, ImmediateShutdownWakesAJoinerOfDroppedItems) {
  typename TypeParam::template Q<int> q(8);
  q.put(1);
  q.put(2);
  std::latch started(1);
  std::thread joiner([&] {
    started.count_down();
    q.join();  // both items are unfinished until the shutdown drops them
  });
  started.wait();
  q.shutdown(true);
  joiner.join();
  SUCCEED();  // reaching here is the assertion: a missed wake would hang the join (and time out)
}

TYPED_TEST(AnyQueue, ShutdownWakesBlockedGetters) {
  typename TypeParam::template Q<int> q(4);
  constexpr int kGetters = 4;
  std::latch started(kGetters);
  std::atomic<int> shut{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < kGetters; ++i) {
    getters.emplace_back([&] {
      started.count_down();
      try {
        (void)q.get();
      } catch (const QueueShutDown&) {
        ++shut;
      }
    });
  }
  started.wait();
  q.shutdown();
  for (auto& t : getters) t.join();
  EXPECT_EQ(shut.load(), kGetters);
}

TYPED_TEST(AnyQueue, ShutdownWakesBlockedPutters) {
  for (const bool immediate : {false, true}) {
    typename TypeParam::template Q<int> q(1);
    q.put(0);
    constexpr int kPutters = 4;
    std::latch started(kPutters);
    std::atomic<int> shut{0};
    std::vector<std::thread> putters;
    for (int i = 0; i < kPutters; ++i) {
      putters.emplace_back([&, i] {
        started.count_down();
        try {
          q.put(i + 1);
        } catch (const QueueShutDown&) {
          ++shut;
        }
      });
    }
    started.wait();
    q.shutdown(immediate);
    for (auto& t : putters) t.join();
    EXPECT_EQ(shut.load(), kPutters) << "immediate=" << immediate;
    if (immediate) {
      EXPECT_THROW((void)q.get(), QueueShutDown);
    } else {
      EXPECT_EQ(q.get(), 0);  // the item put before shutdown is still handed out
      EXPECT_THROW((void)q.get(), QueueShutDown);
    }
  }
}

TYPED_TEST(AnyQueue, ShutdownTwiceAndImmediateAfterPlain) {
  typename TypeParam::template Q<int> q(4);
  q.put(1);
  q.put(2);
  q.shutdown();
  q.shutdown();
  EXPECT_EQ(q.qsize(), 2U);
  q.shutdown(true);  // a later immediate shutdown still drops what is left
  EXPECT_EQ(q.qsize(), 0U);
  EXPECT_THROW((void)q.get_nowait(), QueueShutDown);
  q.join();
}

TYPED_TEST(AnyQueue, ShutdownOnUnboundedQueue) {
  typename TypeParam::template Q<int> q;
  q.put(1);
  q.shutdown();
  EXPECT_THROW(q.put(2), QueueShutDown);
  EXPECT_EQ(q.get(), 1);
  EXPECT_THROW((void)q.get(), QueueShutDown);
}

// ---- Order: FIFO, LIFO, smallest first. ------------------------------------------------------------------

class QueueOrder : public test::LeakCheckedTest {};

TEST_F(QueueOrder, QueueIsFifoBoundedAndUnbounded) {
  for (const std::ptrdiff_t maxsize : {0, 1, 3, 8, 1000}) {
    Queue<int> q(maxsize);
    // Many laps around a small ring, including non-power-of-two capacities (modulo indexing).
    int next_in = 0;
    int next_out = 0;
    while (next_out < 100) {
      while (next_in < 100 && !q.full()) q.put_nowait(next_in++);
      ASSERT_EQ(q.get_nowait(), next_out++) << "maxsize=" << maxsize;
    }
    EXPECT_TRUE(q.empty());
  }
}

TEST_F(QueueOrder, LifoQueueIsLastInFirstOut) {
  LifoQueue<std::string> q;
  q.put("a");
  q.put("b");
  q.put("c");
  EXPECT_EQ(q.get(), "c");
  q.put("d");
  EXPECT_EQ(q.get(), "d");
  EXPECT_EQ(q.get(), "b");
  EXPECT_EQ(q.get(), "a");
}

TEST_F(QueueOrder, PriorityQueueIsSmallestFirst) {
  PriorityQueue<int> q;
  for (const int v : {5, 1, 4, 1, 5, 9, 2, 6}) q.put(v);
  std::vector<int> out;
  while (!q.empty()) out.push_back(q.get());
  EXPECT_EQ(out, (std::vector<int>{1, 1, 2, 4, 5, 5, 6, 9}));
}

TEST_F(QueueOrder, PriorityQueueWithPairsAndCustomCompare) {
  PriorityQueue<std::pair<int, std::string>> pairs;
  pairs.put({2, "b"});
  pairs.put({1, "z"});
  pairs.put({1, "a"});
  EXPECT_EQ(pairs.get().second, "a");
  EXPECT_EQ(pairs.get().second, "z");
  EXPECT_EQ(pairs.get().second, "b");

  PriorityQueue<int, std::greater<int>> largest(0, std::greater<int>());
  for (const int v : {3, 7, 5}) largest.put(v);
  EXPECT_EQ(largest.get(), 7);
  EXPECT_EQ(largest.get(), 5);
  EXPECT_EQ(largest.get(), 3);
}

TEST_F(QueueOrder, PriorityQueueOfMoveOnlyItems) {
  PriorityQueue<Counted> q(4);
  for (const int v : {3, 1, 2}) q.put(Counted(v));
  EXPECT_EQ(q.get().value, 1);
  EXPECT_EQ(q.get().value, 2);
  EXPECT_EQ(q.get().value, 3);
}

// ---- The locked FIFO engine of a bounded Queue (types whose move may throw, very large bounds). ----------

class LockedFifo : public test::LeakCheckedTest {};

TEST_F(LockedFifo, BoundedQueueOfThrowingMoveType) {
  Queue<ThrowingMove> q(2);
  q.put(ThrowingMove(1));
  q.put(ThrowingMove(2));
  EXPECT_TRUE(q.full());
  EXPECT_THROW(q.put_nowait(ThrowingMove(3)), QueueFull);
  EXPECT_THROW(q.put(ThrowingMove(3), 1ms), QueueFull);
  std::thread producer([&] { q.put(ThrowingMove(3)); });
  EXPECT_EQ(q.get().value, 1);
  producer.join();
  EXPECT_EQ(q.get().value, 2);
  EXPECT_EQ(q.get().value, 3);
  EXPECT_THROW((void)q.get(1ms), QueueEmpty);
  q.put(ThrowingMove(4));
  q.shutdown(true);
  EXPECT_THROW((void)q.get(), QueueShutDown);
  EXPECT_THROW(q.put(ThrowingMove(5)), QueueShutDown);
  q.task_done();
  q.task_done();
  q.task_done();
  q.join();
}

TEST_F(LockedFifo, BoundAboveRingCapacity) {
  const auto maxsize = static_cast<std::ptrdiff_t>(Queue<int>::kMaxRingCapacity + 1);
  Queue<int> q(maxsize);
  EXPECT_EQ(q.maxsize(), Queue<int>::kMaxRingCapacity + 1);
  for (int i = 0; i < 10; ++i) q.put(i);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(q.get(), i);
}

// ---- SimpleQueue. ------------------------------------------------------------------------------------------

class SimpleQueueTest : public test::LeakCheckedTest {};

TEST_F(SimpleQueueTest, FifoNeverBlocksOnPut) {
  SimpleQueue<int> q;
  EXPECT_TRUE(q.empty());
  for (int i = 0; i < 100; ++i) q.put(i, true, 1ms);
  q.put_nowait(100);
  q.emplace(101);
  EXPECT_EQ(q.qsize(), 102U);
  for (int i = 0; i <= 101; ++i) EXPECT_EQ(q.get(), i);
  EXPECT_TRUE(q.empty());
}

TEST_F(SimpleQueueTest, EmptyGetThrowsOrWaits) {
  SimpleQueue<std::unique_ptr<int>> q;
  EXPECT_THROW((void)q.get_nowait(), QueueEmpty);
  EXPECT_THROW((void)q.get(1ms), QueueEmpty);
  EXPECT_THROW((void)q.get(-1ms), std::invalid_argument);
  std::latch started(1);
  std::unique_ptr<int> got;
  std::thread consumer([&] {
    started.count_down();
    got = q.get();
  });
  started.wait();
  q.put(std::make_unique<int>(8));
  consumer.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 8);
}

// ---- A bounded queue between worker counts of each side. ----------------------------------------------------

class QueueWorkers : public test::LeakCheckedTestWithParam<int> {};

TEST_P(QueueWorkers, EveryItemArrivesExactlyOnce) {
  const int workers = GetParam();
  constexpr int kPerProducer = 2000;
  Queue<int> q(4);
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(workers * kPerProducer));
  std::vector<std::thread> threads;
  for (int p = 0; p < workers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) q.put(p * kPerProducer + i);
    });
  }
  for (int c = 0; c < workers; ++c) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerProducer; ++i) {
        ++seen[static_cast<std::size_t>(q.get())];
        q.task_done();
      }
    });
  }
  q.join();
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i].load(), 1) << "item " << i;
  EXPECT_TRUE(q.empty());
}

INSTANTIATE_TEST_SUITE_P(Workers, QueueWorkers, ::testing::Values(1, 2, 4, 16));

}  // namespace
}  // namespace spindle
