// Eager tasks (asyncio 3.12 eager_task_factory, 3.14 create_task(eager_start=True)): the first step runs inside
// create_task, until the coroutine first suspends.

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "census.hpp"
#include "spindle/aio.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

namespace {

/// Also checks that every coroutine frame made on this (the loop's) thread was freed.
class EagerTasks : public spindle::test::LeakCheckedTest {
 protected:
  void TearDown() override {
    EXPECT_EQ(aio::detail::live_frames(), frames_) << "coroutine frames leaked";
    LeakCheckedTest::TearDown();
  }

 private:
  long frames_ = aio::detail::live_frames();
};

aio::RunOptions opts() { return {.handle_sigint = false}; }

aio::Task<int> at_once(int v, aio::AnyTask* seen = nullptr) {
  if (seen != nullptr) *seen = aio::current_task();
  co_return v;
}

aio::Task<int> after_yield(int v, std::vector<int>* log = nullptr) {
  if (log != nullptr) log->push_back(1);
  co_await aio::yield_now();
  if (log != nullptr) log->push_back(3);
  co_return v;
}

TEST_F(EagerTasks, ATaskThatNeverSuspendsIsDoneOnReturn) {
  auto main = []() -> aio::Task<bool> {
    const aio::AnyTask me = aio::current_task();
    aio::AnyTask seen;
    auto t = aio::create_eager_task(at_once(5, &seen));
    const bool done_at_once = t.done();                               // no trip through the loop
    const bool was_current = seen == t;                               // current_task() was the new task
    const bool restored = aio::current_task() == me;                  // and is the creator again
    const bool lazy_not_done = !aio::create_task(at_once(6)).done();  // the standard factory waits for the loop
    const bool ok = done_at_once && was_current && restored && lazy_not_done && t.result() == 5;
    co_return ok;
  };
  EXPECT_TRUE(aio::run(main(), opts()));
}

TEST_F(EagerTasks, RunsUntilTheFirstSuspensionThenOnTheLoop) {
  auto main = []() -> aio::Task<std::vector<int>> {
    std::vector<int> log;
    auto t = aio::create_eager_task(after_yield(7, &log));
    log.push_back(2);  // after the eager step, before the rest
    EXPECT_FALSE(t.done());
    EXPECT_EQ(co_await t, 7);
    std::vector<int> lazy_log;
    auto u = aio::create_task(after_yield(8, &lazy_log));
    lazy_log.push_back(2);
    co_await u;
    log.push_back(lazy_log.front());  // the lazy task had not started: 2 came first
    co_return log;
  };
  EXPECT_EQ(aio::run(main(), opts()), (std::vector<int>{1, 2, 3, 2}));
}

TEST_F(EagerTasks, AnExceptionBeforeTheFirstSuspensionFailsTheTaskNotTheCaller) {
  auto main = []() -> aio::Task<bool> {
    auto boom = [](int) -> aio::Task<int> { throw std::runtime_error("eager boom"); };
    auto t = aio::create_eager_task(boom, 1);  // does not throw here
    if (!t.done() || t.exception() == nullptr) co_return false;
    try {
      co_await t;
    } catch (const std::runtime_error& e) {
      co_return std::string(e.what()) == "eager boom";
    }
    co_return false;
  };
  EXPECT_TRUE(aio::run(main(), opts()));
}

TEST_F(EagerTasks, CancellationAfterAndDuringTheEagerStep) {
  auto main = []() -> aio::Task<bool> {
    bool cleaned = false;
    auto sleeper = [&cleaned]() -> aio::Task<void> {
      struct Cleanup {
        bool* flag;
        ~Cleanup() { *flag = true; }
      } c{&cleaned};
      co_await aio::sleep(1h);
    };
    auto t = aio::create_eager_task(sleeper);  // suspended in its sleep
    t.cancel();
    bool raised = false;
    try {
      co_await t;
    } catch (const spindle::CancelledError&) {
      raised = true;
    }
    // Cancelled during its own eager step: it ends cancelled at its first suspension, before create returns.
    auto self_cancel = []() -> aio::Task<int> {
      aio::current_task().cancel();
      co_await aio::yield_now();
      co_return 1;
    };
    auto u = aio::create_eager_task(self_cancel);
    const bool ok = raised && cleaned && t.cancelled() && u.cancelled();
    co_return ok;
  };
  EXPECT_TRUE(aio::run(main(), opts()));
}

TEST_F(EagerTasks, TheLoopsTaskFactoryMakesCreateTaskEager) {
  auto main = []() -> aio::Task<bool> {
    aio::EventLoop& loop = aio::EventLoop::get_running_loop();
    bool ok = loop.get_task_factory() == aio::TaskFactory::eager;
    ok = ok && aio::create_task(at_once(1)).done() && loop.create_task(at_once(2)).done();
    auto [a, b] = co_await aio::gather(at_once(3), after_yield(4));  // gather's tasks: eager too
    ok = ok && a == 3 && b == 4;
    loop.set_task_factory(aio::TaskFactory::standard);
    ok = ok && !aio::create_task(at_once(5)).done();
    co_return ok;
  };
  EXPECT_TRUE(aio::run(main(), {.handle_sigint = false, .task_factory = aio::eager_task_factory}));
}

aio::Task<int> fail_at_once() {
  throw std::runtime_error("eager failure");
  co_return 0;
}

aio::Task<void> eager_children(std::vector<int>& log, bool& first_done_at_once) {
  co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Task<void> {
    auto a = tg.create_task(at_once(1));
    first_done_at_once = a.done();  // ran to completion inside create_task
    auto b = tg.create_task(after_yield(2, &log));
    log.push_back(2);  // after b's first step (which logged 1), before its second (3)
    co_return;
  });
}

TEST_F(EagerTasks, TaskGroupChildrenFollowTheLoopsTaskFactory) {
  // Python 3.12: a TaskGroup creates its tasks through the loop's task factory, so they start eagerly too.
  auto main = []() -> aio::Task<std::vector<int>> {
    std::vector<int> log;
    bool first_done_at_once = false;
    co_await eager_children(log, first_done_at_once);
    EXPECT_TRUE(first_done_at_once);
    co_return log;
  };
  EXPECT_EQ(aio::run(main(), {.handle_sigint = false, .task_factory = aio::eager_task_factory}),
            (std::vector<int>{1, 2, 3}));
}

aio::Task<void> eager_child_fails() {
  co_await aio::task_group([](aio::TaskGroup& tg) -> aio::Task<void> {
    tg.create_task(fail_at_once());  // fails inside create_task: the group still reports it
    co_await aio::sleep(1h);         // and cancels the body
  });
}

TEST_F(EagerTasks, ATaskGroupChildThatFailsInItsEagerStepFailsTheGroup) {
  auto main = []() -> aio::Task<std::string> {
    try {
      co_await eager_child_fails();
    } catch (const aio::ExceptionGroup& g) {
      co_return std::string(g.what());
    }
    co_return std::string("no error");
  };
  const std::string what = aio::run(main(), {.handle_sigint = false, .task_factory = aio::eager_task_factory});
  EXPECT_NE(what.find("eager failure"), std::string::npos) << what;
}

TEST_F(EagerTasks, NestedEagerTasksRestoreTheCurrentTask) {
  auto main = []() -> aio::Task<bool> {
    const aio::AnyTask me = aio::current_task();
    aio::AnyTask inner_seen;
    aio::AnyTask outer_after_inner;
    auto outer = [&]() -> aio::Task<int> {
      auto inner = aio::create_eager_task(at_once(1, &inner_seen));
      outer_after_inner = aio::current_task();
      co_await aio::yield_now();
      co_return inner.result() + 1;
    };
    auto t = aio::create_eager_task(outer);
    const bool ok = outer_after_inner == t && inner_seen.valid() && !(inner_seen == t) && aio::current_task() == me;
    const int v = co_await t;
    co_return v == 2 && ok;
  };
  EXPECT_TRUE(aio::run(main(), opts()));
}

TEST_F(EagerTasks, FromACallbackAndBeforeTheLoopRuns) {
  aio::EventLoop loop({.task_factory = aio::eager_task_factory});
  auto early = loop.create_task(at_once(1));  // the loop is not running: scheduled as usual (as asyncio)
  EXPECT_FALSE(early.done());
  aio::Task<int> from_callback;
  bool no_current_after = false;
  loop.call_soon([&] {
    from_callback = aio::create_eager_task(at_once(2));  // no current task around it
    no_current_after = !aio::current_task().valid();
    loop.stop();
  });
  loop.run_forever();
  EXPECT_TRUE(from_callback.done());
  EXPECT_EQ(from_callback.result(), 2);
  EXPECT_TRUE(no_current_after);
  EXPECT_EQ(loop.run_until_complete(early), 1);
  loop.close();
}

TEST_F(EagerTasks, TheCallableFormKeepsItsCapturesAlive) {
  auto main = []() -> aio::Task<std::size_t> {
    const std::string big(100, 'x');  // on the heap: a dangling capture reads freed memory under ASan
    auto t = aio::create_eager_task([big]() -> aio::Task<std::size_t> {
      co_await aio::yield_now();  // the closure must outlive the eager step
      co_return big.size();
    });
    co_return co_await t;
  };
  EXPECT_EQ(aio::run(main(), opts()), 100u);
}

TEST_F(EagerTasks, WithoutARunningLoopItIsAnError) {
  EXPECT_THROW((void)aio::create_eager_task(at_once(1)), spindle::InvalidStateError);
}

}  // namespace
