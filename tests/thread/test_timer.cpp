#include "spindle/thread/timer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "census.hpp"
#include "spindle/core/unhandled.hpp"
#include "spindle/thread/event.hpp"

using namespace std::chrono_literals;
using spindle::Event;
using spindle::ThreadOptions;
using spindle::Timer;

namespace {

class TimerTest : public spindle::test::LeakCheckedTest {};

TEST_F(TimerTest, RunsTheFunctionWithItsArgumentsAfterTheInterval) {
  std::string seen;
  const auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration elapsed{};
  Timer t(
      2ms,
      [&](const std::string& a, std::unique_ptr<int> b) {
        elapsed = std::chrono::steady_clock::now() - started;
        seen = a + std::to_string(*b);
      },
      std::string("x"), std::make_unique<int>(7));
  t.start();
  t.join();
  EXPECT_EQ(seen, "x7");
  EXPECT_GE(elapsed, 2ms);  // a lower bound only: it never fires early
}

TEST_F(TimerTest, CancelBeforeStartMeansNeverRuns) {
  std::atomic<bool> ran{false};
  Timer t(0ms, [&] { ran = true; });
  t.cancel();
  t.start();
  t.join();
  EXPECT_FALSE(ran);
}

TEST_F(TimerTest, CancelWakesAWaitingTimerAtOnce) {
  std::atomic<bool> ran{false};
  Timer t(1h, [&] { ran = true; });  // without a prompt cancel, join() below would hang (the test times out)
  t.start();
  EXPECT_TRUE(t.is_alive());
  t.cancel();
  t.join();
  EXPECT_FALSE(ran);
  EXPECT_FALSE(t.is_alive());
  t.cancel();  // again: harmless
}

TEST_F(TimerTest, DestroyingACancelledTimerDoesNotWait) {
  std::atomic<bool> ran{false};
  {
    Timer t(ThreadOptions{.name = "slow-timer"}, 1h, [&] { ran = true; });
    EXPECT_EQ(t.name(), "slow-timer");
    t.start();
    t.cancel();
  }  // ~Thread joins, promptly since cancelled
  EXPECT_FALSE(ran);
}

TEST_F(TimerTest, FloatingIntervalAndException) {
  std::mutex m;
  std::string where;
  auto previous = spindle::set_unhandled_exception_handler([&](std::string_view w, std::exception_ptr) {
    std::lock_guard guard(m);
    where = w;
  });
  Timer t(ThreadOptions{.name = "failing-timer"}, std::chrono::duration<double>(0.001),
          [] { throw std::runtime_error("timer failed"); });
  t.start();
  t.join();
  spindle::set_unhandled_exception_handler(std::move(previous));
  std::lock_guard guard(m);
  EXPECT_EQ(where, "thread failing-timer");
}

}  // namespace
