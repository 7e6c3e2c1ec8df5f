#pragma once
/// @file
/// `PriorityQueue<T, Compare>`: a smallest-first queue between threads. Python equivalent: `queue.PriorityQueue`.

#include <cstddef>
#include <functional>
#include <utility>

#include "spindle/thread/detail/queue_locked.hpp"

namespace spindle {

/// A priority queue between threads with Python's `queue.PriorityQueue` interface and 3.13 semantics: get()
/// returns the smallest item by `Compare` (a strict weak order, `std::less<T>` by default), as Python's heapq.
/// Items that compare equal come out in no particular order (as in Python); use a (priority, sequence) pair
/// for FIFO among equals. Same members and contract as Queue; `maxsize > 0` bounds it.
///
/// **Thread safety:** every member may be called from any number of threads at once (one mutex inside);
/// `Compare` is called under that mutex and must not use the queue.
///
/// **Errors:** QueueFull, QueueEmpty, QueueShutDown, InvalidStateError (task_done() too often),
/// std::invalid_argument (negative maxsize or timeout), as Queue; an exception from `Compare` or from moving
/// a T propagates out of put/get.
///
/// **Python equivalent:** `queue.PriorityQueue(maxsize)`.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public detail::LockedQueueApi<T, detail::HeapStore<T, Compare>> {
  using Base = detail::LockedQueueApi<T, detail::HeapStore<T, Compare>>;

 public:
  /// A priority queue holding at most `maxsize` items (0 = unbounded), ordered by `compare`.
  /// Throws std::invalid_argument if `maxsize` is negative.
  explicit PriorityQueue(std::ptrdiff_t maxsize = 0, Compare compare = Compare())
      : Base(maxsize, detail::HeapStore<T, Compare>(std::move(compare))) {}
};

}  // namespace spindle
