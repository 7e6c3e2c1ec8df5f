#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/aio.hpp"

using namespace std::chrono_literals;
namespace aio = spindle::aio;

namespace {

class Reporting : public spindle::test::LeakCheckedTest {};

struct Captured {
  std::mutex mu;
  std::vector<aio::ExceptionContext> items;
  void install(aio::EventLoop& loop) {
    loop.set_exception_handler([this](aio::EventLoop&, const aio::ExceptionContext& c) {
      std::lock_guard lock(mu);
      items.push_back(c);
    });
  }
  std::size_t count(const std::string& message) {
    std::lock_guard lock(mu);
    std::size_t n = 0;
    for (auto& c : items) n += c.message == message;
    return n;
  }
};

TEST_F(Reporting, WatchdogNamesTheBlockingTaskWhileItStillBlocks) {
  aio::EventLoop loop({.debug = true, .slow_callback_duration = 20ms});
  std::mutex mu;
  std::vector<std::string> lines;
  std::atomic<bool> reported{false};
  loop.set_debug_logger([&](std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
    if (line.find("is blocking") != std::string_view::npos) reported = true;
  });
  auto culprit = [&]() -> aio::Task<bool> {
    // Blocks the loop (the mistake under test) until the watchdog has reported it, at most 10 s.
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!reported && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
    co_return reported.load();
  };
  auto t = loop.create_task(culprit(), "culprit");
  EXPECT_TRUE(loop.run_until_complete(t));
  loop.close();
  std::lock_guard lock(mu);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.front().find("culprit"), std::string::npos) << lines.front();
  EXPECT_NE(lines.front().find("test_debug_and_reporting.cpp"), std::string::npos) << lines.front();  // creation site
}

TEST_F(Reporting, UnretrievedTaskExceptionIsReportedOnce) {
  Captured cap;
  {
    aio::EventLoop loop;
    cap.install(loop);
    auto main = []() -> aio::Task<void> {
      aio::create_task(
          []() -> aio::Task<void> {
            throw std::runtime_error("lost?");
            co_return;
          }(),
          "detached");
      co_await aio::sleep(1ms);
    };
    loop.run_until_complete(main());
    loop.close();
  }
  EXPECT_EQ(cap.count("Task exception was never retrieved"), 1u);
  ASSERT_EQ(cap.items.size(), 1u);
  EXPECT_EQ(cap.items[0].task, "detached");
}

TEST_F(Reporting, RetrievedExceptionIsNotReported) {
  Captured cap;
  {
    aio::EventLoop loop;
    cap.install(loop);
    auto main = []() -> aio::Task<void> {
      auto t = aio::create_task([]() -> aio::Task<void> {
        throw std::runtime_error("seen");
        co_return;
      }());
      co_await aio::sleep(1ms);
      EXPECT_TRUE(t.exception() != nullptr);
    };
    loop.run_until_complete(main());
    loop.close();
  }
  EXPECT_TRUE(cap.items.empty());
}

TEST_F(Reporting, PendingTaskDestroyedWithItsLoopIsReported) {
  Captured cap;
  bool destructor_ran = false;
  {
    aio::EventLoop loop;
    cap.install(loop);
    struct Guard {
      bool* flag;
      ~Guard() { *flag = true; }
    };
    auto forever = [](bool* flag) -> aio::Task<void> {
      Guard g{flag};
      co_await aio::sleep(1h);
    };
    loop.create_task(forever(&destructor_ran), "orphan");
    loop.call_later(1ms, [&] { loop.stop(); });
    loop.run_forever();
    loop.close();
  }
  EXPECT_EQ(cap.count("Task was destroyed but it is pending!"), 1u);
  EXPECT_TRUE(destructor_ran);
}

TEST_F(Reporting, CallbackExceptionGoesToTheHandler) {
  Captured cap;
  aio::EventLoop loop;
  cap.install(loop);
  loop.call_soon([] { throw std::runtime_error("cb"); });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  loop.close();
  EXPECT_EQ(cap.count("Exception in callback"), 1u);
}

TEST_F(Reporting, SignalHandlerRunsOnTheLoop) {
  aio::EventLoop loop;
  const auto loop_thread = std::this_thread::get_id();
  bool ran_on_loop = false;
  loop.add_signal_handler(SIGUSR1, [&] {
    ran_on_loop = std::this_thread::get_id() == loop_thread;
    loop.stop();
  });
  loop.call_soon([] { std::raise(SIGUSR1); });
  loop.run_forever();
  EXPECT_TRUE(ran_on_loop);
  EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
  loop.close();
}

TEST_F(Reporting, CtrlCCancelsTheMainTaskAndItsCleanupRuns) {
  bool cleaned = false;
  auto main = [&]() -> aio::Task<void> {
    struct Cleanup {
      bool* flag;
      ~Cleanup() { *flag = true; }
    } c{&cleaned};
    std::raise(SIGINT);  // as if the user pressed Ctrl-C
    co_await aio::sleep(1h);
  };
  EXPECT_THROW(aio::run(main(), {.clock = std::make_shared<aio::VirtualClock>()}), aio::KeyboardInterrupt);
  EXPECT_TRUE(cleaned);
  struct sigaction cur {};
  sigaction(SIGINT, nullptr, &cur);
  EXPECT_EQ(cur.sa_handler, SIG_DFL);  // the disposition is restored
}

TEST_F(Reporting, IdleLoopUsesNoCpu) {
  aio::EventLoop loop;
  rusage before{}, after{};
  getrusage(RUSAGE_THREAD, &before);
  loop.call_later(300ms, [&] { loop.stop(); });  // the loop sleeps in epoll_wait until then
  loop.run_forever();
  getrusage(RUSAGE_THREAD, &after);
  loop.close();
  auto us = [](const rusage& r) {
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1'000'000L + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
  };
  EXPECT_LT(us(after) - us(before), 30'000) << "an idle loop must not spin";
}

}  // namespace
