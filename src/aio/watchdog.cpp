// EventLoop's debug watchdog: times each step and reports slow ones, while they run and after (watchdog.hpp).

#include "watchdog.hpp"

#include <algorithm>
#include <typeinfo>

namespace spindle::aio::detail {
namespace {

std::int64_t real_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string describe_runnable(Runnable* r) {
  if (auto* t = dynamic_cast<TaskState*>(r)) {
    std::string s = "<Task name='" + t->name() + "'";
    if (t->created_file() != nullptr) {
      s += " created at " + std::string(t->created_file()) + ":" + std::to_string(t->created_line());
    }
    return s + ">";
  }
  return std::string("<Handle ") + typeid(*r).name() + ">";
}

}  // namespace

void Watchdog::start(std::chrono::nanoseconds slow, std::function<void(std::string_view)> log) {
  slow_ = slow;
  log_ = std::move(log);
  stop_ = false;
  thread_ = std::thread([this] {
    const auto tick = std::max<std::chrono::nanoseconds>(slow_ / 4, std::chrono::milliseconds(1));
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, tick);
      if (stop_) break;
      if (step_active_ && !step_reported_) {
        const std::int64_t blocked = real_now_ns() - step_start_;
        if (blocked > slow_.count()) {
          step_reported_ = true;
          const std::string line = "Executing " + step_what_ + " is blocking the event loop: " +
                                   std::to_string(static_cast<double>(blocked) / 1e9) +
                                   " s so far (slow_callback_duration " +
                                   std::to_string(static_cast<double>(slow_.count()) / 1e9) + " s)";
          lock.unlock();
          log_(line);
          lock.lock();
        }
      }
    }
  });
}

void Watchdog::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::run_steps(Runnable* r, std::chrono::nanoseconds slow, const std::function<void(std::string_view)>& log) {
  while (r != nullptr) {
    Runnable* next = r->next_;
    std::string what = describe_runnable(r);
    const std::int64_t t0 = real_now_ns();
    {
      std::lock_guard lock(mu_);
      step_active_ = true;
      step_reported_ = false;
      step_start_ = t0;
      step_what_ = what;
    }
    r->run();
    const std::int64_t took = real_now_ns() - t0;
    {
      std::lock_guard lock(mu_);
      step_active_ = false;
    }
    if (took > slow.count()) {
      log("Executing " + what + " took " + std::to_string(static_cast<double>(took) / 1e9) + " seconds");
    }
    r = next;
  }
}

}  // namespace spindle::aio::detail
