#pragma once
/// @file
/// `SimpleQueue<T>`: an unbounded FIFO queue without task tracking. Python equivalent: `queue.SimpleQueue`.

#include <chrono>
#include <cstddef>
#include <optional>
#include <utility>

#include "spindle/thread/detail/queue_locked.hpp"

namespace spindle {

/// An unbounded FIFO queue between threads, as Python's `queue.SimpleQueue`: no maxsize, no task_done()/join(),
/// no shutdown(). put() never blocks; get() blocks while empty.
///
/// **Thread safety:** every member may be called from any number of threads at once (one mutex inside).
///
/// **Errors:** get() after its timeout, or get_nowait() on an empty queue: QueueEmpty; a negative timeout:
/// std::invalid_argument; std::bad_alloc if memory runs out.
///
/// **Python equivalent:** `queue.SimpleQueue()`.
template <class T>
class SimpleQueue {
 public:
  /// The value type.
  using value_type = T;

  SimpleQueue() : impl_(0) {}
  SimpleQueue(const SimpleQueue&) = delete;
  SimpleQueue& operator=(const SimpleQueue&) = delete;

  /// Puts `item` at the back; never blocks. `block` and `timeout` exist for compatibility and are ignored,
  /// as in Python.
  void put(T item, [[maybe_unused]] bool block = true,
           [[maybe_unused]] std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    impl_.put(item, false, detail::kNoDeadline);
  }
  /// Same as put(item).
  void put_nowait(T item) { impl_.put(item, false, detail::kNoDeadline); }
  /// Constructs an item from `args` and puts it.
  template <class... Args>
  void emplace(Args&&... args) {
    T item(std::forward<Args>(args)...);
    impl_.put(item, false, detail::kNoDeadline);
  }
  /// Removes and returns the front item; if empty and `block`, waits (forever, or up to `timeout`, then
  /// QueueEmpty); if empty and not `block`, throws QueueEmpty at once.
  T get(bool block = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    return impl_.get(block, detail::queue_deadline(block, timeout));
  }
  /// get(true, timeout) for any duration type.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return impl_.get(true, detail::queue_deadline(timeout));
  }
  /// get(false).
  T get_nowait() { return impl_.get(false, detail::kNoDeadline); }
  /// Number of items (approximate while other threads put or get).
  std::size_t qsize() const { return impl_.qsize(); }
  /// qsize() == 0.
  bool empty() const { return qsize() == 0; }

 private:
  detail::LockedQueue<T, detail::FifoStore<T>> impl_;
};

}  // namespace spindle
