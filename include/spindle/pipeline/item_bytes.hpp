#pragma once
/// @file
/// What an item weighs against a channel's byte bound (`StageOptions::capacity_bytes`). Python equivalent: none
/// (`asyncio.Queue` counts items; GStreamer's `queue` has `max-size-bytes`).

#include <cstddef>

namespace spindle::pipeline {

/// The bytes an item counts for: `sizeof(T)`, plus the elements of a contiguous container (`std::string`,
/// `std::vector<float>`, `SharedArray`...: anything with `size()` and `data()`). Specialise it for your own
/// types (`template <> struct spindle::pipeline::ItemBytes<Image> { std::size_t operator()(const Image&) const
/// noexcept; };`). It is called on each item put on and taken from a byte-bounded channel, so keep it cheap.
template <class T>
struct ItemBytes {
  std::size_t operator()(const T& x) const noexcept {
    if constexpr (requires {
                    x.size();
                    *x.data();
                  }) {
      return sizeof(T) + static_cast<std::size_t>(x.size()) * sizeof(*x.data());
    } else {
      return sizeof(T);
    }
  }
};

}  // namespace spindle::pipeline
