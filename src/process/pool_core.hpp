#pragma once
// The process pool's parent side: a manager thread that owns every worker channel and the task ledger.
// Ledger: a task is in exactly one of incoming_ (submitted, not yet seen by the manager), pending_ (queued
// in the parent), a worker's inflight (sent; the front one is running), or finished (its future is done and
// the task destroyed); each of those owns it (unique_ptr). Workers run their tasks in order, so the front of a
// worker's inflight is the task it is running: when a worker dies, only that one fails; the rest never
// started and go back to pending_. A worker's unstarted tasks can also be taken back while it lives
// ("revocation", through the claim word of its control block, control_block.hpp): they go back to pending_
// for an idle worker.
//
// The sources: process_pool_executor.cpp (the manager loop, the public class), pool_worker_link.cpp (starting
// a worker, frames to and from it), pool_dispatch.cpp (handing out tasks, revocation, timeouts, with the
// decisions in dispatch_policy.hpp), pool_death.cpp (a dead worker's tasks, failing what cannot run).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dispatch_policy.hpp"
#include "result_batch.hpp"
#include "runtime.hpp"
#include "spindle/process/process_pool_executor.hpp"
#include "spindle/process/shared_memory.hpp"

namespace spindle::process::detail {

using TaskPtr = std::unique_ptr<TaskBase>;

class PoolCore {
 public:
  explicit PoolCore(ProcessPoolOptions o);
  ~PoolCore();
  void submit(TaskPtr t);
  void shutdown(bool wait, bool cancel_futures, bool kill_running);
  ProcessPoolStats stats() const;
  std::vector<pid_t> pids() const;
  std::size_t size() const noexcept { return n_; }

 private:
  enum class KillReason { none, timeout, shutdown, protocol };

  // One worker process and the parent's end of its channel.
  struct Worker {
    Child child;
    FrameReader in;
    std::deque<int> rfds;
    std::string out;
    std::size_t out_off = 0;
    std::deque<std::pair<std::size_t, std::vector<int>>> out_fds;  // (offset in out, descriptors)
    std::deque<TaskPtr> inflight;
    bool ready = false;
    bool closing = false;
    bool want_out = false;
    bool eof = false;
    std::uint64_t sent = 0;
    Clock::time_point head_start{};
    double ewma_us = 0;
    KillReason kill = KillReason::none;
    bool sigkilled = false;
    Clock::time_point kill_deadline{};
    std::string protocol_error;
    std::exception_ptr init_error;
    std::uint64_t next_seq = 1;        // ordinal of the next task frame sent to this worker
    std::uint64_t revoke_through = 0;  // non-zero: a revocation is open up to this ordinal (until the ack)
    // A ControlBlock (the claim word and the revoke-through word), then the result area when results are
    // batched (result_batch.hpp).
    std::shared_ptr<Segment> control;
    ControlBlock& block() const noexcept { return *static_cast<ControlBlock*>(control->data()); }
    explicit Worker(Child c, std::size_t max_frame) : child(c), in(max_frame) {}
  };

  void poke() noexcept;
  bool shutdown_snapshot();

  // process_pool_executor.cpp: the manager thread
  void run();

  // pool_worker_link.cpp
  void spawn_worker();
  void send_task(Worker& w, TaskPtr t);
  void set_want_out(Worker& w, bool want);
  void flush(Worker& w);
  static void drop_out_fds(Worker& w);
  void read_worker(Worker& w);
  void protocol_violation(Worker& w, const std::string& what);
  void on_frame(Worker& w, const Frame& f);
  void kill_worker(Worker& w, KillReason why, int sig);
  /// Workers send the results of quick tasks in batches, except under a task_timeout: its clock starts when
  /// the previous result arrives, which a kept result would delay.
  bool batch_results() const noexcept { return opt_.task_timeout.count() == 0; }
  /// A dead worker's results that were still in its result area: delivered now (those it sent are skipped).
  void recover_kept_results(Worker& w);

  // pool_dispatch.cpp
  WorkerLoad load(const Worker& w) const noexcept;
  bool can_take(const Worker& w) const noexcept;
  void dispatch();
  void dispatch_pending();
  bool rebalance();
  bool revoke(Worker& w);
  int next_timeout_ms() const;
  void check_timeouts();

  // pool_death.cpp
  void handle_death(std::unique_ptr<Worker> w);
  void cancel_pending_locked();
  void retry_or_fail_spawn();
  void fail_pending_locked();

  ProcessPoolOptions opt_;
  std::size_t n_;
  WorkerConfig cfg_;
  DispatchPolicy policy_;
  int efd_ = -1;
  int epfd_ = -1;
  std::thread thread_;
  std::mutex join_m_;

  mutable std::mutex m_;  // guards the fields below
  std::deque<TaskPtr> incoming_;
  bool sleeping_ = false;
  bool shutdown_ = false;
  bool shutdown_seen_ = false;
  bool cancel_ = false;
  bool kill_ = false;
  bool killed_all_ = false;
  bool broken_ = false;
  std::string broken_reason_;
  std::string spawn_error_;  // manager thread: why the last start failed while no worker was alive
  std::vector<pid_t> pids_;
  std::deque<TaskPtr> pending_;  // the manager's, but touched under m_ by cancel/fail helpers

  // manager-thread only
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<WorkerLoad> loads_;  // dispatch's scratch: one summary per worker
  int startup_failures_ = 0;
  Clock::time_point rebalance_at_ = Clock::time_point::max();  // when a queue may become worth revoking

  std::atomic<std::uint64_t> submitted_{0}, completed_{0}, crashed_{0}, timed_out_{0}, requeued_{0}, revoked_{0},
      workers_started_{0}, workers_died_{0};
};

}  // namespace spindle::process::detail
