#include "spindle/core/wait.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "census.hpp"

using namespace std::chrono_literals;
using spindle::Future;
using spindle::Promise;
using spindle::ReturnWhen;

namespace {

class WaitTest : public spindle::test::LeakCheckedTest {};

TEST_F(WaitTest, AllCompletedWhenAllDone) {
  std::vector<Promise<int>> ps(3);
  std::vector<Future<int>> fs;
  for (auto& p : ps) fs.push_back(p.get_future());
  std::thread t([&] {
    for (int i = 0; i < 3; ++i) ps[i].set_result(i);
  });
  auto r = spindle::wait(fs);
  t.join();
  EXPECT_EQ(r.done.size(), 3u);
  EXPECT_TRUE(r.not_done.empty());
}

TEST_F(WaitTest, TimeoutLeavesPendingInNotDone) {
  Promise<int> a, b;
  b.set_result(1);
  std::vector<Future<int>> fs{a.get_future(), b.get_future()};
  auto r = spindle::wait(fs, 5ms);
  ASSERT_EQ(r.done.size(), 1u);
  ASSERT_EQ(r.not_done.size(), 1u);
  EXPECT_EQ(r.done[0].result(), 1);
  EXPECT_FALSE(r.not_done[0].done());
}

TEST_F(WaitTest, FirstCompletedReturnsEarly) {
  Promise<int> a, b;
  std::vector<Future<int>> fs{a.get_future(), b.get_future()};
  std::thread t([&] { b.set_result(2); });
  auto r = spindle::wait(fs, std::nullopt, ReturnWhen::FIRST_COMPLETED);
  t.join();
  ASSERT_GE(r.done.size(), 1u);
  EXPECT_EQ(r.done.back().result(), 2);
  EXPECT_EQ(r.done.size() + r.not_done.size(), 2u);
}

TEST_F(WaitTest, FirstExceptionStopsOnFailureNotOnSuccess) {
  Promise<int> ok, bad, never;
  ok.set_result(1);
  std::vector<Future<int>> fs{ok.get_future(), bad.get_future(), never.get_future()};
  std::thread t([&] { bad.set_exception(std::runtime_error("x")); });
  auto r = spindle::wait(fs, std::nullopt, spindle::FIRST_EXCEPTION);
  t.join();
  EXPECT_EQ(r.done.size(), 2u);
  ASSERT_EQ(r.not_done.size(), 1u);
  // A successful completion alone does not satisfy FIRST_EXCEPTION.
  Promise<int> p1, p2;
  std::vector<Future<int>> gs{p1.get_future(), p2.get_future()};
  p1.set_result(1);
  auto r2 = spindle::wait(gs, 1ms, spindle::FIRST_EXCEPTION);
  EXPECT_EQ(r2.not_done.size(), 1u);
}

TEST_F(WaitTest, EmptyInputReturnsAtOnce) {
  std::vector<Future<int>> none;
  auto r = spindle::wait(none);
  EXPECT_TRUE(r.done.empty());
  EXPECT_TRUE(r.not_done.empty());
}

TEST_F(WaitTest, RepeatedTimedWaitsLeaveNoCallbacksBehind) {
  Promise<int> p;
  std::vector<Future<int>> fs{p.get_future()};
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(spindle::wait(fs, 0ms).not_done.size(), 1u);
  int calls = 0;
  fs[0].add_done_callback([&](const Future<int>&) { ++calls; });
  p.set_result(1);
  EXPECT_EQ(calls, 1) << "only the user's callback remained registered";
}

TEST_F(WaitTest, AsCompletedYieldsInCompletionOrder) {
  std::vector<Promise<int>> ps(4);
  std::vector<Future<int>> fs;
  for (auto& p : ps) fs.push_back(p.get_future());
  ps[2].set_result(2);                         // done before the call: yielded first
  auto completed = spindle::as_completed(fs);  // registers on every future now
  std::thread t([&] {
    ps[3].set_result(3);
    ps[0].set_result(0);
    ps[1].set_result(1);
  });
  std::vector<int> order;
  for (auto& f : completed) order.push_back(f.result());
  t.join();
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order[0], 2);
  EXPECT_EQ((std::vector<int>{order[1], order[2], order[3]}), (std::vector<int>{3, 0, 1}));
}

TEST_F(WaitTest, AsCompletedTimesOut) {
  Promise<int> done, never;
  done.set_result(1);
  std::vector<Future<int>> fs{done.get_future(), never.get_future()};
  int seen = 0;
  EXPECT_THROW(
      {
        for (auto& f : spindle::as_completed(fs, 5ms)) {
          EXPECT_EQ(f.result(), 1);
          ++seen;
        }
      },
      spindle::TimeoutError);
  EXPECT_EQ(seen, 1);
}

TEST_F(WaitTest, AsCompletedAbandonedEarlyUnregisters) {
  Promise<int> a, b;
  std::vector<Future<int>> fs{a.get_future(), b.get_future()};
  a.set_result(1);
  for (auto& f : spindle::as_completed(fs)) {
    EXPECT_EQ(f.result(), 1);
    break;
  }
  b.set_result(2);  // no dangling node is invoked
}

}  // namespace
