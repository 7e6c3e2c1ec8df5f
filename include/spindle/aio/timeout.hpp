#pragma once
/// @file
/// `wait_for`, `timeout`, `timeout_at`: bound an awaitable in time. Python equivalent: `asyncio.wait_for`,
/// `asyncio.timeout`, `asyncio.timeout_at` (3.11+ semantics).

#include <chrono>
#include <climits>
#include <cstdint>
#include <exception>
#include <memory>
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
  /// Moves the deadline (INT64_MAX: none). **Errors:** InvalidStateError once it has expired (Python's
  /// RuntimeError "Cannot change state of expiring Timeout").
  void reschedule(std::int64_t deadline_ns) {
    if (expired()) throw InvalidStateError("Cannot change state of expiring Timeout");
    timer_.cancel();
    timer_ = Handle();
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

/// What an aio::Timeout shares with the scope that runs it.
struct TimeoutShared {
  std::int64_t deadline_ns = INT64_MAX;  // INT64_MAX: none
  TimeoutScope* scope = nullptr;         // while the block runs
  bool entered = false;
  bool expired = false;
};

/// Registers a running scope with its Timeout object (if any) and records how it ended.
class TimeoutLink {
 public:
  TimeoutLink(TimeoutShared* shared, TimeoutScope& scope) noexcept : shared_(shared) {
    if (shared_ != nullptr) shared_->scope = &scope;
  }
  TimeoutLink(const TimeoutLink&) = delete;
  TimeoutLink& operator=(const TimeoutLink&) = delete;
  ~TimeoutLink() {
    if (shared_ == nullptr) return;
    shared_->expired = shared_->scope->expired();
    shared_->scope = nullptr;
  }

 private:
  TimeoutShared* shared_;
};

template <class T>
Task<T> run_with_deadline(Task<T> aw, std::int64_t deadline_ns, TimeoutShared* shared = nullptr) {
  TimeoutScope scope(running_task(), deadline_ns);
  TimeoutLink link(shared, scope);
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

/// aio::Timeout::run: the frame owns the shared state, so a Timeout that was a temporary cannot dangle.
template <class T>
Task<T> run_with_timeout(Task<T> aw, std::shared_ptr<TimeoutShared> shared) {
  co_return co_await run_with_deadline(std::move(aw), shared->deadline_ns, shared.get());
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

/// A deadline the block it bounds can read and move: the context manager of `async with asyncio.timeout(d) as
/// cm:`. Make it, hand it to the block (copies share it), and run the block with `co_await cm.run(block(cm))`;
/// inside, `cm.reschedule(when)` moves the deadline and `cm.when()` reads it; afterwards `cm.expired()` says
/// whether the deadline cut the block (which then threw TimeoutError). One run per Timeout, as in Python.
///
/// **Thread safety:** the loop's thread only. **Errors:** run() throws TimeoutError on expiry and
/// InvalidStateError when this Timeout already ran; reschedule() throws InvalidStateError once it expired.
/// **Python equivalent:** `asyncio.Timeout(when)` (3.11).
class Timeout {
 public:
  /// No deadline yet (set one with reschedule). Python: `asyncio.timeout(None)`, `asyncio.Timeout(None)`.
  Timeout() : s_(std::make_shared<detail::TimeoutShared>()) {}
  /// A deadline `delay` from now on the running loop's clock. Python: `asyncio.timeout(delay)`.
  template <class Rep, class Period>
  static Timeout after(std::chrono::duration<Rep, Period> delay) {
    Timeout t;
    t.s_->deadline_ns = detail::deadline_in(delay);
    return t;
  }
  /// An absolute deadline on the loop's clock. Python: `asyncio.timeout_at(when)`, `asyncio.Timeout(when)`.
  static Timeout at(std::chrono::steady_clock::time_point when) {
    Timeout t;
    t.s_->deadline_ns = detail::to_ns(when);
    return t;
  }

  /// Runs `block` under this deadline. Python: `async with cm: ...`.
  template <class T>
  Task<T> run(Task<T> block) {
    if (s_->entered) throw InvalidStateError("Timeout has already been entered");
    s_->entered = true;
    return detail::run_with_timeout(std::move(block), s_);  // not a coroutine: s_ is copied by this call
  }
  /// Moves the deadline (nullopt: none), also while the block runs. Python: `cm.reschedule(when)`.
  void reschedule(std::optional<std::chrono::steady_clock::time_point> when) {
    const std::int64_t ns = when ? detail::to_ns(*when) : INT64_MAX;
    if (s_->expired) throw InvalidStateError("Cannot change state of expiring Timeout");
    if (s_->scope != nullptr) s_->scope->reschedule(ns);
    s_->deadline_ns = ns;
  }
  /// The deadline, if any. Python: `cm.when()`.
  std::optional<std::chrono::steady_clock::time_point> when() const {
    if (s_->deadline_ns == INT64_MAX) return std::nullopt;
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(s_->deadline_ns));
  }
  /// True once the deadline passed and cut the block. Python: `cm.expired()`.
  bool expired() const noexcept { return s_->expired || (s_->scope != nullptr && s_->scope->expired()); }

 private:
  std::shared_ptr<detail::TimeoutShared> s_;
};

}  // namespace spindle::aio
