#pragma once
// The state a Future and its producer share. One allocation per task: executors derive their task type from
// SharedState<T> so the callable, the result and the queue link live in the same block (allocation per task
// dominates the cost of tiny tasks).
//
// The 32-bit `word_` holds the status and two flags. Completion is a single exchange on it; the flags tell
// the completer whether it must wake futex waiters or run callbacks, so a future nobody waits on and nobody
// watches completes with one atomic RMW and no syscall.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "spindle/core/detail/futex.hpp"
#include "spindle/core/detail/wait_hook.hpp"
#include "spindle/core/errors.hpp"

namespace spindle::detail {

/// Status values (low 3 bits of the state word).
enum : uint32_t {
  kPending = 0,
  kRunning = 1,
  kCompleting = 2,  // a producer claimed the right to set the result and is writing it
  kCancelled = 3,
  kFinished = 4,
  kStatusMask = 7,
  kWaitersBit = 8,     // someone sleeps on the futex
  kCallbacksBit = 16,  // the callback list is non-empty
};

inline constexpr bool is_done(uint32_t word) noexcept {
  const uint32_t s = word & kStatusMask;
  return s == kCancelled || s == kFinished;
}

class StateBase;

/// A link in the intrusive queues executors keep; tasks are queue nodes themselves (no separate node).
struct QueueNode {
  std::atomic<QueueNode*> queue_next{nullptr};
};

/// A done-callback registered on a state. Heap nodes delete themselves in invoke(); stack nodes (waiters)
/// signal their owner instead. `invoke` must not touch the node after signalling its owner.
class CallbackNode {
 public:
  CallbackNode* prev = nullptr;
  CallbackNode* next = nullptr;
  /// Called once, outside the state's lock, after the state became done.
  virtual void invoke(StateBase& state) noexcept = 0;
  /// Called instead of invoke() when the state is destroyed without ever completing.
  virtual void discard() noexcept = 0;

 protected:
  ~CallbackNode() = default;
};

/// Counts live states per thread so tests can assert that none leaked, without a shared counter on the hot path.
void count_state_created() noexcept;
void count_state_destroyed() noexcept;
/// Live shared states (futures and their tasks) in the whole process.
long live_states() noexcept;

/// The state shared by a future and its producer. It is also an intrusive queue node and, for executor tasks,
/// the work item itself (run()/abandon()), so a task needs one allocation and one vtable pointer.
class StateBase : public QueueNode {
 public:
  StateBase(const StateBase&) = delete;
  StateBase& operator=(const StateBase&) = delete;

  uint32_t status() const noexcept { return word_.load(std::memory_order_acquire) & kStatusMask; }
  bool done() const noexcept { return is_done(word_.load(std::memory_order_acquire)); }

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy();
  }

  /// Python's `Future.set_running_or_notify_cancel`: pending -> running; false if the state was cancelled.
  /// Throws InvalidStateError if the state is already running or done.
  bool set_running_or_notify_cancel();

  /// Pending -> running without throwing; false if the state was not pending.
  bool try_start() noexcept {
    uint32_t w = word_.load(std::memory_order_relaxed);
    while ((w & kStatusMask) == kPending) {
      if (word_.compare_exchange_weak(w, (w & ~kStatusMask) | kRunning, std::memory_order_acquire,
                                      std::memory_order_relaxed))
        return true;
    }
    return false;
  }

  /// Python's `Future.cancel`: succeeds while pending (or if already cancelled).
  bool cancel() noexcept;

  /// Claims the right to complete (pending/running -> completing). False if already done or claimed.
  bool try_claim() noexcept {
    uint32_t w = word_.load(std::memory_order_relaxed);
    for (;;) {
      const uint32_t s = w & kStatusMask;
      if (s != kPending && s != kRunning) return false;
      if (word_.compare_exchange_weak(w, (w & ~kStatusMask) | kCompleting, std::memory_order_acquire,
                                      std::memory_order_relaxed))
        return true;
    }
  }

  /// Claims only a pending state (never one a runner holds).
  bool try_claim_pending() noexcept {
    uint32_t w = word_.load(std::memory_order_relaxed);
    while ((w & kStatusMask) == kPending) {
      if (word_.compare_exchange_weak(w, (w & ~kStatusMask) | kCompleting, std::memory_order_acquire,
                                      std::memory_order_relaxed))
        return true;
    }
    return false;
  }

  /// Publishes the result written after try_claim(): wakes waiters and runs callbacks.
  void publish(uint32_t final_status) noexcept {
    const uint32_t old = word_.exchange(final_status, std::memory_order_acq_rel);
    if (old & (kWaitersBit | kCallbacksBit)) on_published(old);
  }

  void set_exception_claimed(std::exception_ptr e) noexcept {
    ::new (error_slot()) std::exception_ptr(std::move(e));
    flags_ |= kHasError;
    publish(kFinished);
  }

  /// Blocks until done. On an executor's worker thread it goes through the thread's WaitHook: a still-queued
  /// task of that executor runs here, and a wait that provably never returns throws DeadlockError.
  void wait();
  /// Blocks until done or until `deadline`; true if done. A timed wait only sleeps (it never helps nor throws);
  /// `deadline` == max() is an untimed wait(), which may throw DeadlockError.
  bool wait_until(std::chrono::steady_clock::time_point deadline);

  /// Which executor queued this task (0: none, e.g. a Promise's state); set once at construction.
  uint32_t executor_id() const noexcept { return executor_id_; }
  /// Runs a still-pending task state on the calling thread (work helping); true if it ran. For WaitHooks,
  /// which decide whether this thread may run the executor's tasks.
  bool try_run_inline() noexcept { return run_inline(); }

  /// The stored exception (null on success or cancellation). Only meaningful once done.
  std::exception_ptr error() const noexcept {
    return (flags_ & kHasError) != 0 ? *std::launder(reinterpret_cast<const std::exception_ptr*>(error_slot()))
                                     : std::exception_ptr();
  }

  /// Throws CancelledError if cancelled, rethrows the stored exception if any. Requires done().
  void rethrow_if_failed() const {
    if (status() == kCancelled) throw CancelledError();
    if ((flags_ & kHasError) != 0)
      std::rethrow_exception(*std::launder(reinterpret_cast<const std::exception_ptr*>(error_slot())));
  }

  /// Runs an executor task (or discards it if it was cancelled) and drops the queue's reference.
  virtual void run() noexcept { std::terminate(); }
  /// Discards a task that will never run and drops the queue's reference: with a null `error` it is
  /// cancelled (shutdown with cancel_futures), otherwise it fails with `error` (a broken pool).
  virtual void abandon(std::exception_ptr) noexcept { std::terminate(); }

  /// Registers `node`; returns false (without registering) if the state is already done.
  bool add_callback(CallbackNode* node) noexcept;
  /// Removes a node registered with add_callback. Returns false if the completer already took it, in which
  /// case the completer invokes (or has invoked) it: the owner must wait for that before freeing the node.
  bool remove_callback(CallbackNode* node) noexcept;

 protected:
  explicit StateBase(uint32_t refs) noexcept : refs_(refs) { count_state_created(); }
  virtual ~StateBase();

  // The result and the exception share storage in the derived state (a state holds one or the other):
  // error_slot() is where an exception_ptr lives; the flags say which, if any, was constructed.
  enum : uint8_t { kHasValue = 1, kHasError = 2 };
  virtual void* error_slot() const noexcept = 0;
  virtual void destroy() noexcept { delete this; }
  /// Task states override this to run themselves on a waiting thread (work helping). Returns true if run.
  virtual bool run_inline() noexcept { return false; }

 private:
  void on_published(uint32_t old) noexcept;
  bool sleep_until(uint32_t w, std::chrono::steady_clock::time_point deadline) noexcept;
  void lock_callbacks() noexcept {
    while (cb_lock_.exchange(true, std::memory_order_acquire)) {
      while (cb_lock_.load(std::memory_order_relaxed)) cpu_relax();
    }
  }
  void unlock_callbacks() noexcept { cb_lock_.store(false, std::memory_order_release); }

  std::atomic<uint32_t> word_{kPending};
  std::atomic<uint32_t> refs_;
  CallbackNode* cb_head_ = nullptr;  // newest first; reversed when run, so callbacks run in registration order
  std::atomic<bool> cb_lock_{false};

 protected:
  // Declared last so they pack beside cb_lock_ (a task state fits a 64-byte malloc chunk).
  uint8_t flags_ = 0;    // written only by the thread that claimed the state, read after publish
  uint8_t options_ = 0;  // for derived states; set at construction, immutable afterwards
  uint32_t executor_id_ = 0;  // for derived states; set at construction, immutable afterwards (fills padding)
};

/// A state with room for a T or an exception (never both). The value is constructed only on success.
template <class T>
class SharedState : public StateBase {
 public:
  explicit SharedState(uint32_t refs) noexcept : StateBase(refs) {}

  template <class... A>
  void emplace_claimed(A&&... args) noexcept(std::is_nothrow_constructible_v<T, A...>) {
    ::new (static_cast<void*>(storage_)) T(std::forward<A>(args)...);
    flags_ |= kHasValue;
    publish(kFinished);
  }

  T& value() noexcept { return *std::launder(reinterpret_cast<T*>(storage_)); }

 protected:
  ~SharedState() override {
    if (flags_ & kHasValue) value().~T();
    if (flags_ & kHasError) std::launder(reinterpret_cast<std::exception_ptr*>(storage_))->~exception_ptr();
  }
  void* error_slot() const noexcept override { return const_cast<unsigned char*>(storage_); }

 private:
  alignas(T) alignas(std::exception_ptr) unsigned char storage_[sizeof(T) > sizeof(std::exception_ptr)
                                                                    ? sizeof(T)
                                                                    : sizeof(std::exception_ptr)];
};

template <>
class SharedState<void> : public StateBase {
 public:
  explicit SharedState(uint32_t refs) noexcept : StateBase(refs) {}
  void emplace_claimed() noexcept {
    flags_ |= kHasValue;
    publish(kFinished);
  }

 protected:
  ~SharedState() override {
    if (flags_ & kHasError) std::launder(reinterpret_cast<std::exception_ptr*>(storage_))->~exception_ptr();
  }
  void* error_slot() const noexcept override { return const_cast<unsigned char*>(storage_); }

 private:
  alignas(std::exception_ptr) unsigned char storage_[sizeof(std::exception_ptr)];
};

}  // namespace spindle::detail
