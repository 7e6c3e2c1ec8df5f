// spindle::pipeline fan-out and merge: every item reaches every branch, branches merge into one flow, several
// sources merge into one; bounds, errors and cancel across branches.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "pipeline_until.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/range.hpp"
#include "spindle/pipeline.hpp"

namespace pl = spindle::pipeline;
namespace aio = spindle::aio;

namespace {

class PipelineFan : public spindle::test::LeakCheckedTest {};

aio::Task<long> plus_million(long& x) { co_return x + 1'000'000; }

TEST_F(PipelineFan, EveryItemReachesEveryBranchAndTheBranchesMerge) {
  auto p = pl::from(spindle::range(5000))
               .fan_out([](pl::Flow<long> f) { return std::move(f).thread([](long& x) { return -x; }); },
                        [](pl::Flow<long> f) { return std::move(f).aio(plus_million, {.concurrency = 8}); },
                        [](pl::Flow<long> f) { return f; })  // a branch with no stage of its own
               .collect();
  pl::Report r = p.run();
  std::vector<long> got = p.results();
  ASSERT_EQ(got.size(), 15000u);
  std::vector<long> want;
  for (long i = 0; i < 5000; ++i) {
    want.push_back(-i);
    want.push_back(i + 1'000'000);
    want.push_back(i);
  }
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(r.state, pl::State::completed);
  const auto fan = std::find_if(r.stages.begin(), r.stages.end(), [](const auto& s) { return s.kind == "fan_out"; });
  ASSERT_NE(fan, r.stages.end());
  EXPECT_EQ(fan->items_in, 5000u);
  EXPECT_EQ(fan->items_out, 15000u);  // one per branch
  const auto merge = std::find_if(r.stages.begin(), r.stages.end(), [](const auto& s) { return s.kind == "merge"; });
  ASSERT_NE(merge, r.stages.end());
  EXPECT_EQ(merge->items_out, 15000u);
  EXPECT_EQ(merge->concurrency, 3u);
}

TEST_F(PipelineFan, EachBranchKeepsItsOwnOrderAndTypesMergeToTheirCommonType) {
  auto p =
      pl::from(spindle::range(3000))
          .fan_out([](pl::Flow<long> f) { return std::move(f).thread([](long& x) { return static_cast<int>(x); }); },
                   [](pl::Flow<long> f) {
                     return std::move(f).thread([](long& x) { return static_cast<double>(x) + 0.5; },
                                                {.concurrency = 3});  // ordered
                   })
          .collect();
  static_assert(std::is_same_v<decltype(p), pl::Collected<double>>);
  p.run();
  std::vector<double> ints, halves;
  for (double x : p.results()) (x == static_cast<double>(static_cast<long>(x)) ? ints : halves).push_back(x);
  ASSERT_EQ(ints.size(), 3000u);
  ASSERT_EQ(halves.size(), 3000u);
  EXPECT_TRUE(std::is_sorted(ints.begin(), ints.end()));
  EXPECT_TRUE(std::is_sorted(halves.begin(), halves.end()));
}

TEST_F(PipelineFan, ASlowBranchHoldsTheFastOneBackWithinItsBounds) {
  // The fan-out hands a block to the fast branch, then the same block to the slow one, whose input channel is
  // bounded: the fast branch can never be more than that channel plus a block in each hand ahead of the slow one.
  std::atomic<long> fast_seen{0}, slow_seen{0}, worst_ahead{0};
  constexpr std::size_t cap = 16, block = 4;
  pl::Pipeline p = pl::from(spindle::range(3000), {.capacity = cap})
                       .options({.block = block})
                       .fan_out(
                           pl::StageOptions{.capacity = cap},
                           [&](pl::Flow<long> f) {
                             return std::move(f).thread(
                                 [&](long& x) {
                                   const long ahead = ++fast_seen - slow_seen.load();
                                   long w = worst_ahead.load();
                                   while (ahead > w && !worst_ahead.compare_exchange_weak(w, ahead)) {
                                   }
                                   return x;
                                 },
                                 {.capacity = cap});
                           },
                           [&](pl::Flow<long> f) {
                             return std::move(f).thread(
                                 [&](long& x) {
                                   volatile long spin = 0;
                                   for (int i = 0; i < 20000; ++i) spin = spin + i;  // slower than the fast branch
                                   ++slow_seen;
                                   return x;
                                 },
                                 {.capacity = cap});
                           })
                       .sink([](long&) {});
  pl::Report r = p.run();
  EXPECT_EQ(fast_seen.load(), 3000);
  EXPECT_EQ(slow_seen.load(), 3000);
  EXPECT_EQ(r.items_done(), 6000u);
  EXPECT_LE(worst_ahead.load(), static_cast<long>(cap + 2 * block));
  for (const auto& s : r.stages) EXPECT_LE(s.peak_depth, cap) << s.name;
}

TEST_F(PipelineFan, AnErrorInOneBranchFailsTheRunOrIsSkipped) {
  auto boom = [](long& x) {
    if (x == 500) throw std::runtime_error("branch b: bad 500");
    return x;
  };
  pl::Pipeline failing =
      pl::from(spindle::range(100000))
          .fan_out([](pl::Flow<long> f) { return f; }, [&](pl::Flow<long> f) { return std::move(f).thread(boom); })
          .sink([](long&) {});
  EXPECT_THROW(
      {
        try {
          failing.run();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "branch b: bad 500");
          throw;
        }
      },
      std::runtime_error);
  EXPECT_EQ(failing.state(), pl::State::failed);

  auto skipping = pl::from(spindle::range(1000))
                      .fan_out([](pl::Flow<long> f) { return f; },
                               [&](pl::Flow<long> f) { return std::move(f).thread(boom, {.errors = pl::skip}); })
                      .collect();
  pl::Report r = skipping.run();
  EXPECT_EQ(skipping.results().size(), 1999u);
  ASSERT_EQ(r.dead_letters.size(), 1u);
  EXPECT_EQ(*r.dead_letters[0].item_as<long>(), 500);
}

TEST_F(PipelineFan, CancelWakesEveryBranch) {
  std::atomic<bool> entered{false}, release{false};
  pl::Pipeline p = pl::from(spindle::range(1'000'000'000), {.capacity = 8})
                       .fan_out(
                           pl::StageOptions{.capacity = 8}, [](pl::Flow<long> f) { return f; },
                           [](pl::Flow<long> f) { return std::move(f).thread([](long& x) { return x; }); })
                       .sink(
                           [&](long&) {
                             entered = true;
                             while (!release) std::this_thread::yield();
                           },
                           {.capacity = 8});
  p.start();
  // The source waits for room (its channel need not be at 8: a parked producer wakes at half free).
  EXPECT_TRUE(
      spindle::test::until(p, [&](const pl::Report& r) { return entered.load() && r.stages[0].blocked_now == 1; }));
  p.cancel();
  release = true;
  EXPECT_EQ(p.wait().state, pl::State::cancelled);
}

TEST_F(PipelineFan, SeveralSourcesMergeIntoOneFlow) {
  long next = 0;
  auto gen = [&]() -> std::optional<long> {
    if (next == 1500) return std::nullopt;
    return 10'000 + next++;
  };
  auto p = pl::merge(pl::from(spindle::range(1000)).thread([](long& x) { return x; }), pl::from(gen, {.name = "gen"}),
                     pl::from(std::vector<long>{-1, -2, -3}))
               .collect();
  pl::Report r = p.run();
  std::vector<long> got = p.results();
  ASSERT_EQ(got.size(), 2503u);
  // Each input keeps its own order.
  std::vector<long> a, b, c;
  for (long x : got) (x < 0 ? c : x >= 10'000 ? b : a).push_back(x);
  EXPECT_EQ(a.size(), 1000u);
  EXPECT_EQ(b.size(), 1500u);
  EXPECT_EQ(c, (std::vector<long>{-1, -2, -3}));
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  // Default names that collide get the flow's index.
  std::vector<std::string> names;
  for (const auto& s : r.stages) names.push_back(s.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "source"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "gen"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "source.2"), names.end());
}

TEST_F(PipelineFan, StopDrainsEveryMergedSource) {
  pl::Pipeline p =
      pl::merge(pl::from(spindle::range(1'000'000'000)), pl::from(spindle::range(1'000'000'000))).sink([](long&) {});
  p.start();
  ASSERT_TRUE(spindle::test::until(p, [](const pl::Report& r) { return r.items_done() > 1000; }));
  p.stop();
  pl::Report r = p.wait();
  EXPECT_EQ(r.state, pl::State::completed);
  std::uint64_t produced = 0;
  for (const auto& s : r.stages)
    if (s.kind == "source") produced += s.items_out;
  EXPECT_EQ(r.items_done(), produced);  // everything the sources produced arrived
}

TEST_F(PipelineFan, BadInputIsAClearError) {
  EXPECT_THROW(
      pl::from(spindle::range(3)).fan_out(pl::StageOptions{.concurrency = 2}, [](pl::Flow<long> f) { return f; }),
      std::invalid_argument);
  EXPECT_THROW(pl::from(spindle::range(3)).fan_out(pl::StageOptions{.capacity = 0}, [](pl::Flow<long> f) { return f; }),
               std::invalid_argument);
  // A branch that does not extend the flow it was given (it starts another one) cannot be merged back.
  EXPECT_THROW(pl::from(spindle::range(3)).fan_out([](pl::Flow<long>) { return pl::from(spindle::range(5)); }),
               std::invalid_argument);
}

}  // namespace
