// spindle::pipeline under random shapes: thread, aio and batch/unbatch stages with random concurrency, order,
// capacities and block sizes; every item arrives exactly once, and in input order when every stage is ordered.
// Also random cancels and stops: the run always ends, and a stop loses nothing.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <random>
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

class PipelineExactlyOnce : public spindle::test::LeakCheckedTestWithParam<int> {};

aio::Task<long> jitter(long& x) {
  if (x % 5 == 0) co_await aio::sleep(std::chrono::microseconds(x % 3));
  co_return x;
}
long jitter_thread(long& x) {
  if (x % 7 == 0) std::this_thread::yield();
  return x;
}

/// Adds 1..4 random stages to `f`; sets `ordered` false if any of them is unordered.
pl::Flow<long> random_stages(pl::Flow<long> f, std::mt19937& rng, bool& ordered) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int stages = pick(1, 4);
  for (int i = 0; i < stages; ++i) {
    const auto cap = static_cast<std::size_t>(pick(1, 50));
    const auto order = pick(0, 3) == 0 ? pl::Order::unordered : pl::Order::ordered;
    const auto conc = static_cast<std::size_t>(pick(1, 4));
    if (order == pl::Order::unordered && conc > 1) ordered = false;
    switch (pick(0, 2)) {
      case 0:
        f = std::move(f).thread(jitter_thread, {.concurrency = conc, .order = order, .capacity = cap});
        break;
      case 1:
        f = std::move(f).aio(jitter, {.concurrency = conc * 2, .order = order, .capacity = cap});
        if (order == pl::Order::unordered) ordered = false;
        break;
      default:
        f = std::move(f)
                .batch(static_cast<std::size_t>(pick(1, 20)), std::chrono::milliseconds(pick(0, 2)), {.capacity = cap})
                .unbatch({.capacity = cap});
    }
  }
  return f;
}

TEST_P(PipelineExactlyOnce, RandomShapes) {
  std::mt19937 rng(static_cast<unsigned>(GetParam()));
  const long n = std::uniform_int_distribution<long>(0, 3000)(rng);
  bool ordered = true;
  auto f = pl::from(spindle::range(n), {.capacity = static_cast<std::size_t>(rng() % 50 + 1)});
  f = random_stages(std::move(f), rng, ordered);
  auto p = std::move(f).options({.block = static_cast<std::size_t>(rng() % 64 + 1)}).collect();
  p.run();
  auto v = p.results();
  ASSERT_EQ(v.size(), static_cast<std::size_t>(n));
  if (!ordered) std::sort(v.begin(), v.end());
  for (long i = 0; i < n; ++i) ASSERT_EQ(v[static_cast<std::size_t>(i)], i) << "seed " << GetParam();
}

TEST_P(PipelineExactlyOnce, RandomStopLosesNothing) {
  std::mt19937 rng(static_cast<unsigned>(GetParam()) + 1000);
  long next = 0;
  auto endless = [&]() -> std::optional<long> { return next++; };
  bool ordered = true;
  auto f = random_stages(pl::from(endless, {.capacity = static_cast<std::size_t>(rng() % 50 + 1)}), rng, ordered);
  std::atomic<long> sunk{0};
  pl::Pipeline p = std::move(f).sink([&](long&) { ++sunk; });
  p.start();
  const long stop_at = static_cast<long>(rng() % 2000);
  EXPECT_TRUE(spindle::test::until(
      p, [&](const pl::Report& r) { return r.items_done() >= static_cast<std::uint64_t>(stop_at); }));
  p.stop();
  pl::Report r = p.wait();
  EXPECT_EQ(r.state, pl::State::completed);
  EXPECT_EQ(r.stages[0].items_out, static_cast<std::uint64_t>(sunk.load())) << "seed " << GetParam();
}

TEST_P(PipelineExactlyOnce, RandomCancelEnds) {
  std::mt19937 rng(static_cast<unsigned>(GetParam()) + 2000);
  bool ordered = true;
  auto f = random_stages(pl::from(spindle::range(1'000'000'000), {.capacity = 8}), rng, ordered);
  pl::Pipeline p = std::move(f).sink([](long&) {});
  p.start();
  const auto spins = rng() % 20000;
  for (unsigned i = 0; i < spins; ++i) std::this_thread::yield();
  p.cancel();
  EXPECT_EQ(p.wait().state, pl::State::cancelled);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PipelineExactlyOnce, ::testing::Range(0, 12));

}  // namespace
