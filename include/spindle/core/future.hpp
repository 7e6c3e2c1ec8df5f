#pragma once
/// @file
/// `Future<T>` and `Promise<T>`: the result of work that runs elsewhere. Python equivalent:
/// `concurrent.futures.Future`.

#include <chrono>
#include <concepts>
#include <exception>
#include <type_traits>
#include <utility>

#include "spindle/core/detail/deadline.hpp"
#include "spindle/core/detail/shared_state.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/core/unhandled.hpp"

namespace spindle {

template <class T>
class Future;
template <class T>
class Promise;

namespace detail {
template <class T>
Future<T> adopt_future(SharedState<T>* state) noexcept;
template <class T>
SharedState<T>* state_of(const Future<T>& f) noexcept;
}  // namespace detail

/// The eventual result of an asynchronous computation: a value of type T (which may be `void` or move-only),
/// an exception, or cancellation. Copies share the same state, as Python's future objects do.
///
/// **Thread safety:** every member may be called concurrently from any thread.
/// **Errors:** `result()` rethrows the work's exception, throws `CancelledError` if cancelled and
/// `TimeoutError` if a timeout passes first.
/// **Waiting inside a pool:** an untimed wait (`result()`, `wait()`, `exception()`) on a thread-pool worker
/// runs a still-queued task of the same pool itself, and throws `DeadlockError` when it provably could never
/// return (every worker that could run the awaited task is itself blocked waiting on queued tasks). A timed
/// wait does neither: it times out.
/// **Python equivalent:** `concurrent.futures.Future`.
template <class T>
class Future {
  static_assert(!std::is_reference_v<T>, "Future<T&> is not supported: use Future<std::reference_wrapper<T>>");

 public:
  /// The type of the result.
  using value_type = T;

  /// An empty future that refers to no state (`valid()` is false).
  Future() noexcept = default;
  Future(const Future& other) noexcept : state_(other.state_) {
    if (state_) state_->add_ref();
  }
  Future(Future&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  Future& operator=(Future other) noexcept {
    std::swap(state_, other.state_);
    return *this;
  }
  ~Future() {
    if (state_) state_->release();
  }

  /// True if this future refers to a state. Every other member requires it.
  bool valid() const noexcept { return state_ != nullptr; }

  /// True if the work finished (with a value or an exception) or was cancelled. Python: `done()`.
  bool done() const noexcept { return state_->done(); }
  /// True while the work runs and can no longer be cancelled. Python: `running()`.
  bool running() const noexcept {
    const uint32_t s = state_->status();
    return s == detail::kRunning || s == detail::kCompleting;
  }
  /// True if the work was cancelled. Python: `cancelled()`.
  bool cancelled() const noexcept { return state_->status() == detail::kCancelled; }

  /// Cancels the work if it has not started; returns false if it is running or done. Python: `cancel()`.
  bool cancel() noexcept { return state_->cancel(); }

  /// Blocks until the work is done. On a pool worker waiting on its own pool's queued task, runs the task
  /// itself; throws DeadlockError if the wait provably never returns (see the class comment).
  /// Python: `concurrent.futures.wait([f])`.
  void wait() const { state_->wait(); }
  /// Blocks until done or `timeout` passes; true if done. A finite timeout never throws.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return state_->wait_until(deadline_after(timeout));
  }
  /// Blocks until done or `deadline`; true if done. A finite deadline never throws.
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> deadline) const {
    return state_->wait_until(to_steady(deadline));
  }

  /// Waits for and returns the result (a reference to the stored value, valid while a copy of this future
  /// lives). Rethrows the work's exception; throws CancelledError if cancelled. Python: `result()`.
  decltype(auto) result() & { return get(std::chrono::steady_clock::time_point::max()); }
  /// As result(), but waits at most `timeout`, then throws TimeoutError. Python: `result(timeout)`.
  template <class Rep, class Period>
  decltype(auto) result(std::chrono::duration<Rep, Period> timeout) & {
    return get(deadline_after(timeout));
  }
  /// On a const future, the result by const reference.
  std::conditional_t<std::is_void_v<T>, void, std::add_lvalue_reference_t<const T>> result() const& {
    return const_cast<Future*>(this)->get(std::chrono::steady_clock::time_point::max());
  }
  /// On an rvalue future (`std::move(f).result()` or `pool.submit(...).result()`), the result is moved out,
  /// which is what move-only results need.
  T result() && { return move_out(std::chrono::steady_clock::time_point::max()); }
  /// As `result() &&` with a timeout.
  template <class Rep, class Period>
  T result(std::chrono::duration<Rep, Period> timeout) && {
    return move_out(deadline_after(timeout));
  }

  /// Waits, then returns the work's exception, or null if it succeeded; throws CancelledError if cancelled.
  /// Python: `exception()`.
  std::exception_ptr exception() const {
    state_->wait();
    return exception_now();
  }
  /// As exception(), but throws TimeoutError after `timeout`. Python: `exception(timeout)`.
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    if (!state_->wait_until(deadline_after(timeout))) throw TimeoutError();
    return exception_now();
  }

  /// Calls `fn(future)` once the future is done, on the thread that completes it, or at once on this thread
  /// if it is already done. An exception from `fn` goes to the unhandled-exception handler. Python:
  /// `add_done_callback(fn)`.
  template <class F>
    requires std::invocable<F&, const Future<T>&>
  void add_done_callback(F&& fn) const {
    auto* node = new CallbackOf<std::decay_t<F>>(std::forward<F>(fn));
    if (!state_->add_callback(node)) node->invoke(*state_);
  }

  /// Two futures are equal if they share a state.
  friend bool operator==(const Future& a, const Future& b) noexcept { return a.state_ == b.state_; }

 private:
  friend Future detail::adopt_future<T>(detail::SharedState<T>*) noexcept;
  friend detail::SharedState<T>* detail::state_of<T>(const Future&) noexcept;
  explicit Future(detail::SharedState<T>* s) noexcept : state_(s) {}

  template <class Rep, class Period>
  static detail::SteadyTime deadline_after(std::chrono::duration<Rep, Period> timeout) noexcept {
    return detail::deadline_after(timeout);
  }
  template <class Clock, class Duration>
  static detail::SteadyTime to_steady(std::chrono::time_point<Clock, Duration> t) noexcept {
    return detail::to_steady(t);
  }

  std::exception_ptr exception_now() const {
    if (state_->status() == detail::kCancelled) throw CancelledError();
    return state_->error();
  }

  decltype(auto) get(std::chrono::steady_clock::time_point deadline) {
    if (!state_->wait_until(deadline)) throw TimeoutError();
    state_->rethrow_if_failed();
    if constexpr (std::is_void_v<T>) {
      return;
    } else {
      return static_cast<T&>(state_->value());
    }
  }
  T move_out(std::chrono::steady_clock::time_point deadline) {
    if constexpr (std::is_void_v<T>) {
      get(deadline);
    } else {
      return std::move(get(deadline));
    }
  }

  template <class F>
  class CallbackOf final : public detail::CallbackNode {
   public:
    explicit CallbackOf(F fn) : fn_(std::move(fn)) {}
    void invoke(detail::StateBase& s) noexcept override {
      auto* typed = static_cast<detail::SharedState<T>*>(&s);
      typed->add_ref();
      const Future f(typed);
      try {
        fn_(f);
      } catch (...) {
        report_unhandled_exception("Future done-callback", std::current_exception());
      }
      delete this;
    }
    void discard() noexcept override { delete this; }

   private:
    F fn_;
  };

  detail::SharedState<T>* state_ = nullptr;
};

/// The producer's side of a Future: sets the result once. Move-only. Destroying a promise that never set a
/// result fails its future with BrokenPromise, so no consumer waits forever.
///
/// **Thread safety:** the setters may race each other and cancel(); exactly one wins, the others throw
/// InvalidStateError. **Python equivalent:** the `set_result` / `set_exception` half of
/// `concurrent.futures.Future`.
template <class T>
class Promise {
 public:
  /// A new promise with a new, pending state.
  Promise() : state_(new detail::SharedState<T>(1)) {}
  Promise(Promise&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  Promise& operator=(Promise&& other) noexcept {
    if (this != &other) {
      abandon();
      state_ = std::exchange(other.state_, nullptr);
    }
    return *this;
  }
  Promise(const Promise&) = delete;
  Promise& operator=(const Promise&) = delete;
  ~Promise() { abandon(); }

  /// A future sharing this promise's state; may be called any number of times.
  Future<T> get_future() const {
    state_->add_ref();
    return detail::adopt_future(state_);
  }

  /// Python: `set_running_or_notify_cancel()`: false if the future was cancelled, true if it is now running.
  bool set_running_or_notify_cancel() { return state_->set_running_or_notify_cancel(); }

  /// Stores the result and wakes waiters. Throws InvalidStateError if the future is already done.
  template <class... A>
  void set_result(A&&... value) {
    if (!state_->try_claim()) throw InvalidStateError("set_result: future is already done");
    state_->emplace_claimed(std::forward<A>(value)...);
  }
  /// Stores an exception. Throws InvalidStateError if the future is already done.
  void set_exception(std::exception_ptr error) {
    if (!error) throw std::invalid_argument("set_exception: null exception_ptr");
    if (!state_->try_claim()) throw InvalidStateError("set_exception: future is already done");
    state_->set_exception_claimed(std::move(error));
  }
  /// Stores `error` as the exception.
  template <class E>
    requires std::derived_from<std::decay_t<E>, std::exception>
  void set_exception(E&& error) {
    set_exception(std::make_exception_ptr(std::forward<E>(error)));
  }

 private:
  void abandon() noexcept {
    if (!state_) return;
    if (state_->try_claim()) state_->set_exception_claimed(std::make_exception_ptr(BrokenPromise()));
    state_->release();
    state_ = nullptr;
  }
  detail::SharedState<T>* state_;
};

/// A future that is already done with `value`.
template <class T, class... A>
Future<T> make_ready_future(A&&... value) {
  Promise<T> p;
  p.set_result(std::forward<A>(value)...);
  return p.get_future();
}

/// A future that is already done with `error`.
template <class T>
Future<T> make_exceptional_future(std::exception_ptr error) {
  Promise<T> p;
  p.set_exception(std::move(error));
  return p.get_future();
}

namespace detail {
template <class T>
Future<T> adopt_future(SharedState<T>* state) noexcept {
  return Future<T>(state);
}
template <class T>
SharedState<T>* state_of(const Future<T>& f) noexcept {
  return f.state_;
}

/// Anything that is a spindle::Future.
template <class F>
struct is_future : std::false_type {};
template <class T>
struct is_future<Future<T>> : std::true_type {};
}  // namespace detail

/// Satisfied by every `Future<T>`.
template <class F>
concept FutureLike = detail::is_future<std::remove_cvref_t<F>>::value;

}  // namespace spindle
