#include "spindle/thread/event.hpp"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <atomic>
#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/thread/thread.hpp"

using namespace std::chrono_literals;
using spindle::Event;
using spindle::Thread;

namespace {

class EventTest : public spindle::test::LeakCheckedTest {};
class EventWaitersTest : public spindle::test::LeakCheckedTestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Waiters, EventWaitersTest, ::testing::Values(1, 2, 4, 16));

// True once thread `tid` sleeps in a futex wait on `address` (read from /proc: no sleeps, no guessing).
bool sleeps_on(int tid, const void* address) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long number = -1;
  std::string arg;
  if (!(in >> number >> arg)) return false;
  return number == SYS_futex && std::stoul(arg, nullptr, 16) == reinterpret_cast<std::uintptr_t>(address);
}
void wait_until_sleeping_on(int tid, const void* address) {
  while (!sleeps_on(tid, address)) std::this_thread::yield();
}

TEST_F(EventTest, StartsClearAndPollsFalse) {
  Event e;
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(0ms));
  EXPECT_FALSE(e.wait(-5s));
  EXPECT_FALSE(e.wait(1ms));
}

TEST_F(EventTest, SetClearCycle) {
  Event e;
  e.set();
  EXPECT_TRUE(e.is_set());
  EXPECT_TRUE(e.wait());
  EXPECT_TRUE(e.wait(0ms));
  EXPECT_TRUE(e.wait(std::nullopt));
  e.set();  // idempotent
  EXPECT_TRUE(e.is_set());
  e.clear();
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(0ms));
  e.set();
  EXPECT_TRUE(e.wait(0.5s));  // floating durations work too
}

TEST_F(EventTest, SetPublishesPriorWrites) {
  int payload = 0;  // plain int: TSan checks the happens-before that set()/wait() promise
  Event e;
  Thread t([&] {
    payload = 42;
    e.set();
  });
  t.start();
  e.wait();
  EXPECT_EQ(payload, 42);
  t.join();
}

TEST_F(EventTest, SetThenImmediateClearStillReleasesSleepingWaiter) {
  Event e;
  std::atomic<int> result{-1};
  Thread t([&] { result = e.wait(30s) ? 1 : 0; });
  t.start();
  wait_until_sleeping_on(t.native_id(), &e);
  e.set();
  e.clear();  // Python semantics: a waiter woken by set() returns true even if the flag is cleared again
  t.join();
  EXPECT_EQ(result.load(), 1);
  EXPECT_FALSE(e.is_set());
}

TEST_F(EventTest, TimedWaitReturnsTrueWhenSetLater) {
  Event e;
  std::atomic<int> result{-1};
  Thread t([&] { result = e.wait(30s) ? 1 : 0; });
  t.start();
  wait_until_sleeping_on(t.native_id(), &e);
  e.set();
  t.join();
  EXPECT_EQ(result.load(), 1);
}

TEST_P(EventWaitersTest, SetWakesEveryWaiter) {
  Event e;
  std::atomic<int> woken{0};
  std::vector<Thread> threads;
  for (int i = 0; i < GetParam(); ++i) {
    threads.emplace_back([&] {
      if (e.wait()) woken.fetch_add(1);
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) wait_until_sleeping_on(t.native_id(), &e);
  EXPECT_EQ(woken.load(), 0);
  e.set();
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(), GetParam());
}

}  // namespace
