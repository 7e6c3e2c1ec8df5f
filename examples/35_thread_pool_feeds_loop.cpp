// A thread pool feeding an event loop: the pool's workers do blocking or CPU work, then hand coroutines to a loop
// that runs on a thread of its own (where an async service lives: here a connection limit shared by everyone)
// and wait for their results. Cancelling a future cancels the coroutine on the loop; exceptions come back.
// Python: `asyncio.run_coroutine_threadsafe(coro, loop).result()` from `ThreadPoolExecutor` workers.

#include <cstdio>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "spindle/aio.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

// The loop's side: a "remote call" that at most two callers make at once (the semaphore belongs to the loop
// thread: only coroutines running there touch it).
aio::Semaphore connections(2);

aio::Task<std::string> remote_lookup(int id) {
  co_await connections.acquire();
  struct Release {
    ~Release() { connections.release(); }
  } release;
  co_await aio::sleep(5ms);  // the network
  if (id == 5) throw std::runtime_error("lookup " + std::to_string(id) + ": not found");
  co_return "record-" + std::to_string(id * id);
}

aio::Task<void> hang_forever(std::latch* started, bool* cancelled) {
  started->count_down();
  try {
    co_await aio::sleep(1h);
  } catch (const spindle::CancelledError&) {
    *cancelled = true;  // runs on the loop when the worker cancels the future
    throw;
  }
}

// A worker's side: some work of its own, then a coroutine handed to the loop, and a blocking wait.
std::string worker(aio::EventLoop& loop, int id) {
  long sum = 0;
  for (int i = 0; i < 100000; ++i) sum += i % (id + 1);  // the thread's own work
  spindle::Future<std::string> reply = aio::run_coroutine_threadsafe(loop, remote_lookup, id);
  try {
    return "job " + std::to_string(id) + " (" + std::to_string(sum % 100) + "): " + reply.result();
  } catch (const std::exception& e) {
    return "job " + std::to_string(id) + " failed: " + e.what();
  }
}

int main() {
  aio::EventLoop loop;
  std::thread loop_thread([&loop] { loop.run_forever(); });

  int failures = 0;
  {
    spindle::ThreadPoolExecutor pool(4);
    std::vector<spindle::Future<std::string>> jobs;
    for (int id = 0; id < 8; ++id) jobs.push_back(pool.submit(worker, std::ref(loop), id));
    for (auto& job : jobs) {
      const std::string line = job.result();
      if (line.find("failed") != std::string::npos) ++failures;
      std::printf("%s\n", line.c_str());
    }
  }

  // Cancelling from a thread cancels the coroutine on the loop (one cancelled before it started never runs).
  bool cancelled = false;
  std::latch started(1);
  auto slow = aio::run_coroutine_threadsafe(loop, hang_forever, &started, &cancelled);
  started.wait();
  slow.cancel();
  auto check = [&cancelled]() -> aio::Task<bool> { co_return cancelled; };
  // What a thread posts to the loop runs in order: the task's cancellation runs before `check`.
  const bool seen = aio::run_coroutine_threadsafe(loop, check).result();
  std::printf("slow call cancelled: %s (on the loop: %s)\n", slow.cancelled() ? "yes" : "no", seen ? "yes" : "no");

  loop.call_soon_threadsafe([&loop] { loop.stop(); });
  loop_thread.join();
  loop.close();
  return failures == 1 && slow.cancelled() && seen ? 0 : 1;
}
