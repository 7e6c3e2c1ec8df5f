// spindle::pipeline process stages: chunks through the pool, per-item isolation of a chunk that threw, a
// worker SIGKILLed mid-run (only its chunk's items fail, under the stage's policy), cancel while a process
// task runs, a borrowed pool. Every test also checks that no child process or /dev/shm entry is left.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../process/process_census.hpp"
#include "pipeline_until.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/core/range.hpp"
#include "spindle/pipeline.hpp"
#include "spindle/process/process_pool_executor.hpp"
#include "spindle/process/start_method.hpp"

namespace pl = spindle::pipeline;
namespace sp = spindle::process;

namespace {

const bool forkserver_started = (sp::init(), true);  // before any census baseline

long square(long x) { return x * x; }
long throws_on_7(long x) {
  if (x % 1000 == 7) throw std::runtime_error("bad item " + std::to_string(x));
  return x;
}
// The marker file that makes kill_once_at_777 kill its worker once per test (the worker's parent is the
// forkserver, whose pid the test knows too).
std::string marker_path(int forkserver) { return "/tmp/spindle-pipeline-kill-" + std::to_string(forkserver); }
long kill_once_at_777(long x) {
  if (x == 777) {
    const int fd = ::open(marker_path(::getppid()).c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd >= 0) {
      ::close(fd);
      ::kill(::getpid(), SIGKILL);
    }
  }
  return x;
}
long sleeps_long(long x) {
  std::this_thread::sleep_for(std::chrono::seconds(60));  // the worker is killed long before
  return x;
}

class PipelineProcess : public spindle::test::ProcessCheckedTest {
 protected:
  void SetUp() override { ::unlink(marker_path(sp::forkserver_pid()).c_str()); }
  void TearDown() override {
    ::unlink(marker_path(sp::forkserver_pid()).c_str());
    ProcessCheckedTest::TearDown();
  }
};

TEST_F(PipelineProcess, ChunksThroughOwnedWorkersInOrder) {
  auto p = pl::from(spindle::range(20000)).process(&square, {.concurrency = 2, .chunksize = 64}).collect();
  pl::Report r = p.run();
  auto v = p.results();
  ASSERT_EQ(v.size(), 20000u);
  for (long i = 0; i < 20000; ++i) ASSERT_EQ(v[static_cast<std::size_t>(i)], i * i);
  EXPECT_EQ(r.stages[1].kind, "process");
  EXPECT_EQ(r.stages[1].items_in, 20000u);
}

TEST_F(PipelineProcess, CaptureLessLambdaOnABorrowedPool) {
  sp::ProcessPoolExecutor pool(2);
  auto p =
      pl::from(spindle::range(1000)).process([](long x) { return x + 1; }, {.chunksize = 100, .pool = &pool}).collect();
  p.run();
  auto v = p.results();
  ASSERT_EQ(v.size(), 1000u);
  EXPECT_EQ(v.back(), 1000);
  EXPECT_EQ(pool.submit(square, 3L).result(), 9);  // the pool is still the caller's
}

TEST_F(PipelineProcess, AThrowingItemFailsAloneUnderSkip) {
  auto p = pl::from(spindle::range(3000))
               .process(&throws_on_7, {.concurrency = 2, .errors = pl::skip, .chunksize = 50})
               .collect();
  pl::Report r = p.run();
  auto v = p.results();
  EXPECT_EQ(v.size(), 2997u);
  ASSERT_EQ(r.dead_letter_count, 3u);
  for (const auto& d : r.dead_letters) {
    ASSERT_NE(d.item_as<long>(), nullptr);
    EXPECT_EQ(*d.item_as<long>() % 1000, 7);
    EXPECT_NE(d.what.find("bad item"), std::string::npos) << d.what;
  }
}

TEST_F(PipelineProcess, FailFastRethrowsTheRemoteError) {
  pl::Pipeline p = pl::from(spindle::range(3000)).process(&throws_on_7, {.chunksize = 50}).sink([](long&) {});
  EXPECT_THROW(p.run(), spindle::RemoteError);
}

TEST_F(PipelineProcess, KilledWorkerUnderSkipDeadLettersOnlyItsChunk) {
  auto p = pl::from(spindle::range(5000))
               .process(&kill_once_at_777, {.concurrency = 2, .errors = pl::skip, .chunksize = 32})
               .collect();
  pl::Report r = p.run();
  auto v = p.results();
  std::vector<long> all = v;
  ASSERT_GE(r.dead_letter_count, 1u);
  EXPECT_LE(r.dead_letter_count, 32u);  // one chunk at most
  bool has_777 = false;
  for (const auto& d : r.dead_letters) {
    ASSERT_NE(d.item_as<long>(), nullptr);
    all.push_back(*d.item_as<long>());
    has_777 = has_777 || *d.item_as<long>() == 777;
    EXPECT_THROW(std::rethrow_exception(d.error), spindle::WorkerCrashed);
  }
  EXPECT_TRUE(has_777);
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 5000u);  // every item exactly once: a result or a dead letter
  for (long i = 0; i < 5000; ++i) ASSERT_EQ(all[static_cast<std::size_t>(i)], i);
}

TEST_F(PipelineProcess, KilledWorkerUnderRetryReRunsItsItems) {
  auto p = pl::from(spindle::range(5000))
               .process(&kill_once_at_777, {.concurrency = 2, .errors = pl::retry(1), .chunksize = 32})
               .collect();
  pl::Report r = p.run();
  auto v = p.results();
  ASSERT_EQ(v.size(), 5000u);
  for (long i = 0; i < 5000; ++i) ASSERT_EQ(v[static_cast<std::size_t>(i)], i);  // exactly once, in order
  EXPECT_GE(r.stages[1].retried, 1u);
  EXPECT_EQ(r.dead_letter_count, 0u);
}

TEST_F(PipelineProcess, CancelWhileAProcessTaskRuns) {
  pl::Pipeline p = pl::from(spindle::range(100)).process(&sleeps_long, {.chunksize = 1}).sink([](long&) {});
  p.start();
  EXPECT_TRUE(spindle::test::until(p, [](const pl::Report& r) { return r.stages[1].items_in > 0; }));
  p.cancel();
  EXPECT_EQ(p.wait().state, pl::State::cancelled);
}

}  // namespace
