#pragma once
/// @file
/// `ThreadPoolExecutor`: run callables on a pool of threads and get `Future`s back. Python equivalent:
/// `concurrent.futures.ThreadPoolExecutor`.

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/core/future.hpp"
#include "spindle/thread/detail/pool_core.hpp"

namespace spindle {

/// Construction options of a ThreadPoolExecutor (use with designated initializers).
struct ThreadPoolOptions {
  /// Upper bound on threads; 0 means Python's default, min(32, cores + 4). Threads start lazily, as needed.
  std::size_t max_workers = 0;
  /// Prefix of the worker threads' names (as `top` and debuggers show them).
  std::string thread_name_prefix = {};
  /// Runs once at the start of each worker thread. If it throws, the pool is broken: pending and future
  /// submissions fail with BrokenExecutor, as in Python.
  std::function<void()> initializer = {};
  /// A pool worker that blocks (without a timeout) on a future of this pool whose task has not started runs
  /// the task itself instead of sleeping, so a pool that waits on itself cannot deadlock on queued work. Every
  /// untimed wait does: Future::result/wait/exception, spindle::wait, as_completed, map. Threads outside the
  /// pool never do, so at most max_workers tasks run at once. Turn it off if tasks must run on the thread that
  /// took them from the queue; a wait that then could never return throws DeadlockError instead of hanging.
  bool run_pending_on_wait = true;
};

/// Options of ThreadPoolExecutor::map.
struct MapOptions {
  /// Bound on the whole iteration, measured from the call: reaching a result after it throws TimeoutError.
  std::optional<std::chrono::nanoseconds> timeout = std::nullopt;
  /// Items per task: larger chunks cut per-task overhead for tiny functions.
  std::size_t chunksize = 1;
  /// If non-zero, at most this many tasks are in flight ahead of the consumer (backpressure, Python 3.14's
  /// `buffersize`); the input is consumed lazily. Zero submits everything at once, as Python does.
  std::size_t buffersize = 0;
};

namespace detail {

/// A task of a thread pool: the future's state, the queue node and the callable in one allocation.
template <class R, class Fn>
class PoolTask final : public SharedState<R> {
  static constexpr uint8_t kHelpOk = 1;

 public:
  template <class G>
  PoolTask(G&& fn, uint32_t pool_id, bool help_ok) : SharedState<R>(2) {
    ::new (&fn_) Fn(std::forward<G>(fn));
    this->executor_id_ = pool_id;
    if (help_ok) this->options_ = kHelpOk;
  }

  ~PoolTask() override {}  // the callable is destroyed by whoever ran or discarded the task

  void run() noexcept override {
    if (this->try_start()) {
      execute();
    } else if (this->status() == kCancelled) {
      fn_.~Fn();  // cancelled while queued: nobody else touches the callable
    }
    this->release();
  }

  void abandon(std::exception_ptr error) noexcept override {
    // Only a task nobody started is touched: a waiter may have run it inline already. cancel() is true for a
    // task cancelled earlier too, whose callable is still alive.
    if (error) {
      if (this->try_claim_pending()) {
        fn_.~Fn();
        this->set_exception_claimed(std::move(error));
      } else if (this->status() == kCancelled) {
        fn_.~Fn();
      }
    } else if (this->cancel()) {
      fn_.~Fn();
    }
    this->release();
  }

 protected:
  bool run_inline() noexcept override {
    if ((this->options_ & kHelpOk) == 0 || !this->try_start()) return false;
    execute();
    return true;
  }

 private:
  // Runs the callable on the thread that won try_start(), destroys it (its captures are released before
  // anyone sees the result), then publishes. Only the runner can move a running task on, so it publishes
  // without a separate claim step.
  void execute() noexcept {
    try {
      if constexpr (std::is_void_v<R>) {
        fn_();
        fn_.~Fn();
        this->emplace_claimed();
      } else {
        R value = fn_();
        fn_.~Fn();
        this->emplace_claimed(std::move(value));
      }
    } catch (...) {
      fn_.~Fn();
      this->set_exception_claimed(std::current_exception());
    }
  }

  union {
    Fn fn_;
  };
};

template <class T>
using MapValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// A borrowed range (map over an lvalue). std::views::all would do, but clang 14 cannot compile libstdc++
/// 12's ref_view/owning_view.
template <class R>
struct BorrowedRange {
  R* range;
  auto begin() const { return std::ranges::begin(*range); }
  auto end() const { return std::ranges::end(*range); }
};

/// What map stores: a pointer to an lvalue range, or the rvalue range itself.
template <class R>
using HeldRange = std::conditional_t<std::is_lvalue_reference_v<R>, BorrowedRange<std::remove_reference_t<R>>,
                                     std::remove_cvref_t<R>>;

}  // namespace detail

template <class Fn, class Range>
class MapResult;

/// A pool of threads that runs submitted callables and returns Futures.
///
/// Threads start lazily, when a submission finds no idle worker, up to `max_workers`. Idle workers spin
/// briefly before sleeping, so a stream of small tasks does not pay a wake-up per task. A pool worker that
/// waits without a timeout on a future of its own pool whose task has not started yet runs the task itself
/// (it already ran the initializer, so the task finds the thread as set up as any): waiting on the pool from
/// inside the pool cannot deadlock on queued work. Where no worker can run the awaited task (helping is off, or
/// pools wait on each other in a cycle) and that is provable, the untimed wait throws DeadlockError; timed
/// waits simply time out. See docs/futures-and-pools.md.
///
/// **Thread safety:** every member may be called from any thread. **Errors:** `submit` after `shutdown`
/// throws ShutdownError; a failed initializer makes it throw BrokenExecutor. An exception thrown by a task
/// reaches its future and never kills a worker.
/// **Python equivalent:** `concurrent.futures.ThreadPoolExecutor(max_workers, thread_name_prefix, initializer)`.
class ThreadPoolExecutor {
 public:
  /// Python's signature: `ThreadPoolExecutor(max_workers, thread_name_prefix, initializer)`.
  explicit ThreadPoolExecutor(std::size_t max_workers = 0, std::string thread_name_prefix = {},
                              std::function<void()> initializer = {});
  /// With named options: `ThreadPoolExecutor pool({.max_workers = 4})`.
  explicit ThreadPoolExecutor(ThreadPoolOptions options);
  /// Shuts down and waits for queued and running tasks (`shutdown(true)`), as Python's `with` block does.
  ~ThreadPoolExecutor();
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  /// Schedules `fn(args...)` (arguments are copied or moved into the task) and returns its Future.
  /// Python: `submit(fn, *args)`.
  template <class F, class... A>
    requires std::invocable<std::decay_t<F>, std::decay_t<A>...>
  auto submit(F&& fn, A&&... args) {
    // A task runs once, so the callable and its arguments are moved into the call (move-only ones work).
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;
    core_->check_accepting();
    return enqueue<R>([f = std::forward<F>(fn), ... a = std::forward<A>(args)]() mutable -> R {
      return std::invoke(std::move(f), std::move(a)...);
    });
  }

  /// Applies `fn` to every item of `range`, yielding results in input order as a lazy input range.
  /// Exceptions surface when their item is reached; destroying the result cancels what has not started.
  /// Python: `map(fn, iterable, timeout=, chunksize=, buffersize=)`.
  template <class F, std::ranges::input_range R>
  auto map(F fn, R&& range, MapOptions options = {});

  /// Stops accepting work. `cancel_futures` cancels tasks that have not started; `wait` blocks until the
  /// workers finish what is left and exit. Safe to call more than once. Calling it with `wait` from one of
  /// the pool's own tasks throws InvalidStateError (it would join itself) after shutting down.
  /// Python: `shutdown(wait=True, cancel_futures=False)`.
  void shutdown(bool wait = true, bool cancel_futures = false);

  /// The configured bound on threads.
  std::size_t max_workers() const noexcept { return core_->max_workers(); }
  /// Threads started so far.
  std::size_t num_threads() const { return core_->num_threads(); }
  /// Workers asleep (or about to sleep) for want of work. No Python equivalent; for tests and monitoring.
  std::size_t parked_workers() const noexcept { return core_->parked_workers(); }

 private:
  template <class R, class Fn>
  Future<R> enqueue(Fn&& fn) {
    using Task = detail::PoolTask<R, std::decay_t<Fn>>;
    auto* task = new Task(std::forward<Fn>(fn), core_->id(), help_ok_);
    try {
      core_->submit(task);
    } catch (...) {
      // Not queued: drop the queue's reference and fail the future's, so nothing leaks.
      task->abandon(nullptr);
      task->release();
      throw;
    }
    return detail::adopt_future<R>(task);
  }

  bool help_ok_;
  std::shared_ptr<detail::PoolCore> core_;  // workers share it: a pool destroyed by its own task
};

/// The lazy result range of ThreadPoolExecutor::map. Move-only; cancels unstarted work when destroyed.
template <class Fn, class Range>
class MapResult {
  using Item = std::iter_value_t<std::ranges::iterator_t<Range&>>;
  using Raw = std::invoke_result_t<Fn&, std::iter_reference_t<std::ranges::iterator_t<Range&>>>;

 public:
  /// The type each result has (`std::monostate` for a void function).
  using value_type = detail::MapValue<Raw>;

  /// Input iterator over the results.
  class iterator {
   public:
    using value_type = MapResult::value_type;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    value_type& operator*() const { return owner_->current(); }
    iterator& operator++() {
      owner_->advance();
      return *this;
    }
    void operator++(int) { owner_->advance(); }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.at_end(); }

   private:
    friend class MapResult;
    bool at_end() const noexcept { return owner_->finished(); }
    explicit iterator(MapResult* owner) : owner_(owner) {}
    MapResult* owner_ = nullptr;
  };

  MapResult(ThreadPoolExecutor& pool, Fn fn, Range range, MapOptions options)
      : pool_(&pool),
        fn_(std::make_shared<Fn>(std::move(fn))),
        range_(std::make_unique<Range>(std::move(range))),
        it_(std::ranges::begin(*range_)),
        options_(options),
        deadline_(options.timeout ? detail::deadline_after(*options.timeout) : detail::kNoDeadline) {
    if (options_.chunksize == 0) throw std::invalid_argument("map: chunksize must be >= 1");
    fill();
  }
  MapResult(MapResult&&) noexcept = default;
  MapResult& operator=(MapResult&&) noexcept = default;
  ~MapResult() {
    for (auto& f : inflight_) f.cancel();
  }

  /// Starts the iteration (waits for the first result).
  iterator begin() {
    if (!started_) {
      started_ = true;
      advance();
    }
    return iterator(this);
  }
  /// The end of the iteration.
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  using Chunk = std::vector<value_type>;

  void fill() {
    while ((options_.buffersize == 0 || inflight_.size() < options_.buffersize) && it_ != std::ranges::end(*range_)) {
      std::vector<Item> items;
      items.reserve(options_.chunksize);
      for (; items.size() < options_.chunksize && it_ != std::ranges::end(*range_); ++it_) items.push_back(*it_);
      inflight_.push_back(pool_->submit(
          [fn = fn_](std::vector<Item> batch) {
            Chunk out;
            out.reserve(batch.size());
            for (auto& x : batch) {
              if constexpr (std::is_void_v<Raw>) {
                (*fn)(x);
                out.emplace_back();
              } else {
                out.push_back((*fn)(x));
              }
            }
            return out;
          },
          std::move(items)));
    }
  }
  void advance() {
    if (pos_ + 1 < chunk_.size()) {
      ++pos_;
      return;
    }
    chunk_.clear();
    pos_ = 0;
    while (chunk_.empty() && !inflight_.empty()) {
      Future<Chunk> f = std::move(inflight_.front());
      inflight_.pop_front();
      if (!f.wait_until(deadline_)) {
        f.cancel();
        throw TimeoutError("map: timeout before the next result");
      }
      chunk_ = std::move(f).result();
      fill();
    }
  }
  bool finished() const noexcept { return chunk_.empty() && inflight_.empty(); }
  value_type& current() { return chunk_[pos_]; }

  ThreadPoolExecutor* pool_;
  std::shared_ptr<Fn> fn_;  // shared with the in-flight chunk tasks, which may outlive a moved-from range
  std::unique_ptr<Range> range_;
  std::ranges::iterator_t<Range&> it_;
  MapOptions options_;
  detail::SteadyTime deadline_;
  std::deque<Future<Chunk>> inflight_;
  Chunk chunk_;
  std::size_t pos_ = 0;
  bool started_ = false;
};

template <class F, std::ranges::input_range R>
auto ThreadPoolExecutor::map(F fn, R&& range, MapOptions options) {
  using Held = detail::HeldRange<R>;
  if constexpr (std::is_lvalue_reference_v<R>) {
    return MapResult<F, Held>(*this, std::move(fn), Held{&range}, options);
  } else {
    return MapResult<F, Held>(*this, std::move(fn), Held(std::forward<R>(range)), options);
  }
}

}  // namespace spindle
