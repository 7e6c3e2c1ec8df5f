#include <mutex>
#include <vector>

#include "spindle/core/detail/shared_state.hpp"
#include "spindle/core/unhandled.hpp"

namespace spindle::detail {

// ---- live-state census ---------------------------------------------------------------------------------------
// Each thread counts into its own slot (a plain load+store, no locked RMW, no shared cache line); a thread's
// slot is folded into `retired` when it exits.
namespace {
struct Census;
// Never destroyed: detached threads may still count states while the process exits.
std::mutex& census_mutex() {
  static auto* m = new std::mutex;
  return *m;
}
std::vector<Census*>& census_threads() {
  static auto* v = new std::vector<Census*>;
  return *v;
}
std::atomic<long> census_retired{0};

struct Census {
  std::atomic<long> live{0};
  Census() {
    std::lock_guard lock(census_mutex());
    census_threads().push_back(this);
  }
  ~Census() {
    std::lock_guard lock(census_mutex());
    auto& v = census_threads();
    std::erase(v, this);
    census_retired.fetch_add(live.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
};
thread_local Census census;
}  // namespace

void count_state_created() noexcept {
  census.live.store(census.live.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
void count_state_destroyed() noexcept {
  census.live.store(census.live.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}
long live_states() noexcept {
  std::lock_guard lock(census_mutex());
  long total = census_retired.load(std::memory_order_relaxed);
  for (const Census* c : census_threads()) total += c->live.load(std::memory_order_relaxed);
  return total;
}

// ---- StateBase -----------------------------------------------------------------------------------------------
StateBase::~StateBase() {
  // Callbacks of a state that never completed (nobody could complete it) are discarded, not run.
  for (CallbackNode* n = cb_head_; n != nullptr;) {
    CallbackNode* next = n->next;
    n->discard();
    n = next;
  }
  count_state_destroyed();
}

bool StateBase::set_running_or_notify_cancel() {
  uint32_t w = word_.load(std::memory_order_relaxed);
  for (;;) {
    const uint32_t s = w & kStatusMask;
    if (s == kCancelled) return false;
    if (s != kPending) throw InvalidStateError("set_running_or_notify_cancel: future is already running or done");
    if (word_.compare_exchange_weak(w, (w & ~kStatusMask) | kRunning, std::memory_order_acquire,
                                    std::memory_order_relaxed))
      return true;
  }
}

bool StateBase::cancel() noexcept {
  uint32_t w = word_.load(std::memory_order_relaxed);
  for (;;) {
    const uint32_t s = w & kStatusMask;
    if (s == kCancelled) return true;
    if (s != kPending) return false;
    if (word_.compare_exchange_weak(w, (w & ~kStatusMask) | kCompleting, std::memory_order_acquire,
                                    std::memory_order_relaxed))
      break;
  }
  publish(kCancelled);
  return true;
}

void StateBase::on_published(uint32_t old) noexcept {
  if (old & kWaitersBit) futex_wake_all(word_);
  if (old & kCallbacksBit) {
    lock_callbacks();
    CallbackNode* newest = cb_head_;
    cb_head_ = nullptr;
    unlock_callbacks();
    // Detached: reverse it into registration order, then run. Read `next` before invoking, since invoke may
    // free the node.
    CallbackNode* n = nullptr;
    while (newest != nullptr) {
      CallbackNode* older = newest->next;
      newest->next = n;
      n = newest;
      newest = older;
    }
    while (n != nullptr) {
      CallbackNode* next = n->next;
      n->prev = n->next = nullptr;
      n->invoke(*this);
      n = next;
    }
  }
}

bool StateBase::add_callback(CallbackNode* node) noexcept {
  lock_callbacks();
  uint32_t w = word_.load(std::memory_order_relaxed);
  for (;;) {
    if (is_done(w)) {
      unlock_callbacks();
      return false;
    }
    // Setting the bit with a CAS orders us against the completer's exchange: either it sees the bit (and then
    // takes the lock, so it sees our node), or we see its final status.
    if (word_.compare_exchange_weak(w, w | kCallbacksBit, std::memory_order_acq_rel, std::memory_order_relaxed)) break;
  }
  node->prev = nullptr;
  node->next = cb_head_;
  if (cb_head_ != nullptr) cb_head_->prev = node;
  cb_head_ = node;
  unlock_callbacks();
  return true;
}

bool StateBase::remove_callback(CallbackNode* node) noexcept {
  lock_callbacks();
  bool linked = false;
  for (CallbackNode* n = cb_head_; n != nullptr; n = n->next) {
    if (n == node) {
      linked = true;
      break;
    }
  }
  if (linked) {
    (node->prev ? node->prev->next : cb_head_) = node->next;
    if (node->next) node->next->prev = node->prev;
    node->prev = node->next = nullptr;
  }
  unlock_callbacks();
  return linked;
}

namespace {
// Spinning briefly before sleeping pays off when the producer is seconds away from done on another vCPU:
// a futex round trip across vCPUs costs ~50 µs here, a few hundred pause instructions well under 1 µs each.
constexpr int kSpinsBeforeSleep = 512;
}  // namespace

void StateBase::wait() {
  uint32_t w = word_.load(std::memory_order_acquire);
  if (is_done(w)) return;
  // Only an executor's worker has a hook: running the task here cannot raise the pool's concurrency (this
  // worker is blocked anyway), whereas any other thread running it would.
  WaitHook* hook = t_wait_hook;
  if (hook != nullptr && (w & kStatusMask) == kPending && hook->try_run(*this)) return;
  for (int i = 0; i < kSpinsBeforeSleep; ++i) {
    cpu_relax();
    w = word_.load(std::memory_order_acquire);
    if (is_done(w)) return;
  }
  StateBase* self = this;
  const BlockScope blocked({&self, 1}, false);  // may throw DeadlockError instead of sleeping forever
  (void)sleep_until(w, std::chrono::steady_clock::time_point::max());
}

bool StateBase::wait_until(std::chrono::steady_clock::time_point deadline) {
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    wait();
    return true;
  }
  // A timed wait never helps: running the task here could take longer than the timeout allows.
  uint32_t w = word_.load(std::memory_order_acquire);
  if (is_done(w)) return true;
  for (int i = 0; i < kSpinsBeforeSleep; ++i) {
    cpu_relax();
    w = word_.load(std::memory_order_acquire);
    if (is_done(w)) return true;
  }
  return sleep_until(w, deadline);
}

bool StateBase::sleep_until(uint32_t w, std::chrono::steady_clock::time_point deadline) noexcept {
  for (;;) {
    if (is_done(w)) return true;
    if (!(w & kWaitersBit)) {
      if (!word_.compare_exchange_weak(w, w | kWaitersBit, std::memory_order_acquire, std::memory_order_acquire))
        continue;
      w |= kWaitersBit;
    }
    const bool in_time = futex_wait(word_, w, deadline);
    w = word_.load(std::memory_order_acquire);
    if (!in_time && !is_done(w)) return false;
  }
}

}  // namespace spindle::detail
