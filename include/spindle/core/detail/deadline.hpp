#pragma once
// Timeouts become absolute steady-clock deadlines once, so that loops that wake spuriously never extend them.

#include <chrono>
#include <type_traits>

namespace spindle::detail {

using SteadyTime = std::chrono::steady_clock::time_point;

/// "No deadline".
inline constexpr SteadyTime kNoDeadline = SteadyTime::max();

/// now + timeout, saturating at kNoDeadline; a zero or negative timeout means "now" (poll).
template <class Rep, class Period>
SteadyTime deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
  const auto now = std::chrono::steady_clock::now();
  if (timeout <= timeout.zero()) return now;
  // Compare in floating seconds, which cannot overflow, before converting exactly.
  const std::chrono::duration<double> wanted = timeout;
  const std::chrono::duration<double> left = kNoDeadline - now;
  if (wanted >= left) return kNoDeadline;
  return now + std::chrono::ceil<std::chrono::steady_clock::duration>(timeout);
}

/// Any clock's time point as a steady-clock deadline.
template <class Clock, class Duration>
SteadyTime to_steady(std::chrono::time_point<Clock, Duration> t) noexcept {
  if constexpr (std::is_same_v<Clock, std::chrono::steady_clock>) {
    return std::chrono::time_point_cast<std::chrono::steady_clock::duration>(t);
  } else {
    return deadline_after(t - Clock::now());
  }
}

}  // namespace spindle::detail
