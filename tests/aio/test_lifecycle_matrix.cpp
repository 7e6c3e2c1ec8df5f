// The lifecycle matrix (in the spirit of tokio's task-combinations test): every task outcome x every way of
// consuming it x closing the loop early or late ends with the task resolved, no coroutine frame leaked and
// no exception lost (seen by the consumer, or reported exactly once).

#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "census.hpp"
#include "spindle/aio.hpp"

using namespace std::chrono_literals;
namespace aio = spindle::aio;

namespace {

enum class Outcome { returns, throws, cancel_before_start, cancel_suspended, cancel_after_done };
enum class Consumer { awaited, gathered, task_group, detached };
enum class Close { early, late };

struct Ledger {
  bool body_started = false;
  int observed_error = 0;  // the consumer caught the subject's runtime_error
  int unretrieved = 0;     // "Task exception was never retrieved"
  int pending = 0;         // "Task was destroyed but it is pending!"
};

aio::Task<int> subject(Outcome o, Ledger* l) {
  l->body_started = true;
  if (o == Outcome::cancel_suspended) co_await aio::sleep(1h);
  co_await aio::sleep(1ms);
  if (o == Outcome::throws) throw std::runtime_error("subject failed");
  co_return 1;
}

aio::Task<void> apply_policy(Outcome o, aio::Task<int> t) {
  if (o == Outcome::cancel_before_start) t.cancel();
  if (o == Outcome::cancel_suspended) {
    co_await aio::sleep(100us);  // the subject now sleeps
    t.cancel();
  }
  if (o == Outcome::cancel_after_done) {
    co_await aio::sleep(10ms);
    EXPECT_TRUE(t.done());
    EXPECT_FALSE(t.cancel());
  }
}

bool is_subject_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::runtime_error& r) {
    return std::string(r.what()) == "subject failed";
  } catch (...) {
    return false;
  }
}

aio::Task<void> group_body(aio::TaskGroup& tg, Outcome o, Ledger* l, std::vector<aio::Task<int>>* keep) {
  auto t = tg.create_task(subject(o, l));
  keep->push_back(t);
  co_await apply_policy(o, t);
}

aio::Task<void> consume(Outcome o, Consumer c, Ledger* l, std::vector<aio::Task<int>>* keep) {
  if (c == Consumer::task_group) {
    try {
      co_await aio::task_group([o, l, keep](aio::TaskGroup& tg) { return group_body(tg, o, l, keep); });
    } catch (const aio::ExceptionGroup& g) {
      for (auto& e : g.exceptions()) l->observed_error += is_subject_error(e);
    }
    co_return;
  }
  auto t = aio::create_task(subject(o, l));
  keep->push_back(t);
  co_await apply_policy(o, t);
  if (c == Consumer::awaited) {
    try {
      co_await t;
    } catch (...) {
      if (is_subject_error(std::current_exception())) ++l->observed_error;
    }
  } else if (c == Consumer::gathered) {
    std::vector<aio::Task<int>> one;  // (no braced list inside co_await: g++ 12 miscompiles it)
    one.push_back(t);
    auto r = co_await aio::gather(aio::return_exceptions, std::move(one));
    if (!r[0].ok() && is_subject_error(r[0].error())) ++l->observed_error;
  } else {
    co_await aio::sleep(20ms);
  }
}

aio::Task<void> main_task(Outcome o, Consumer c, Close close, Ledger* l, std::vector<aio::Task<int>>* keep) {
  auto consumer = aio::create_task(consume(o, c, l, keep), "consumer");
  if (close == Close::late) {
    co_await consumer;
  } else {
    co_await aio::sleep(50us);  // the consumer has started; the loop then closes with work pending
  }
}

using Param = std::tuple<Outcome, Consumer, Close>;

class LifecycleMatrix : public spindle::test::LeakCheckedTestWithParam<Param> {};

TEST_P(LifecycleMatrix, EveryTaskResolvesOnceNothingLeaksNothingIsLost) {
  const auto [outcome, consumer, close] = GetParam();
  const long frames_before = aio::detail::live_frames();
  Ledger ledger;
  std::mutex mu;
  auto count = [&](std::string_view msg) {
    std::lock_guard lock(mu);
    if (msg.find("never retrieved") != std::string_view::npos) ++ledger.unretrieved;
    if (msg.find("pending") != std::string_view::npos) ++ledger.pending;
  };
  auto previous =
      spindle::set_unhandled_exception_handler([&](std::string_view where, std::exception_ptr) { count(where); });
  {
    std::vector<aio::Task<int>> keep;
    {
      aio::EventLoop loop({.clock = std::make_shared<aio::VirtualClock>()});
      loop.set_exception_handler([&](aio::EventLoop&, const aio::ExceptionContext& ctx) { count(ctx.message); });
      loop.run_until_complete(main_task(outcome, consumer, close, &ledger, &keep));
      loop.close();
      ASSERT_EQ(keep.size(), 1u);
      EXPECT_TRUE(keep[0].done()) << "every task is resolved once the loop is closed";
    }
    const auto& t = keep[0];
    if (outcome == Outcome::cancel_before_start) {
      EXPECT_FALSE(ledger.body_started);
    }
    const bool abandoned = ledger.pending > 0;
    if (outcome == Outcome::throws && !abandoned) {
      // Drop the last handle: an exception nobody retrieved is reported now.
      const bool failed = !t.cancelled();
      keep.clear();
      if (failed) {
        EXPECT_EQ(ledger.observed_error + ledger.unretrieved, 1) << "the exception was lost or doubled";
      }
    } else {
      keep.clear();
      EXPECT_EQ(ledger.unretrieved, 0);
    }
    EXPECT_LE(ledger.pending, 2);  // at most the subject and its consumer
    if (close == Close::late) {
      EXPECT_EQ(ledger.pending, 0);
    }
  }
  spindle::set_unhandled_exception_handler(previous);
  EXPECT_EQ(aio::detail::live_frames(), frames_before) << "coroutine frames leaked";
}

std::string name_of(const ::testing::TestParamInfo<Param>& info) {
  static const char* outcomes[] = {"Returns", "Throws", "CancelBeforeStart", "CancelSuspended", "CancelAfterDone"};
  static const char* consumers[] = {"Awaited", "Gathered", "TaskGroup", "Detached"};
  static const char* closes[] = {"CloseEarly", "CloseLate"};
  return std::string(outcomes[static_cast<int>(std::get<0>(info.param))]) +
         consumers[static_cast<int>(std::get<1>(info.param))] + closes[static_cast<int>(std::get<2>(info.param))];
}

INSTANTIATE_TEST_SUITE_P(All, LifecycleMatrix,
                         ::testing::Combine(::testing::Values(Outcome::returns, Outcome::throws,
                                                              Outcome::cancel_before_start, Outcome::cancel_suspended,
                                                              Outcome::cancel_after_done),
                                            ::testing::Values(Consumer::awaited, Consumer::gathered,
                                                              Consumer::task_group, Consumer::detached),
                                            ::testing::Values(Close::early, Close::late)),
                         name_of);

}  // namespace
