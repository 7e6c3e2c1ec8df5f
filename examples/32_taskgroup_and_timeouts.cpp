// Structured concurrency and deadlines: a TaskGroup whose failing child cancels its siblings (and reports every
// failure together), wait_for that cancels a slow call, and a timeout around a block.
// Python: `async with asyncio.TaskGroup() as tg: ...`, `await asyncio.wait_for(aw, 0.05)`,
// `async with asyncio.timeout(0.05): ...`.

#include <cstdio>
#include <stdexcept>
#include <string>

#include "spindle/aio.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

aio::Task<int> job(std::string name, std::chrono::milliseconds d, bool fail) {
  try {
    co_await aio::sleep(d);
  } catch (const spindle::CancelledError&) {
    std::printf("  %s: cancelled, cleaning up\n", name.c_str());
    throw;
  }
  if (fail) throw std::runtime_error(name + " failed");
  std::printf("  %s: done\n", name.c_str());
  co_return 1;
}

aio::Task<int> demo() {
  int failures = 0;
  std::printf("TaskGroup, one child fails:\n");
  try {
    co_await aio::task_group([](aio::TaskGroup& tg) -> aio::Task<void> {
      tg.create_task(job("fast", 10ms, false));
      tg.create_task(job("broken", 20ms, true));
      tg.create_task(job("slow", 1s, false));
      co_return;
    });
  } catch (const aio::ExceptionGroup& g) {
    std::printf("  ExceptionGroup: %s\n", g.what());
    failures += static_cast<int>(g.exceptions().size());
  }

  std::printf("wait_for with a 50 ms budget:\n");
  try {
    co_await aio::wait_for(job("slow-call", 1s, false), 50ms);
  } catch (const spindle::TimeoutError&) {
    std::printf("  TimeoutError\n");
    ++failures;
  }

  std::printf("timeout() around a block:\n");
  const int v = co_await aio::timeout(200ms, job("quick-block", 10ms, false));
  co_return failures == 2 && v == 1 ? 0 : 1;
}

int main() { return aio::run(demo()); }
