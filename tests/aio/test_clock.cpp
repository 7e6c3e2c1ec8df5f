// The loop's clocks: what they say they are, and VirtualClock::advance() waking a loop that sleeps on it.

#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <semaphore>
#include <string>
#include <thread>

#include "census.hpp"
#include "spindle/aio.hpp"

using namespace std::chrono_literals;
namespace aio = spindle::aio;

namespace {

using Clock = spindle::test::LeakCheckedTest;

/// Waits (a bounded while) until thread `tid` of this process is asleep (state S in /proc): a loop with nothing
/// to do but a timer sleeps in its poller. Without the wait the clock could move before the loop reads it.
void wait_until_asleep(pid_t tid) {
  const auto give_up = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < give_up) {
    std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'S') return;
    std::this_thread::yield();
  }
}

TEST_F(Clock, AccessorsSayWhatTheClockIs) {
  const aio::MonotonicClock real;
  EXPECT_FALSE(real.is_virtual());
  EXPECT_FALSE(real.auto_advances());
  const aio::VirtualClock jumping;
  EXPECT_TRUE(jumping.is_virtual());
  EXPECT_TRUE(jumping.auto_advances());
  const aio::VirtualClock by_hand(/*auto_advance=*/false);
  EXPECT_TRUE(by_hand.is_virtual());  // regression: it said false, meaning "does not auto-advance"
  EXPECT_FALSE(by_hand.auto_advances());
}

// A loop on a clock that only moves by hand sleeps until its next timer; advancing the clock from another thread
// must wake it (tokio's time::advance). Regression: the loop slept on, for the timer's delay in real time (an
// hour here); the helper thread ends the run after 30 s instead of hanging, and the test fails.
TEST_F(Clock, AdvanceFromAnotherThreadWakesASleepingLoop) {
  auto clock = std::make_shared<aio::VirtualClock>(/*auto_advance=*/false);
  aio::EventLoop loop({.clock = clock});
  std::binary_semaphore armed(0);
  std::binary_semaphore woke(0);
  std::atomic<bool> fired{false};
  std::atomic<bool> early{false};
  std::atomic<bool> rescued{false};
  std::atomic<pid_t> loop_tid{0};
  auto sleeper = [&]() -> aio::Task<void> {
    loop_tid = ::gettid();
    loop.call_soon([&armed] { armed.release(); });  // runs once this task sleeps, its timer armed
    co_await aio::sleep(1h);
    fired = true;
    woke.release();
  };
  std::thread mover([&] {
    armed.acquire();
    clock->advance(30min);  // wakes the loop, but the timer is not due yet
    std::binary_semaphore seen(0);
    loop.call_soon_threadsafe([&seen] { seen.release(); });  // the loop has looked at its timers since
    seen.acquire();
    early = fired.load();
    wait_until_asleep(loop_tid);
    clock->advance(30min);
    if (!woke.try_acquire_for(30s)) {
      rescued = true;
      loop.call_soon_threadsafe([&loop] { loop.stop(); });
    }
  });
  try {
    loop.run_until_complete(sleeper());
  } catch (const spindle::InvalidStateError&) {  // stopped by the rescue
  }
  mover.join();
  loop.close();
  EXPECT_FALSE(early) << "the timer fired before the clock reached it";
  EXPECT_FALSE(rescued) << "advance() did not wake the loop";
  EXPECT_TRUE(fired);
}

}  // namespace
