#include "spindle/thread/thread.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/core/unhandled.hpp"
#include "spindle/thread/event.hpp"

using namespace std::chrono_literals;
using spindle::Event;
using spindle::InvalidStateError;
using spindle::Thread;
using spindle::ThreadOptions;

namespace {

class ThreadTest : public spindle::test::LeakCheckedTest {};
class ThreadCountTest : public spindle::test::LeakCheckedTestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, ThreadCountTest, ::testing::Values(1, 2, 4, 16));

// Captures what report_unhandled_exception receives while a test runs, and restores the previous handler.
class CapturedReports {
 public:
  CapturedReports() {
    previous_ = spindle::set_unhandled_exception_handler([this](std::string_view where, std::exception_ptr e) {
      std::lock_guard guard(mutex_);
      wheres_.emplace_back(where);
      whats_.push_back(spindle::describe_exception(e));
    });
  }
  ~CapturedReports() { spindle::set_unhandled_exception_handler(std::move(previous_)); }
  std::vector<std::string> wheres() {
    std::lock_guard guard(mutex_);
    return wheres_;
  }
  std::vector<std::string> whats() {
    std::lock_guard guard(mutex_);
    return whats_;
  }

 private:
  spindle::UnhandledExceptionHandler previous_;
  std::mutex mutex_;
  std::vector<std::string> wheres_;
  std::vector<std::string> whats_;
};

TEST_F(ThreadTest, RunsTargetWithCopiedAndMovedArguments) {
  int seen = 0;
  std::string text = "abc";
  Thread t([&seen](std::unique_ptr<int> p, const std::string& s) { seen = *p + static_cast<int>(s.size()); },
           std::make_unique<int>(5), text);
  text = "changed";  // the thread got a copy
  EXPECT_FALSE(t.is_alive());
  t.start();
  t.join();
  EXPECT_EQ(seen, 8);
  EXPECT_FALSE(t.is_alive());
}

TEST_F(ThreadTest, TargetIsDestroyedBeforeJoinReturns) {
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> watch = token;
  Thread t([](const std::shared_ptr<int>& p) { EXPECT_EQ(*p, 1); }, std::move(token));
  t.start();
  t.join();
  EXPECT_TRUE(watch.expired());
}

TEST_F(ThreadTest, StartTwiceThrows) {
  Thread t([] {});
  t.start();
  EXPECT_THROW(t.start(), InvalidStateError);
  t.join();
  EXPECT_THROW(t.start(), InvalidStateError);
}

TEST_F(ThreadTest, JoinBeforeStartThrows) {
  Thread t([] {});
  EXPECT_THROW(t.join(), InvalidStateError);
  EXPECT_THROW(t.join(1ms), InvalidStateError);
}

TEST_F(ThreadTest, JoinWithTimeoutLeavesThreadAlive) {
  Event go;
  Thread t([&go] { go.wait(); });
  t.start();
  EXPECT_TRUE(t.is_alive());
  EXPECT_FALSE(t.join(5ms));
  EXPECT_FALSE(t.join(-1s));  // negative: poll
  EXPECT_TRUE(t.is_alive());
  go.set();
  EXPECT_TRUE(t.join(std::nullopt));
  EXPECT_FALSE(t.is_alive());
  t.join();  // joining again is fine, as in Python
}

TEST_F(ThreadTest, JoinFromItselfThrows) {
  Thread* self = nullptr;
  std::atomic<bool> refused{false};
  std::latch ready(1);
  Thread t([&] {
    ready.wait();
    try {
      self->join();
    } catch (const InvalidStateError&) {
      refused = true;
    }
  });
  self = &t;
  t.start();
  ready.count_down();
  t.join();
  EXPECT_TRUE(refused);
}

TEST_F(ThreadTest, DefaultNameAndCustomNameReachTheKernel) {
  Thread unnamed([] {});
  EXPECT_EQ(unnamed.name().rfind("Thread-", 0), 0U) << unnamed.name();

  std::string seen_name;
  char kernel[16] = {};
  Thread t(ThreadOptions{.name = "spindle-worker-with-a-long-name"}, [&] {
    seen_name = spindle::current_thread_name();
    pthread_getname_np(pthread_self(), kernel, sizeof kernel);
  });
  EXPECT_EQ(t.name(), "spindle-worker-with-a-long-name");
  t.start();
  t.join();
  EXPECT_EQ(seen_name, "spindle-worker-with-a-long-name");
  EXPECT_EQ(std::string(kernel), "spindle-worker-");  // the kernel keeps 15 bytes
  t.set_name("renamed");
  EXPECT_EQ(t.name(), "renamed");
  EXPECT_EQ(spindle::current_thread_name(), "MainThread");
}

TEST_F(ThreadTest, SetNameWhileRunningRenamesKernelThread) {
  Event renamed;
  Event done;
  char kernel[16] = {};
  Thread t([&] {
    renamed.wait();
    pthread_getname_np(pthread_self(), kernel, sizeof kernel);
    done.set();
  });
  t.start();
  t.set_name("late-name");
  renamed.set();
  t.join();
  EXPECT_EQ(std::string(kernel), "late-name");
}

TEST_F(ThreadTest, IdentAndNativeIdMatchTheThread) {
  std::uint64_t inside_ident = 0;
  int inside_native = 0;
  Thread t([&] {
    inside_ident = spindle::get_ident();
    inside_native = spindle::get_native_id();
  });
  EXPECT_EQ(t.ident(), 0U);
  EXPECT_EQ(t.native_id(), 0);
  t.start();
  EXPECT_NE(t.native_id(), 0);  // known as soon as start() returns
  t.join();
  EXPECT_EQ(t.ident(), inside_ident);
  EXPECT_EQ(t.native_id(), inside_native);
  EXPECT_NE(inside_native, spindle::get_native_id());
  EXPECT_NE(inside_ident, spindle::get_ident());
}

TEST_F(ThreadTest, EscapingExceptionIsReportedNotFatal) {
  CapturedReports reports;
  Thread a(ThreadOptions{.name = "thrower"}, [] { throw std::runtime_error("boom"); });
  Thread b(ThreadOptions{.name = "int-thrower"}, [] { throw 42; });
  a.start();
  a.join();
  b.start();
  b.join();
  const auto wheres = reports.wheres();
  const auto whats = reports.whats();
  ASSERT_EQ(wheres.size(), 2U);
  EXPECT_EQ(wheres[0], "thread thrower");
  EXPECT_EQ(whats[0], "boom");
  EXPECT_EQ(wheres[1], "thread int-thrower");
  EXPECT_FALSE(a.is_alive());
}

TEST_F(ThreadTest, DestructorJoinsNonDaemonThread) {
  std::atomic<bool> finished{false};
  Event go;
  {
    Thread t([&] {
      go.wait();
      for (int i = 0; i < 1000; ++i) std::this_thread::yield();  // make an early return of ~Thread visible
      finished = true;
    });
    t.start();
    go.set();
  }  // ~Thread joins
  EXPECT_TRUE(finished);
}

TEST_F(ThreadTest, DestructorDetachesDaemonThread) {
  auto release = std::make_shared<Event>();
  auto done = std::make_shared<Event>();
  {
    Thread t(ThreadOptions{.daemon = true}, [release, done] {
      release->wait();
      done->set();
    });
    EXPECT_TRUE(t.daemon());
    t.start();
  }  // returns at once: joining here would deadlock, since `release` is set only below
  release->set();
  done->wait();  // the census then waits for the OS thread to leave
}

TEST_F(ThreadTest, ThreadDestroyingItsOwnObjectDoesNotDeadlock) {
  Event go;
  auto done = std::make_shared<Event>();
  auto holder = std::make_unique<Thread>();
  *holder = Thread([&holder, &go, done] {
    go.wait();
    holder.reset();  // ~Thread on its own thread: detached, since joining itself would deadlock
    done->set();
  });
  holder->start();
  go.set();
  done->wait();
  EXPECT_EQ(holder, nullptr);
}

TEST_F(ThreadTest, SetDaemonAfterStartThrows) {
  Thread t([] {});
  t.set_daemon(true);
  EXPECT_TRUE(t.daemon());
  t.set_daemon(false);
  t.start();
  EXPECT_THROW(t.set_daemon(true), InvalidStateError);
  t.join();
}

TEST_F(ThreadTest, DefaultConstructedThreadRunsNothing) {
  Thread t;
  t.start();
  t.join();
  EXPECT_FALSE(t.is_alive());
}

TEST_F(ThreadTest, MovedThreadKeepsRunningAndMovedFromIsInert) {
  std::atomic<int> ran{0};
  Thread a([&] { ran.fetch_add(1); });
  Thread b(std::move(a));
  EXPECT_THROW(a.start(), InvalidStateError);  // NOLINT(bugprone-use-after-move): checked on purpose
  EXPECT_FALSE(a.is_alive());
  b.start();
  Thread c([&] { ran.fetch_add(10); });
  c.start();
  c = std::move(b);  // joins c's first thread, takes over b's
  c.join();
  EXPECT_EQ(ran.load(), 11);
}

TEST_P(ThreadCountTest, ManyThreadsAllRun) {
  std::atomic<int> ran{0};
  std::vector<Thread> threads;
  for (int i = 0; i < GetParam(); ++i) threads.emplace_back([&ran](int k) { ran.fetch_add(k); }, i + 1);
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ran.load(), GetParam() * (GetParam() + 1) / 2);
}

}  // namespace
