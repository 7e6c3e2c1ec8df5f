#pragma once
// The mutex + condition-variable queue behind the unbounded Queue, LifoQueue, PriorityQueue and SimpleQueue:
// Python's own algorithm (Lib/queue.py, 3.13), parameterised on the container ("store") so that the FIFO, LIFO
// and heap orders share one implementation, exactly as Python's subclasses override only _put/_get/_qsize.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "spindle/core/errors.hpp"
#include "spindle/thread/detail/queue_common.hpp"

namespace spindle::detail {

/// First in, first out (Python's Queue).
template <class T>
class FifoStore {
 public:
  void push(T&& v) { items_.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items_.front());
    items_.pop_front();
    return v;
  }
  std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  std::deque<T> items_;
};

/// Last in, first out (Python's LifoQueue).
template <class T>
class LifoStore {
 public:
  void push(T&& v) { items_.push_back(std::move(v)); }
  T pop() {
    T v = std::move(items_.back());
    items_.pop_back();
    return v;
  }
  std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  std::vector<T> items_;
};

/// Smallest first by `Compare`, as Python's heapq (PriorityQueue). Equal items come out in no set order.
/// A raw vector with the heap algorithms, not std::priority_queue, whose const top() cannot move an item out.
template <class T, class Compare>
class HeapStore {
 public:
  HeapStore() = default;
  explicit HeapStore(Compare compare) : later_{std::move(compare)} {}
  void push(T&& v) {
    items_.push_back(std::move(v));
    std::push_heap(items_.begin(), items_.end(), later_);
  }
  T pop() {
    std::pop_heap(items_.begin(), items_.end(), later_);
    T v = std::move(items_.back());
    items_.pop_back();
    return v;
  }
  std::size_t size() const noexcept { return items_.size(); }
  void clear() noexcept { items_.clear(); }

 private:
  // The std heap algorithms keep the *largest* on top; ordering by "b before a" puts the smallest there.
  struct Later {
    Compare less;
    bool operator()(const T& a, const T& b) const { return less(b, a); }
  };
  std::vector<T> items_;
  Later later_{};
};

/// Python's queue.Queue algorithm over a store. maxsize 0 = unbounded.
template <class T, class Store>
class LockedQueue {
 public:
  explicit LockedQueue(std::size_t maxsize, Store store = Store()) : store_(std::move(store)), maxsize_(maxsize) {}

  void put(T& value, bool block, SteadyTime deadline) {
    std::unique_lock lock(mu_);
    if (shutdown_) throw QueueShutDown();
    if (maxsize_ > 0 && store_.size() >= maxsize_) {
      if (!block) throw QueueFull();
      while (store_.size() >= maxsize_) {
        if (deadline == kNoDeadline) {
          not_full_.wait(lock);
        } else if (not_full_.wait_until(lock, deadline) == std::cv_status::timeout && store_.size() >= maxsize_ &&
                   !shutdown_) {
          throw QueueFull();
        }
        if (shutdown_) throw QueueShutDown();
      }
    }
    store_.push(std::move(value));
    ++unfinished_;
    not_empty_.notify_one();
  }

  T get(bool block, SteadyTime deadline) {
    std::unique_lock lock(mu_);
    if (shutdown_ && store_.size() == 0) throw QueueShutDown();
    if (store_.size() == 0) {
      if (!block) throw QueueEmpty();
      while (store_.size() == 0) {
        if (deadline == kNoDeadline) {
          not_empty_.wait(lock);
        } else if (not_empty_.wait_until(lock, deadline) == std::cv_status::timeout && store_.size() == 0 &&
                   !shutdown_) {
          throw QueueEmpty();
        }
        if (shutdown_ && store_.size() == 0) throw QueueShutDown();
      }
    }
    T v = store_.pop();
    not_full_.notify_one();
    return v;
  }

  std::size_t qsize() const {
    std::lock_guard lock(mu_);
    return store_.size();
  }

  std::size_t maxsize() const noexcept { return maxsize_; }

  bool is_shutdown() const {
    std::lock_guard lock(mu_);
    return shutdown_;
  }

  void task_done() {
    std::lock_guard lock(mu_);
    if (unfinished_ == 0) throw InvalidStateError("task_done() called too many times");
    if (--unfinished_ == 0) all_done_.notify_all();
  }

  void join() {
    std::unique_lock lock(mu_);
    all_done_.wait(lock, [&] { return unfinished_ == 0; });
  }

  void shutdown(bool immediate) {
    std::lock_guard lock(mu_);
    shutdown_ = true;
    if (immediate) {
      const std::size_t dropped = store_.size();
      store_.clear();
      unfinished_ -= std::min(unfinished_, dropped);
      all_done_.notify_all();
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable all_done_;
  Store store_;
  const std::size_t maxsize_;
  std::size_t unfinished_ = 0;
  bool shutdown_ = false;
};

}  // namespace spindle::detail

namespace spindle::detail {

/// The Python-shaped interface of LifoQueue and PriorityQueue (Queue has its own, as it also fronts the
/// ring). Members behave exactly as Queue's namesakes; see Queue for the full contract.
template <class T, class Store>
class LockedQueueApi {
 public:
  /// The value type.
  using value_type = T;

  LockedQueueApi(const LockedQueueApi&) = delete;
  LockedQueueApi& operator=(const LockedQueueApi&) = delete;

  /// Puts `item`; blocks while full if `block` (up to `timeout`, then QueueFull); QueueShutDown after shutdown.
  void put(T item, bool block = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    impl_.put(item, block, queue_deadline(block, timeout));
  }
  /// put(item, true, timeout) for any duration type.
  template <class Rep, class Period>
  void put(T item, std::chrono::duration<Rep, Period> timeout) {
    impl_.put(item, true, queue_deadline(timeout));
  }
  /// Constructs an item from `args` and puts it, blocking while the queue is full.
  template <class... Args>
  void emplace(Args&&... args) {
    T item(std::forward<Args>(args)...);
    impl_.put(item, true, kNoDeadline);
  }
  /// put(item, false): QueueFull if there is no room now.
  void put_nowait(T item) { impl_.put(item, false, kNoDeadline); }
  /// Removes and returns the next item; blocks while empty if `block` (up to `timeout`, then QueueEmpty);
  /// QueueShutDown once a shut-down queue is empty.
  T get(bool block = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    return impl_.get(block, queue_deadline(block, timeout));
  }
  /// get(true, timeout) for any duration type.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return impl_.get(true, queue_deadline(timeout));
  }
  /// get(false): QueueEmpty if there is no item now.
  T get_nowait() { return impl_.get(false, kNoDeadline); }
  /// Number of items.
  std::size_t qsize() const { return impl_.qsize(); }
  /// qsize() == 0.
  bool empty() const { return qsize() == 0; }
  /// maxsize() > 0 && qsize() >= maxsize().
  bool full() const { return impl_.maxsize() > 0 && qsize() >= impl_.maxsize(); }
  /// The bound given at construction (0 = unbounded).
  std::size_t maxsize() const noexcept { return impl_.maxsize(); }
  /// True once shutdown() was called.
  bool is_shutdown() const { return impl_.is_shutdown(); }
  /// One item fully processed; InvalidStateError if called more often than items were put.
  void task_done() { impl_.task_done(); }
  /// Blocks until every item put has been task_done()'d (or dropped by an immediate shutdown).
  void join() { impl_.join(); }
  /// Python 3.13 shutdown: see Queue::shutdown.
  void shutdown(bool immediate = false) { impl_.shutdown(immediate); }

 protected:
  explicit LockedQueueApi(std::ptrdiff_t maxsize, Store store = Store()) : impl_(checked(maxsize), std::move(store)) {}
  ~LockedQueueApi() = default;

 private:
  static std::size_t checked(std::ptrdiff_t maxsize) {
    if (maxsize < 0) throw std::invalid_argument("queue: maxsize must be >= 0 (0 = unbounded)");
    return static_cast<std::size_t>(maxsize);
  }

  LockedQueue<T, Store> impl_;
};

}  // namespace spindle::detail
