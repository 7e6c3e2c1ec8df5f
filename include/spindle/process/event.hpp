#pragma once
/// @file
/// `Event` between processes: a flag in shared memory with a futex to sleep on. Pass it to a Process or a pool
/// task as an argument (it travels by handle). Python equivalent: `multiprocessing.Event`.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "spindle/process/shared_memory.hpp"

namespace spindle::process {

/// A flag that processes can set, clear and wait for.
///
/// **Thread safety:** every member may be called from any thread of any process holding the event.
/// **Errors:** the constructor throws std::system_error if shared memory cannot be created.
/// **Python equivalent:** `multiprocessing.Event`.
class Event {
 public:
  /// A new event, not set.
  Event();
  /// Sets the flag and wakes every waiter. Python: `set()`.
  void set() noexcept;
  /// Resets the flag. Python: `clear()`.
  void clear() noexcept;
  /// True if set. Python: `is_set()`.
  bool is_set() const noexcept;
  /// Blocks until set. Python: `wait()`.
  void wait() const noexcept { wait_until(std::nullopt); }
  /// Blocks until set or `timeout`; returns is_set(). Python: `wait(timeout)`.
  bool wait(std::chrono::nanoseconds timeout) const noexcept {
    return wait_until(std::chrono::steady_clock::now() + timeout);
  }

  /// Codec: by handle.
  template <class A>
  void save(A& ar) const {
    ar(shm_);
  }
  /// Codec: by handle.
  template <class A>
  void load(A& ar) {
    ar(shm_);
    if (shm_.size() < sizeof(std::uint32_t)) throw ProtocolError("Event: segment too small");
  }

 private:
  bool wait_until(std::optional<std::chrono::steady_clock::time_point> deadline) const noexcept;
  std::uint32_t* word() const noexcept { return reinterpret_cast<std::uint32_t*>(shm_.buf().data()); }
  SharedMemory shm_;
};

}  // namespace spindle::process
