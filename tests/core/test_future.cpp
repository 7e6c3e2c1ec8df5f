#include "spindle/core/future.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <string>
#include <thread>

#include "census.hpp"

using namespace std::chrono_literals;
using spindle::Future;
using spindle::Promise;

namespace {

class FutureTest : public spindle::test::LeakCheckedTest {};

TEST_F(FutureTest, ResultAfterSetResult) {
  Promise<int> p;
  auto f = p.get_future();
  EXPECT_FALSE(f.done());
  p.set_result(42);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.result(), 42) << "result() may be called repeatedly";
  EXPECT_EQ(f.exception(), nullptr);
}

TEST_F(FutureTest, VoidAndMoveOnly) {
  Promise<void> pv;
  auto fv = pv.get_future();
  pv.set_result();
  fv.result();
  Promise<std::unique_ptr<int>> pm;
  auto fm = pm.get_future();
  pm.set_result(std::make_unique<int>(7));
  std::unique_ptr<int> moved = std::move(fm).result();
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(*moved, 7);
}

TEST_F(FutureTest, ExceptionIsRethrownWithItsType) {
  Promise<int> p;
  auto f = p.get_future();
  p.set_exception(std::out_of_range("boom"));
  EXPECT_THROW(f.result(), std::out_of_range);
  auto e = f.exception();
  ASSERT_NE(e, nullptr);
  EXPECT_THROW(std::rethrow_exception(e), std::out_of_range);
}

TEST_F(FutureTest, SetTwiceIsInvalidState) {
  Promise<int> p;
  p.set_result(1);
  EXPECT_THROW(p.set_result(2), spindle::InvalidStateError);
  EXPECT_THROW(p.set_exception(std::runtime_error("x")), spindle::InvalidStateError);
}

TEST_F(FutureTest, CancelOnlyWhilePending) {
  Promise<int> p;
  auto f = p.get_future();
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancel()) << "cancelling a cancelled future succeeds, as in Python";
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.done());
  EXPECT_THROW(f.result(), spindle::CancelledError);
  EXPECT_THROW(f.exception(), spindle::CancelledError);
  EXPECT_FALSE(p.set_running_or_notify_cancel());
  EXPECT_THROW(p.set_result(1), spindle::InvalidStateError);

  Promise<int> running;
  auto rf = running.get_future();
  EXPECT_TRUE(running.set_running_or_notify_cancel());
  EXPECT_TRUE(rf.running());
  EXPECT_FALSE(rf.cancel());
  EXPECT_THROW(running.set_running_or_notify_cancel(), spindle::InvalidStateError);
  running.set_result(3);
  EXPECT_FALSE(rf.cancel());
  EXPECT_EQ(rf.result(), 3);
}

TEST_F(FutureTest, ResultTimeout) {
  Promise<int> p;
  auto f = p.get_future();
  EXPECT_THROW(f.result(0ms), spindle::TimeoutError);
  EXPECT_THROW(f.result(-5ms), spindle::TimeoutError);
  EXPECT_THROW(f.exception(1ms), spindle::TimeoutError);
  EXPECT_FALSE(f.wait_for(1ms));
  p.set_result(5);
  EXPECT_EQ(f.result(0ms), 5);
  EXPECT_TRUE(f.wait_for(std::chrono::hours(1'000'000)));
}

TEST_F(FutureTest, BrokenPromise) {
  Future<int> f;
  {
    Promise<int> p;
    f = p.get_future();
  }
  EXPECT_TRUE(f.done());
  EXPECT_THROW(f.result(), spindle::BrokenPromise);
}

TEST_F(FutureTest, ResultWakesBlockedWaiter) {
  Promise<std::string> p;
  auto f = p.get_future();
  std::latch started(1);
  std::thread t([&] {
    started.count_down();
    EXPECT_EQ(f.result(), "hello");
  });
  started.wait();
  p.set_result("hello");
  t.join();
}

TEST_F(FutureTest, CallbackRunsOnceWhenDone) {
  Promise<int> p;
  auto f = p.get_future();
  int calls = 0;
  int seen = 0;
  f.add_done_callback([&](const Future<int>& g) {
    ++calls;
    seen = g.result();
  });
  EXPECT_EQ(calls, 0);
  p.set_result(9);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, 9);
  // Already done: runs at once, on this thread.
  f.add_done_callback([&](const Future<int>&) { ++calls; });
  EXPECT_EQ(calls, 2);
}

TEST_F(FutureTest, CallbackRunsOnCancel) {
  Promise<int> p;
  auto f = p.get_future();
  bool saw_cancel = false;
  f.add_done_callback([&](const Future<int>& g) { saw_cancel = g.cancelled(); });
  f.cancel();
  EXPECT_TRUE(saw_cancel);
}

TEST_F(FutureTest, ThrowingCallbackIsReportedNotPropagated) {
  std::atomic<int> reports{0};
  auto previous = spindle::set_unhandled_exception_handler([&](std::string_view where, std::exception_ptr e) {
    EXPECT_NE(where.find("callback"), std::string_view::npos);
    EXPECT_EQ(spindle::describe_exception(e), "callback failed");
    ++reports;
  });
  Promise<int> p;
  auto f = p.get_future();
  int later = 0;
  f.add_done_callback([](const Future<int>&) { throw std::runtime_error("callback failed"); });
  f.add_done_callback([&](const Future<int>&) { later = 1; });
  EXPECT_NO_THROW(p.set_result(1));
  EXPECT_EQ(reports.load(), 1);
  EXPECT_EQ(later, 1) << "a throwing callback does not stop the next one";
  spindle::set_unhandled_exception_handler(previous);
}

TEST_F(FutureTest, CallbacksOfNeverCompletedStateAreDiscarded) {
  auto token = std::make_shared<int>(0);
  {
    Promise<int> p;
    auto f = p.get_future();
    f.add_done_callback([token](const Future<int>& g) { EXPECT_THROW(g.result(), spindle::BrokenPromise); });
    EXPECT_EQ(token.use_count(), 2);
  }
  EXPECT_EQ(token.use_count(), 1) << "the callback (and its captures) were released";
}

TEST_F(FutureTest, CopiesShareState) {
  Promise<int> p;
  auto a = p.get_future();
  Future<int> b = a;
  EXPECT_TRUE(a == b);
  p.set_result(1);
  EXPECT_TRUE(b.done());
  Future<int> empty;
  EXPECT_FALSE(empty.valid());
}

TEST_F(FutureTest, ReadyHelpers) {
  auto f = spindle::make_ready_future<int>(3);
  EXPECT_EQ(f.result(), 3);
  auto g = spindle::make_exceptional_future<int>(std::make_exception_ptr(std::logic_error("x")));
  EXPECT_THROW(g.result(), std::logic_error);
}

TEST_F(FutureTest, NullExceptionRejected) {
  Promise<int> p;
  EXPECT_THROW(p.set_exception(std::exception_ptr()), std::invalid_argument);
}

}  // namespace
