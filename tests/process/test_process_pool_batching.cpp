// ProcessPoolExecutor's batched results (src/process/result_batch.hpp): a worker sends the results of a run of
// quick tasks in one write. Batching must change nothing a user can see: a worker that dies loses none of the
// results it kept, and a long task does not hold back the results of the quick tasks before it.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "census.hpp"
#include "process_census.hpp"
#include "spindle/process/event.hpp"
#include "spindle/process/process_pool_executor.hpp"

namespace sp = spindle::process;
using namespace std::chrono_literals;

namespace {

enum How { kSigkill = 0, kExit = 1, kAbort = 2 };

// No descriptor in the arguments: a task that maps shared memory takes long enough that its result goes out
// at once, and the test is about results kept for a batch.
long long maybe_die(int index, int die_at, int how) {
  if (index == die_at) {
    if (how == kSigkill) ::raise(SIGKILL);
    if (how == kExit) std::_Exit(3);
    std::abort();
  }
  return index + 1;
}

int quick(int x) { return x + 1; }

int wait_for_gate(sp::Event gate) {
  gate.wait(std::chrono::seconds(60));
  return 7;
}

const bool forkserver_started = (sp::init(), true);  // before any census baseline

class ProcessPoolBatching : public spindle::test::ProcessCheckedTestWithParam<int> {};
class ProcessPoolBatchingSingle : public spindle::test::ProcessCheckedTest {};

// The tasks before the one that kills its worker finished; their results may still have been kept for the
// next batch when it died. Each must come back as its result: lost, the pool would take the first of them
// for the task that was running (WorkerCrashed) and run the others again.
TEST_P(ProcessPoolBatching, AWorkerThatDiesLosesNoFinishedResult) {
  ASSERT_TRUE(forkserver_started);
  constexpr int kTasks = 600;
  constexpr int kDieAt = 450;
  sp::ProcessPoolExecutor pool(1);
  {  // the pool learns the tasks are quick and sends them many at a time
    std::vector<spindle::Future<int>> warm;
    for (int i = 0; i < 200; ++i) warm.push_back(pool.submit<&quick>(i));
    for (auto& f : warm) f.result();
  }
  std::vector<spindle::Future<long long>> fs;
  for (int i = 0; i < kTasks; ++i) fs.push_back(pool.submit<&maybe_die>(i, kDieAt, GetParam()));
  for (int i = 0; i < kTasks; ++i) {
    const auto at = static_cast<std::size_t>(i);
    if (i == kDieAt) {
      EXPECT_THROW(fs[at].result(), spindle::WorkerCrashed);
    } else {
      EXPECT_EQ(fs[at].result(), i + 1) << "task " << i;
    }
  }
  const auto st = pool.stats();
  EXPECT_EQ(st.crashed, 1u);
  EXPECT_EQ(st.completed, static_cast<std::uint64_t>(200 + kTasks - 1));  // the warm-up, all but the crashed one
}

INSTANTIATE_TEST_SUITE_P(Deaths, ProcessPoolBatching, ::testing::Values(kSigkill, kExit, kAbort),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == kSigkill ? std::string("Sigkill")
                                  : p.param == kExit  ? std::string("Exit")
                                                      : std::string("Abort");
                         });

// Quick tasks, then one that waits for the test: the quick results must arrive while it still waits (a batch
// kept until that task ends would never arrive: the gate opens only after them).
TEST_F(ProcessPoolBatchingSingle, QuickResultsAreNotHeldBehindALongTask) {
  sp::ProcessPoolExecutor pool(1);
  {  // the pool learns the tasks are quick and sends them many at a time
    std::vector<spindle::Future<int>> warm;
    for (int i = 0; i < 200; ++i) warm.push_back(pool.submit<&quick>(i));
    for (auto& f : warm) f.result();
  }
  sp::Event gate;
  struct Opener {  // a failed assertion must not leave the worker waiting at the gate
    sp::Event& gate;
    ~Opener() { gate.set(); }
  } opener{gate};
  for (int round = 0; round < 3; ++round) {
    std::vector<spindle::Future<int>> fs;
    for (int i = 0; i < 40; ++i) fs.push_back(pool.submit<&quick>(i));
    auto blocked = pool.submit<&wait_for_gate>(gate);
    for (int i = 0; i < 40; ++i) {
      // A bound against a hang, not a timing: the results come well before it or never.
      ASSERT_TRUE(fs[static_cast<std::size_t>(i)].wait_for(60s)) << "round " << round << ", task " << i;
      EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(), i + 1);
    }
    EXPECT_FALSE(blocked.done());
    gate.set();
    EXPECT_EQ(blocked.result(), 7);
    gate.clear();
  }
}

}  // namespace
