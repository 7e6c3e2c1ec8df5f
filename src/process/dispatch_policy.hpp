#pragma once
// The process pool's dispatch policy: which worker gets the next task, how many tasks may queue on one
// worker, whose unstarted tasks to take back for an idle worker, and what a dead worker's tasks become.
// Pure logic over a summary of each worker (no system call, no process), so that a unit test drives it
// (tests/process/test_dispatch_policy.cpp); the pool (pool_dispatch.cpp) fills the summaries and acts.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace spindle::process::detail {

using Clock = std::chrono::steady_clock;

/// What the policy knows of one worker.
struct WorkerLoad {
  /// May be sent a task now: ready, neither closing, killed nor dead, no revocation open, under
  /// max_tasks_per_child.
  bool can_take = false;
  /// Started and not yet ready (neither closing, killed, dead nor failed): it will be free in a moment.
  bool starting = false;
  /// Its unstarted tasks may be taken back: ready, neither killed nor dead, no revocation open.
  bool revocable = false;
  /// Tasks sent and not answered; the front one is running (or about to).
  std::size_t inflight = 0;
  /// When the front task became the front one.
  Clock::time_point head_start{};
  /// Moving average of its task times in microseconds; 0: none finished yet.
  double ewma_us = 0;
};

/// See the file comment.
class DispatchPolicy {
 public:
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

  /// `max_inflight`: most tasks sent ahead to one worker (at least 1).
  explicit DispatchPolicy(std::size_t max_inflight) noexcept : max_inflight_(max_inflight ? max_inflight : 1) {}

  /// How many tasks `w` may have in flight now. Short tasks pipeline deeply (a round trip per task would
  /// dominate); unknown or long tasks go one at a time, so that nothing waits behind a long task while another
  /// worker is free; and nothing more queues behind a head that has run much longer than usual.
  std::size_t depth(const WorkerLoad& w, Clock::time_point now) const noexcept;

  /// The worker that gets the next task: the one with the fewest in flight among those that can take one and
  /// are under their depth (under 1 while any worker is starting); npos if none.
  std::size_t pick(std::span<const WorkerLoad> workers, Clock::time_point now) const noexcept;

  /// Records that `w` was sent a task at `now` (pick's bookkeeping between two picks).
  static void sent(WorkerLoad& w, Clock::time_point now) noexcept {
    if (w.inflight++ == 0) w.head_start = now;
  }

  /// Head-of-line blocking: when a worker is idle, the worker whose unstarted tasks should be taken back for
  /// it (npos if none): among those with tasks queued behind a head that has run at least max(200 us, 4 x its
  /// usual time), the one whose head started first. A queue too young for that lowers `wake_at` to the moment
  /// it becomes old enough.
  std::size_t victim(std::span<const WorkerLoad> workers, Clock::time_point now,
                     Clock::time_point& wake_at) const noexcept;

  /// The moving average after a task that took `us` microseconds.
  static double next_ewma(double ewma_us, double us) noexcept { return ewma_us <= 0 ? us : 0.8 * ewma_us + 0.2 * us; }

  /// Whether a dead worker's front task ran (and so fails): if the pool killed it, yes; if it died on its own,
  /// only if it claimed that task (`claimed_through` >= its ordinal); otherwise it died between tasks and all
  /// of its tasks go back to the queue.
  static bool head_ran(bool killed_by_pool, std::uint64_t claimed_through, std::uint64_t head_seq) noexcept {
    return killed_by_pool || claimed_through >= head_seq;
  }

 private:
  std::size_t max_inflight_;
};

}  // namespace spindle::process::detail
