#pragma once
/// @file
/// `Lock` between processes: a robust, process-shared pthread mutex in shared memory. Passed to a Process or
/// a task as an argument (by handle). If the holder dies, the next acquirer gets the lock (robust mutex:
/// EOWNERDEAD is repaired), so a killed process cannot wedge the others. Python: `multiprocessing.Lock`.

#include <chrono>
#include <optional>

#include "spindle/process/shared_memory.hpp"

namespace spindle::process {

/// See the file comment. Satisfies Lockable (`std::lock_guard<Lock>` works).
///
/// **Thread safety:** any thread of any process holding the lock may call any member; release() must be
/// called by the holder. **Errors:** std::system_error from pthread calls.
/// **Python equivalent:** `multiprocessing.Lock`.
class Lock {
 public:
  /// A new, unlocked lock.
  Lock();
  /// Acquires; with `blocking == false` returns at once; with a timeout gives up after it. True if acquired.
  /// Python: `acquire(block=True, timeout=None)`.
  bool acquire(bool blocking = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
  /// Releases. Python: `release()`.
  void release();
  /// Lockable.
  void lock() { acquire(); }
  /// Lockable.
  void unlock() { release(); }
  /// Lockable.
  bool try_lock() { return acquire(false); }

  /// Codec: by handle.
  template <class A>
  void save(A& ar) const {
    ar(shm_);
  }
  /// Codec: by handle.
  template <class A>
  void load(A& ar) {
    ar(shm_);
    check();
  }

 private:
  void check() const;
  SharedMemory shm_;
};

/// A counting semaphore between processes (a process-shared POSIX semaphore in shared memory).
///
/// **Thread safety:** any thread of any process. **Errors:** std::system_error.
/// **Python equivalent:** `multiprocessing.Semaphore`.
class Semaphore {
 public:
  /// A semaphore with `value` permits.
  explicit Semaphore(unsigned value = 1);
  /// Takes a permit; false if not blocking and none is free, or the timeout passed. Python: `acquire`.
  bool acquire(bool blocking = true, std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
  /// Returns `n` permits. Python: `release(n)`.
  void release(unsigned n = 1);
  /// Permits currently free. Python: `get_value()`.
  int get_value() const;

  /// Codec: by handle.
  template <class A>
  void save(A& ar) const {
    ar(shm_);
  }
  /// Codec: by handle.
  template <class A>
  void load(A& ar) {
    ar(shm_);
    check();
  }

 private:
  void check() const;
  SharedMemory shm_;
};

}  // namespace spindle::process
