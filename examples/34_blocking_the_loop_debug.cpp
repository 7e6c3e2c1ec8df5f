// Seed 002's "critical mistake: blocking the event loop", caught in the act. In debug mode a watchdog reports a
// step that blocks longer than slow_callback_duration (100 ms) while it still blocks, naming the task and where
// it was created. The fix is shown too: the same call through to_thread leaves the loop free.
// Python: `asyncio.run(main(), debug=True)` logs "Executing <Task ...> took 0.3 seconds" afterwards only.

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "spindle/aio.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

aio::Task<void> bad_handler() {
  std::this_thread::sleep_for(300ms);  // BLOCKS the loop: every other task waits
  co_return;
}

aio::Task<void> good_handler() {
  co_await aio::to_thread([] { std::this_thread::sleep_for(300ms); });  // blocks a pool thread instead
}

aio::Task<int> main_task(std::atomic<int>& reports) {
  aio::EventLoop::get_running_loop().set_debug_logger([&](std::string_view line) {
    std::printf("[debug] %.*s\n", static_cast<int>(line.size()), line.data());
    reports.fetch_add(1);
  });
  co_await aio::create_task(bad_handler(), "bad_handler");
  const int after_bad = reports.load();
  co_await aio::create_task(good_handler(), "good_handler");
  std::printf("reports: %d for the blocking handler, %d for the to_thread one\n", after_bad,
              reports.load() - after_bad);
  co_return after_bad >= 1 && reports.load() == after_bad ? 0 : 1;
}

int main() {
  std::atomic<int> reports{0};
  return aio::run(main_task(reports), true);  // debug mode (or SPINDLE_AIO_DEBUG=1)
}
