#pragma once
/// @file
/// `LifoQueue<T>`: a last-in, first-out queue between threads. Python equivalent: `queue.LifoQueue`.

#include <cstddef>

#include "spindle/thread/detail/queue_locked.hpp"

namespace spindle {

/// A stack between threads with Python's `queue.LifoQueue` interface and 3.13 semantics: get() returns the
/// most recently put item. Same members and contract as Queue (put/get with block and timeout, put_nowait,
/// get_nowait, qsize, empty, full, task_done, join, shutdown(immediate)); `maxsize > 0` bounds it.
///
/// **Thread safety:** every member may be called from any number of threads at once (one mutex inside).
///
/// **Errors:** QueueFull, QueueEmpty, QueueShutDown, InvalidStateError (task_done() too often),
/// std::invalid_argument (negative maxsize or timeout), as Queue.
///
/// **Python equivalent:** `queue.LifoQueue(maxsize)`.
template <class T>
class LifoQueue : public detail::LockedQueueApi<T, detail::LifoStore<T>> {
 public:
  /// A stack holding at most `maxsize` items (0 = unbounded). Throws std::invalid_argument if negative.
  explicit LifoQueue(std::ptrdiff_t maxsize = 0) : detail::LockedQueueApi<T, detail::LifoStore<T>>(maxsize) {}
};

}  // namespace spindle
