#pragma once
// The debug-mode watchdog of an event loop (slow_callback_duration). Internal to src/aio.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "spindle/aio/detail/core.hpp"

namespace spindle::aio::detail {

/// In debug mode the loop runs its steps through `run_steps`, which times each one: a step longer than the
/// threshold is reported when it ends, and the watchdog thread reports one that is still running (Python
/// reports only after the step ends).
class Watchdog {
 public:
  Watchdog() = default;
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Starts the watchdog thread (run_forever in debug mode); reports go to `log`.
  void start(std::chrono::nanoseconds slow, std::function<void(std::string_view)> log);
  /// Stops and joins it (run_forever's end).
  void stop();
  /// Runs the steps linked from `r` (through `next_`), timing each; one over `slow` is reported to `log`. Works
  /// without the thread too (debug turned on while the loop runs: only the after-the-step reports).
  void run_steps(Runnable* r, std::chrono::nanoseconds slow, const std::function<void(std::string_view)>& log);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::chrono::nanoseconds slow_{0};            // the thread's
  std::function<void(std::string_view)> log_;  // the thread's
  bool stop_ = false;
  bool step_active_ = false;
  bool step_reported_ = false;
  std::int64_t step_start_ = 0;
  std::string step_what_;
};

}  // namespace spindle::aio::detail
