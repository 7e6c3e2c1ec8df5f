#pragma once
// How an untimed wait in core reaches the executor whose worker is waiting. Core knows no executor (the
// dependencies point one way), so it defines this interface and executors install an implementation on their
// worker threads: Future::result/wait/exception, spindle::wait and as_completed all go through it, so no door
// can bypass the pool's helping or its deadlock check.

#include <cstddef>
#include <span>

namespace spindle::detail {

class StateBase;

/// What a worker thread may do about a future it is about to block on. Called only for untimed waits: a timed
/// wait never helps (the task could outlast the timeout) and never raises, it times out.
class WaitHook {
 public:
  /// Runs `state` on this thread if it is a still-queued task this thread may run; true if it ran it (the
  /// state is then done).
  virtual bool try_run(StateBase& state) noexcept = 0;
  /// Announces that this thread is about to sleep until one (`need_all` false) or all of `states`, which were
  /// not done, complete. Throws DeadlockError, announcing nothing, if that provably never happens. `states` must
  /// stay valid until the matching end_block().
  virtual void begin_block(std::span<StateBase* const> states, bool need_all) = 0;
  /// The thread woke up (or gave up) after begin_block.
  virtual void end_block() noexcept = 0;

 protected:
  ~WaitHook() = default;
};

/// The hook of the executor this thread works for; null on other threads (they just sleep).
inline thread_local WaitHook* t_wait_hook = nullptr;

/// begin_block ... end_block as a scope; a no-op on a thread without a hook.
class BlockScope {
 public:
  BlockScope(std::span<StateBase* const> states, bool need_all) : hook_(t_wait_hook) {
    if (hook_ != nullptr) hook_->begin_block(states, need_all);
  }
  ~BlockScope() {
    if (hook_ != nullptr) hook_->end_block();
  }
  BlockScope(const BlockScope&) = delete;
  BlockScope& operator=(const BlockScope&) = delete;

 private:
  WaitHook* hook_;
};

}  // namespace spindle::detail
