#pragma once
/// @file
/// `range(n)` and `range(start, stop, step)`: Python's range, a lazy sequence of integers to hand to `map`,
/// `gather` or a range-for. (std::views::iota does the same, but clang 14 cannot compile it against
/// libstdc++ 12.)

#include <cstddef>
#include <iterator>
#include <stdexcept>

namespace spindle {

/// A lazy arithmetic sequence of `long`s, as Python's `range`. **Errors:** std::invalid_argument for a zero
/// step. **Python equivalent:** `range(start, stop, step)`.
class range {
 public:
  /// Python: `range(stop)`: 0, 1, ..., stop - 1.
  explicit range(long stop) noexcept : range(0, stop, 1) {}
  /// Python: `range(start, stop, step)`.
  range(long start, long stop, long step = 1) : start_(start), step_(step) {
    if (step == 0) throw std::invalid_argument("range() arg 3 must not be zero");
    const long span = step > 0 ? stop - start : start - stop;
    const long by = step > 0 ? step : -step;
    size_ = span <= 0 ? 0 : static_cast<std::size_t>((span + by - 1) / by);
  }

  /// A forward iterator over the values.
  class iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::forward_iterator_tag;
    using value_type = long;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(long value, long step) noexcept : value_(value), step_(step) {}
    long operator*() const noexcept { return value_; }
    iterator& operator++() noexcept {
      value_ += step_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator old = *this;
      value_ += step_;
      return old;
    }
    bool operator==(const iterator& other) const noexcept { return value_ == other.value_; }

   private:
    long value_ = 0;
    long step_ = 1;
  };

  /// The first value.
  iterator begin() const noexcept { return {start_, step_}; }
  /// One step past the last value.
  iterator end() const noexcept { return {start_ + static_cast<long>(size_) * step_, step_}; }
  /// Python: `len(r)`.
  std::size_t size() const noexcept { return size_; }
  /// Python: `not r`.
  bool empty() const noexcept { return size_ == 0; }

 private:
  long start_;
  long step_;
  std::size_t size_ = 0;
};

}  // namespace spindle
