// spindle::pipeline throughput, W10-shaped (docs/bench.md): 1M tiny items source -> aio(i+1) -> thread(2
// workers, i*2) -> sink sum, and source -> aio -> process -> aio -> sink. Prints items/s; asserts only the
// results (timings never go in tests; the figures belong to `spindle bench W10`). Fewer items under a
// sanitizer.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "../process/process_census.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/range.hpp"
#include "spindle/pipeline.hpp"
#include "spindle/process/start_method.hpp"

namespace pl = spindle::pipeline;
namespace aio = spindle::aio;
namespace sp = spindle::process;

namespace {

const bool forkserver_started = (sp::init(), true);

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr long kItems = 50'000;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr long kItems = 50'000;
#else
constexpr long kItems = 1'000'000;
#endif
#else
constexpr long kItems = 1'000'000;
#endif

aio::Task<long> plus_one(long& x) { co_return x + 1; }
long twice(long x) { return x * 2; }

class PipelineThroughput : public spindle::test::ProcessCheckedTest {};

TEST_F(PipelineThroughput, SourceAioThreadSink) {
  long sum = 0;  // one sink thread
  pl::Pipeline p = pl::from(spindle::range(kItems))
                       .aio(plus_one, {.concurrency = 4})
                       .thread([](long& x) { return x * 2; }, {.concurrency = 2})
                       .sink([&](long& x) { sum += x; });
  const auto t0 = std::chrono::steady_clock::now();
  pl::Report r = p.run();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(sum, kItems * (kItems + 1));
  std::printf("W10a-like: %ld items in %.3f s = %.2f M items/s\n%s", kItems, s, static_cast<double>(kItems) / s / 1e6,
              r.str().c_str());
}

TEST_F(PipelineThroughput, SourceAioProcessAioSink) {
  long sum = 0;
  pl::Pipeline p = pl::from(spindle::range(kItems))
                       .aio(plus_one, {.concurrency = 4})
                       .process(&twice, {.concurrency = 2, .chunksize = 1024})
                       .aio(plus_one, {.concurrency = 4})
                       .sink([&](long& x) { sum += x; });
  const auto t0 = std::chrono::steady_clock::now();
  pl::Report r = p.run();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(sum, kItems * (kItems + 1) + kItems);
  std::printf("W10b-like: %ld items in %.3f s = %.2f M items/s\n%s", kItems, s, static_cast<double>(kItems) / s / 1e6,
              r.str().c_str());
}

}  // namespace
