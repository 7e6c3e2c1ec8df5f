#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "census.hpp"
#include "spindle/aio.hpp"

using namespace std::chrono_literals;
namespace aio = spindle::aio;
using spindle::CancelledError;
using spindle::TimeoutError;

namespace {

aio::RunOptions vopts() {
  return aio::RunOptions{.clock = std::make_shared<aio::VirtualClock>(), .handle_sigint = false};
}

class Combinators : public spindle::test::LeakCheckedTest {};

aio::Task<int> after(std::chrono::milliseconds d, int v) {
  co_await aio::sleep(d);
  co_return v;
}
aio::Task<int> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await aio::sleep(d);
  throw std::runtime_error(what);
}
std::int64_t elapsed_ms(aio::EventLoop& loop, std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(loop.time() - t0).count();
}

TEST_F(Combinators, GatherVariadicReturnsATupleAndTakesTheSlowestTime) {
  auto main = []() -> aio::Task<std::int64_t> {
    auto& loop = aio::EventLoop::get_running_loop();
    const auto t0 = loop.time();
    auto [a, b, c] = co_await aio::gather(after(50ms, 1), after(150ms, 2), after(100ms, 3));
    EXPECT_EQ(a + b * 10 + c * 100, 321);
    co_return elapsed_ms(loop, t0);
  };
  EXPECT_EQ(aio::run(main(), vopts()), 150);
}

TEST_F(Combinators, GatherRangeKeepsOrder) {
  auto main = []() -> aio::Task<std::vector<int>> {
    std::vector<aio::Task<int>> v;
    for (int i = 0; i < 10; ++i) v.push_back(after(std::chrono::milliseconds(100 - i * 10), i));
    co_return co_await aio::gather(std::move(v));
  };
  EXPECT_EQ(aio::run(main(), vopts()), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_F(Combinators, GatherFailsFastButSiblingsKeepRunning) {
  bool sibling_finished = false;
  auto sibling = [&]() -> aio::Task<int> {
    co_await aio::sleep(200ms);
    sibling_finished = true;
    co_return 1;
  };
  auto main = [&]() -> aio::Task<void> {
    auto s = aio::create_task(sibling());
    try {
      co_await aio::gather(fail_after(10ms, "first"), aio::Task<int>(s));
      ADD_FAILURE() << "gather should have thrown";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "first");
    }
    EXPECT_FALSE(s.done());
    co_await s;
  };
  aio::run(main(), vopts());
  EXPECT_TRUE(sibling_finished);
}

TEST_F(Combinators, GatherReturnExceptionsCollectsEverything) {
  auto main = []() -> aio::Task<void> {
    std::vector<aio::Task<int>> v;
    v.push_back(after(10ms, 1));
    v.push_back(fail_after(5ms, "x"));
    v.push_back(after(1ms, 3));
    auto r = co_await aio::gather(aio::return_exceptions, std::move(v));
    EXPECT_TRUE(r[0].ok());
    EXPECT_EQ(r[0].value(), 1);
    EXPECT_FALSE(r[1].ok());
    EXPECT_THROW(r[1].value(), std::runtime_error);
    EXPECT_EQ(r[2].value(), 3);
  };
  aio::run(main(), vopts());
}

TEST_F(Combinators, CancellingTheGathererCancelsTheChildren) {
  int cancelled = 0;
  auto child = [&]() -> aio::Task<int> {
    try {
      co_await aio::sleep(1h);
    } catch (const CancelledError&) {
      ++cancelled;
      throw;
    }
    co_return 0;
  };
  auto main = [&]() -> aio::Task<void> {
    auto g = aio::create_task(aio::gather(child(), child(), child()));
    co_await aio::sleep(10ms);
    g.cancel();
    EXPECT_THROW(co_await g, CancelledError);
    EXPECT_TRUE(g.cancelled());
  };
  aio::run(main(), vopts());
  EXPECT_EQ(cancelled, 3);
}

TEST_F(Combinators, WaitForTimesOutAndCancelsTheInner) {
  bool inner_cancelled = false;
  auto slow = [&]() -> aio::Task<int> {
    try {
      co_await aio::sleep(10s);
    } catch (const CancelledError&) {
      inner_cancelled = true;
      throw;
    }
    co_return 1;
  };
  auto main = [&]() -> aio::Task<std::int64_t> {
    auto& loop = aio::EventLoop::get_running_loop();
    const auto t0 = loop.time();
    EXPECT_THROW(co_await aio::wait_for(slow(), 100ms), TimeoutError);
    EXPECT_EQ(aio::current_task().cancelling(), 0);
    co_return elapsed_ms(loop, t0);
  };
  EXPECT_EQ(aio::run(main(), vopts()), 100);
  EXPECT_TRUE(inner_cancelled);
}

TEST_F(Combinators, WaitForReturnsInTime) {
  auto main = []() -> aio::Task<int> { co_return co_await aio::wait_for(after(10ms, 5), 1s); };
  EXPECT_EQ(aio::run(main(), vopts()), 5);
}

TEST_F(Combinators, WaitForNonPositiveTimeoutNeverStartsTheCoroutine) {
  bool started = false;
  auto body = [&]() -> aio::Task<int> {
    started = true;
    co_return 1;
  };
  auto main = [&]() -> aio::Task<void> { EXPECT_THROW(co_await aio::wait_for(body(), 0s), TimeoutError); };
  aio::run(main(), vopts());
  EXPECT_FALSE(started);
}

TEST_F(Combinators, WaitForNeverSwallowsAnOuterCancellation) {
  // CPython bug 86296: the timeout and an outer cancel() land in the same iteration.
  auto inner = []() -> aio::Task<int> {
    co_await aio::sleep(1h);
    co_return 1;
  };
  auto waiter = [&]() -> aio::Task<int> { co_return co_await aio::wait_for(inner(), 100ms); };
  auto main = [&]() -> aio::Task<void> {
    auto t = aio::create_task(waiter());
    auto& loop = aio::EventLoop::get_running_loop();
    loop.call_later(100ms, [t]() mutable { t.cancel(); });
    co_await aio::sleep(200ms);
    EXPECT_TRUE(t.done());
    EXPECT_TRUE(t.cancelled());
  };
  aio::run(main(), vopts());
}

TEST_F(Combinators, WaitForDeliversAResultThatWonTheRace) {
  // The inner completes at the same tick as the deadline: the value is delivered, not dropped.
  auto main = []() -> aio::Task<int> { co_return co_await aio::wait_for(after(100ms, 9), 100ms); };
  EXPECT_EQ(aio::run(main(), vopts()), 9);
}

TEST_F(Combinators, TimeoutScopeConvertsToTimeoutError) {
  auto main = []() -> aio::Task<void> {
    EXPECT_THROW(co_await aio::timeout(50ms,
                                       [&]() -> aio::Task<void> {
                                         co_await aio::sleep(10ms);
                                         co_await aio::sleep(1h);
                                       }()),
                 TimeoutError);
    co_return;
  };
  aio::run(main(), vopts());
}

TEST_F(Combinators, NestedTimeoutsExpiringTogether) {
  auto main = []() -> aio::Task<void> {
    auto inner = []() -> aio::Task<int> { co_return co_await aio::timeout(100ms, after(1h, 0)); };
    EXPECT_THROW(co_await aio::timeout(100ms, inner()), TimeoutError);
    EXPECT_EQ(aio::current_task().cancelling(), 0);
  };
  aio::run(main(), vopts());
}

aio::Task<int> extend_once(aio::Timeout cm) {  // a copy of the Timeout: copies share the deadline
  auto& loop = aio::EventLoop::get_running_loop();
  co_await aio::sleep(30ms);
  cm.reschedule(loop.time() + 100ms);  // Python: cm.reschedule(loop.time() + 0.1)
  co_await aio::sleep(80ms);           // past the first deadline, within the new one
  co_return 7;
}

TEST_F(Combinators, TimeoutRescheduleMovesTheDeadlineWhileTheBlockRuns) {
  auto main = []() -> aio::Task<std::int64_t> {
    auto& loop = aio::EventLoop::get_running_loop();
    const auto t0 = loop.time();
    aio::Timeout cm = aio::Timeout::after(50ms);
    EXPECT_EQ(cm.when(), t0 + 50ms);
    EXPECT_EQ(co_await cm.run(extend_once(cm)), 7);
    EXPECT_FALSE(cm.expired());
    EXPECT_EQ(cm.when(), t0 + 130ms);
    co_return elapsed_ms(loop, t0);
  };
  EXPECT_EQ(aio::run(main(), vopts()), 110);
}

aio::Task<void> set_a_deadline_then_block(aio::Timeout cm) {
  cm.reschedule(aio::EventLoop::get_running_loop().time() + 20ms);
  co_await aio::sleep(1h);
}

TEST_F(Combinators, TimeoutWithoutADeadlineGetsOneAndExpires) {
  auto main = []() -> aio::Task<std::int64_t> {
    auto& loop = aio::EventLoop::get_running_loop();
    const auto t0 = loop.time();
    aio::Timeout cm;  // Python: async with asyncio.timeout(None) as cm
    EXPECT_FALSE(cm.when().has_value());
    EXPECT_THROW(co_await cm.run(set_a_deadline_then_block(cm)), TimeoutError);
    EXPECT_TRUE(cm.expired());
    EXPECT_THROW(cm.reschedule(loop.time() + 1s), spindle::InvalidStateError);  // expired: as Python
    EXPECT_THROW((void)cm.run(after(1ms, 0)), spindle::InvalidStateError);      // one run per Timeout
    EXPECT_EQ(aio::current_task().cancelling(), 0);
    co_return elapsed_ms(loop, t0);
  };
  EXPECT_EQ(aio::run(main(), vopts()), 20);
}

aio::Task<int> lift_the_deadline(aio::Timeout cm) {
  cm.reschedule(std::nullopt);
  co_await aio::sleep(50ms);
  co_return 3;
}

TEST_F(Combinators, TimeoutRescheduledToNoneNeverExpires) {
  auto main = []() -> aio::Task<int> {
    aio::Timeout cm = aio::Timeout::at(aio::EventLoop::get_running_loop().time() + 10ms);
    const int v = co_await cm.run(lift_the_deadline(cm));
    EXPECT_FALSE(cm.expired());
    EXPECT_FALSE(cm.when().has_value());
    co_return v;
  };
  EXPECT_EQ(aio::run(main(), vopts()), 3);
}

TEST_F(Combinators, WaitFirstCompletedAndTimeout) {
  auto main = []() -> aio::Task<void> {
    std::vector<aio::Task<int>> v{after(10ms, 1), after(20ms, 2), after(30ms, 3)};
    auto r = co_await aio::wait(std::move(v), std::nullopt, aio::ReturnWhen::FIRST_COMPLETED);
    EXPECT_EQ(r.done.size(), 1u);
    EXPECT_EQ(r.pending.size(), 2u);
    auto r2 = co_await aio::wait(std::move(r.pending), 15ms);
    EXPECT_EQ(r2.done.size(), 1u);
    EXPECT_EQ(r2.pending.size(), 1u);
    auto r3 = co_await aio::wait(std::move(r2.pending));
    EXPECT_EQ(r3.done.size(), 1u);
    EXPECT_EQ(r3.done[0].result(), 3);
  };
  aio::run(main(), vopts());
}

TEST_F(Combinators, AsCompletedYieldsInCompletionOrder) {
  auto main = []() -> aio::Task<std::vector<int>> {
    std::vector<aio::Task<int>> v{after(30ms, 3), after(10ms, 1), after(20ms, 2)};
    auto ac = aio::as_completed(std::move(v));
    std::vector<int> order;
    while (!ac.empty()) order.push_back((co_await ac.next()).result());
    co_return order;
  };
  EXPECT_EQ(aio::run(main(), vopts()), (std::vector<int>{1, 2, 3}));
}

TEST_F(Combinators, ShieldProtectsTheInnerTask) {
  auto main = []() -> aio::Task<int> {
    auto inner = aio::create_task(after(100ms, 11));
    auto outer = aio::create_task([](aio::Task<int> t) -> aio::Task<int> { co_return co_await aio::shield(t); }(inner));
    co_await aio::sleep(10ms);
    outer.cancel();
    EXPECT_THROW(co_await outer, CancelledError);
    EXPECT_FALSE(inner.done());
    co_return co_await inner;
  };
  EXPECT_EQ(aio::run(main(), vopts()), 11);
}

TEST_F(Combinators, TaskGroupWaitsForAllChildren) {
  auto main = []() -> aio::Task<int> {
    int sum = 0;
    co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Task<void> {
      for (int i = 1; i <= 3; ++i) {
        tg.create_task([](int k, int& s) -> aio::Task<void> {
          co_await aio::sleep(std::chrono::milliseconds(10 * k));
          s += k;
        }(i, sum));
      }
      co_return;
    });
    co_return sum;
  };
  EXPECT_EQ(aio::run(main(), vopts()), 6);
}

TEST_F(Combinators, TaskGroupFirstFailureCancelsSiblingsAndReportsAll) {
  int cancelled = 0;
  auto sleeper = [&]() -> aio::Task<void> {
    try {
      co_await aio::sleep(1h);
    } catch (const CancelledError&) {
      ++cancelled;
      throw;
    }
  };
  auto main = [&]() -> aio::Task<void> {
    try {
      co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Task<void> {
        tg.create_task(sleeper());
        tg.create_task(fail_after(10ms, "a"));
        tg.create_task(fail_after(10ms, "b"));
        tg.create_task(sleeper());
        co_await aio::sleep(1h);  // the body is cancelled too
      });
      ADD_FAILURE() << "no ExceptionGroup";
    } catch (const aio::ExceptionGroup& g) {
      EXPECT_EQ(g.exceptions().size(), 2u);
      EXPECT_NE(std::string(g.what()).find("a"), std::string::npos);
    }
    EXPECT_EQ(aio::current_task().cancelling(), 0);
  };
  aio::run(main(), vopts());
  EXPECT_EQ(cancelled, 2);
}

TEST_F(Combinators, TaskGroupPropagatesAnOuterCancellation) {
  bool child_cancelled = false;
  // A lambda coroutine refers to its closure: keep the closure alive (a named variable), never a temporary.
  auto child = [&]() -> aio::Task<void> {
    try {
      co_await aio::sleep(1h);
    } catch (const CancelledError&) {
      child_cancelled = true;
      throw;
    }
  };
  auto main = [&]() -> aio::Task<void> {
    auto t = aio::create_task(aio::task_group([&](aio::TaskGroup& tg) -> aio::Task<void> {
      tg.create_task(child());
      co_return;
    }));
    co_await aio::sleep(10ms);
    t.cancel();
    EXPECT_THROW(co_await t, CancelledError);
  };
  aio::run(main(), vopts());
  EXPECT_TRUE(child_cancelled);
}

}  // namespace
