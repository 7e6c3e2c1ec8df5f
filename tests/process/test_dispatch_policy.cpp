// The process pool's decisions without processes: DispatchPolicy (which worker gets a task, pipeline depth,
// whose queue to take back for an idle worker, whether a dead worker's head ran) and the claim word both
// sides share (control_block.hpp), including a race of the worker's claims against the parent's revocation.

#include "dispatch_policy.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "census.hpp"
#include "control_block.hpp"

namespace spindle::process::detail {
namespace {

using namespace std::chrono_literals;

class DispatchPolicyTest : public spindle::test::LeakCheckedTest {
 protected:
  const Clock::time_point t0 = Clock::now();
};

WorkerLoad ready(std::size_t inflight = 0, double ewma_us = 0, Clock::time_point head = {}) {
  WorkerLoad w;
  w.can_take = true;
  w.revocable = true;
  w.inflight = inflight;
  w.ewma_us = ewma_us;
  w.head_start = head;
  return w;
}

TEST_F(DispatchPolicyTest, DepthIsOneUntilATaskTimeIsKnownThenDeepForTinyTasks) {
  const DispatchPolicy p(64);
  EXPECT_EQ(p.depth(ready(0, 0), t0), 1u);
  EXPECT_EQ(p.depth(ready(0, 100), t0), 6u);           // 1 + 500 / 100
  EXPECT_EQ(p.depth(ready(0, 1), t0), 64u);            // 501, capped at max_inflight
  EXPECT_EQ(DispatchPolicy(8).depth(ready(0, 1), t0), 8u);
  EXPECT_EQ(p.depth(ready(0, 100'000), t0), 1u);       // long tasks: one at a time
  EXPECT_EQ(DispatchPolicy(0).depth(ready(0, 1), t0), 1u);
}

TEST_F(DispatchPolicyTest, NothingQueuesBehindAHeadThatRunsMuchLongerThanUsual) {
  const DispatchPolicy p(64);
  // Usual 10 us: the head may run max(1000 us, 80 us) before the depth drops to one.
  EXPECT_EQ(p.depth(ready(3, 10, t0), t0 + 900us), 51u);
  EXPECT_EQ(p.depth(ready(3, 10, t0), t0 + 1100us), 1u);
  // An idle worker's stale head_start does not count.
  EXPECT_EQ(p.depth(ready(0, 10, t0), t0 + 1s), 51u);
}

TEST_F(DispatchPolicyTest, PickGivesTheTaskToTheLeastLoadedWorkerThatCanTakeOne) {
  const DispatchPolicy p(64);
  std::vector<WorkerLoad> ws{ready(2, 10, t0), ready(1, 10, t0), ready(3, 10, t0)};
  EXPECT_EQ(p.pick(ws, t0), 1u);
  ws[1].can_take = false;  // closing, killed, revocation open, or at max_tasks_per_child
  EXPECT_EQ(p.pick(ws, t0), 0u);
  ws[0].can_take = ws[2].can_take = false;
  EXPECT_EQ(p.pick(ws, t0), DispatchPolicy::npos);
  EXPECT_EQ(p.pick({}, t0), DispatchPolicy::npos);
}

TEST_F(DispatchPolicyTest, PickSpreadsTinyTasksAndStopsAtEachWorkersDepth) {
  const DispatchPolicy p(4);
  std::vector<WorkerLoad> ws{ready(0, 1), ready(0, 1)};
  std::vector<std::size_t> got;
  for (;;) {
    const std::size_t i = p.pick(ws, t0);
    if (i == DispatchPolicy::npos) break;
    DispatchPolicy::sent(ws[i], t0);
    got.push_back(i);
  }
  EXPECT_EQ(got, (std::vector<std::size_t>{0, 1, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(ws[0].head_start, t0);
}

TEST_F(DispatchPolicyTest, WhileAWorkerStartsNothingQueuesBehindARunningTask) {
  const DispatchPolicy p(64);
  WorkerLoad starting;
  starting.starting = true;
  std::vector<WorkerLoad> ws{ready(0, 1), starting};
  EXPECT_EQ(p.pick(ws, t0), 0u);
  DispatchPolicy::sent(ws[0], t0);
  EXPECT_EQ(p.pick(ws, t0), DispatchPolicy::npos) << "the starting worker takes the next one";
  ws[1] = ready();
  EXPECT_EQ(p.pick(ws, t0), 1u);
}

TEST_F(DispatchPolicyTest, VictimOnlyWhenAWorkerIsIdle) {
  const DispatchPolicy p(64);
  auto wake = Clock::time_point::max();
  std::vector<WorkerLoad> ws{ready(3, 10, t0), ready(1, 10, t0)};
  EXPECT_EQ(p.victim(ws, t0 + 1s, wake), DispatchPolicy::npos);
  ws[1].inflight = 0;
  EXPECT_EQ(p.victim(ws, t0 + 1s, wake), 0u);
  ws[1].can_take = false;  // an idle worker that cannot take work is no reason
  EXPECT_EQ(p.victim(ws, t0 + 1s, wake), DispatchPolicy::npos);
  EXPECT_EQ(wake, Clock::time_point::max());
}

TEST_F(DispatchPolicyTest, AYoungQueueIsLeftAloneAndTheManagerWakesWhenItAges) {
  const DispatchPolicy p(64);
  auto wake = Clock::time_point::max();
  // Usual 100 us: the queue is young for max(200 us, 400 us).
  std::vector<WorkerLoad> ws{ready(3, 100, t0), ready()};
  EXPECT_EQ(p.victim(ws, t0 + 300us, wake), DispatchPolicy::npos);
  EXPECT_EQ(wake, t0 + 400us);
  EXPECT_EQ(p.victim(ws, t0 + 400us, wake), 0u);
}

TEST_F(DispatchPolicyTest, VictimIsTheOldestHeadWithSomethingQueuedThatMayBeRevoked) {
  const DispatchPolicy p(64);
  auto wake = Clock::time_point::max();
  std::vector<WorkerLoad> ws{ready(2, 10, t0 + 5ms), ready(2, 10, t0), ready(1, 10, t0 - 1s), ready()};
  EXPECT_EQ(p.victim(ws, t0 + 1s, wake), 1u) << "worker 2 has nothing queued behind its head";
  ws[1].revocable = false;  // a revocation is open there already, or it is dying
  EXPECT_EQ(p.victim(ws, t0 + 1s, wake), 0u);
}

TEST_F(DispatchPolicyTest, MovingAverage) {
  EXPECT_DOUBLE_EQ(DispatchPolicy::next_ewma(0, 50), 50);
  EXPECT_DOUBLE_EQ(DispatchPolicy::next_ewma(100, 50), 90);
}

TEST_F(DispatchPolicyTest, ADeadWorkersHeadRanOnlyIfClaimedOrKilledByThePool) {
  EXPECT_FALSE(DispatchPolicy::head_ran(false, 4, 5));  // died between tasks 4 and 5: all requeued
  EXPECT_TRUE(DispatchPolicy::head_ran(false, 5, 5));
  EXPECT_TRUE(DispatchPolicy::head_ran(true, 4, 5));    // timeout / shutdown / protocol: the head fails
}

TEST_F(DispatchPolicyTest, ClaimAndRevocationTakeBackExactlyTheUnstartedTasks) {
  ControlBlock b{0, 0};
  EXPECT_TRUE(claim_task(b, 1));
  // Sent 1..4, the worker started 1: 2..4 come back.
  EXPECT_EQ(revoke_unclaimed(b, 4), std::optional<std::uint64_t>(1));
  EXPECT_EQ(claimed_through(b), 1u);
  EXPECT_FALSE(claim_task(b, 2));
  EXPECT_EQ(skip_revoked(b, 2), Skipped::more);
  EXPECT_FALSE(claim_task(b, 3));
  EXPECT_EQ(skip_revoked(b, 3), Skipped::more);
  EXPECT_FALSE(claim_task(b, 4));
  EXPECT_EQ(skip_revoked(b, 4), Skipped::last);
  EXPECT_EQ(claimed_through(b), 4u);
  EXPECT_TRUE(claim_task(b, 5)) << "the revocation is closed";
  // Everything sent already started: nothing to take back, no revocation opened.
  EXPECT_EQ(revoke_unclaimed(b, 5), std::nullopt);
  EXPECT_TRUE(claim_task(b, 6));
  // A task past the revoked range while it is open breaks the protocol.
  EXPECT_EQ(revoke_unclaimed(b, 8), std::optional<std::uint64_t>(6));
  EXPECT_FALSE(claim_task(b, 9));
  EXPECT_EQ(skip_revoked(b, 9), Skipped::too_late);
}

// The worker claims 1..n while the parent revokes through n: every task is either started (claimed) or taken
// back, never both, never neither.
TEST_F(DispatchPolicyTest, ClaimsRacingARevocationNeverRunATaskTwice) {
  constexpr std::uint64_t n = 200;
  for (int round = 0; round < 200; ++round) {
    ControlBlock b{0, 0};
    std::atomic<bool> go{false};
    std::uint64_t claimed = 0;
    std::thread worker([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      for (std::uint64_t s = 1; s <= n; ++s) {
        if (!claim_task(b, s)) break;
        claimed = s;
      }
    });
    go.store(true, std::memory_order_release);
    const std::optional<std::uint64_t> k = revoke_unclaimed(b, n);
    worker.join();
    if (k) {
      EXPECT_EQ(claimed, *k) << "the worker ran exactly the tasks up to the revoked ordinal";
      EXPECT_LT(*k, n);
    } else {
      EXPECT_EQ(claimed, n);
    }
  }
}

}  // namespace
}  // namespace spindle::process::detail
