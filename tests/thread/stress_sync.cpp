// Lost-wake-up hunting: threads ping-pong through Event, Condition and Semaphore with exact counts, and a
// barrier cycles while a random party aborts it. Scale with SPINDLE_STRESS_SCALE (default 1; sanitizer runs
// keep the default, release runs may raise it).

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/thread/barrier.hpp"
#include "spindle/thread/condition.hpp"
#include "spindle/thread/event.hpp"
#include "spindle/thread/lock.hpp"
#include "spindle/thread/semaphore.hpp"
#include "spindle/thread/thread.hpp"

using namespace std::chrono_literals;
using spindle::Barrier;
using spindle::BrokenBarrierError;
using spindle::Condition;
using spindle::Event;
using spindle::Semaphore;
using spindle::Thread;

namespace {

int scale() {
  const char* s = std::getenv("SPINDLE_STRESS_SCALE");
  const int v = s != nullptr ? std::atoi(s) : 1;
  return v > 0 ? v : 1;
}

class StressSync : public spindle::test::LeakCheckedTestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, StressSync, ::testing::Values(2, 4, 16));

// Pairs of threads hand a token back and forth through two Events (wait, clear, set the other's).
TEST_P(StressSync, EventPingPong) {
  const int pairs = GetParam() / 2;
  const int rounds = 8000 * scale();
  std::atomic<long> hops{0};
  std::vector<std::unique_ptr<Event>> events;
  std::vector<Thread> threads;
  for (int p = 0; p < pairs; ++p) {
    events.push_back(std::make_unique<Event>());
    events.push_back(std::make_unique<Event>());
    Event& ping = *events[events.size() - 2];
    Event& pong = *events.back();
    threads.emplace_back([&, rounds] {
      for (int r = 0; r < rounds; ++r) {
        ping.set();
        // Alternate plain and timed waits so both paths race with set().
        if (r % 2 == 0) {
          pong.wait();
        } else {
          while (!pong.wait(1ms)) {
          }
        }
        pong.clear();
        hops.fetch_add(1, std::memory_order_relaxed);
      }
    });
    threads.emplace_back([&, rounds] {
      for (int r = 0; r < rounds; ++r) {
        ping.wait();
        ping.clear();
        hops.fetch_add(1, std::memory_order_relaxed);
        pong.set();
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(hops.load(), 2L * pairs * rounds);
}

// N threads take turns round-robin through one Condition: each waits for `turn == me`, bumps it, notifies.
// notify_all is needed for correctness; half the threads also use short timeouts to race notify with expiry.
TEST_P(StressSync, ConditionRoundRobin) {
  const int n = GetParam();
  const int rounds = 1000 * scale();
  Condition c;
  int turn = 0;
  long passes = 0;
  std::vector<Thread> threads;
  for (int me = 0; me < n; ++me) {
    threads.emplace_back([&, me] {
      for (int r = 0; r < rounds; ++r) {
        std::lock_guard guard(c);
        if (me % 2 == 0) {
          c.wait_for([&] { return turn == me; });
        } else {
          while (!c.wait_for([&] { return turn == me; }, 200us)) {
          }
        }
        ++passes;
        turn = (turn + 1) % n;
        c.notify_all();
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(passes, static_cast<long>(n) * rounds);
  EXPECT_EQ(turn, 0);
}

// A bounded buffer of capacity 2 on two Conditions sharing one Lock, with notify(1) only (never notify_all)
// and no timeouts: one lost notification hangs the test (and the CTest timeout fails it).
TEST_P(StressSync, ConditionNotifyOneHandOff) {
  const int consumers = GetParam();
  const int per_consumer = 2000 * scale();
  spindle::Lock lock;
  Condition not_empty(lock);
  Condition not_full(lock);
  int tokens = 0;
  long taken = 0;
  std::vector<Thread> threads;
  for (int k = 0; k < consumers; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < per_consumer; ++i) {
        std::lock_guard guard(lock);
        while (tokens == 0) not_empty.wait();
        --tokens;
        ++taken;
        not_full.notify(1);
      }
    });
  }
  for (int p = 0; p < 2; ++p) {
    threads.emplace_back([&] {
      for (int i = 0; i < consumers * per_consumer / 2; ++i) {
        std::lock_guard guard(lock);
        while (tokens >= 2) not_full.wait();
        ++tokens;
        not_empty.notify(1);
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken, static_cast<long>(consumers) * per_consumer);
  EXPECT_EQ(tokens, 0);
}

// Waiters use tiny timeouts, so notifications keep colliding with expiries. The notifier sends notify(1)
// only while some waiter is in the list and not yet notified, so every notification must come back as
// exactly one wait() that returns true (Python can return False there and drop the notification).
TEST_P(StressSync, ConditionTimedWaitNeverLosesANotification) {
  const int waiters = GetParam();
  const int notifications = 2000 * scale();
  Condition c;
  int inside = 0;  // waiters inside wait() (registered, maybe notified), guarded by c
  int owed = 0;    // notifications sent whose waiter has not returned yet
  long trues = 0;
  bool stop = false;
  std::vector<Thread> threads;
  for (int w = 0; w < waiters; ++w) {
    threads.emplace_back([&, w] {
      std::lock_guard guard(c);
      for (int k = 0;; ++k) {
        if (stop) break;  // set by the notifier while wait() below has released the lock
        ++inside;
        const bool notified = c.wait(std::chrono::microseconds(20 + 37 * ((w + k) % 5)));
        --inside;
        if (notified) {
          ++trues;
          --owed;
        }
      }
    });
  }
  // A lost notification would leave `owed` stuck and the notifier waiting forever: a generous bound turns
  // that hang into a failed expectation (it is never reached when the Condition is correct).
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  Thread notifier([&] {
    for (int i = 0; i < notifications && std::chrono::steady_clock::now() < give_up; ++i) {
      for (; std::chrono::steady_clock::now() < give_up; std::this_thread::yield()) {
        std::lock_guard guard(c);
        if (inside - owed > 0) {
          c.notify(1);
          ++owed;
          break;
        }
      }
    }
    for (;; std::this_thread::yield()) {
      std::lock_guard guard(c);
      if (owed == 0 || std::chrono::steady_clock::now() >= give_up) {
        stop = true;  // the waiters see it at their next timeout
        break;
      }
    }
  });
  for (auto& t : threads) t.start();
  notifier.start();
  notifier.join();
  for (auto& t : threads) t.join();
  EXPECT_EQ(trues, notifications);
  EXPECT_EQ(owed, 0);
}

// Pairs ping-pong through two semaphores; extra threads acquire/release a shared one with timeouts.
TEST_P(StressSync, SemaphorePingPongAndTimedAcquires) {
  const int pairs = GetParam() / 2;
  const int rounds = 8000 * scale();
  std::atomic<long> hops{0};
  std::vector<std::unique_ptr<Semaphore>> sems;
  Semaphore shared(1);
  std::atomic<long> shared_ok{0};
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::vector<Thread> threads;
  for (int p = 0; p < pairs; ++p) {
    sems.push_back(std::make_unique<Semaphore>(0));
    sems.push_back(std::make_unique<Semaphore>(0));
    Semaphore& a = *sems[sems.size() - 2];
    Semaphore& b = *sems.back();
    threads.emplace_back([&, rounds] {
      for (int r = 0; r < rounds; ++r) {
        a.release();
        b.acquire();
        hops.fetch_add(1, std::memory_order_relaxed);
      }
    });
    threads.emplace_back([&, rounds] {
      for (int r = 0; r < rounds; ++r) {
        if (r % 2 == 0) {
          a.acquire();
        } else {
          while (!a.acquire(500us)) {
          }
        }
        hops.fetch_add(1, std::memory_order_relaxed);
        b.release();
      }
    });
    threads.emplace_back([&, rounds] {
      for (int r = 0; r < rounds / 4; ++r) {
        if (!shared.acquire(100us)) continue;
        if (inside.fetch_add(1) != 0) overlap = true;
        inside.fetch_sub(1);
        shared_ok.fetch_add(1, std::memory_order_relaxed);
        shared.release();
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(hops.load(), 2L * pairs * rounds);
  EXPECT_FALSE(overlap.load());
  EXPECT_GT(shared_ok.load(), 0);
  EXPECT_EQ(shared.value(), 1U);
  for (auto& s : sems) EXPECT_EQ(s->value(), 0U);
}

// Every round all parties meet at `b`, except that (by a seeded draw shared by all) one party sometimes aborts
// instead of waiting. Then they meet at `sync`, which is never aborted, and party 0 resets `b` if broken.
// Exact accounting: actions == clean rounds, broken waits == (parties - 1) * aborted rounds.
TEST_P(StressSync, BarrierCyclesWithRandomAborts) {
  const int parties = GetParam();
  const int rounds = 600 * scale();
  std::vector<int> aborter(static_cast<std::size_t>(rounds), -1);
  std::mt19937 rng(12345);
  int aborted_rounds = 0;
  for (auto& a : aborter) {
    if (rng() % 4 == 0) {
      a = static_cast<int>(rng() % static_cast<unsigned>(parties));
      ++aborted_rounds;
    }
  }
  std::atomic<int> actions{0};
  std::atomic<long> broken_waits{0};
  std::atomic<long> ok_waits{0};
  Barrier b(parties, [&] { actions.fetch_add(1); });
  Barrier sync(parties);
  std::vector<Thread> threads;
  for (int me = 0; me < parties; ++me) {
    threads.emplace_back([&, me] {
      for (int r = 0; r < rounds; ++r) {
        if (aborter[static_cast<std::size_t>(r)] == me) {
          b.abort();
        } else {
          try {
            b.wait();
            ok_waits.fetch_add(1);
          } catch (const BrokenBarrierError&) {
            broken_waits.fetch_add(1);
          }
        }
        if (sync.wait() == 0 && b.broken()) b.reset();
        sync.wait();  // nobody starts the next round before the reset
      }
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(actions.load(), rounds - aborted_rounds);
  EXPECT_EQ(broken_waits.load(), static_cast<long>(parties - 1) * aborted_rounds);
  EXPECT_EQ(ok_waits.load(), static_cast<long>(parties) * (rounds - aborted_rounds));
  EXPECT_FALSE(b.broken());
  EXPECT_FALSE(sync.broken());
}

}  // namespace
