#pragma once
/// @file
/// The codec for task arguments and results: cereal's serialization (every standard type cereal knows, and
/// user types with a `serialize` member) over two small archives of our own, `Writer` and `Reader`, that
/// write straight into a `std::string` and read from a bounded byte range. Why our own archives and not
/// cereal's BinaryInputArchive: its size tags are trusted, so 8 hostile bytes make it `resize()` a vector to
/// 2^60 elements. `Reader` rejects any size tag larger than the bytes left before anything is allocated.
/// File descriptors (shared memory, IPC handles) travel beside the bytes: `Writer::add_fd` records one that
/// the channel passes with SCM_RIGHTS, `Reader::take_fd` hands it to the decoded object.
///
/// Python equivalent: `pickle`, restricted to data (nothing decoded is ever executed).

#include <unistd.h>

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/core/detail/pages.hpp"
#include "spindle/process/detail/blob.hpp"
#include "spindle/process/errors.hpp"

namespace spindle::process {

/// Output archive: appends the binary encoding (native endianness, like cereal's BinaryOutputArchive) to a
/// string. **Thread safety:** one archive per thread. **Errors:** std::bad_alloc only.
/// **Python equivalent:** `pickle.dumps`.
class Writer : public cereal::OutputArchive<Writer, cereal::AllowEmptyClassElision> {
 public:
  /// Appends to `out`; descriptors added by serialized objects are duplicated into `fds` (the caller owns
  /// them and closes them once sent).
  explicit Writer(std::string& out, std::vector<int>* fds = nullptr)
      : cereal::OutputArchive<Writer, cereal::AllowEmptyClassElision>(this), out_(out), fds_(fds) {}
  /// Appends raw bytes.
  void save_binary(const void* data, std::size_t size) {
    // A large block leaves room behind it: a forwarder's few bytes of tail (spindle::mpi appends 16 to a
    // task's arguments) then fit without reallocating and copying the whole encoding.
    if (size >= kSlackFrom) {
      out_.reserve(out_.size() + size + kSlack);
      // A large encoding is mostly fresh memory (a 10 MiB argument: 2,560 first touches, about 10 us each on a
      // VM that shadows page tables); faulted in at once, in huge pages, it costs a third (docs/performance-history.md,
      // W11).
      if (size >= detail::kBlobMinBytes) spindle::detail::prepare_fresh_pages(out_.data() + out_.size(), size);
    }
    out_.append(static_cast<const char*>(data), size);
  }
  /// Records a descriptor to pass beside the bytes (duplicated: the object keeps its own); returns its index.
  /// Throws ProtocolError if this archive cannot carry descriptors (e.g. a Queue item).
  std::uint32_t add_fd(int fd);
  /// Lets large arrays of numbers travel as shared-memory blobs (detail/blob.hpp), whose leases go to
  /// `leases`: the owner keeps them until the receiver has decoded the bytes. Needs descriptors.
  void lend_blobs(std::vector<std::shared_ptr<const void>>* leases) noexcept { leases_ = fds_ ? leases : nullptr; }
  /// True if an array of `bytes` goes as a blob.
  bool blob_for(std::size_t bytes) const noexcept { return leases_ != nullptr && bytes >= detail::kBlobMinBytes; }
  /// Copies `bytes` at `data` into a blob and records its descriptor; returns the descriptor's index.
  std::uint32_t save_blob(const void* data, std::size_t bytes);

  /// Room left behind a block of at least kSlackFrom bytes (see save_binary).
  static constexpr std::size_t kSlack = 64;
  static constexpr std::size_t kSlackFrom = std::size_t{64} << 10;

 private:
  std::string& out_;
  std::vector<int>* fds_;
  std::vector<std::shared_ptr<const void>>* leases_ = nullptr;
};

/// Input archive over a bounded byte range. **Thread safety:** one archive per thread.
/// **Errors:** ProtocolError for truncated input, an oversize size tag or a missing descriptor; decoding
/// never allocates more than the input's size (plus what user `serialize` functions allocate themselves).
/// **Python equivalent:** `pickle.loads`, without code execution.
class Reader : public cereal::InputArchive<Reader, cereal::AllowEmptyClassElision> {
 public:
  /// Reads `size` bytes at `data`; `fds` are the descriptors received with them (taken, not copied).
  Reader(const void* data, std::size_t size, std::vector<int>* fds = nullptr)
      : cereal::InputArchive<Reader, cereal::AllowEmptyClassElision>(this),
        p_(static_cast<const char*>(data)),
        end_(p_ + size),
        fds_(fds) {}
  /// Copies the next `size` bytes out; throws ProtocolError if fewer remain.
  void load_binary(void* data, std::size_t size) {
    if (size > remaining()) throw ProtocolError("codec: truncated input");
    if (size) std::memcpy(data, p_, size);
    p_ += size;
  }
  /// Bytes not yet consumed.
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  /// A view of the next `size` bytes, consumed (zero-copy access for large buffers).
  const char* view(std::size_t size) {
    if (size > remaining()) throw ProtocolError("codec: truncated input");
    const char* p = p_;
    p_ += size;
    return p;
  }
  /// Takes ownership of received descriptor `index`; throws ProtocolError if there is none.
  int take_fd(std::uint32_t index);
  /// Received blob descriptor `index`, which must hold at least `bytes`.
  detail::BlobFile open_blob(std::uint32_t index, std::size_t bytes) { return detail::BlobFile(take_fd(index), bytes); }

 private:
  const char* p_;
  const char* end_;
  std::vector<int>* fds_;
};

// cereal's hooks for the two archives, as cereal/archives/binary.hpp defines them for its own, except that
// a loaded size tag is checked against the bytes left: every element takes at least one byte.
// clang-format off: clang-format 14 mangles requires-clauses
template <class T>
requires std::is_arithmetic_v<T>
inline void CEREAL_SAVE_FUNCTION_NAME(Writer& ar, const T& t) {
  // clang-format on
  ar.save_binary(std::addressof(t), sizeof(t));
}
// clang-format off: clang-format 14 mangles requires-clauses
template <class T>
requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) inline void CEREAL_LOAD_FUNCTION_NAME(Reader& ar, T& t) {
  // clang-format on
  ar.load_binary(std::addressof(t), sizeof(t));
}
/// A bool is one byte that must be 0 or 1: loading any other byte into a bool is undefined behaviour (the
/// fuzzer found this through std::optional's flag).
inline void CEREAL_LOAD_FUNCTION_NAME(Reader& ar, bool& t) {
  unsigned char b = 0;
  ar.load_binary(&b, 1);
  if (b > 1) throw ProtocolError("codec: invalid bool");
  t = b != 0;
}
template <class T>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(Writer& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(Reader& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(Writer& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
}
template <class T>
inline void CEREAL_SERIALIZE_FUNCTION_NAME(Reader& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
  if (static_cast<std::uint64_t>(t.size) > ar.remaining())
    throw ProtocolError("codec: size tag " + std::to_string(static_cast<std::uint64_t>(t.size)) + " exceeds the " +
                        std::to_string(ar.remaining()) + " bytes left");
}
template <class T>
inline void CEREAL_SAVE_FUNCTION_NAME(Writer& ar, const cereal::BinaryData<T>& bd) {
  ar.save_binary(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(Reader& ar, cereal::BinaryData<T>& bd) {
  ar.load_binary(bd.data, static_cast<std::size_t>(bd.size));
}

/// Vectors of numbers: a mode byte, the element count, then the elements' bytes (one memcpy each way), or,
/// for a large array where the Writer lends blobs, the index of a shared-memory blob's descriptor instead.
// clang-format off: clang-format 14 mangles requires-clauses
template <class T, class A>
requires(std::is_arithmetic_v<T> &&
         !std::is_same_v<T, bool>) inline void CEREAL_SAVE_FUNCTION_NAME(Writer& ar, const std::vector<T, A>& v) {
  // clang-format on
  const std::uint64_t n = v.size();
  const std::size_t bytes = v.size() * sizeof(T);
  const std::uint8_t mode = ar.blob_for(bytes) ? 1 : 0;
  ar.save_binary(&mode, 1);
  ar.save_binary(&n, sizeof n);
  if (mode == 0) {
    ar.save_binary(v.data(), bytes);
  } else {
    const std::uint32_t index = ar.save_blob(v.data(), bytes);
    ar.save_binary(&index, sizeof index);
  }
}
namespace detail {
/// Resizes `v` to `n` elements about to be overwritten whole. A large array is likely fresh memory (a worker's,
/// a rank's): its pages are readied at once, before `resize` touches them (see Writer::save_binary).
template <class T, class A>
void resize_for_write(std::vector<T, A>& v, std::size_t n) {
  if (n * sizeof(T) >= kBlobMinBytes) {
    v.reserve(n);
    spindle::detail::prepare_fresh_pages(v.data(), n * sizeof(T));
  }
  v.resize(n);
}
}  // namespace detail

// clang-format off: clang-format 14 mangles requires-clauses
template <class T, class A>
requires(std::is_arithmetic_v<T> &&
         !std::is_same_v<T, bool>) inline void CEREAL_LOAD_FUNCTION_NAME(Reader& ar, std::vector<T, A>& v) {
  // clang-format on
  std::uint8_t mode = 0;
  std::uint64_t n = 0;
  ar.load_binary(&mode, 1);
  ar.load_binary(&n, sizeof n);
  if (mode > 1) throw ProtocolError("codec: invalid array encoding");
  if (mode == 0) {
    if (n > ar.remaining() / sizeof(T))
      throw ProtocolError("codec: size tag " + std::to_string(n) + " exceeds the " + std::to_string(ar.remaining()) +
                          " bytes left");
    detail::resize_for_write(v, static_cast<std::size_t>(n));
    ar.load_binary(v.data(), v.size() * sizeof(T));
    return;
  }
  std::uint32_t index = 0;
  ar.load_binary(&index, sizeof index);
  if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw ProtocolError("codec: array too large");
  const detail::BlobFile blob = ar.open_blob(index, static_cast<std::size_t>(n) * sizeof(T));  // size checked first
  detail::resize_for_write(v, static_cast<std::size_t>(n));
  blob.read_into(v.data());
}

/// Appends the encoding of `values...` to `out`. Python equivalent: `pickle.dumps`.
template <class... T>
void encode_into(std::string& out, std::vector<int>* fds, const T&... values) {
  if constexpr (sizeof...(T) > 0) {
    Writer w(out, fds);
    w(values...);
  }
}

/// The encoding of `value` as a string (no descriptors allowed).
template <class T>
std::string encode(const T& value) {
  std::string out;
  encode_into(out, nullptr, value);
  return out;
}

/// Decodes a T from exactly `size` bytes; throws ProtocolError if the bytes are malformed or not all used.
/// Python equivalent: `pickle.loads`.
template <class T>
T decode(const void* data, std::size_t size, std::vector<int>* fds = nullptr) {
  Reader r(data, size, fds);
  T value{};
  try {
    r(value);
  } catch (const cereal::Exception& e) {
    throw ProtocolError(std::string("codec: ") + e.what());
  }
  if (r.remaining() != 0) throw ProtocolError("codec: trailing bytes after the value");
  return value;
}

/// Decodes a T from a string.
template <class T>
T decode(std::string_view bytes) {
  return decode<T>(bytes.data(), bytes.size());
}

}  // namespace spindle::process

CEREAL_REGISTER_ARCHIVE(spindle::process::Writer)
CEREAL_REGISTER_ARCHIVE(spindle::process::Reader)
CEREAL_SETUP_ARCHIVE_TRAITS(spindle::process::Reader, spindle::process::Writer)
