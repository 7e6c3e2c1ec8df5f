// aio::Runner (asyncio.Runner): one loop across several run() calls, close(), misuse.

#include <gtest/gtest.h>

#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>

#include "census.hpp"
#include "spindle/aio.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

namespace {

class RunnerTest : public spindle::test::LeakCheckedTest {};

aio::Task<int> value(int v) {
  co_await aio::yield_now();
  co_return v;
}

aio::Task<int> wait_then(aio::Event& ev, int v, bool& cancelled) {
  try {
    co_await ev.wait();
  } catch (const spindle::CancelledError&) {
    cancelled = true;
    throw;
  }
  co_return v;
}

TEST_F(RunnerTest, OneLoopServesSeveralRunsAndTasksCarryOver) {
  aio::Runner runner({.handle_sigint = false});
  aio::Event ev;
  bool cancelled = false;
  aio::Task<int> background;
  auto first = [&]() -> aio::Task<aio::EventLoop*> {
    background = aio::create_task(wait_then(ev, 42, cancelled));  // still pending when this run ends
    co_return &aio::EventLoop::get_running_loop();
  };
  auto second = [&]() -> aio::Task<std::pair<aio::EventLoop*, int>> {
    ev.set();
    const int v = co_await background;  // the task from the first run
    co_return std::pair{&aio::EventLoop::get_running_loop(), v};
  };
  aio::EventLoop* loop1 = runner.run(first());
  EXPECT_FALSE(background.done());
  auto [loop2, v] = runner.run(second());
  EXPECT_EQ(loop1, loop2);
  EXPECT_EQ(loop1, &runner.get_loop());
  EXPECT_EQ(v, 42);
  EXPECT_EQ(runner.run(value(3)), 3);
  EXPECT_FALSE(cancelled);
  runner.close();
}

TEST_F(RunnerTest, CloseCancelsWhatIsLeftAndShutsTheExecutorDown) {
  aio::Event never;
  bool cancelled = false;
  aio::Task<int> left;
  aio::Runner runner({.handle_sigint = false});
  auto main = [&]() -> aio::Task<int> {
    left = aio::create_task(wait_then(never, 1, cancelled));
    co_await aio::yield_now();  // it starts waiting (a task cancelled before it ever ran never runs)
    co_return co_await aio::to_thread([] { return 5; });  // starts the default executor's thread
  };
  EXPECT_EQ(runner.run(main()), 5);
  EXPECT_FALSE(cancelled);
  runner.close();
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(left.cancelled());
  runner.close();  // idempotent
}  // the census checks that the executor's thread is gone

TEST_F(RunnerTest, DestructorCloses) {
  aio::Event never;
  bool cancelled = false;
  {
    aio::Runner runner({.handle_sigint = false});
    auto main = [&]() -> aio::Task<void> {
      aio::create_task(wait_then(never, 1, cancelled));
      co_await aio::yield_now();  // it starts waiting (a task cancelled before it ever ran never runs)
    };
    runner.run(main());
  }
  EXPECT_TRUE(cancelled);
}

TEST_F(RunnerTest, RunAfterCloseIsAClearError) {
  int reports = 0;
  auto previous = spindle::set_unhandled_exception_handler([&](std::string_view, std::exception_ptr) { ++reports; });
  aio::Runner runner({.handle_sigint = false});
  EXPECT_EQ(runner.run(value(1)), 1);
  runner.close();
  try {
    (void)runner.run(value(2));  // refused: not also reported as "never awaited"
    ADD_FAILURE() << "no exception";
  } catch (const spindle::InvalidStateError& e) {
    EXPECT_STREQ(e.what(), "Runner is closed");
  }
  EXPECT_THROW(runner.get_loop(), spindle::InvalidStateError);
  spindle::set_unhandled_exception_handler(std::move(previous));
  EXPECT_EQ(reports, 0);
}

TEST_F(RunnerTest, ClosingAnUnusedRunnerMakesNoLoop) {
  aio::Runner runner;
  runner.close();
  EXPECT_THROW(runner.get_loop(), spindle::InvalidStateError);
}

TEST_F(RunnerTest, RunFromInsideARunningLoopIsRefused) {
  aio::Runner runner({.handle_sigint = false});
  auto nested = [&]() -> aio::Task<bool> {
    try {
      (void)runner.run(value(1));
    } catch (const spindle::InvalidStateError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(runner.run(nested()));                          // from its own loop
  EXPECT_TRUE(aio::run(nested(), {.handle_sigint = false}));  // from another loop
  auto close_inside = [&]() -> aio::Task<bool> {
    try {
      runner.close();
    } catch (const spindle::InvalidStateError&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(runner.run(close_inside()));
  EXPECT_EQ(runner.run(value(7)), 7);  // still usable
}

TEST_F(RunnerTest, ExceptionsPropagateAndTheRunnerStaysUsable) {
  aio::Runner runner({.handle_sigint = false});
  auto boom = []() -> aio::Task<int> {
    co_await aio::yield_now();
    throw std::runtime_error("boom");
  };
  EXPECT_THROW(runner.run(boom()), std::runtime_error);
  EXPECT_EQ(runner.run(value(9)), 9);
}

TEST_F(RunnerTest, ATaskOfAnotherLoopIsRefused) {
  aio::EventLoop other;
  auto t = other.create_task(value(1));
  aio::Runner runner({.handle_sigint = false});
  EXPECT_THROW(runner.run(t), spindle::InvalidStateError);
  EXPECT_EQ(other.run_until_complete(t), 1);
  other.close();
}

TEST_F(RunnerTest, OptionsReachTheLoop) {
  aio::Runner runner({.debug = true, .clock = std::make_shared<aio::VirtualClock>(), .handle_sigint = false});
  EXPECT_TRUE(runner.get_loop().get_debug());
  EXPECT_TRUE(runner.get_loop().clock().is_virtual());
  auto sleepy = []() -> aio::Task<int> {
    co_await aio::sleep(1h);  // virtual time: no real wait
    co_return 1;
  };
  EXPECT_EQ(runner.run(sleepy()), 1);
}

TEST_F(RunnerTest, CtrlCCancelsTheRunAndTheRunnerGoesOn) {
  aio::Runner runner({.clock = std::make_shared<aio::VirtualClock>()});
  bool cleaned = false;
  auto main = [&]() -> aio::Task<void> {
    struct Cleanup {
      bool* flag;
      ~Cleanup() { *flag = true; }
    } c{&cleaned};
    std::raise(SIGINT);  // as if the user pressed Ctrl-C
    co_await aio::sleep(1h);
  };
  EXPECT_THROW(runner.run(main()), aio::KeyboardInterrupt);
  EXPECT_TRUE(cleaned);
  struct sigaction cur {};
  sigaction(SIGINT, nullptr, &cur);
  EXPECT_EQ(cur.sa_handler, SIG_DFL);  // restored after each run
  EXPECT_EQ(runner.run(value(4)), 4);
}

}  // namespace
