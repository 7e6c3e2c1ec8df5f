#include "spindle/thread/thread_pool_executor.hpp"

#include <pthread.h>

#include <algorithm>

#include "spindle/core/detail/futex.hpp"
#include "spindle/core/unhandled.hpp"

namespace spindle {
namespace detail {
namespace {

// ~20-40 µs of polling before a worker sleeps: about what one cross-vCPU wake-up costs here (docs/bench.md).
constexpr int kSpinRounds = 2048;

std::size_t default_workers() {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return std::min<std::size_t>(32, cores + 4);
}

std::atomic<unsigned> pool_counter{0};
thread_local const PoolCore* current_pool = nullptr;
// Set once this worker's initializer has returned: before that, the thread is not ready to run tasks.
thread_local bool t_ready_to_help = false;

// Every live pool, for the deadlock check, which must see all pools a wait can depend on. Its mutex also
// guards each pool's blocked_ list. Only untimed waits that are about to sleep on a worker take it.
struct Registry {
  std::mutex mutex;
  std::vector<PoolCore*> pools;
  uint32_t next_id = 0;
};
Registry& registry() {
  static auto* r = new Registry;  // never destroyed: detached workers may outlive static destruction
  return *r;
}

}  // namespace

PoolCore::PoolCore(PoolConfig config) : config_(std::move(config)) {
  if (config_.max_workers == 0) config_.max_workers = default_workers();
  if (config_.thread_name_prefix.empty())
    config_.thread_name_prefix = "ThreadPool-" + std::to_string(pool_counter.fetch_add(1));
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  // Unique among live pools even after the counter wraps; 0 means "no executor".
  const auto in_use = [&](uint32_t id) {
    return std::any_of(r.pools.begin(), r.pools.end(), [id](const PoolCore* p) { return p->id_ == id; });
  };
  do {
    id_ = ++r.next_id;
  } while (id_ == 0 || in_use(id_));
  r.pools.push_back(this);
}

// Workers hold a reference, so this may run on the last worker of a pool destroyed from its own task; by then
// the executor's destructor has shut down and taken every joinable thread.
PoolCore::~PoolCore() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::erase(r.pools, this);
}

bool PoolCore::try_run(StateBase& state) noexcept {
  // Only this pool's tasks: another pool's task would run on a thread its initializer never prepared, and
  // beyond that pool's max_workers.
  return t_ready_to_help && state.executor_id() == id_ && state.try_run_inline();
}

void PoolCore::begin_block(std::span<StateBase* const> states, bool need_all) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  blocked_.push_back(BlockedWait{std::this_thread::get_id(), states, need_all});
  // Candidates: pools that can start no thread and whose every thread sleeps in a registered wait. Their
  // waiters hold their futures, so the states read below are alive; they stay as read while we hold the lock,
  // except that another thread may cancel one (which is why a cancel can still rescue a "deadlock").
  std::vector<const PoolCore*> dead;
  for (const PoolCore* p : r.pools) {
    const std::size_t started = p->started_.load(std::memory_order_acquire);
    if (started == p->config_.max_workers && p->blocked_.size() == started) dead.push_back(p);
  }
  const auto queued_in_dead = [&](const StateBase* s) {
    if (s->status() != kPending) return false;
    return std::any_of(dead.begin(), dead.end(), [s](const PoolCore* p) { return p->id_ == s->executor_id(); });
  };
  const auto stuck = [&](const BlockedWait& b) {
    if (b.need_all) return std::any_of(b.states.begin(), b.states.end(), queued_in_dead);
    return !b.states.empty() && std::all_of(b.states.begin(), b.states.end(), queued_in_dead);
  };
  // Shrink to the largest set in which every waiter is stuck: a waiter that might wake frees its pool.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = dead.begin(); it != dead.end(); ++it) {
      if (!std::all_of((*it)->blocked_.begin(), (*it)->blocked_.end(), stuck)) {
        dead.erase(it);
        changed = true;
        break;
      }
    }
  }
  if (!stuck(blocked_.back())) return;
  blocked_.pop_back();
  std::string names;
  for (const PoolCore* p : dead) names += (names.empty() ? "'" : ", '") + p->config_.thread_name_prefix + "'";
  throw DeadlockError("deadlock: a worker of thread pool '" + config_.thread_name_prefix +
                      "' waits without a timeout on a task still queued in a pool whose every worker is itself "
                      "blocked waiting on queued tasks (pools " + names +
                      "); no worker can run it (helping is off, or the task is another pool's), so the wait "
                      "would never return");
}

void PoolCore::end_block() noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const auto me = std::this_thread::get_id();
  std::erase_if(blocked_, [me](const BlockedWait& b) { return b.thread == me; });
}

std::size_t PoolCore::num_threads() const { return started_.load(std::memory_order_relaxed); }

bool PoolCore::is_own_thread() const noexcept { return current_pool == this; }

void PoolCore::check_accepting() const {
  const uint64_t g = gate_.load(std::memory_order_acquire);
  if (g & kBrokenBit) std::rethrow_exception(broken_reason_);
  if (g & kShutdownBit) throw ShutdownError();
}

void PoolCore::submit(StateBase* item) {
  const uint64_t g = gate_.fetch_add(1, std::memory_order_acquire);
  if (g & (kShutdownBit | kBrokenBit)) {
    gate_.fetch_sub(1, std::memory_order_release);
    check_accepting();
  }
  queue_.push(item);
  notify_work();
  if (!take_idle_token() && started_.load(std::memory_order_relaxed) < config_.max_workers) maybe_spawn();
  gate_.fetch_sub(1, std::memory_order_release);
}

// Python's `_idle_semaphore`: a worker that runs out of work adds a token; a submit takes one if it can and
// otherwise starts a thread (up to max_workers). Taking the token, rather than reading an idle count, is what
// stops two quick submits from both counting on the same idle worker and queueing behind each other.
bool PoolCore::take_idle_token() noexcept {
  int t = idle_.load(std::memory_order_relaxed);
  while (t > 0) {
    if (idle_.compare_exchange_weak(t, t - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

void PoolCore::maybe_spawn() {
  std::lock_guard lock(threads_mutex_);
  const std::size_t n = threads_.size();
  if (n >= config_.max_workers) return;
  // As in Python, a new thread is not idle until it finds the queue empty, so a burst of submissions starts
  // up to max_workers threads.
  threads_.emplace_back([self = shared_from_this(), n] { self->worker_main(n); });
  started_.store(n + 1, std::memory_order_relaxed);
}

StateBase* PoolCore::pop() noexcept {
  for (;;) {
    bool busy = false;
    QueueNode* n = queue_.try_pop(busy);
    if (n != nullptr) return static_cast<StateBase*>(n);
    if (!busy) return nullptr;
    cpu_relax();
  }
}

// Called after a push. The push (a seq_cst exchange) is ordered before these loads, and a parking worker
// announces itself (seq_cst) before re-checking the queue, so either it sees the work or we see it.
void PoolCore::notify_work() noexcept {
  if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
  if (spinning_.load(std::memory_order_seq_cst) > 0) return;
  if (wake_pending_.exchange(true, std::memory_order_seq_cst)) return;
  wake_one();
}

void PoolCore::wake_one() noexcept {
  epoch_.fetch_add(1, std::memory_order_release);
  futex_wake(epoch_, 1);
}

void PoolCore::wake_all() noexcept {
  epoch_.fetch_add(1, std::memory_order_release);
  futex_wake_all(epoch_);
}

bool PoolCore::park() noexcept {
  const uint32_t e = epoch_.load(std::memory_order_acquire);
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  // A pending-wake flag set before now targeted someone else or nobody; from here on, a submit that sees it
  // set also bumped epoch_ after we read it, so our futex_wait cannot sleep through it.
  wake_pending_.store(false, std::memory_order_seq_cst);
  // Re-check after announcing: a producer either sees us in sleepers_ or we see its push (both seq_cst).
  const bool exit_now = (gate_.load(std::memory_order_seq_cst) & (kShutdownBit | kBrokenBit)) != 0;
  if (!queue_.looks_nonempty() && !exit_now) futex_wait(epoch_, e);
  // Awake and about to search: count as spinning before leaving the sleepers, and let the next submit wake
  // another worker if work keeps coming.
  spinning_.fetch_add(1, std::memory_order_seq_cst);
  sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  wake_pending_.store(false, std::memory_order_seq_cst);
  return true;
}

void PoolCore::fail_queued(const std::exception_ptr& error) noexcept {
  while (StateBase* item = pop()) item->abandon(error);
}

void PoolCore::worker_main(std::size_t index) {
  current_pool = this;
  // Installed before the initializer, so a wait in it is checked for deadlock too; it helps only after.
  t_wait_hook = this;
  {
    std::string name = config_.thread_name_prefix + "_" + std::to_string(index);
    if (name.size() > 15) name = name.substr(name.size() - 15);  // the kernel keeps 15 characters
    pthread_setname_np(pthread_self(), name.c_str());
  }
  if (config_.initializer) {
    try {
      config_.initializer();
    } catch (...) {
      {
        std::lock_guard lock(threads_mutex_);
        if (!broken_reason_)
          broken_reason_ = std::make_exception_ptr(BrokenExecutor(
              "A thread initializer failed, the thread pool is not usable anymore: " +
              describe_exception(std::current_exception())));
      }
      gate_.fetch_or(kBrokenBit, std::memory_order_acq_rel);
      wake_all();
    }
  }
  t_ready_to_help = true;
  bool idle = false;
  bool spinning = false;
  for (;;) {
    if (gate_.load(std::memory_order_acquire) & kBrokenBit) {
      std::exception_ptr reason;
      {
        std::lock_guard lock(threads_mutex_);
        reason = broken_reason_;
      }
      fail_queued(reason);
      // Wait for in-flight submitters, then drain once more so nothing they pushed is stranded.
      while (gate_.load(std::memory_order_acquire) & kCountMask) cpu_relax();
      fail_queued(reason);
      break;
    }
    StateBase* item = pop();
    if (item != nullptr) {
      if (spinning) {
        spinning = false;
        // The last searcher found work: submits skipped their wake-ups while it searched, so if more is queued,
        // wake a sleeper to share it (as Tokio's workers do on leaving the searching state).
        if (spinning_.fetch_sub(1, std::memory_order_seq_cst) == 1 && queue_.looks_nonempty()) notify_work();
      }
      idle = false;  // its token, if a submit has not taken it, stays: a later submit need not spawn
      item->run();
      continue;
    }
    if (!idle) {
      idle_.fetch_add(1, std::memory_order_relaxed);
      idle = true;
    }
    const uint64_t g = gate_.load(std::memory_order_acquire);
    if ((g & kShutdownBit) && (g & kCountMask) == 0 && !queue_.looks_nonempty()) break;
    if (!spinning) {
      spinning_.fetch_add(1, std::memory_order_seq_cst);
      spinning = true;
    }
    bool found = false;
    for (int i = 0; i < kSpinRounds && !found; ++i) {
      cpu_relax();
      // On 2 vCPUs the producer may need this core: give it away now and then instead of burning it.
      if ((i & 255) == 255) std::this_thread::yield();
      found = queue_.looks_nonempty() || (gate_.load(std::memory_order_relaxed) & (kShutdownBit | kBrokenBit));
    }
    if (found) continue;
    spinning_.fetch_sub(1, std::memory_order_seq_cst);
    spinning = false;
    park();  // comes back counted as spinning
    spinning = true;
  }
  if (spinning) spinning_.fetch_sub(1, std::memory_order_seq_cst);
  t_ready_to_help = false;
  t_wait_hook = nullptr;
  current_pool = nullptr;
}

void PoolCore::shutdown(bool wait, bool cancel_futures) {
  gate_.fetch_or(kShutdownBit, std::memory_order_acq_rel);
  // Submitters that passed the gate before the bit was set finish their push.
  while (gate_.load(std::memory_order_acquire) & kCountMask) cpu_relax();
  if (cancel_futures) fail_queued(nullptr);
  wake_all();
  if (!wait) return;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(threads_mutex_);
    threads.swap(threads_);
  }
  bool joined_self = false;
  for (auto& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      joined_self = true;
      t.detach();  // cannot join ourselves; the thread exits when the current task returns
    } else {
      t.join();
    }
  }
  if (joined_self)
    throw InvalidStateError("shutdown(wait=true) called from one of the pool's own threads: it cannot wait for itself");
}

}  // namespace detail

ThreadPoolExecutor::ThreadPoolExecutor(std::size_t max_workers, std::string thread_name_prefix,
                                       std::function<void()> initializer)
    : ThreadPoolExecutor(ThreadPoolOptions{max_workers, std::move(thread_name_prefix), std::move(initializer)}) {}

ThreadPoolExecutor::ThreadPoolExecutor(ThreadPoolOptions options)
    : help_ok_(options.run_pending_on_wait) {
  core_ = std::make_shared<detail::PoolCore>(detail::PoolConfig{
      options.max_workers, std::move(options.thread_name_prefix), std::move(options.initializer)});
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  try {
    core_->shutdown(true, false);
  } catch (const InvalidStateError&) {
    // Destroyed from one of its own tasks: that thread was detached and exits after the task.
  }
}

void ThreadPoolExecutor::shutdown(bool wait, bool cancel_futures) { core_->shutdown(wait, cancel_futures); }

}  // namespace spindle
