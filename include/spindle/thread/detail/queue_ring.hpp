#pragma once
// The bounded Queue's engine: a lock-free MPMC ring (Dmitry Vyukov's per-slot sequence numbers), blocking by
// spin-then-yield-then-futex only when full or empty, so a put or get that finds room or an item makes no
// syscall. Python semantics on top: task counting for task_done()/join(), shutdown(immediate) (3.13).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "spindle/core/errors.hpp"
#include "spindle/thread/detail/queue_common.hpp"

namespace spindle::detail {

/// A bounded MPMC queue of `T` (nothrow-movable: an item is moved into its slot after the slot is claimed,
/// and there is no way back from a half-done claim). See Queue for the public contract.
template <class T>
class RingQueue {
  static_assert(std::is_nothrow_move_constructible_v<T>, "RingQueue needs a nothrow-movable T");

 public:
  /// Result of a non-blocking attempt.
  enum class Try { kOk, kFull, kEmpty, kClosed };

  explicit RingQueue(std::size_t capacity)
      : capacity_(capacity),
        mask_(((capacity & (capacity - 1)) == 0) ? capacity - 1 : 0),
        slots_(std::make_unique<Slot[]>(capacity)) {
    for (std::size_t i = 0; i < capacity; ++i) slots_[i].seq.store(2 * i, std::memory_order_relaxed);
  }

  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;

  ~RingQueue() {
    // No thread may use the queue any more: every claimed slot is published, so [head, tail) hold items.
    const std::uint64_t tail = tail_.load(std::memory_order_acquire) & ~kClosed;
    for (std::uint64_t pos = head_.load(std::memory_order_acquire); pos < tail; ++pos) item(slot(pos))->~T();
  }

  std::size_t capacity() const noexcept { return capacity_; }

  /// Moves `value` in if there is room (leaves it untouched otherwise).
  Try try_push(T& value) noexcept {
    std::uint64_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      if (pos & kClosed) return Try::kClosed;
      Slot& s = slot(pos);
      // seq_cst loads and stores of `seq`: they pair with the wait lists' sleeper counts (see QueueWaitList).
      const std::uint64_t seq = s.seq.load(std::memory_order_seq_cst);
      const auto dif = static_cast<std::int64_t>(seq - 2 * pos);
      if (dif == 0) {
        // The CAS fails if shutdown set kClosed meanwhile: no item can slip in after a shutdown.
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          ::new (static_cast<void*>(s.storage)) T(std::move(value));
          s.seq.store(2 * pos + 1, std::memory_order_seq_cst);
          return Try::kOk;
        }
      } else if (dif < 0) {
        // The slot still holds last lap's item (or its consumer is mid-way): full, unless tail moved on.
        const std::uint64_t now = tail_.load(std::memory_order_relaxed);
        if (now == pos) return Try::kFull;
        pos = now;
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  /// Moves the oldest item into `out` if there is one. kEmpty also covers "a producer claimed the next slot
  /// and is still writing it" (it will notify); kClosed means shut down and nothing is left or in flight.
  Try try_pop(std::optional<T>& out) noexcept {
    std::uint64_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& s = slot(pos);
      const std::uint64_t seq = s.seq.load(std::memory_order_seq_cst);
      const auto dif = static_cast<std::int64_t>(seq - (2 * pos + 1));
      if (dif == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          T* p = item(s);
          out.emplace(std::move(*p));
          p->~T();
          s.seq.store(2 * (pos + capacity_), std::memory_order_seq_cst);
          return Try::kOk;
        }
      } else if (dif < 0) {
        const std::uint64_t now = head_.load(std::memory_order_relaxed);
        if (now != pos) {
          pos = now;
          continue;
        }
        const std::uint64_t tail = tail_.load(std::memory_order_seq_cst);
        if ((tail & kClosed) && (tail & ~kClosed) <= pos) return Try::kClosed;
        return Try::kEmpty;
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

  /// Blocking put with Python's semantics (see Queue::put).
  void put(T& value, bool block, SteadyTime deadline) {
    if (attempt_push(value)) return;
    if (!block) throw QueueFull();
    QueueBackoff backoff;
    for (;;) {
      while (backoff.pause()) {
        if (attempt_push(value)) return;
        if (deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline) throw QueueFull();
      }
      const std::uint32_t key = not_full_.prepare();
      if (attempt_push(value)) return;
      if (deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline) throw QueueFull();
      not_full_.sleep(key, deadline);
      backoff.restart_after_wake();
    }
  }

  /// Blocking get with Python's semantics (see Queue::get).
  T get(bool block, SteadyTime deadline) {
    std::optional<T> out;
    if (attempt_pop(out)) return std::move(*out);
    if (!block) throw QueueEmpty();
    QueueBackoff backoff;
    for (;;) {
      while (backoff.pause()) {
        if (attempt_pop(out)) return std::move(*out);
        if (deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline) throw QueueEmpty();
      }
      const std::uint32_t key = not_empty_.prepare();
      if (attempt_pop(out)) return std::move(*out);
      if (deadline != kNoDeadline && std::chrono::steady_clock::now() >= deadline) throw QueueEmpty();
      not_empty_.sleep(key, deadline);
      backoff.restart_after_wake();
    }
  }

  /// Approximate number of items (exact when no operation is in flight).
  std::size_t qsize() const noexcept {
    const std::uint64_t head = head_.load(std::memory_order_seq_cst);
    const std::uint64_t tail = tail_.load(std::memory_order_seq_cst) & ~kClosed;
    const std::uint64_t n = tail > head ? tail - head : 0;  // head read first: tail >= head unless racing
    return n > capacity_ ? capacity_ : static_cast<std::size_t>(n);
  }

  bool is_shutdown() const noexcept { return (tail_.load(std::memory_order_seq_cst) & kClosed) != 0; }

  /// Python's task_done(): one more item fully processed.
  void task_done() {
    std::uint64_t done = done_.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint64_t puts = tail_.load(std::memory_order_seq_cst) & ~kClosed;
      if (done >= puts) throw InvalidStateError("task_done() called too many times");
      if (done_.compare_exchange_weak(done, done + 1, std::memory_order_seq_cst)) {
        if (done + 1 == puts) all_done_.notify();
        return;
      }
    }
  }

  /// Python's join(): blocks until every item put has been task_done'd (or dropped by an immediate shutdown).
  void join() {
    for (;;) {
      if (unfinished() == 0) return;
      const std::uint32_t key = all_done_.prepare();
      if (unfinished() == 0) return;
      all_done_.sleep(key, kNoDeadline);
    }
  }

  /// Python 3.13's shutdown(immediate).
  void shutdown(bool immediate) noexcept {
    tail_.fetch_or(kClosed, std::memory_order_seq_cst);  // from here on, no put can claim a slot
    if (immediate) {
      std::uint64_t dropped = 0;
      std::optional<T> out;
      QueueBackoff backoff;
      for (;;) {
        const Try r = try_pop(out);
        if (r == Try::kOk) {
          out.reset();
          ++dropped;
        } else if (r == Try::kClosed) {
          break;
        } else if (!backoff.pause()) {  // a producer that claimed a slot before the flag is still writing it
          std::this_thread::yield();
        }
      }
      // The dropped items count as task_done'd, so join() returns (Python: unfinished_tasks -= 1 per item).
      done_.fetch_add(dropped, std::memory_order_seq_cst);
      all_done_.notify_all();
    }
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 63;
  static constexpr std::size_t kLine = 64;

  // A slot's sequence number says whose turn it is: 2*pos when free for the producer of position `pos`,
  // 2*pos + 1 once that item is published for its consumer. (Vyukov uses pos and pos + 1, which collide
  // for a capacity of 1: Python's Queue(maxsize=1) must work.)
  struct Slot {
    std::atomic<std::uint64_t> seq{0};
    alignas(T) unsigned char storage[sizeof(T)];
  };

  Slot& slot(std::uint64_t pos) const noexcept {
    return slots_[mask_ != 0 || capacity_ == 1 ? static_cast<std::size_t>(pos & mask_)
                                               : static_cast<std::size_t>(pos % capacity_)];
  }
  static T* item(Slot& s) noexcept { return std::launder(reinterpret_cast<T*>(s.storage)); }

  std::uint64_t unfinished() const noexcept {
    const std::uint64_t done = done_.load(std::memory_order_seq_cst);
    const std::uint64_t puts = tail_.load(std::memory_order_seq_cst) & ~kClosed;
    return puts > done ? puts - done : 0;
  }

  bool attempt_push(T& value) {
    switch (try_push(value)) {
      case Try::kOk:
        not_empty_.notify();
        return true;
      case Try::kClosed:
        throw QueueShutDown();
      default:
        return false;
    }
  }

  bool attempt_pop(std::optional<T>& out) {
    switch (try_pop(out)) {
      case Try::kOk:
        not_full_.notify();
        return true;
      case Try::kClosed:
        throw QueueShutDown();
      default:
        return false;
    }
  }

  const std::size_t capacity_;
  const std::size_t mask_;  // capacity - 1 for a power of two (index by mask), else 0 (index by modulo)
  const std::unique_ptr<Slot[]> slots_;
  // Producers' and consumers' counters on their own cache lines: they are the contended words.
  alignas(kLine) std::atomic<std::uint64_t> tail_{0};  // puts claimed so far; bit 63 = shut down
  alignas(kLine) std::atomic<std::uint64_t> head_{0};  // gets claimed so far
  alignas(kLine) std::atomic<std::uint64_t> done_{0};  // task_done() calls plus items dropped by shutdown
  alignas(kLine) QueueWaitList not_empty_;
  alignas(kLine) QueueWaitList not_full_;
  alignas(kLine) QueueWaitList all_done_;
};

}  // namespace spindle::detail
