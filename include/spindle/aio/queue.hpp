#pragma once
/// @file
/// Async queues: `Queue` (FIFO), `LifoQueue`, `PriorityQueue`, bounded by `maxsize` (put waits when full:
/// backpressure), with `join`/`task_done` and 3.13's `shutdown`. Python equivalent: `asyncio.Queue` & co.

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "spindle/aio/detail/wait_list.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/errors.hpp"

namespace spindle::aio {

namespace detail {

/// FIFO storage: a power-of-two ring that grows (a bounded queue's ring stops growing at maxsize).
template <class T>
class FifoStore {
 public:
  FifoStore() = default;
  FifoStore(const FifoStore&) = delete;
  FifoStore& operator=(const FifoStore&) = delete;
  ~FifoStore() {
    while (size_ > 0) (void)pop();
    if (buf_ != nullptr) std::allocator<T>().deallocate(buf_, cap_);
  }
  std::size_t size() const noexcept { return size_; }
  void push(T&& v) {
    if (size_ == cap_) grow();
    ::new (static_cast<void*>(buf_ + ((head_ + size_) & (cap_ - 1)))) T(std::move(v));
    ++size_;
  }
  T pop() {
    T* slot = buf_ + head_;
    T v(std::move(*slot));
    slot->~T();
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    return v;
  }

 private:
  void grow() {
    const std::size_t cap = cap_ == 0 ? 16 : cap_ * 2;
    T* nb = std::allocator<T>().allocate(cap);
    for (std::size_t i = 0; i < size_; ++i) {
      T* from = buf_ + ((head_ + i) & (cap_ - 1));
      ::new (static_cast<void*>(nb + i)) T(std::move(*from));
      from->~T();
    }
    if (buf_ != nullptr) std::allocator<T>().deallocate(buf_, cap_);
    buf_ = nb;
    cap_ = cap;
    head_ = 0;
  }
  T* buf_ = nullptr;
  std::size_t cap_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

/// LIFO storage.
template <class T>
class LifoStore {
 public:
  std::size_t size() const noexcept { return v_.size(); }
  void push(T&& x) { v_.push_back(std::move(x)); }
  T pop() {
    T x(std::move(v_.back()));
    v_.pop_back();
    return x;
  }

 private:
  std::vector<T> v_;
};

/// Priority storage: the smallest item (by `Compare`) first, as Python's heapq.
template <class T, class Compare>
class HeapStore {
 public:
  std::size_t size() const noexcept { return v_.size(); }
  void push(T&& x) {
    v_.push_back(std::move(x));
    std::push_heap(v_.begin(), v_.end(), Greater{});
  }
  T pop() {
    std::pop_heap(v_.begin(), v_.end(), Greater{});
    T x(std::move(v_.back()));
    v_.pop_back();
    return x;
  }

 private:
  struct Greater {
    bool operator()(const T& a, const T& b) const { return Compare{}(b, a); }
  };
  std::vector<T> v_;
};

}  // namespace detail

/// An async queue over a storage policy; use the aliases Queue, LifoQueue and PriorityQueue.
///
/// `put` on a full bounded queue suspends the task until a slot frees (backpressure); `get` on an empty one
/// until an item arrives. Hand-off is direct: a freed slot goes to the first waiting putter, a new item to the
/// first waiting getter, in FIFO order, so no waiter is starved and no wake-up is wasted.
///
/// **Thread safety:** one loop's tasks only. **Errors:** `put_nowait` throws QueueFull, `get_nowait`
/// QueueEmpty; after `shutdown()` puts throw QueueShutDown, and gets too once the queue is empty (at once with
/// `immediate`). `task_done` more times than items throws std::invalid_argument. **Cancellation:** a waiting
/// put/get that is cancelled leaves the queue unchanged; one that already completed (its item handed over) is
/// not undone — the cancellation is raised at the task's next suspension point, so no item is lost.
/// **Python equivalent:** `asyncio.Queue(maxsize)`, `LifoQueue`, `PriorityQueue`.
template <class T, class Store>
class BasicQueue {
 public:
  /// `maxsize` 0 means unbounded. Python: `Queue(maxsize=0)`.
  explicit BasicQueue(std::size_t maxsize = 0) : maxsize_(maxsize) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  /// Python: `qsize()`, `empty()`, `full()`, `maxsize`.
  std::size_t qsize() const noexcept { return store_.size(); }
  /// True if no item is queued.
  bool empty() const noexcept { return store_.size() == 0; }
  /// True if a bounded queue holds maxsize items.
  bool full() const noexcept { return maxsize_ != 0 && store_.size() >= maxsize_; }
  /// The bound (0: none).
  std::size_t maxsize() const noexcept { return maxsize_; }

  /// Awaitable that puts `item`, waiting while the queue is full. Python: `await q.put(item)`.
  [[nodiscard("does nothing unless awaited: co_await it")]] auto put(T item) {
    struct Awaiter final : PutterBase {
      BasicQueue* q;
      std::optional<T> item;
      Awaiter(BasicQueue* queue, T&& x) : q(queue), item(std::move(x)) {}
      T take() override { return std::move(*item); }
      bool await_ready() {
        if (q->shut_down_) throw QueueShutDown();
        if (q->full()) return false;
        q->push_now(std::move(*item));
        return true;
      }
      bool await_suspend(std::coroutine_handle<> h) { return this->enqueue(q->putters_, h); }
      void await_resume() {
        if (this->notified_ && !this->granted_) throw QueueShutDown();
        this->finish();
      }
    };
    return Awaiter(this, std::move(item));
  }
  /// Puts without waiting; throws QueueFull. Python: `put_nowait(item)`.
  void put_nowait(T item) {
    if (shut_down_) throw QueueShutDown();
    if (full()) throw QueueFull();
    push_now(std::move(item));
  }

  /// Awaitable that removes and returns an item, waiting while the queue is empty. Python: `await q.get()`.
  [[nodiscard("does nothing unless awaited: co_await it")]] auto get() noexcept {
    struct Awaiter final : GetterBase {
      BasicQueue* q;
      std::optional<T> item;
      explicit Awaiter(BasicQueue* queue) : q(queue) {}
      void give(T&& x) override { item.emplace(std::move(x)); }
      bool await_ready() {
        if (!q->empty()) {
          item.emplace(q->pop_now());
          return true;
        }
        return q->shut_down_;
      }
      bool await_suspend(std::coroutine_handle<> h) { return this->enqueue(q->getters_, h); }
      T await_resume() {
        if (!item) {
          if (q->shut_down_ && (!this->notified_ || !this->granted_)) {
            this->unlink();
            throw QueueShutDown();
          }
          this->finish();
        }
        return std::move(*item);
      }
    };
    return Awaiter(this);
  }
  /// Removes an item without waiting; throws QueueEmpty. Python: `get_nowait()`.
  T get_nowait() {
    if (empty()) {
      if (shut_down_) throw QueueShutDown();
      throw QueueEmpty();
    }
    return pop_now();
  }

  /// Marks one item from get() as processed. Python: `task_done()`.
  void task_done() {
    if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");
    if (--unfinished_ == 0) joiners_.wake_all();
  }
  /// Awaitable: waits until every item put has been marked task_done. Python: `await q.join()`.
  [[nodiscard("does nothing unless awaited: co_await it")]] auto join() noexcept {
    struct Awaiter final : detail::ListWaiter {
      BasicQueue* q;
      explicit Awaiter(BasicQueue* queue) : q(queue) {}
      bool await_ready() const noexcept { return q->unfinished_ == 0; }
      bool await_suspend(std::coroutine_handle<> h) { return this->enqueue(q->joiners_, h); }
      void await_resume() { finish(); }
    };
    return Awaiter(this);
  }

  /// Stops the queue: puts throw QueueShutDown; gets drain what is queued, then throw it. With `immediate`
  /// the queued items are dropped (counted as done for join) and every waiter wakes with QueueShutDown.
  /// Python 3.13: `shutdown(immediate=False)`.
  void shutdown(bool immediate = false) {
    shut_down_ = true;
    if (immediate) {
      while (!empty()) {
        (void)store_.pop();
        if (unfinished_ > 0) --unfinished_;
      }
      if (unfinished_ == 0) joiners_.wake_all();
    }
    putters_.wake_all(false);
    if (empty()) getters_.wake_all(false);
  }
  /// True after shutdown().
  bool is_shut_down() const noexcept { return shut_down_; }

 private:
  // An item enters: straight to the first waiting getter if any, else into the store.
  void push_now(T&& item) {
    ++unfinished_;
    if (!getters_.empty()) {
      auto* g = static_cast<GetterBase*>(getters_.front());
      g->give(std::move(item));
      getters_.wake_first(true);
      return;
    }
    store_.push(std::move(item));
  }
  // An item leaves: the first waiting putter's item takes the freed slot.
  T pop_now() {
    T item = store_.pop();
    if (!putters_.empty() && !full()) {
      auto* p = static_cast<PutterBase*>(putters_.front());
      store_.push(p->take());
      ++unfinished_;
      putters_.wake_first(true);
    }
    if (shut_down_ && empty()) getters_.wake_all(false);
    return item;
  }

 public:
  /// Internal: the getter/putter awaiter interfaces (type-erased so push_now/pop_now can reach them).
  struct GetterBase : detail::ListWaiter {
    virtual void give(T&& x) = 0;

   protected:
    ~GetterBase() = default;
  };
  /// Internal.
  struct PutterBase : detail::ListWaiter {
    virtual T take() = 0;

   protected:
    ~PutterBase() = default;
  };

 private:
  Store store_;
  std::size_t maxsize_;
  std::size_t unfinished_ = 0;
  detail::WaitList getters_;
  detail::WaitList putters_;
  detail::WaitList joiners_;
  bool shut_down_ = false;
};

/// FIFO queue. Python: `asyncio.Queue`.
template <class T>
using Queue = BasicQueue<T, detail::FifoStore<T>>;
/// LIFO queue. Python: `asyncio.LifoQueue`.
template <class T>
using LifoQueue = BasicQueue<T, detail::LifoStore<T>>;
/// Smallest item first. Python: `asyncio.PriorityQueue`.
template <class T, class Compare = std::less<T>>
using PriorityQueue = BasicQueue<T, detail::HeapStore<T, Compare>>;

}  // namespace spindle::aio
