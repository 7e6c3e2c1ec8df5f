#pragma once
/// @file
/// `Queue<T>`: a multi-producer, multi-consumer FIFO queue between threads. Python equivalent: `queue.Queue`.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "spindle/core/errors.hpp"
#include "spindle/thread/detail/queue_common.hpp"
#include "spindle/thread/detail/queue_locked.hpp"
#include "spindle/thread/detail/queue_ring.hpp"

namespace spindle {

/// A FIFO queue between threads, with Python's `queue.Queue` interface and 3.13 semantics.
///
/// `maxsize > 0` bounds it: put() blocks while it is full, which is how a slow consumer pushes back on a fast
/// producer (backpressure); prefer a bound. `maxsize == 0` is unbounded. A bounded queue of a nothrow-movable
/// `T` with `maxsize <= kMaxRingCapacity` is a lock-free ring whose put/get make no syscall unless they must
/// sleep (full or empty); other queues use a mutex and condition variables (see docs/queues.md).
///
/// **Thread safety:** every member may be called from any number of threads at once; only construction and
/// destruction must not race with other calls (destroying a queue drops the items left in it).
///
/// **Errors:** put on a full queue with `block=false` or after its timeout: QueueFull; get on an empty queue
/// likewise: QueueEmpty; put after shutdown(), and get once a shut-down queue is empty: QueueShutDown;
/// task_done() more often than items were put: InvalidStateError (Python: ValueError); negative `maxsize` or
/// timeout: std::invalid_argument.
///
/// **Python equivalent:** `queue.Queue(maxsize)`; `put(x)`, `put(x, block, timeout)`, `put_nowait`, `get`,
/// `get_nowait`, `qsize`, `empty`, `full`, `task_done`, `join`, `shutdown(immediate)`.
template <class T>
class Queue {
 public:
  /// The value type.
  using value_type = T;
  /// Largest bound served by the lock-free ring (its slots are allocated up front); larger bounds use the
  /// locked implementation, which allocates as it fills.
  static constexpr std::size_t kMaxRingCapacity = std::size_t{1} << 16;

  /// A queue holding at most `maxsize` items (0 = unbounded). Throws std::invalid_argument if negative.
  explicit Queue(std::ptrdiff_t maxsize = 0) : maxsize_(checked(maxsize)) {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      if (maxsize_ > 0 && maxsize_ <= kMaxRingCapacity) {
        ring_ = std::make_unique<detail::RingQueue<T>>(maxsize_);
        return;
      }
    }
    locked_ = std::make_unique<Locked>(maxsize_);
  }

  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  /// Puts `item` at the back; if the queue is full and `block`, waits for room (forever, or up to `timeout`,
  /// then QueueFull); if full and not `block`, throws QueueFull at once (the timeout is ignored, as in Python).
  /// Throws QueueShutDown after shutdown(), including for a put blocked when it happens. On an exception the
  /// item is not in the queue (it is destroyed with the by-value parameter).
  void put(T item, bool block = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    put_until(item, block, detail::queue_deadline(block, timeout));
  }

  /// put(item, true, timeout) for any duration type.
  template <class Rep, class Period>
  void put(T item, std::chrono::duration<Rep, Period> timeout) {
    put_until(item, true, detail::queue_deadline(timeout));
  }

  /// Constructs an item from `args` and puts it, blocking while the queue is full.
  template <class... Args>
  void emplace(Args&&... args) {
    T item(std::forward<Args>(args)...);
    put_until(item, true, detail::kNoDeadline);
  }

  /// put(item, false): QueueFull if there is no room now.
  void put_nowait(T item) { put_until(item, false, detail::kNoDeadline); }

  /// Removes and returns the front item; if the queue is empty and `block`, waits for one (forever, or up to
  /// `timeout`, then QueueEmpty); if empty and not `block`, throws QueueEmpty at once. After shutdown() the
  /// remaining items are still handed out; then QueueShutDown (also to gets blocked when it happens).
  T get(bool block = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    return get_until(block, detail::queue_deadline(block, timeout));
  }

  /// get(true, timeout) for any duration type.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return get_until(true, detail::queue_deadline(timeout));
  }

  /// get(false): QueueEmpty if there is no item now.
  T get_nowait() { return get_until(false, detail::kNoDeadline); }

  /// Number of items (approximate while other threads put or get, as in Python).
  std::size_t qsize() const { return ring_ ? ring_->qsize() : locked_->qsize(); }
  /// qsize() == 0 (approximate likewise).
  bool empty() const { return qsize() == 0; }
  /// maxsize() > 0 && qsize() >= maxsize() (approximate likewise).
  bool full() const { return maxsize_ > 0 && qsize() >= maxsize_; }
  /// The bound given at construction (0 = unbounded).
  std::size_t maxsize() const noexcept { return maxsize_; }
  /// True once shutdown() was called. Python 3.13: the `is_shutdown` attribute.
  bool is_shutdown() const { return ring_ ? ring_->is_shutdown() : locked_->is_shutdown(); }

  /// Tells the queue that an item taken by get() is fully processed: join() waits for one call per item put.
  /// Throws InvalidStateError if called more often than items were put (Python: ValueError).
  void task_done() { ring_ ? ring_->task_done() : locked_->task_done(); }

  /// Blocks until every item ever put has been task_done()'d (items dropped by shutdown(immediate=true)
  /// count as done).
  void join() { ring_ ? ring_->join() : locked_->join(); }

  /// Shuts the queue down (Python 3.13): put() throws QueueShutDown from now on; get() hands out what is left
  /// and then throws QueueShutDown. With `immediate`, the items left are dropped (destroyed) and counted as
  /// task_done()'d, so get() throws at once and join() returns once the items already taken are done. Every
  /// blocked put() and get() wakes. Calling it again is harmless (a later immediate call still drains).
  void shutdown(bool immediate = false) { ring_ ? ring_->shutdown(immediate) : locked_->shutdown(immediate); }

 private:
  using Locked = detail::LockedQueue<T, detail::FifoStore<T>>;

  static std::size_t checked(std::ptrdiff_t maxsize) {
    if (maxsize < 0) throw std::invalid_argument("Queue: maxsize must be >= 0 (0 = unbounded)");
    return static_cast<std::size_t>(maxsize);
  }

  void put_until(T& item, bool block, detail::SteadyTime deadline) {
    if (ring_) {
      if constexpr (std::is_nothrow_move_constructible_v<T>) ring_->put(item, block, deadline);
    } else {
      locked_->put(item, block, deadline);
    }
  }

  T get_until(bool block, detail::SteadyTime deadline) {
    if constexpr (std::is_nothrow_move_constructible_v<T>) {
      if (ring_) return ring_->get(block, deadline);
    }
    return locked_->get(block, deadline);
  }

  using Ring =
      std::conditional_t<std::is_nothrow_move_constructible_v<T>, detail::RingQueue<T>, detail::RingQueue<int>>;

  std::size_t maxsize_;
  std::unique_ptr<Ring> ring_;      // the bounded lock-free engine, or null
  std::unique_ptr<Locked> locked_;  // the mutex engine, or null
};

}  // namespace spindle
