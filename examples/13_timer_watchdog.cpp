// Timer as a watchdog: arm a Timer before a job, cancel it when the job finishes in time. A cancelled Timer's
// thread wakes at once (it waits on an Event with a timeout), so the program never waits out the full
// interval. A second watchdog is given a job that overruns, and fires.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "spindle/thread/timer.hpp"

using namespace std::chrono_literals;

// Runs `job` under a watchdog of `limit`; returns true if the watchdog fired.
template <class Job>
bool run_with_watchdog(const char* name, std::chrono::milliseconds limit, Job job) {
  std::atomic<bool> fired{false};
  spindle::Timer watchdog(spindle::ThreadOptions{.name = "watchdog"}, limit, [&] {
    fired = true;
    std::printf("watchdog: %s is taking longer than %lld ms\n", name, static_cast<long long>(limit.count()));
  });
  watchdog.start();
  job();
  watchdog.cancel();  // too late if it already fired; harmless either way
  watchdog.join();
  return fired;
}

int main() {
  const auto t0 = std::chrono::steady_clock::now();
  const bool quick_fired = run_with_watchdog("quick job", 2000ms, [] { std::this_thread::sleep_for(20ms); });
  const double quick_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("quick job: watchdog %s, done in %.2fs (not the watchdog's 2 s)\n", quick_fired ? "fired" : "cancelled",
              quick_s);

  const bool slow_fired = run_with_watchdog("slow job", 20ms, [] { std::this_thread::sleep_for(100ms); });
  std::printf("slow job: watchdog %s\n", slow_fired ? "fired" : "cancelled");
  return !quick_fired && slow_fired ? 0 : 1;
}
