#pragma once
/// @file
/// Internal: the bounded channel between two stages. Items move in blocks under one lock; a consumer spins
/// briefly before it parks, and a producer wakes a parked consumer only once a block's worth of items is
/// there (or the producer says `urgent`: it is about to wait itself, so nothing more is coming soon), so that
/// a hand-off between threads costs a wake-up per block at most. Threads block on condition variables; event-loop
/// tasks await a core Future that the other side completes. close() and cancel() wake every waiter.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>
#include <vector>

#include "spindle/core/future.hpp"
#include "spindle/pipeline/item_bytes.hpp"

namespace spindle::pipeline::detail {

using SteadyClock = std::chrono::steady_clock;

/// Nanoseconds since `t0`.
inline std::uint64_t ns_since(SteadyClock::time_point t0) noexcept {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - t0).count());
}

/// A CPU hint for spin loops.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

/// The untyped part of a channel: bounds (items, and bytes when `capacity_bytes` is not 0), state, waiters,
/// depth metrics.
class ChannelBase {
 public:
  explicit ChannelBase(std::size_t capacity, std::size_t capacity_bytes = 0)
      : capacity_(capacity), threshold_(capacity), cap_bytes_(capacity_bytes) {}

  /// Items that wake a parked consumer without an urgent put: a block, or a quarter of the channel if that is
  /// more (fewer wake-ups; a producer that runs dry puts urgently, so latency does not suffer); at most the
  /// capacity.
  void set_block(std::size_t block) noexcept {
    threshold_ = std::max<std::size_t>(1, std::min(std::max(block, capacity_ / 4), capacity_));
  }
  ChannelBase(const ChannelBase&) = delete;
  ChannelBase& operator=(const ChannelBase&) = delete;
  virtual ~ChannelBase() = default;

  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t depth() const noexcept { return size_.load(std::memory_order_relaxed); }
  std::size_t peak() const noexcept { return peak_.load(std::memory_order_relaxed); }
  /// The byte bound (0: none), the bytes held now and at the peak (0 when unbounded in bytes: not counted).
  std::size_t capacity_bytes() const noexcept { return cap_bytes_; }
  std::size_t depth_bytes() const noexcept { return bytes_now_.load(std::memory_order_relaxed); }
  std::size_t peak_bytes() const noexcept { return peak_bytes_.load(std::memory_order_relaxed); }
  /// Items handed to consumers so far (the sequence number of the next item taken).
  std::uint64_t taken() const noexcept { return taken_.load(std::memory_order_relaxed); }
  /// Producers waiting for room now (threads parked in put, event-loop producers awaiting writable()).
  std::size_t producers_waiting() const noexcept { return waiting_now_.load(std::memory_order_relaxed); }

  /// The producer side is done: consumers drain what is left, then see the end.
  void close() noexcept { end(false); }
  /// Ends the channel at once: every waiter wakes; puts fail, gets see the end.
  void cancel() noexcept { end(true); }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }

  /// Completes when an item is there, or the channel is closed or cancelled (for event-loop consumers).
  Future<void> readable() {
    std::unique_lock lock(mu_);
    if (deliverable_locked() || closed_ || cancelled_.load(std::memory_order_relaxed)) return ready();
    async_getters_.emplace_back();
    return async_getters_.back().get_future();
  }
  /// Completes when there is room for an item of `need` bytes, or the channel is cancelled (for event-loop
  /// producers).
  Future<void> writable(std::size_t need = 0) {
    std::unique_lock lock(mu_);
    if (fits_locked(need) || cancelled_.load(std::memory_order_relaxed)) return ready();
    async_putters_.emplace_back();
    note_waiters_locked();
    return async_putters_.back().get_future();
  }

 protected:
  static Future<void> ready() {
    Promise<void> p;
    p.set_result();
    return p.get_future();
  }
  static void fire(std::vector<Promise<void>>& ps) noexcept {
    for (auto& p : ps) {
      try {
        p.set_result();
      } catch (...) {
      }
    }
    ps.clear();
  }
  void end(bool cancel) noexcept {
    std::vector<Promise<void>> getters, putters;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      closed_flag_.store(true, std::memory_order_release);
      if (cancel) cancelled_.store(true, std::memory_order_release);
      getters.swap(async_getters_);
      putters.swap(async_putters_);
      note_waiters_locked();
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    fire(getters);
    fire(putters);
  }
  /// A parked consumer should take what is there: a block's worth, or anything after an urgent put.
  bool deliverable_locked() const noexcept {
    const std::size_t n = size_.load(std::memory_order_relaxed);
    return n >= threshold_ || (n > 0 && urgent_);
  }
  void note_waiters_locked() noexcept {
    waiting_now_.store(putters_waiting_ + async_putters_.size(), std::memory_order_relaxed);
  }
  void note_size(std::size_t n) noexcept {
    if (n == 0) urgent_ = false;
    size_.store(n, std::memory_order_relaxed);
    if (n > peak_.load(std::memory_order_relaxed)) peak_.store(n, std::memory_order_relaxed);
    if (cap_bytes_ != 0) {
      bytes_now_.store(bytes_, std::memory_order_relaxed);
      if (bytes_ > peak_bytes_.load(std::memory_order_relaxed)) peak_bytes_.store(bytes_, std::memory_order_relaxed);
    }
  }
  /// Room for one more item of `b` bytes: under the item bound, and under the byte bound unless the channel
  /// holds no bytes at all (an item bigger than the bound still passes alone, never deadlocks).
  bool fits_locked(std::size_t b) const noexcept {
    return size_.load(std::memory_order_relaxed) < capacity_ &&
           (cap_bytes_ == 0 || bytes_ == 0 || bytes_ + b <= cap_bytes_);
  }
  /// Enough has been taken to wake parked producers: half the items, or half the bytes, are free.
  bool half_free_locked(std::size_t n) const noexcept {
    if (capacity_ - n >= std::max<std::size_t>(1, capacity_ / 2)) return true;
    return cap_bytes_ != 0 && (bytes_ == 0 || cap_bytes_ - std::min(bytes_, cap_bytes_) >= cap_bytes_ / 2);
  }

  const std::size_t capacity_;
  std::size_t threshold_;
  const std::size_t cap_bytes_;
  std::size_t bytes_ = 0;  // held now (counted only with a byte bound)
  std::atomic<std::size_t> bytes_now_{0};
  std::atomic<std::size_t> peak_bytes_{0};
  bool urgent_ = false;
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::size_t getters_waiting_ = 0;
  std::size_t putters_waiting_ = 0;
  std::vector<Promise<void>> async_getters_;
  std::vector<Promise<void>> async_putters_;
  bool closed_ = false;
  std::atomic<bool> closed_flag_{false};
  std::atomic<bool> cancelled_{false};
  std::atomic<std::size_t> size_{0};
  std::atomic<std::size_t> peak_{0};
  std::atomic<std::uint64_t> taken_{0};
  std::atomic<std::size_t> waiting_now_{0};
};

/// A bounded channel of T.
template <class T>
class Channel final : public ChannelBase {
 public:
  using ChannelBase::ChannelBase;

  /// Moves up to `max` items into `out` without waiting; returns how many. `*seq` (if given) receives the
  /// sequence number of the first one.
  std::size_t try_get(std::vector<T>& out, std::size_t max, std::uint64_t* seq = nullptr) {
    std::unique_lock lock(mu_);
    return take_locked(lock, out, max, seq);
  }

  /// Moves up to `max` (>= 1) items into `out`, waiting until there is one or `deadline` passes. Returns 0 at
  /// the end (closed and empty, or cancelled; see ended()) or on timeout. Time spent waiting is added to
  /// `*waited_ns`.
  std::size_t get(std::vector<T>& out, std::size_t max, std::atomic<std::uint64_t>* waited_ns,
                  std::uint64_t* seq = nullptr, SteadyClock::time_point deadline = SteadyClock::time_point::max()) {
    // Spin briefly first: a producer handing over a block is often microseconds away, and parking costs a
    // wake-up (~25 us across vCPUs) to both sides.
    for (int i = 0; i < 64; ++i) {
      if (size_.load(std::memory_order_relaxed) > 0 || closed_flag_.load(std::memory_order_acquire)) break;
      cpu_relax();
    }
    std::unique_lock lock(mu_);
    if (size_.load(std::memory_order_relaxed) == 0 && !closed_) {
      const auto t0 = SteadyClock::now();
      ++getters_waiting_;
      while (!deliverable_locked() && !closed_) {
        if (deadline == SteadyClock::time_point::max()) {
          not_empty_.wait(lock);
        } else if (not_empty_.wait_until(lock, deadline) == std::cv_status::timeout) {
          break;
        }
      }
      --getters_waiting_;
      if (waited_ns != nullptr) waited_ns->fetch_add(ns_since(t0), std::memory_order_relaxed);
    }
    return take_locked(lock, out, max, seq);
  }

  /// True once nothing more will come (closed and drained, or cancelled).
  bool ended() const {
    std::lock_guard lock(mu_);
    return cancelled_.load(std::memory_order_relaxed) || (closed_ && q_.empty());
  }

  /// Moves as many of `items[from..]` in as there is room for, without waiting; returns the new `from`.
  /// Returns items.size() when cancelled (the rest is dropped).
  std::size_t try_put(std::vector<T>& items, std::size_t from, bool urgent = true) {
    std::unique_lock lock(mu_);
    return put_locked(lock, items, from, urgent);
  }

  /// Moves every item of `items` in, waiting for room as needed; clears `items`. False if the channel was
  /// cancelled (what was not put is dropped). Time spent waiting is added to `*waited_ns`. `urgent`: the
  /// producer has nothing more for now, so a parked consumer is woken even for less than a block.
  bool put(std::vector<T>& items, std::atomic<std::uint64_t>* waited_ns, bool urgent = true) {
    std::size_t from = 0;
    std::unique_lock lock(mu_);
    while (true) {
      from = put_locked(lock, items, from, urgent);
      if (cancelled_.load(std::memory_order_relaxed)) {
        items.clear();
        return false;
      }
      if (from == items.size()) break;
      const auto t0 = SteadyClock::now();
      const std::size_t need = cap_bytes_ != 0 ? ItemBytes<T>{}(items[from]) : 0;
      ++putters_waiting_;
      note_waiters_locked();
      while (!fits_locked(need) && !cancelled_.load(std::memory_order_relaxed)) not_full_.wait(lock);
      --putters_waiting_;
      note_waiters_locked();
      if (waited_ns != nullptr) waited_ns->fetch_add(ns_since(t0), std::memory_order_relaxed);
    }
    items.clear();
    return true;
  }

 private:
  std::size_t take_locked(std::unique_lock<std::mutex>& lock, std::vector<T>& out, std::size_t max,
                          std::uint64_t* seq) {
    const std::size_t n = std::min(max, q_.size());
    if (seq != nullptr) *seq = taken_.load(std::memory_order_relaxed);
    if (n == 0 || cancelled_.load(std::memory_order_relaxed)) return 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (cap_bytes_ != 0) bytes_ -= std::min(bytes_, ItemBytes<T>{}(q_.front()));
      out.push_back(std::move(q_.front()));
      q_.pop_front();
    }
    taken_.store(taken_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    note_size(q_.size());
    // Parked producers wake once half the channel is free, not for every block taken: a wake-up costs ~25 us.
    // (A producer parks only on a full channel, whose consumers then drain it: see put_locked's urgent.)
    if (!half_free_locked(q_.size())) return n;
    std::vector<Promise<void>> putters;
    const bool wake = putters_waiting_ > 0;
    if (!async_putters_.empty()) {
      putters.swap(async_putters_);
      note_waiters_locked();
    }
    lock.unlock();
    if (wake) not_full_.notify_all();
    fire(putters);
    return n;
  }

  std::size_t put_locked(std::unique_lock<std::mutex>& lock, std::vector<T>& items, std::size_t from, bool urgent) {
    if (cancelled_.load(std::memory_order_relaxed)) return items.size();
    const std::size_t room = q_.size() < capacity_ ? capacity_ - q_.size() : 0;
    std::size_t n = std::min(room, items.size() - from);
    if (cap_bytes_ != 0) {
      std::size_t fit = 0;
      for (; fit < n; ++fit) {
        const std::size_t b = ItemBytes<T>{}(items[from + fit]);
        if (bytes_ != 0 && bytes_ + b > cap_bytes_) break;
        bytes_ += b;
      }
      n = fit;
    }
    if (n == 0 && (from == items.size() || q_.empty())) return from;
    for (std::size_t i = 0; i < n; ++i) q_.push_back(std::move(items[from + i]));
    if (n != 0) note_size(q_.size());
    // A put that cannot finish (the channel is full) is urgent too: its producer is about to wait. Full by its
    // byte bound, a channel may hold less than a block: its parked consumers must wake then, or both would wait.
    if (urgent || from + n < items.size()) urgent_ = true;
    if (!deliverable_locked()) return from + n;  // consumers stay parked until a block's worth is there
    std::vector<Promise<void>> getters;
    const std::size_t parked = getters_waiting_;
    if (!async_getters_.empty()) getters.swap(async_getters_);
    lock.unlock();
    // Several parked workers share a block of several items: wake them all, each takes its part.
    if (parked > 1 && n > 1) {
      not_empty_.notify_all();
    } else if (parked > 0) {
      not_empty_.notify_one();
    }
    fire(getters);
    lock.lock();
    return from + n;
  }

  std::deque<T> q_;
};

}  // namespace spindle::pipeline::detail
