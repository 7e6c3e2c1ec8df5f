#pragma once
// The non-template half of ThreadPoolExecutor: its queue, workers, parking and shutdown. Tasks arrive as
// StateBases (a task's future state is its own queue node: one allocation per task).

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "spindle/core/detail/shared_state.hpp"
#include "spindle/core/detail/wait_hook.hpp"

namespace spindle::detail {

/// Vyukov's intrusive MPSC queue: push is one exchange (wait-free for producers); consumers take turns
/// through a try-lock, since a pool's consumers are few and each pop is a handful of loads.
class TaskQueue {
 public:
  TaskQueue() noexcept : tail_(&stub_), head_(&stub_) {}
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  void push(QueueNode* n) noexcept {
    n->queue_next.store(nullptr, std::memory_order_relaxed);
    // seq_cst: parkers check tail_ after announcing themselves (Dekker pairing with PoolCore::park).
    QueueNode* prev = tail_.exchange(n, std::memory_order_seq_cst);
    prev->queue_next.store(n, std::memory_order_release);
  }

  /// A cheap read-only emptiness hint (no lock). May say "non-empty" for a queue a consumer is emptying.
  bool looks_nonempty() const noexcept {
    return tail_.load(std::memory_order_seq_cst) != &stub_ || head_.load(std::memory_order_relaxed) != &stub_;
  }

  /// Pops one node, or null if the queue is empty, another consumer holds the lock, or a producer is
  /// half-way through a push (`busy` is set in the last two cases: retry soon).
  QueueNode* try_pop(bool& busy) noexcept {
    if (consumer_.exchange(true, std::memory_order_acquire)) {
      busy = true;
      return nullptr;
    }
    QueueNode* n = pop_locked(busy);
    consumer_.store(false, std::memory_order_release);
    return n;
  }

 private:
  QueueNode* pop_locked(bool& busy) noexcept {
    QueueNode* head = head_.load(std::memory_order_relaxed);
    QueueNode* next = head->queue_next.load(std::memory_order_acquire);
    if (head == &stub_) {
      if (next == nullptr) return nullptr;
      head_.store(next, std::memory_order_relaxed);
      head = next;
      next = next->queue_next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      head_.store(next, std::memory_order_relaxed);
      return head;
    }
    if (tail_.load(std::memory_order_acquire) != head) {
      busy = true;  // a producer exchanged tail_ but has not linked its node yet
      return nullptr;
    }
    push(&stub_);
    next = head->queue_next.load(std::memory_order_acquire);
    if (next != nullptr) {
      head_.store(next, std::memory_order_relaxed);
      return head;
    }
    busy = true;
    return nullptr;
  }

  alignas(64) std::atomic<QueueNode*> tail_;
  alignas(64) std::atomic<QueueNode*> head_;
  std::atomic<bool> consumer_{false};
  QueueNode stub_;
};

/// Settings of a pool (see ThreadPoolOptions).
struct PoolConfig {
  std::size_t max_workers;
  std::string thread_name_prefix;
  std::function<void()> initializer;
};

/// The pool's workers install it as their thread's WaitHook: an untimed wait on a queued task of this pool runs
/// it (work helping), and a wait that provably never returns throws DeadlockError (see begin_block).
class PoolCore final : public std::enable_shared_from_this<PoolCore>, public WaitHook {
 public:
  explicit PoolCore(PoolConfig config);
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;
  ~PoolCore();

  /// Throws ShutdownError / BrokenExecutor if the pool cannot take work.
  void check_accepting() const;
  /// Queues `item` (the queue owns one reference). Throws ShutdownError / BrokenExecutor without taking it.
  void submit(StateBase* item);
  void shutdown(bool wait, bool cancel_futures);
  std::size_t max_workers() const noexcept { return config_.max_workers; }
  std::size_t num_threads() const;
  /// True on a worker thread of this pool.
  bool is_own_thread() const noexcept;
  /// Tags this pool's tasks (StateBase::executor_id), so a waiting worker tells its own pool's tasks apart.
  uint32_t id() const noexcept { return id_; }
  /// Workers asleep, or about to sleep, for want of work.
  std::size_t parked_workers() const noexcept {
    return static_cast<std::size_t>(sleepers_.load(std::memory_order_acquire));
  }

  // WaitHook, on this pool's workers.
  bool try_run(StateBase& state) noexcept override;
  /// Registers this worker as asleep on `states`, then looks for a deadlock: the pools that can run nothing
  /// more are those with every thread started and every one of them registered here, each waiting on tasks
  /// still queued in such pools (the largest such set). If this wait needs a task queued in one of them, it
  /// can never end (short of another thread cancelling that task): DeadlockError.
  void begin_block(std::span<StateBase* const> states, bool need_all) override;
  void end_block() noexcept override;

 private:
  static constexpr uint64_t kShutdownBit = uint64_t{1} << 62;
  static constexpr uint64_t kBrokenBit = uint64_t{1} << 61;
  static constexpr uint64_t kCountMask = (uint64_t{1} << 61) - 1;

  void maybe_spawn();
  bool take_idle_token() noexcept;
  void worker_main(std::size_t index);
  bool park() noexcept;  // false when the worker should exit
  void wake_one() noexcept;
  void notify_work() noexcept;
  void wake_all() noexcept;
  void fail_queued(const std::exception_ptr& error) noexcept;
  StateBase* pop() noexcept;

  /// A worker asleep in an untimed wait (guarded by the registry's mutex, see thread_pool_executor.cpp).
  struct BlockedWait {
    std::thread::id thread;
    std::span<StateBase* const> states;
    bool need_all;
  };

  PoolConfig config_;
  uint32_t id_ = 0;
  std::vector<BlockedWait> blocked_;  // guarded by the registry's mutex
  TaskQueue queue_;
  // Submitters in flight plus the shutdown/broken bits: shutdown waits for the count to drain so that a
  // submit racing shutdown either throws or its task is run (never silently dropped).
  alignas(64) std::atomic<uint64_t> gate_{0};
  alignas(64) std::atomic<uint32_t> epoch_{0};
  std::atomic<int> sleepers_{0};
  // Workers polling the queue: while one is, a submit needs no wake-up (it will be found).
  std::atomic<int> spinning_{0};
  // A wake-up was issued and its target has not yet come back to look: further submits need not issue more.
  // Cleared by every worker entering and leaving park(), which is what keeps it from going stale.
  std::atomic<bool> wake_pending_{false};
  std::atomic<int> idle_{0};  // idle tokens (Python's _idle_semaphore)
  std::atomic<std::size_t> started_{0};
  mutable std::mutex threads_mutex_;
  std::vector<std::thread> threads_;
  std::exception_ptr broken_reason_;
};

}  // namespace spindle::detail
