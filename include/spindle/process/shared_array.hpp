#pragma once
/// @file
/// `SharedArray<T>`: a fixed-size array of trivially copyable T in shared memory (a memfd). Passing one to
/// a pool task or a Process passes a *handle*: the descriptor travels with SCM_RIGHTS and the worker maps
/// the same pages, so a 10 MiB array costs the same as an int. Copies share the storage.
///
/// **Thread safety:** the elements are plain memory shared between processes; synchronise with a process
/// Lock/Event or hand the array over through a task's future. **Errors:** std::system_error on creation,
/// ProtocolError when a received handle is malformed.
/// **Python equivalent:** a NumPy array over `multiprocessing.shared_memory.SharedMemory.buf`.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>

#include "spindle/process/shared_memory.hpp"

namespace spindle::process {

/// See the file comment.
template <class T>
class SharedArray {
  static_assert(std::is_trivially_copyable_v<T>, "SharedArray<T> needs a trivially copyable T");

 public:
  using value_type = T;
  /// An empty array.
  SharedArray() = default;
  /// `n` zero-initialised elements.
  explicit SharedArray(std::size_t n)
      : seg_(detail::Segment::create(n == 0 ? 1 : n * sizeof(T), "spindle-array")), n_(n) {}

  T* data() const noexcept { return seg_ ? static_cast<T*>(seg_->data()) : nullptr; }
  std::size_t size() const noexcept { return n_; }
  T& operator[](std::size_t i) const noexcept { return data()[i]; }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + n_; }
  /// A span over the elements.
  std::span<T> span() const noexcept { return {data(), n_}; }

  /// Codec: the handle, not the elements.
  template <class A>
  void save(A& ar) const {
    if (!seg_) throw ProtocolError("cannot send an empty SharedArray");
    const std::uint32_t index = ar.add_fd(seg_->fd());
    ar(index, static_cast<std::uint64_t>(n_));
  }
  /// Codec: maps the received descriptor; rejects a count larger than the object.
  template <class A>
  void load(A& ar) {
    std::uint32_t index = 0;
    std::uint64_t n = 0;
    ar(index, n);
    if (n > SIZE_MAX / sizeof(T)) throw ProtocolError("SharedArray: element count overflows");
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T);
    seg_ = detail::Segment::adopt(ar.take_fd(index), bytes ? bytes : 1);
    n_ = static_cast<std::size_t>(n);
  }

 private:
  std::shared_ptr<detail::Segment> seg_;
  std::size_t n_ = 0;
};

}  // namespace spindle::process
