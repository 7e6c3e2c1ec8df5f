// run_coroutine_threadsafe: threads hand coroutines to a loop and wait on spindle::Futures.

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/aio.hpp"

namespace aio = spindle::aio;

namespace {

class ThreadsafeBridge : public spindle::test::LeakCheckedTest {};

/// A loop running on a thread of its own for the test's duration; frames allocated minus freed on that thread
/// are recorded when it ends (coroutine frames made on other threads are freed there).
class LoopThread {
 public:
  /// `setup` runs on the loop's thread before the loop starts (a loop is configured on its own thread).
  explicit LoopThread(std::function<void(aio::EventLoop&)> setup = {}) {
    thread_ = std::thread([this, setup = std::move(setup)] {
      if (setup) setup(loop_);
      const long before = aio::detail::live_frames();
      loop_.call_soon([this] { started_.count_down(); });
      loop_.run_forever();
      frames_ = aio::detail::live_frames() - before;
    });
    started_.wait();
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;
  ~LoopThread() { stop(); }
  aio::EventLoop& loop() { return loop_; }
  /// Stops and joins the loop thread (the loop stays open).
  void stop() {
    if (!thread_.joinable()) return;
    loop_.call_soon_threadsafe([this] { loop_.stop(); });
    thread_.join();
  }
  long frames() const { return frames_; }

 private:
  aio::EventLoop loop_;
  std::latch started_{1};
  std::thread thread_;
  long frames_ = 0;
};

aio::Task<int> twice_after_yield(int x) {
  co_await aio::yield_now();
  co_return 2 * x;
}

TEST_F(ThreadsafeBridge, ManyThreadsSubmitAndEachCoroutineRunsExactlyOnce) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<int> runs(kThreads * kPerThread, 0);  // touched by the loop thread only
  std::atomic<long> submitter_frames{0};
  {
    LoopThread lt;
    std::vector<std::thread> threads;
    std::vector<int> wrong(kThreads, 0);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const long before = aio::detail::live_frames();
        std::vector<spindle::Future<int>> futs;
        for (int i = 0; i < kPerThread; ++i) {
          const int id = t * kPerThread + i;
          if (i % 2 == 0) {  // the callable form: the coroutine is made on the loop's thread
            futs.push_back(aio::run_coroutine_threadsafe(
                lt.loop(),
                [&runs](int n) -> aio::Task<int> {
                  ++runs[static_cast<std::size_t>(n)];
                  co_return co_await twice_after_yield(n);
                },
                id));
          } else {  // the coroutine form: its frame is made here, freed on the loop's thread
            ++runs[static_cast<std::size_t>(id)];  // (this slot belongs to this thread)
            futs.push_back(aio::run_coroutine_threadsafe(twice_after_yield(id), lt.loop()));
          }
        }
        for (int i = 0; i < kPerThread; ++i) {
          if (futs[static_cast<std::size_t>(i)].result() != 2 * (t * kPerThread + i)) ++wrong[t];
        }
        submitter_frames += aio::detail::live_frames() - before;
      });
    }
    for (auto& th : threads) th.join();
    lt.stop();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
    EXPECT_EQ(lt.frames() + submitter_frames.load(), 0) << "coroutine frames leaked";
    lt.loop().close();
  }
  for (std::size_t i = 0; i < runs.size(); ++i) ASSERT_EQ(runs[i], 1) << "submission " << i;
}

TEST_F(ThreadsafeBridge, ExceptionReachesTheFuture) {
  LoopThread lt;
  auto boom = []() -> aio::Task<int> {
    co_await aio::yield_now();
    throw std::runtime_error("boom");
  };
  auto fut = aio::run_coroutine_threadsafe(lt.loop(), boom);
  try {
    (void)fut.result();
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  EXPECT_NE(fut.exception(), nullptr);
  // A callable that throws before it makes a coroutine fails the future the same way.
  auto refuse = [](int) -> aio::Task<void> { throw std::invalid_argument("no coroutine"); };
  auto fut2 = aio::run_coroutine_threadsafe(lt.loop(), refuse, 1);
  EXPECT_THROW(fut2.result(), std::invalid_argument);
}

TEST_F(ThreadsafeBridge, VoidCoroutinesAndMoveOnlyResults) {
  LoopThread lt;
  int ran = 0;
  auto work = [&ran]() -> aio::Task<void> {
    co_await aio::yield_now();
    ++ran;
  };
  aio::run_coroutine_threadsafe(lt.loop(), work).result();
  auto make = [](int v) -> aio::Task<std::unique_ptr<int>> { co_return std::make_unique<int>(v); };
  std::unique_ptr<int> p = aio::run_coroutine_threadsafe(lt.loop(), make, 7).result();
  lt.stop();
  EXPECT_EQ(ran, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST_F(ThreadsafeBridge, CancelBeforeItRunsNeverStartsTheCoroutine) {
  aio::EventLoop loop;  // not running yet: the submission waits in the loop's queue
  bool ran = false;
  auto body = [&ran]() -> aio::Task<int> {
    ran = true;
    co_return 1;
  };
  auto fut = aio::run_coroutine_threadsafe(loop, body);
  auto fut2 = aio::run_coroutine_threadsafe(twice_after_yield(3), loop);
  EXPECT_FALSE(fut.done());
  EXPECT_TRUE(fut.cancel());
  EXPECT_TRUE(fut2.cancel());
  loop.call_soon_threadsafe([&loop] { loop.stop(); });  // after the submissions (FIFO)
  loop.run_forever();
  EXPECT_FALSE(ran);
  EXPECT_TRUE(fut.cancelled());
  EXPECT_THROW(fut.result(), spindle::CancelledError);
  EXPECT_THROW(fut2.result(), spindle::CancelledError);
  loop.close();
}

TEST_F(ThreadsafeBridge, CancelWhileRunningCancelsTheTask) {
  LoopThread lt;
  std::latch started(1);
  std::latch saw_cancel(1);
  auto body = [&]() -> aio::Task<int> {
    started.count_down();
    try {
      co_await aio::sleep(std::chrono::hours(1));
    } catch (const spindle::CancelledError&) {
      saw_cancel.count_down();
      throw;
    }
    co_return 1;
  };
  auto fut = aio::run_coroutine_threadsafe(lt.loop(), body);
  started.wait();
  EXPECT_TRUE(fut.cancel());
  EXPECT_TRUE(fut.cancelled());
  saw_cancel.wait();  // returns only because the task on the loop was cancelled
  EXPECT_THROW(fut.result(), spindle::CancelledError);
}

TEST_F(ThreadsafeBridge, CancelAfterDoneIsRefused) {
  LoopThread lt;
  auto fut = aio::run_coroutine_threadsafe(twice_after_yield(4), lt.loop());
  EXPECT_EQ(fut.result(), 8);
  EXPECT_FALSE(fut.cancel());
  EXPECT_EQ(fut.result(), 8);
}

TEST_F(ThreadsafeBridge, CancelFromTheLoopsOwnThread) {
  bool saw_cancel = false;
  aio::Event started;
  auto child = [&saw_cancel, &started]() -> aio::Task<void> {
    started.set();
    try {
      co_await aio::sleep(std::chrono::hours(1));
    } catch (const spindle::CancelledError&) {
      saw_cancel = true;
      throw;
    }
  };
  auto main = [&]() -> aio::Task<bool> {
    auto fut = aio::run_coroutine_threadsafe(aio::EventLoop::get_running_loop(), child);
    co_await started.wait();
    co_await aio::yield_now();  // the child reaches its sleep
    const bool cancelled = fut.cancel();
    co_await aio::yield_now();
    const bool both = cancelled && fut.cancelled();
    co_return both;
  };
  EXPECT_TRUE(aio::run(main(), {.handle_sigint = false}));
  EXPECT_TRUE(saw_cancel);
}

TEST_F(ThreadsafeBridge, ClosedLoopFailsAtOnceWithAClearError) {
  int reports = 0;
  auto previous = spindle::set_unhandled_exception_handler([&](std::string_view, std::exception_ptr) { ++reports; });
  bool ran = false;
  {
    aio::EventLoop loop;
    loop.close();
    auto body = [&ran]() -> aio::Task<int> {
      ran = true;
      co_return 1;
    };
    auto fut = aio::run_coroutine_threadsafe(loop, body);
    auto fut2 = aio::run_coroutine_threadsafe(twice_after_yield(1), loop);  // not reported "never awaited"
    ASSERT_TRUE(fut.done());
    ASSERT_TRUE(fut2.done());
    try {
      (void)fut.result();
      ADD_FAILURE() << "no exception";
    } catch (const spindle::InvalidStateError& e) {
      EXPECT_NE(std::string(e.what()).find("event loop was closed"), std::string::npos) << e.what();
    }
    EXPECT_THROW(fut2.result(), spindle::InvalidStateError);
  }
  spindle::set_unhandled_exception_handler(std::move(previous));
  EXPECT_FALSE(ran);
  EXPECT_EQ(reports, 0);
}

TEST_F(ThreadsafeBridge, LoopClosedWithPendingSubmissionsFailsEveryFuture) {
  std::vector<spindle::Future<int>> futs;
  int reports = 0;
  {
    LoopThread lt([&reports](aio::EventLoop& loop) {
      loop.set_exception_handler([&reports](aio::EventLoop&, const aio::ExceptionContext&) { ++reports; });
    });
    std::latch started(1);
    auto forever = [&started]() -> aio::Task<int> {
      started.count_down();
      co_await aio::sleep(std::chrono::hours(1));
      co_return 0;
    };
    futs.push_back(aio::run_coroutine_threadsafe(lt.loop(), forever));  // running when the loop closes
    started.wait();
    lt.stop();
    for (int i = 0; i < 10; ++i) futs.push_back(aio::run_coroutine_threadsafe(twice_after_yield(i), lt.loop()));
    lt.loop().close();  // the running one is abandoned (reported), the queued ones dropped
    EXPECT_EQ(reports, 1);
  }
  for (auto& f : futs) {
    ASSERT_TRUE(f.done());  // never hangs
    EXPECT_THROW(f.result(), spindle::InvalidStateError);
  }
}

TEST_F(ThreadsafeBridge, ALoopDestroyedMeanwhileIsSafe) {
  auto loop = std::make_unique<aio::EventLoop>();
  auto fut = aio::run_coroutine_threadsafe(twice_after_yield(2), *loop);
  std::thread([&loop] { loop.reset(); }).join();  // destroyed (on another thread) with the submission queued
  ASSERT_TRUE(fut.done());
  EXPECT_THROW(fut.result(), spindle::InvalidStateError);
  EXPECT_FALSE(fut.cancel());
}

TEST_F(ThreadsafeBridge, CancelRacingADestroyedLoopIsSafe) {
  auto loop = std::make_unique<aio::EventLoop>();
  std::latch started(1);
  auto forever = [&started]() -> aio::Task<int> {
    started.count_down();
    co_await aio::sleep(std::chrono::hours(1));
    co_return 0;
  };
  std::thread runner([&] {
    loop->set_exception_handler([](aio::EventLoop&, const aio::ExceptionContext&) {});
    loop->run_forever();
    loop.reset();
  });
  auto fut = aio::run_coroutine_threadsafe(*loop, forever);
  started.wait();
  aio::EventLoop* raw = loop.get();
  raw->call_soon_threadsafe([raw] { raw->stop(); });
  const bool cancelled = fut.cancel();  // races the loop's shutdown: either outcome is clean
  runner.join();
  ASSERT_TRUE(fut.done());
  if (cancelled) {
    EXPECT_THROW(fut.result(), spindle::CancelledError);
  } else {
    EXPECT_THROW(fut.result(), spindle::InvalidStateError);
  }
}

TEST_F(ThreadsafeBridge, RunCancelsSubmittedTasksLeftWhenMainReturns) {
  spindle::Future<int> fut;
  std::thread submitter;
  auto main = [&]() -> aio::Task<void> {
    aio::Event started;
    aio::EventLoop& loop = aio::EventLoop::get_running_loop();
    auto forever = [&started]() -> aio::Task<int> {
      started.set();
      co_await aio::sleep(std::chrono::hours(1));
      co_return 0;
    };
    std::latch submitted(1);
    submitter = std::thread([&] {
      fut = aio::run_coroutine_threadsafe(loop, forever);
      submitted.count_down();
    });
    co_await aio::to_thread([&submitted] { submitted.wait(); });
    co_await started.wait();
  };
  aio::run(main(), {.handle_sigint = false});
  submitter.join();
  ASSERT_TRUE(fut.done());
  EXPECT_TRUE(fut.cancelled());  // as asyncio.run: the leftover task is cancelled, so is its future
}

TEST_F(ThreadsafeBridge, AStartedCoroutineIsRefused) {
  aio::EventLoop loop;
  auto task = loop.create_task(twice_after_yield(1));
  EXPECT_THROW((void)aio::run_coroutine_threadsafe(task, loop), spindle::InvalidStateError);
  EXPECT_THROW((void)aio::run_coroutine_threadsafe(aio::Task<int>(), loop), spindle::InvalidStateError);
  EXPECT_EQ(loop.run_until_complete(task), 2);
  loop.close();
}

}  // namespace
