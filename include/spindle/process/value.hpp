#pragma once
/// @file
/// `Value<T>`: one trivially copyable T in shared memory with a process Lock. Python: `multiprocessing.Value`.

#include <mutex>
#include <type_traits>

#include "spindle/process/lock.hpp"
#include "spindle/process/shared_array.hpp"

namespace spindle::process {

/// See the file comment.
///
/// **Thread safety:** `value()` and `set()` take the lock; for read-modify-write hold `get_lock()` and use
/// `raw()`. **Errors:** std::system_error on creation.
/// **Python equivalent:** `multiprocessing.Value(typecode, value)` with `.value` and `.get_lock()`.
template <class T>
class Value {
  static_assert(std::is_trivially_copyable_v<T>, "Value<T> needs a trivially copyable T");

 public:
  /// A value initialised to `initial`.
  explicit Value(T initial = T{}) : cell_(1) { cell_[0] = initial; }
  /// Reads under the lock. Python: `v.value`.
  T value() const {
    std::lock_guard g(lock_);
    return cell_[0];
  }
  /// Writes under the lock. Python: `v.value = x`.
  void set(T v) {
    std::lock_guard g(lock_);
    cell_[0] = v;
  }
  /// The lock guarding the value. Python: `get_lock()`.
  Lock& get_lock() const noexcept { return lock_; }
  /// The value itself, for use while holding get_lock().
  T& raw() const noexcept { return cell_[0]; }

  /// Codec: by handle.
  template <class A>
  void save(A& ar) const {
    ar(lock_, cell_);
  }
  /// Codec: by handle.
  template <class A>
  void load(A& ar) {
    ar(lock_, cell_);
    if (cell_.size() != 1) throw ProtocolError("Value: bad handle");
  }

 private:
  mutable Lock lock_;
  SharedArray<T> cell_;
};

}  // namespace spindle::process
