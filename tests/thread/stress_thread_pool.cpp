// Stress (label `stress`): cancellations racing completions, shutdown under load with both cancel_futures
// settings, concurrent submitters racing shutdown. Every future must end in exactly one terminal state.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

using spindle::Future;
using spindle::ThreadPoolExecutor;

namespace {

class PoolStress : public spindle::test::LeakCheckedTestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(Workers, PoolStress, ::testing::Values(1, 2, 4, 16));

TEST_P(PoolStress, HundredThousandCancelsRaceCompletions) {
  constexpr int kTasks = 100'000;
  std::atomic<int> ran{0};
  std::atomic<int> callbacks{0};
  std::vector<Future<int>> fs;
  fs.reserve(kTasks);
  {
    ThreadPoolExecutor pool(GetParam());
    for (int i = 0; i < kTasks; ++i) {
      fs.push_back(pool.submit([&ran, i] {
        ran.fetch_add(1, std::memory_order_relaxed);
        return i;
      }));
      fs.back().add_done_callback([&](const Future<int>&) { callbacks.fetch_add(1, std::memory_order_relaxed); });
    }
    int cancelled_ok = 0;
    for (int i = kTasks - 1; i >= 0; i -= 2)
      if (fs[i].cancel()) ++cancelled_ok;
    pool.shutdown();
    int cancelled = 0;
    for (int i = 0; i < kTasks; ++i) {
      ASSERT_TRUE(fs[i].done());
      if (fs[i].cancelled()) {
        ++cancelled;
      } else {
        ASSERT_EQ(fs[i].result(), i);
      }
    }
    EXPECT_EQ(cancelled, cancelled_ok);
    EXPECT_EQ(ran.load() + cancelled, kTasks) << "a cancelled task never runs, every other task runs once";
  }
  EXPECT_EQ(callbacks.load(), kTasks);
}

TEST_P(PoolStress, ShutdownUnderLoadBothSettings) {
  for (bool cancel_futures : {false, true}) {
    std::atomic<int> ran{0};
    std::vector<Future<void>> fs;
    {
      ThreadPoolExecutor pool(GetParam());
      for (int i = 0; i < 20'000; ++i) fs.push_back(pool.submit([&] { ran.fetch_add(1); }));
      pool.shutdown(true, cancel_futures);
    }
    int cancelled = 0;
    for (auto& f : fs) {
      ASSERT_TRUE(f.done());
      cancelled += f.cancelled() ? 1 : 0;
    }
    EXPECT_EQ(ran.load() + cancelled, 20'000);
    if (!cancel_futures) {
      EXPECT_EQ(cancelled, 0);
    }
  }
}

TEST_P(PoolStress, SubmittersRaceShutdown) {
  ThreadPoolExecutor pool(GetParam());
  std::atomic<int> accepted{0}, refused{0}, ran{0};
  std::vector<std::thread> submitters;
  std::atomic<bool> go{false};
  for (int t = 0; t < 4; ++t)
    submitters.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < 5'000; ++i) {
        try {
          pool.submit([&] { ran.fetch_add(1); });
          accepted.fetch_add(1);
        } catch (const spindle::ShutdownError&) {
          refused.fetch_add(1);
        }
      }
    });
  go = true;
  pool.shutdown(true);
  for (auto& t : submitters) t.join();
  EXPECT_EQ(accepted.load() + refused.load(), 20'000);
  EXPECT_EQ(ran.load(), accepted.load()) << "every accepted task ran: none silently dropped";
}

TEST(PoolStressBasics, CallbackExceptionsDoNotKillWorkers) {
  std::atomic<int> reports{0};
  auto previous = spindle::set_unhandled_exception_handler([&](std::string_view, std::exception_ptr) { ++reports; });
  {
    ThreadPoolExecutor pool(2);
    std::vector<Future<int>> fs;
    for (int i = 0; i < 1000; ++i) {
      fs.push_back(pool.submit([i] { return i; }));
      fs.back().add_done_callback([](const Future<int>&) { throw std::runtime_error("callback"); });
    }
    for (auto& f : fs) f.wait();
    EXPECT_EQ(pool.submit([] { return 1; }).result(), 1);
  }
  EXPECT_EQ(reports.load(), 1000);
  spindle::set_unhandled_exception_handler(previous);
}

}  // namespace
