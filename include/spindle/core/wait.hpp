#pragma once
/// @file
/// `wait` and `as_completed` over many futures. Python equivalent: `concurrent.futures.wait` and
/// `concurrent.futures.as_completed`.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <vector>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/core/detail/futex.hpp"
#include "spindle/core/future.hpp"

namespace spindle {

/// When `wait` returns. Python: `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`.
enum class ReturnWhen {
  FIRST_COMPLETED,  ///< as soon as any future is done or cancelled
  FIRST_EXCEPTION,  ///< as soon as any future finishes with an exception; else when all are done
  ALL_COMPLETED,    ///< when every future is done or cancelled
};
/// Python spelling: `spindle::FIRST_COMPLETED`.
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::FIRST_COMPLETED;
/// Python spelling: `spindle::FIRST_EXCEPTION`.
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::FIRST_EXCEPTION;
/// Python spelling: `spindle::ALL_COMPLETED`.
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::ALL_COMPLETED;

/// What `wait` returns: the futures that are done and those that are not, each in input order.
/// Python: the `(done, not_done)` named tuple.
template <class F>
struct DoneAndNotDone {
  std::vector<F> done;      ///< done or cancelled
  std::vector<F> not_done;  ///< still pending or running
};

namespace detail {

/// A callback node that belongs to a waiter object rather than to the state. Its owner removes it when it
/// stops waiting; if the completer took it first, the owner spins until `fired` (invoke is a few instructions).
template <class Owner>
class OwnedNode final : public CallbackNode {
 public:
  Owner* owner = nullptr;
  std::size_t index = 0;
  StateBase* state = nullptr;
  bool registered = false;
  std::atomic<bool> fired{false};

  void invoke(StateBase& s) noexcept override {
    owner->on_done(index, s);
    fired.store(true, std::memory_order_release);  // last touch of the node
  }
  void discard() noexcept override {}

  void unregister() noexcept {
    if (!registered) return;
    registered = false;
    if (state->remove_callback(this)) return;
    while (!fired.load(std::memory_order_acquire)) cpu_relax();
  }
};

class WaitCore {
 public:
  WaitCore(ReturnWhen mode, std::size_t pending) : mode_(mode), remaining_(pending) {}

  void on_done(std::size_t, StateBase& s) noexcept {
    bool stop = mode_ == ReturnWhen::FIRST_COMPLETED;
    if (mode_ == ReturnWhen::FIRST_EXCEPTION && s.status() == kFinished && s.error()) stop = true;
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) stop = true;
    if (stop && word_.exchange(1, std::memory_order_release) == 0) futex_wake_all(word_);
  }
  bool stopped() const noexcept { return word_.load(std::memory_order_acquire) != 0; }
  void block(SteadyTime deadline) noexcept {
    while (!stopped()) {
      if (!futex_wait(word_, 0, deadline) && !stopped()) return;
    }
  }

 private:
  ReturnWhen mode_;
  std::atomic<std::size_t> remaining_;
  std::atomic<uint32_t> word_{0};
};

template <class F>
DoneAndNotDone<F> wait_impl(std::vector<F> futures, SteadyTime deadline, ReturnWhen mode) {
  DoneAndNotDone<F> out;
  // One snapshot decides both whether to return at once and which futures the waiter counts: a future that
  // completes after the snapshot is counted and either registers or (registration refused) reports at once.
  std::vector<char> counted(futures.size(), 0);
  std::size_t pending = 0;
  bool any_done = false, any_failed = false;
  for (std::size_t i = 0; i < futures.size(); ++i) {
    if (futures[i].done()) {
      any_done = true;
      if (!futures[i].cancelled() && state_of(futures[i])->error()) any_failed = true;
    } else {
      counted[i] = 1;
      ++pending;
    }
  }
  const bool ready_now = pending == 0 || (mode == ReturnWhen::FIRST_COMPLETED && any_done) ||
                         (mode == ReturnWhen::FIRST_EXCEPTION && any_failed);
  if (!ready_now) {
    WaitCore core(mode, pending);
    std::unique_ptr<OwnedNode<WaitCore>[]> nodes(new OwnedNode<WaitCore>[futures.size()]);
    // Unregisters on every way out, DeadlockError included: a node left on a state would dangle.
    struct Unregister {
      OwnedNode<WaitCore>* nodes;
      std::size_t n;
      ~Unregister() {
        for (std::size_t i = 0; i < n; ++i) nodes[i].unregister();
      }
    } unregister{nodes.get(), futures.size()};
    for (std::size_t i = 0; i < futures.size(); ++i) {
      if (!counted[i]) continue;
      auto& n = nodes[i];
      n.owner = &core;
      n.index = i;
      n.state = state_of(futures[i]);
      n.registered = n.state->add_callback(&n);
      if (!n.registered) core.on_done(i, *n.state);  // finished between the snapshot and registration
    }
    if (deadline == kNoDeadline && t_wait_hook != nullptr) {
      // A pool worker runs its own pool's queued tasks among them rather than sleep on them (in input order,
      // until the condition holds), then announces what it sleeps on, so a wait that can never end throws.
      WaitHook* hook = t_wait_hook;
      std::vector<StateBase*> states;
      for (std::size_t i = 0; i < futures.size(); ++i) {
        if (!counted[i]) continue;
        StateBase* s = nodes[i].state;
        if (!core.stopped() && s->status() == kPending) (void)hook->try_run(*s);
        states.push_back(s);
      }
      if (!core.stopped()) {
        const BlockScope blocked(states, mode == ReturnWhen::ALL_COMPLETED);
        core.block(deadline);
      }
    } else {
      core.block(deadline);
    }
  }
  for (F& f : futures) (f.done() ? out.done : out.not_done).push_back(std::move(f));
  return out;
}

}  // namespace detail

/// Waits until `return_when` is satisfied or `timeout` passes (no timeout: wait indefinitely), then splits
/// the futures into done and not done. Never throws TimeoutError: on timeout the pending ones are in
/// `not_done`. Without a timeout, on a thread-pool worker, it runs its own pool's still-queued tasks among
/// `futures` itself, and throws DeadlockError if it provably could never return (as Future::wait).
/// **Thread safety:** any thread. **Python equivalent:** `concurrent.futures.wait(fs, timeout, return_when)`.
template <std::ranges::input_range R>
  requires FutureLike<std::ranges::range_value_t<R>>
auto wait(R&& futures, std::optional<std::chrono::nanoseconds> timeout = std::nullopt,
          ReturnWhen return_when = ReturnWhen::ALL_COMPLETED) {
  using F = std::remove_cvref_t<std::ranges::range_value_t<R>>;
  const auto deadline = timeout ? detail::deadline_after(*timeout) : detail::kNoDeadline;
  std::vector<F> copy(std::ranges::begin(futures), std::ranges::end(futures));
  return detail::wait_impl<F>(std::move(copy), deadline, return_when);
}

/// An input range that yields the futures as they complete (those already done first). Iterating past
/// the deadline given to as_completed throws TimeoutError. Python: the iterator `as_completed` returns.
template <class F>
class AsCompleted {
  struct Core {
    std::vector<F> futures;
    std::unique_ptr<detail::OwnedNode<Core>[]> nodes;
    std::mutex mutex;
    std::vector<std::size_t> ready;  // indices, in completion order
    std::size_t consumed = 0;
    std::atomic<uint32_t> seq{0};
    detail::SteadyTime deadline;

    void on_done(std::size_t index, detail::StateBase&) noexcept {
      {
        std::lock_guard lock(mutex);
        ready.push_back(index);
      }
      seq.fetch_add(1, std::memory_order_release);
      detail::futex_wake_all(seq);
    }
    // Blocks for the next completed index; throws TimeoutError at the deadline, DeadlockError (untimed, on a
    // pool worker) if no future left could ever complete.
    std::size_t next() {
      for (;;) {
        const uint32_t s = seq.load(std::memory_order_acquire);
        {
          std::lock_guard lock(mutex);
          if (consumed < ready.size()) return ready[consumed++];
        }
        if (deadline == detail::kNoDeadline && detail::t_wait_hook != nullptr) {
          if (help_or_block(s)) continue;
        } else if (!detail::futex_wait(seq, s, deadline) && seq.load(std::memory_order_acquire) == s) {
          std::lock_guard lock(mutex);
          if (consumed < ready.size()) return ready[consumed++];
          throw TimeoutError(std::to_string(futures.size() - consumed) + " (of " + std::to_string(futures.size()) +
                             ") futures unfinished");
        }
      }
    }
    // On a pool worker: runs one of its own pool's queued tasks among the futures not yet reported (true), or
    // sleeps once, announced to the pool (false).
    bool help_or_block(uint32_t s) {
      std::vector<detail::StateBase*> waiting;
      {
        std::lock_guard lock(mutex);
        std::vector<char> reported(futures.size(), 0);
        for (std::size_t i : ready) reported[i] = 1;
        for (std::size_t i = 0; i < futures.size(); ++i)
          if (!reported[i]) waiting.push_back(nodes[i].state);
      }
      for (detail::StateBase* state : waiting)
        if (state->status() == detail::kPending && detail::t_wait_hook->try_run(*state)) return true;
      const detail::BlockScope blocked(waiting, false);
      (void)detail::futex_wait(seq, s, deadline);
      return false;
    }
    ~Core() {
      for (std::size_t i = 0; i < futures.size(); ++i) nodes[i].unregister();
    }
  };

 public:
  /// Input iterator over completed futures.
  class iterator {
   public:
    using value_type = F;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    F& operator*() const { return core_->futures[index_]; }
    iterator& operator++() {
      advance();
      return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.core_ == nullptr; }

   private:
    friend class AsCompleted;
    explicit iterator(Core* core) : core_(core) { advance(); }
    void advance() {
      if (core_->consumed == core_->futures.size()) {
        core_ = nullptr;
        return;
      }
      index_ = core_->next();
    }
    Core* core_ = nullptr;
    std::size_t index_ = 0;
  };

  /// Registers on every future; `deadline` bounds the whole iteration.
  AsCompleted(std::vector<F> futures, detail::SteadyTime deadline) : core_(std::make_unique<Core>()) {
    core_->futures = std::move(futures);
    core_->deadline = deadline;
    const std::size_t n = core_->futures.size();
    core_->ready.reserve(n);
    core_->nodes.reset(new detail::OwnedNode<Core>[n]);
    for (std::size_t i = 0; i < n; ++i) {
      auto& node = core_->nodes[i];
      node.owner = core_.get();
      node.index = i;
      node.state = detail::state_of(core_->futures[i]);
      node.registered = node.state->add_callback(&node);
      if (!node.registered) core_->on_done(i, *node.state);
    }
  }

  /// Starts the iteration (blocks for the first completed future).
  iterator begin() { return iterator(core_.get()); }
  /// The end of the iteration.
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  std::unique_ptr<Core> core_;
};

/// Yields the futures as they complete. With a timeout, iteration throws TimeoutError once it passes with
/// futures outstanding (measured from this call, as Python does). Without one, on a thread-pool worker,
/// iteration runs its own pool's still-queued tasks itself and throws DeadlockError if no outstanding future
/// could ever complete (as Future::wait). **Python equivalent:** `concurrent.futures.as_completed(fs, timeout)`.
template <std::ranges::input_range R>
  requires FutureLike<std::ranges::range_value_t<R>>
auto as_completed(R&& futures, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  using F = std::remove_cvref_t<std::ranges::range_value_t<R>>;
  const auto deadline = timeout ? detail::deadline_after(*timeout) : detail::kNoDeadline;
  return AsCompleted<F>(std::vector<F>(std::ranges::begin(futures), std::ranges::end(futures)), deadline);
}

}  // namespace spindle
