#pragma once
/// @file
/// `Queue<T>` between processes: a bounded FIFO. Items are encoded with the codec and travel as messages on
/// a SOCK_SEQPACKET socket pair (each item one atomic message, so several producers and consumers in several
/// processes never interleave); a slot ledger in shared memory bounds it to `maxsize`. Python:
/// `multiprocessing.Queue(maxsize)`.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "spindle/core/errors.hpp"
#include "spindle/process/codec.hpp"
#include "spindle/process/shared_memory.hpp"

namespace spindle::process {

namespace detail {
/// The untyped queue: the socket pair that carries the items, and a control block in shared memory (a
/// robust mutex, the slot ledger of a bounded queue, the count).
class QueueCore {
 public:
  QueueCore(std::size_t maxsize, std::size_t max_item_bytes);
  QueueCore(const QueueCore&) = delete;
  QueueCore& operator=(const QueueCore&) = delete;
  QueueCore() = default;
  ~QueueCore();
  /// False on timeout / full (non-blocking).
  bool put(const std::string& bytes, bool block, std::optional<std::chrono::nanoseconds> timeout);
  /// False on timeout / empty (non-blocking).
  bool get(std::string& bytes, bool block, std::optional<std::chrono::nanoseconds> timeout);
  std::size_t qsize() const noexcept;
  std::size_t maxsize() const noexcept { return maxsize_; }
  template <class A>
  void save(A& ar) const {
    ar(ar.add_fd(wfd_), ar.add_fd(rfd_), static_cast<std::uint64_t>(maxsize_), static_cast<std::uint64_t>(max_item_),
       ctl_);
  }
  template <class A>
  void load(A& ar) {
    std::uint32_t w = 0, r = 0;
    std::uint64_t m = 0, item = 0;
    ar(w, r, m, item, ctl_);
    wfd_ = ar.take_fd(w);
    rfd_ = ar.take_fd(r);
    maxsize_ = static_cast<std::size_t>(m);
    max_item_ = static_cast<std::size_t>(item);
    check();
  }

 private:
  void check() const;
  int wfd_ = -1;
  int rfd_ = -1;
  std::size_t maxsize_ = 0;
  std::size_t max_item_ = 0;
  SharedMemory ctl_;
};
}  // namespace detail

/// See the file comment. Copies share the queue (handles to the same one).
///
/// **Thread safety:** any thread of any process holding the queue. **Errors:** `put` throws QueueFull when
/// it cannot put (non-blocking or timed out), `get` QueueEmpty; ProtocolError for an item over
/// `max_item_bytes` or a malformed one.
/// **Process death:** a process killed in the middle of a put cannot leak its slot: each slot is reserved in
/// a ledger under the dying process's pid, and a putter that finds the queue full reclaims the slots of dead
/// reservers (within 100 ms). If the item did get out before the death, the queue holds one item over
/// `maxsize` until it is taken, never one under. **Python equivalent:** `multiprocessing.Queue(maxsize)`
/// (whose slot, and item, a killed putter loses).
template <class T>
class Queue {
 public:
  /// A queue of at most `maxsize` items (0: bounded only by the socket buffer) of at most `max_item_bytes`
  /// encoded bytes each.
  explicit Queue(std::size_t maxsize = 0, std::size_t max_item_bytes = std::size_t{1} << 20)
      : core_(std::make_shared<detail::QueueCore>(maxsize, max_item_bytes)) {}
  /// Python: `put(item, block, timeout)`.
  void put(const T& item, bool block = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    if (!core_->put(encode(item), block, timeout)) throw QueueFull();
  }
  /// Python: `put_nowait(item)`.
  void put_nowait(const T& item) { put(item, false); }
  /// Python: `get(block, timeout)`.
  T get(bool block = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    std::string bytes;
    if (!core_->get(bytes, block, timeout)) throw QueueEmpty();
    return decode<T>(bytes);
  }
  /// Python: `get_nowait()`.
  T get_nowait() { return get(false); }
  /// Approximate number of items. Python: `qsize()`.
  std::size_t qsize() const noexcept { return core_->qsize(); }
  /// Python: `empty()`.
  bool empty() const noexcept { return qsize() == 0; }
  /// Python: `full()`.
  bool full() const noexcept { return core_->maxsize() && qsize() >= core_->maxsize(); }

  /// Codec: by handle.
  template <class A>
  void save(A& ar) const {
    ar(*core_);
  }
  /// Codec: by handle.
  template <class A>
  void load(A& ar) {
    core_ = std::make_shared<detail::QueueCore>();
    ar(*core_);
  }

 private:
  std::shared_ptr<detail::QueueCore> core_;
};

}  // namespace spindle::process
