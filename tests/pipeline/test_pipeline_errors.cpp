// spindle::pipeline error policies: fail_fast, skip (dead letters), retry, failure budgets (count and rate).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "census.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/range.hpp"
#include "spindle/pipeline.hpp"

namespace pl = spindle::pipeline;
namespace aio = spindle::aio;

namespace {

class PipelineErrors : public spindle::test::LeakCheckedTest {};

long fails_on_7(long& x) {
  if (x % 1000 == 7) throw std::runtime_error("bad item " + std::to_string(x));
  return x;
}
aio::Task<long> async_fails_on_7(long& x) {
  if (x % 1000 == 7) throw std::runtime_error("bad item " + std::to_string(x));
  co_return x;
}

TEST_F(PipelineErrors, SkipOneInAThousandGivesTheRestAndOneDeadLetter) {
  auto p = pl::from(spindle::range(1000)).thread(fails_on_7, {.concurrency = 2, .errors = pl::skip}).collect();
  pl::Report r = p.run();
  auto v = p.results();
  EXPECT_EQ(v.size(), 999u);
  EXPECT_EQ(std::count(v.begin(), v.end(), 7L), 0);
  ASSERT_EQ(r.dead_letters.size(), 1u);
  EXPECT_EQ(r.dead_letter_count, 1u);
  const pl::DeadLetter& d = r.dead_letters[0];
  ASSERT_NE(d.item_as<long>(), nullptr);
  EXPECT_EQ(*d.item_as<long>(), 7);
  EXPECT_EQ(d.what, "bad item 7");
  EXPECT_EQ(d.stage, r.stages[1].name);
  EXPECT_THROW(std::rethrow_exception(d.error), std::runtime_error);
  EXPECT_EQ(r.stages[1].failed, 1u);
  EXPECT_EQ(r.stages[1].dead_lettered, 1u);
  EXPECT_EQ(r.state, pl::State::completed);
}

TEST_F(PipelineErrors, SkipOnAnAioStage) {
  std::atomic<int> seen{0};
  auto p = pl::from(spindle::range(2000))
               .aio(async_fails_on_7, {.concurrency = 8, .errors = pl::skip})
               .options({.on_dead_letter = [&](const pl::DeadLetter&) { ++seen; }})
               .collect();
  pl::Report r = p.run();
  auto v = p.results();
  EXPECT_EQ(v.size(), 1998u);
  EXPECT_EQ(r.dead_letter_count, 2u);
  EXPECT_EQ(seen.load(), 2);
  for (std::size_t i = 1; i < v.size(); ++i) ASSERT_LT(v[i - 1], v[i]);  // still in order around the holes
}

TEST_F(PipelineErrors, FailFastRethrowsTheStageError) {
  std::atomic<long> sunk{0};
  pl::Pipeline p = pl::from(spindle::range(100000)).thread(fails_on_7).sink([&](long&) { ++sunk; });
  EXPECT_THROW(
      {
        try {
          p.run();
        } catch (const std::runtime_error& e) {
          EXPECT_EQ(std::string(e.what()), "bad item 7");
          throw;
        }
      },
      std::runtime_error);
  EXPECT_EQ(p.state(), pl::State::failed);
  EXPECT_LT(sunk.load(), 100000);
  EXPECT_EQ(p.metrics().error, "bad item 7");
}

TEST_F(PipelineErrors, FailFastFromAnAioStage) {
  pl::Pipeline p = pl::from(spindle::range(5000)).aio(async_fails_on_7, {.concurrency = 4}).sink([](long&) {});
  EXPECT_THROW(p.run(), std::runtime_error);
  EXPECT_EQ(p.state(), pl::State::failed);
}

TEST_F(PipelineErrors, RetryReRunsAFailingItem) {
  std::mutex mu;
  std::unordered_map<long, int> attempts;
  auto flaky = [&](long& x) {
    int n;
    {
      std::lock_guard lock(mu);
      n = ++attempts[x];
    }
    if (x % 10 == 0 && n <= 2) throw std::runtime_error("flaky");
    return x;
  };
  auto p = pl::from(spindle::range(500)).thread(flaky, {.concurrency = 2, .errors = pl::retry(2)}).collect();
  pl::Report r = p.run();
  EXPECT_EQ(p.results().size(), 500u);
  EXPECT_EQ(r.stages[1].retried, 100u);
  EXPECT_EQ(r.stages[1].failed, 100u);
  EXPECT_EQ(r.dead_letter_count, 0u);
}

TEST_F(PipelineErrors, RetrySpentThenSkipOrFail) {
  auto always = [](long& x) -> long {
    if (x == 3) throw std::runtime_error("never");
    return x;
  };
  auto p = pl::from(spindle::range(10))
               .thread(always, {.errors = pl::retry(2, std::chrono::milliseconds(1), pl::OnError::skip)})
               .collect();
  pl::Report r = p.run();
  EXPECT_EQ(p.results().size(), 9u);
  EXPECT_EQ(r.stages[1].retried, 2u);
  EXPECT_EQ(r.stages[1].failed, 3u);
  EXPECT_EQ(r.dead_letter_count, 1u);

  pl::Pipeline q = pl::from(spindle::range(10)).thread(always, {.errors = pl::retry(1)}).sink([](long&) {});
  EXPECT_THROW(q.run(), std::runtime_error);
}

TEST_F(PipelineErrors, AsyncRetry) {
  int calls = 0;  // loop thread only
  auto flaky = [&](long& x) -> aio::Task<long> {
    if (x == 5 && ++calls < 3) throw std::runtime_error("flaky");
    co_return x;
  };
  auto p = pl::from(spindle::range(10))
               .aio(flaky, {.concurrency = 2, .errors = pl::retry(3, std::chrono::milliseconds(1))})
               .collect();
  pl::Report r = p.run();
  EXPECT_EQ(p.results().size(), 10u);
  EXPECT_EQ(r.stages[1].retried, 2u);
}

TEST_F(PipelineErrors, MaxFailuresCountFailsTheRun) {
  pl::Pipeline p =
      pl::from(spindle::range(100000)).thread(fails_on_7, {.errors = pl::skip, .max_failures = 3}).sink([](long&) {});
  try {
    p.run();
    FAIL() << "no error";
  } catch (const pl::PipelineError& e) {
    EXPECT_NE(std::string(e.what()).find("failure budget"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad item"), std::string::npos) << e.what();
  }
  pl::Report r = p.metrics();
  EXPECT_EQ(r.state, pl::State::failed);
  EXPECT_EQ(r.dead_letter_count, 4u);
}

TEST_F(PipelineErrors, MaxFailureRateFailsTheRun) {
  auto tenth = [](long& x) -> long {
    if (x % 10 == 0) throw std::runtime_error("tenth");
    return x;
  };
  pl::Pipeline p =
      pl::from(spindle::range(100000)).thread(tenth, {.errors = pl::skip, .max_failure_rate = 0.05}).sink([](long&) {});
  EXPECT_THROW(p.run(), pl::PipelineError);
  // Under the rate, the run goes on.
  pl::Pipeline q =
      pl::from(spindle::range(1000)).thread(tenth, {.errors = pl::skip, .max_failure_rate = 0.2}).sink([](long&) {});
  EXPECT_EQ(q.run().dead_letter_count, 100u);
}

TEST_F(PipelineErrors, SourceErrorFailsTheRun) {
  int n = 0;
  auto gen = [&]() -> std::optional<int> {
    if (++n == 50) throw std::logic_error("source broke");
    return n;
  };
  pl::Pipeline p = pl::from(gen).sink([](int&) {});
  EXPECT_THROW(p.run(), std::logic_error);
}

}  // namespace
