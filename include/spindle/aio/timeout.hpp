#pragma once
/// @file
/// `wait_for`, `timeout`, `timeout_at`: bound an awaitable in time. Python equivalent: `asyncio.wait_for`,
/// `asyncio.timeout`, `asyncio.timeout_at` (3.11+ semantics).

#include <chrono>
#include <climits>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio {

namespace detail {

/// A deadline on the current task, Python's `asyncio.Timeout`. When it expires, the task is cancelled; when
/// the scope exits with the CancelledError it caused (and no other cancellation is pending: `uncancel()`
/// brings the count back to where it was), the error becomes TimeoutError. An outer cancellation is never
/// swallowed (CPython bug 86296). If the awaited thing finished in the very iteration the deadline passed
/// (the task is woken but has not run yet), the cancellation is deferred by one step so the result that won
/// the race is delivered.
class TimeoutScope {
 public:
  TimeoutScope(TaskState& task, std::int64_t deadline_ns) : task_(task), base_(task.cancelling()) {
    if (deadline_ns != INT64_MAX) arm(deadline_ns);
  }
  TimeoutScope(const TimeoutScope&) = delete;
  TimeoutScope& operator=(const TimeoutScope&) = delete;
  ~TimeoutScope() { timer_.cancel(); }

  /// The scope's body finished with `error` (null: success). Throws TimeoutError, or rethrows `error`.
  void exit(std::exception_ptr error) {
    timer_.cancel();
    if (expiring_) {
      expiring_ = false;
      expired_ = true;
      if (task_.uncancel() <= base_ && error != nullptr) {
        try {
          std::rethrow_exception(error);
        } catch (const CancelledError&) {
          throw TimeoutError();
        } catch (...) {
        }
      }
    }
    if (error != nullptr) std::rethrow_exception(error);
  }
  /// True once the deadline passed and cancelled the body. Python: `Timeout.expired()`.
  bool expired() const noexcept { return expired_ || expiring_; }

 private:
  void arm(std::int64_t deadline_ns) {
    EventLoop& loop = *task_.loop()->owner;
    timer_ =
        loop.call_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(deadline_ns)), [this] { fire(); });
  }
  void fire() {
    if (task_.done()) return;
    if (task_.scheduled() && !task_.suspended()) {
      // Woken this very iteration (its await completed): give the result a chance; look again next step.
      timer_ = task_.loop()->owner->call_soon([this] { fire(); });
      return;
    }
    expiring_ = true;
    task_.cancel();
  }

  TaskState& task_;
  int base_;
  Handle timer_;
  bool expiring_ = false;
  bool expired_ = false;
};

inline std::int64_t to_ns(std::chrono::steady_clock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

template <class Rep, class Period>
std::int64_t deadline_in(std::chrono::duration<Rep, Period> d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  LoopCore& l = running_core();
  l.now_valid = false;
  const std::int64_t now = l.time_ns();
  return ns >= INT64_MAX - now ? INT64_MAX : now + ns;
}

template <class T>
Task<T> run_with_deadline(Task<T> aw, std::int64_t deadline_ns) {
  TimeoutScope scope(running_task(), deadline_ns);
  std::exception_ptr error;
  if constexpr (std::is_void_v<T>) {
    try {
      co_await std::move(aw);
    } catch (...) {
      error = std::current_exception();
    }
    scope.exit(error);
  } else {
    std::optional<T> value;
    try {
      value.emplace(co_await std::move(aw));
    } catch (...) {
      error = std::current_exception();
    }
    scope.exit(error);
    co_return std::move(*value);
  }
}

}  // namespace detail

/// Awaits `aw` (a coroutine runs inline in this task; a scheduled task is awaited) for at most `timeout`; on
/// expiry cancels it, waits for it to finish, and throws TimeoutError. A timeout <= 0 never starts a coroutine.
/// **Cancellation:** an outer cancellation always propagates as CancelledError, even when it races the timeout.
/// **Python equivalent:** `await asyncio.wait_for(aw, timeout)`.
template <class T, class Rep, class Period>
Task<T> wait_for(Task<T> aw, std::chrono::duration<Rep, Period> timeout) {
  if (timeout <= std::chrono::duration<Rep, Period>::zero()) {
    Task<T> t = aw.state()->is_root() ? std::move(aw) : create_task(std::move(aw));
    if (!t.done()) {
      t.cancel();
      try {
        co_return co_await std::move(t);
      } catch (const CancelledError&) {
        if (!t.cancelled()) throw;
      }
      throw TimeoutError();
    }
    co_return co_await std::move(t);
  }
  co_return co_await detail::run_with_deadline(std::move(aw), detail::deadline_in(timeout));
}

/// Runs `aw` with a deadline `delay` from now: the async block of Python's `async with asyncio.timeout(d):`
/// is the awaitable here (often a lambda coroutine). **Errors:** TimeoutError on expiry.
/// **Python equivalent:** `async with asyncio.timeout(delay): await aw`.
template <class T, class Rep, class Period>
Task<T> timeout(std::chrono::duration<Rep, Period> delay, Task<T> aw) {
  co_return co_await detail::run_with_deadline(std::move(aw), detail::deadline_in(delay));
}

/// As timeout(), with an absolute deadline on the loop's clock. Python: `asyncio.timeout_at(when)`.
template <class T>
Task<T> timeout_at(std::chrono::steady_clock::time_point when, Task<T> aw) {
  co_return co_await detail::run_with_deadline(std::move(aw), detail::to_ns(when));
}

}  // namespace spindle::aio
