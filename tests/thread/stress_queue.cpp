// Stress for the thread queues: many producers and consumers through tiny and large bounds with an exact
// ledger, and shutdown (plain and immediate) while threads are blocked on both sides. Loop sizes shrink under
// sanitizers (5-20x slower) and scale with SPINDLE_STRESS_SCALE (a percentage, default 100).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <latch>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "census.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/thread/lifo_queue.hpp"
#include "spindle/thread/priority_queue.hpp"
#include "spindle/thread/queue.hpp"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SPINDLE_QUEUE_STRESS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SPINDLE_QUEUE_STRESS_SANITIZED 1
#endif
#endif

namespace spindle {
namespace {

std::int64_t scaled(std::int64_t n) {
#ifdef SPINDLE_QUEUE_STRESS_SANITIZED
  n /= 10;
#endif
  if (const char* env = std::getenv("SPINDLE_STRESS_SCALE")) n = n * std::max(1L, std::atol(env)) / 100;
  return std::max<std::int64_t>(n, 100);
}

// ---- An exact ledger through a bounded queue: every value put comes out exactly once. -------------------

template <class Q>
void run_ledger(Q& q, int producers, int consumers, std::int64_t per_producer) {
  const std::int64_t total = per_producer * producers;
  std::vector<std::vector<std::int64_t>> got(static_cast<std::size_t>(consumers));
  std::latch start(producers + consumers);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      start.arrive_and_wait();
      for (std::int64_t i = 0; i < per_producer; ++i) q.put(p * per_producer + i);
    });
  }
  std::atomic<std::int64_t> claimed{0};
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      auto& mine = got[static_cast<std::size_t>(c)];
      start.arrive_and_wait();
      // Each consumer claims a share first, so that no get() is left waiting for an item that never comes.
      while (claimed.fetch_add(1) < total) {
        mine.push_back(q.get());
        q.task_done();
      }
    });
  }
  q.join();
  for (auto& t : threads) t.join();
  std::vector<std::int64_t> all;
  std::int64_t sum = 0;
  for (const auto& v : got) {
    all.insert(all.end(), v.begin(), v.end());
    for (const auto x : v) sum += x;
  }
  ASSERT_EQ(static_cast<std::int64_t>(all.size()), total);
  EXPECT_EQ(sum, total * (total - 1) / 2);
  std::sort(all.begin(), all.end());
  for (std::int64_t i = 0; i < total; ++i) ASSERT_EQ(all[static_cast<std::size_t>(i)], i) << "multiset differs";
  EXPECT_TRUE(q.empty());
}

class QueueLedger : public test::LeakCheckedTestWithParam<std::ptrdiff_t> {};

TEST_P(QueueLedger, FourProducersFourConsumers) {
  Queue<std::int64_t> q(GetParam());
  run_ledger(q, 4, 4, scaled(GetParam() == 1 ? 10'000 : 250'000));
}

TEST_P(QueueLedger, FifoInOrderPerProducer) {
  // FIFO across threads: a single consumer sees each producer's items in the order that producer put them.
  Queue<std::int64_t> q(GetParam());
  const std::int64_t per = scaled(GetParam() == 1 || GetParam() == 3 ? 20'000 : 100'000);
  constexpr int kProducers = 4;
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (std::int64_t i = 0; i < per; ++i) q.put(p * per + i);
    });
  }
  std::vector<std::int64_t> last(kProducers, -1);
  for (std::int64_t n = 0; n < per * kProducers; ++n) {
    const std::int64_t v = q.get();
    const auto p = static_cast<std::size_t>(v / per);
    ASSERT_GT(v, last[p]);
    last[p] = v;
  }
  for (auto& t : producers) t.join();
}

INSTANTIATE_TEST_SUITE_P(Maxsize, QueueLedger, ::testing::Values(1, 3, 1024, 0));

class LockedQueueLedger : public test::LeakCheckedTest {};

TEST_F(LockedQueueLedger, LifoAndPriorityFourByFour) {
  LifoQueue<std::int64_t> lifo(1);
  run_ledger(lifo, 4, 4, scaled(20'000));
  PriorityQueue<std::int64_t> prio(16);
  run_ledger(prio, 4, 4, scaled(20'000));
}

// ---- Shutdown while threads are blocked: everyone wakes with QueueShutDown and nothing is lost. -----------

/// Items that report their own fate: taken by a consumer, or destroyed inside the queue (dropped).
struct Fate {
  std::atomic<std::int64_t> out_count{0}, out_sum{0};
  std::atomic<std::int64_t> destroyed_count{0}, destroyed_sum{0};
};

class Tracked {
 public:
  Tracked(std::int64_t value, Fate* fate) : value_(value), fate_(fate) {}
  Tracked(Tracked&& other) noexcept : value_(other.value_), fate_(std::exchange(other.fate_, nullptr)) {}
  Tracked& operator=(Tracked&&) = delete;
  ~Tracked() {
    if (fate_ != nullptr) {
      fate_->destroyed_count.fetch_add(1);
      fate_->destroyed_sum.fetch_add(value_);
    }
  }
  /// Consumes the item: it will not count as destroyed.
  std::int64_t take() {
    fate_->out_count.fetch_add(1);
    fate_->out_sum.fetch_add(value_);
    fate_ = nullptr;
    return value_;
  }

 private:
  std::int64_t value_;
  Fate* fate_;
};

class QueueShutdownStress : public test::LeakCheckedTestWithParam<std::tuple<std::ptrdiff_t, bool>> {};

TEST_P(QueueShutdownStress, BlockedProducersAndConsumersAllWake) {
  const auto [maxsize, immediate] = GetParam();
  const int rounds = static_cast<int>(scaled(200) / 10);
  for (int round = 0; round < rounds; ++round) {
    Fate fate;
    std::atomic<std::int64_t> attempted{0}, attempted_sum{0}, rejected{0}, rejected_sum{0};
    std::atomic<int> producers_shut{0}, consumers_shut{0};
    constexpr int kProducers = 4;
    constexpr int kConsumers = 4;
    {
      Queue<Tracked> q(maxsize);
      std::latch running(kProducers + kConsumers + 1);
      std::vector<std::thread> threads;
      for (int p = 0; p < kProducers; ++p) {
        threads.emplace_back([&, p] {
          running.arrive_and_wait();
          for (std::int64_t i = 0;; ++i) {
            const std::int64_t v = i * kProducers + p;
            attempted.fetch_add(1);
            attempted_sum.fetch_add(v);
            try {
              q.put(Tracked(v, &fate));  // a rejected item is destroyed inside put: it counts as destroyed
            } catch (const QueueShutDown&) {
              rejected.fetch_add(1);
              rejected_sum.fetch_add(v);
              producers_shut.fetch_add(1);
              return;
            }
          }
        });
      }
      for (int c = 0; c < kConsumers; ++c) {
        threads.emplace_back([&, c] {
          running.arrive_and_wait();
          for (std::int64_t n = 0;; ++n) {
            try {
              Tracked item = q.get();
              (void)item.take();
              q.task_done();
            } catch (const QueueShutDown&) {
              consumers_shut.fetch_add(1);
              return;
            }
            // Half the consumers are slow, so producers block on a full queue as well.
            if (c % 2 == 0 && n % 64 == 0) std::this_thread::yield();
          }
        });
      }
      running.arrive_and_wait();
      // Let traffic build up to whatever state it reaches (full with blocked putters, or empty with blocked
      // getters): any moment is a valid moment to shut down; the checks below hold for all of them.
      while (fate.out_count.load() < 2000 && attempted.load() < 100'000) std::this_thread::yield();
      q.shutdown(immediate);
      for (auto& t : threads) t.join();

      EXPECT_EQ(producers_shut.load(), kProducers);
      EXPECT_EQ(consumers_shut.load(), kConsumers);
      EXPECT_EQ(q.qsize(), 0U);  // plain: consumers drained it; immediate: shutdown dropped the rest
      q.join();                  // every item out was task_done'd and every dropped one counts as done
    }
    // Each item attempted was destroyed exactly once: taken by a consumer, or destroyed (rejected by put,
    // or dropped by shutdown). items_in == items_out + items_dropped, by count and by sum.
    const std::int64_t items_in = attempted.load() - rejected.load();
    const std::int64_t dropped = fate.destroyed_count.load() - rejected.load();
    EXPECT_EQ(items_in, fate.out_count.load() + dropped);
    EXPECT_EQ(attempted_sum.load() - rejected_sum.load(),
              fate.out_sum.load() + fate.destroyed_sum.load() - rejected_sum.load());
    EXPECT_GE(dropped, 0);
    if (!immediate) {
      EXPECT_EQ(dropped, 0) << "a plain shutdown drops nothing: consumers drain the queue";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shutdown, QueueShutdownStress,
                         ::testing::Combine(::testing::Values(1, 4, 1024, 0), ::testing::Bool()));

TEST(QueueShutdownBlocked, PuttersOnFullAndGettersOnEmptyWake) {
  // Two queues so that both kinds of waiter are certainly asleep at once: `full` has its putters blocked,
  // `empty` its getters. Getting there is observed through qsize() and a latch, never through sleeps.
  test::Census census;
  for (const bool immediate : {false, true}) {
    for (const std::ptrdiff_t maxsize : {1, 1024}) {
      Queue<int> full(maxsize);
      Queue<int> empty(maxsize);
      while (!full.full()) full.put_nowait(0);
      constexpr int kEach = 4;
      std::latch started(2 * kEach);
      std::atomic<int> shut{0};
      std::vector<std::thread> threads;
      for (int i = 0; i < kEach; ++i) {
        threads.emplace_back([&] {
          started.count_down();
          try {
            full.put(1);
          } catch (const QueueShutDown&) {
            ++shut;
          }
        });
        threads.emplace_back([&] {
          started.count_down();
          try {
            (void)empty.get();
          } catch (const QueueShutDown&) {
            ++shut;
          }
        });
      }
      started.wait();
      full.shutdown(immediate);
      empty.shutdown(immediate);
      for (auto& t : threads) t.join();
      EXPECT_EQ(shut.load(), 2 * kEach);
      EXPECT_EQ(full.qsize(), immediate ? 0U : static_cast<std::size_t>(maxsize));
    }
  }
  census.check();
}

}  // namespace
}  // namespace spindle
