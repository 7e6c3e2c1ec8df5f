#pragma once
/// @file
/// `Timer`: a Thread that calls a function after a delay unless cancelled. Python equivalent:
/// `threading.Timer`.

#include <chrono>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "spindle/thread/event.hpp"
#include "spindle/thread/thread.hpp"

namespace spindle {

/// A Thread that, once started, waits `interval` and then calls `fn(args...)`, unless cancel() came first.
/// The wait is on an Event with a timeout, so cancel() wakes the timer thread at once (no polling) and a
/// cancelled Timer's join() returns promptly. Everything else (start, join, is_alive, name, daemon) is
/// Thread's; like any Thread, a running non-daemon Timer is joined when destroyed, so destroy a long timer
/// after cancel() or make it a daemon.
///
/// **Thread safety:** cancel() may be called from any thread, before or after start(), any number of times.
/// **Errors:** as Thread; an exception from `fn` is reported through report_unhandled_exception.
/// **Cancellation:** cancel() before the interval ends means `fn` never runs; after `fn` started it has no
/// effect (fn is never interrupted).
/// **Python equivalent:** `threading.Timer(interval, function, args)`.
class Timer : public Thread {
 public:
  /// A timer that calls `fn(args...)` `interval` after start() (a negative or zero interval: at once).
  // clang-format off: clang-format 14 mangles requires-clauses
  template <class Rep, class Period, class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> Timer(
      std::chrono::duration<Rep, Period> interval, F&& fn, Args&&... args)
      : Timer(ThreadOptions{}, interval, std::forward<F>(fn), std::forward<Args>(args)...) {}
  // clang-format on

  /// As above, with the Thread's name and daemon flag.
  // clang-format off: clang-format 14 mangles requires-clauses
  template <class Rep, class Period, class F, class... Args>
  requires std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...> Timer(
      ThreadOptions options, std::chrono::duration<Rep, Period> interval, F&& fn, Args&&... args)
      : Timer(std::move(options), std::make_shared<Event>(), std::chrono::duration<double>(interval),
              std::bind_front(std::forward<F>(fn), std::forward<Args>(args)...)) {}
  // clang-format on

  /// Stops the timer if it is still waiting: the function will not run. Python: `cancel()`.
  void cancel() noexcept {
    if (finished_) finished_->set();  // a moved-from Timer has nothing to cancel
  }

 private:
  template <class Call>
  Timer(ThreadOptions options, std::shared_ptr<Event> finished, std::chrono::duration<double> interval, Call call)
      : Thread(std::move(options), &Timer::body<Call>, finished, interval, std::move(call)),
        finished_(std::move(finished)) {}

  template <class Call>
  static void body(const std::shared_ptr<Event>& finished, std::chrono::duration<double> interval, Call&& call) {
    struct SetOnExit {
      Event& event;
      ~SetOnExit() { event.set(); }  // Python's `finally: self.finished.set()`
    } guard{*finished};
    if (!finished->wait(interval)) std::invoke(std::forward<Call>(call));
  }

  std::shared_ptr<Event> finished_;
};

}  // namespace spindle
