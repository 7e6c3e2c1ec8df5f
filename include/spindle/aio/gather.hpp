#pragma once
/// @file
/// `gather`: run awaitables concurrently and collect their results. Python equivalent: `asyncio.gather`.

#include <array>
#include <exception>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "spindle/aio/detail/multi_waiter.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/detail/pages.hpp"

namespace spindle::aio {

/// The outcome of one awaitable under `gather(return_exceptions, ...)`: a value or the exception it raised
/// (CancelledError included). Python returns the exception object in the result list; C++ needs a sum type.
template <class T>
class Outcome {
 public:
  /// A successful outcome.
  explicit Outcome(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  /// A failed outcome.
  explicit Outcome(std::exception_ptr error) : v_(std::in_place_index<1>, std::move(error)) {}
  /// True if the awaitable produced a value.
  bool ok() const noexcept { return v_.index() == 0; }
  /// The value; rethrows the exception if it failed.
  T& value() {
    if (!ok()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  /// The exception (null if ok).
  std::exception_ptr error() const noexcept { return ok() ? nullptr : std::get<1>(v_); }

 private:
  std::variant<T, std::exception_ptr> v_;
};

/// Outcome of an awaitable returning void.
template <>
class Outcome<void> {
 public:
  /// A successful outcome.
  Outcome() = default;
  /// A failed outcome.
  explicit Outcome(std::exception_ptr error) : e_(std::move(error)) {}
  /// True if it succeeded.
  bool ok() const noexcept { return e_ == nullptr; }
  /// Rethrows the exception if it failed.
  void value() const {
    if (e_) std::rethrow_exception(e_);
  }
  /// The exception (null if ok).
  std::exception_ptr error() const noexcept { return e_; }

 private:
  std::exception_ptr e_;
};

/// Tag for `gather(return_exceptions, ...)`. Python: `gather(..., return_exceptions=True)`.
struct ReturnExceptions {};
/// Pass as the first argument of gather to collect exceptions instead of raising the first one.
inline constexpr ReturnExceptions return_exceptions{};

/// The value type gather collects for a Task<T>: T, or std::monostate for void.
template <class T>
using gather_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

namespace detail {

/// Calls `fn(task)` for each task, prefetching the state of the task a few places ahead: a large fan-out's
/// states are cold by the time gather walks them, and one cache miss per task would dominate each pass.
template <class T, class F>
void for_each_task(std::vector<Task<T>>& tasks, F&& fn) {
  constexpr std::size_t ahead = 8;
  const std::size_t n = tasks.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (i + ahead < n) __builtin_prefetch(tasks[i + ahead].state());
    fn(tasks[i]);
  }
}

/// Makes room for the results, faulting a large vector's fresh pages in by one call rather than one fault a page
/// as they are written (W3: 800 KB of results). Below 64 KiB the vector is likely warm heap memory, and the
/// system call is not free.
template <class V>
void reserve_results(std::vector<V>& out, std::size_t n) {
  out.reserve(n);
  if constexpr (!std::is_same_v<V, bool>) {  // vector<bool> has no data()
    if (n * sizeof(V) >= 64 * 1024) spindle::detail::populate_pages(out.data(), n * sizeof(V));
  }
}

template <class T>
Task<T> ensure_task(Task<T> t) {
  if (!t.state()->is_root()) return create_task(std::move(t));
  return t;
}

template <class T>
gather_value_t<T> take_value(Task<T>& t) {
  if constexpr (std::is_void_v<T>) {
    std::move(t).result();
    return {};
  } else {
    return std::move(t).result();
  }
}

template <class T>
Outcome<T> take_outcome(Task<T>& t) {
  t.state()->mark_retrieved();
  if (t.state()->status() == TaskState::Status::finished) {
    if constexpr (std::is_void_v<T>) {
      return Outcome<void>();
    } else {
      return Outcome<T>(std::move(t).result());
    }
  }
  return Outcome<T>(t.state()->error());
}

/// After the wait: the awaiting task's cancellation (forwarded to the children) wins; otherwise the first
/// failure, in completion order, is raised (fail-fast mode).
inline void gather_check(MultiWaiter& w, bool fail_fast) {
  if (w.cancel_forwarded() &&
      (!fail_fast || w.first_failure() == nullptr || w.first_failure()->status() == TaskState::Status::cancelled)) {
    running_task().throw_cancelled();
  }
  if (fail_fast && w.first_failure() != nullptr) w.first_failure()->rethrow_if_failed();
}

}  // namespace detail

/// Runs every task concurrently (coroutines are scheduled as tasks) and returns their results in order.
/// **Errors:** the first exception (in completion order) is raised at once; the other tasks keep running, as in
/// Python (their later exceptions are reported when they are destroyed unretrieved).
/// **Cancellation:** cancelling the awaiting task cancels every task. **Python equivalent:** `await
/// asyncio.gather(*aws)`. For `Task<void>` the result is a vector of std::monostate.
template <class T>
Task<std::vector<gather_value_t<T>>> gather(std::vector<Task<T>> tasks) {
  detail::for_each_task(tasks, [](Task<T>& t) { t = detail::ensure_task(std::move(t)); });
  {
    detail::MultiWaiter w(detail::TaskList(tasks.data(), tasks.size()), detail::MultiWaiter::Mode::gather,
                          detail::MultiWaiter::OnCancel::forward);
    co_await w;
    detail::gather_check(w, true);
  }
  std::vector<gather_value_t<T>> out;
  detail::reserve_results(out, tasks.size());
  detail::for_each_task(tasks, [&out](Task<T>& t) { out.push_back(detail::take_value(t)); });
  co_return out;
}

/// As gather(tasks), but waits for all and returns each one's Outcome. Python: `gather(*aws,
/// return_exceptions=True)`.
template <class T>
Task<std::vector<Outcome<T>>> gather(ReturnExceptions, std::vector<Task<T>> tasks) {
  detail::for_each_task(tasks, [](Task<T>& t) { t = detail::ensure_task(std::move(t)); });
  {
    detail::MultiWaiter w(detail::TaskList(tasks.data(), tasks.size()), detail::MultiWaiter::Mode::all,
                          detail::MultiWaiter::OnCancel::forward);
    co_await w;
    detail::gather_check(w, false);
  }
  std::vector<Outcome<T>> out;
  detail::reserve_results(out, tasks.size());
  detail::for_each_task(tasks, [&out](Task<T>& t) { out.push_back(detail::take_outcome(t)); });
  co_return out;
}

namespace detail {
template <class X>
inline constexpr bool is_task_v = false;
template <class T>
inline constexpr bool is_task_v<Task<T>> = true;
template <class T>
inline constexpr bool is_task_v<ScheduledTask<T>> = true;
}  // namespace detail

/// gather over any range of tasks, e.g. a lazy view: `co_await gather(ids | std::views::transform(fetch))`.
/// The tasks are taken (moved) out of the range first. Python: `await asyncio.gather(*(fetch(i) for i in ids))`.
// clang-format off: clang-format 14 mangles requires-clauses
template <std::ranges::input_range R>
requires detail::is_task_v<std::remove_cvref_t<std::ranges::range_reference_t<R>>> &&
    (!std::is_same_v<std::remove_cvref_t<R>,
                     std::vector<Task<typename std::ranges::range_value_t<R>::value_type>>>)auto gather(R&& tasks) {
  // clang-format on
  using T = typename std::ranges::range_value_t<R>::value_type;
  std::vector<Task<T>> all;
  for (auto&& t : tasks) all.push_back(Task<T>(std::move(t)));
  return gather(std::move(all));
}

/// gather of `fn(x)` for every `x` of `items`: `co_await gather(fetch, spindle::range(50))`. The tasks are made
/// first, then run concurrently. Python: `await asyncio.gather(*(fetch(x) for x in items))`.
// clang-format off: clang-format 14 mangles requires-clauses
template <class F, std::ranges::input_range R>
requires detail::is_task_v<std::invoke_result_t<F&, std::ranges::range_reference_t<R>>>
auto gather(F fn, R&& items) {
  // clang-format on
  using T = typename std::invoke_result_t<F&, std::ranges::range_reference_t<R>>::value_type;
  std::vector<Task<T>> all;
  for (auto&& x : items) all.push_back(fn(x));
  return gather(std::move(all));
}

/// Variadic gather: `auto [a, b] = co_await gather(f(), g());` Python: `a, b = await gather(f(), g())`.
template <class... T>
Task<std::tuple<gather_value_t<T>...>> gather(Task<T>... tasks) {
  std::tuple<Task<T>...> ts(detail::ensure_task(std::move(tasks))...);
  {
    const std::array<detail::TaskState*, sizeof...(T)> states =
        std::apply([](auto&... t) { return std::array<detail::TaskState*, sizeof...(T)>{t.state()...}; }, ts);
    detail::MultiWaiter w(detail::TaskList(states.data(), states.size()), detail::MultiWaiter::Mode::gather,
                          detail::MultiWaiter::OnCancel::forward);
    co_await w;
    detail::gather_check(w, true);
  }
  co_return std::apply([](auto&... t) { return std::tuple<gather_value_t<T>...>(detail::take_value(t)...); }, ts);
}

/// Variadic gather with return_exceptions: a tuple of Outcome.
template <class... T>
Task<std::tuple<Outcome<T>...>> gather(ReturnExceptions, Task<T>... tasks) {
  std::tuple<Task<T>...> ts(detail::ensure_task(std::move(tasks))...);
  {
    const std::array<detail::TaskState*, sizeof...(T)> states =
        std::apply([](auto&... t) { return std::array<detail::TaskState*, sizeof...(T)>{t.state()...}; }, ts);
    detail::MultiWaiter w(detail::TaskList(states.data(), states.size()), detail::MultiWaiter::Mode::all,
                          detail::MultiWaiter::OnCancel::forward);
    co_await w;
    detail::gather_check(w, false);
  }
  co_return std::apply([](auto&... t) { return std::tuple<Outcome<T>...>(detail::take_outcome(t)...); }, ts);
}

}  // namespace spindle::aio
