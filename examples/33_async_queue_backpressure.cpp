// Backpressure with a bounded queue: a fast producer and a slow consumer; `put` waits while the queue is full,
// so memory stays bounded by maxsize. Python: `q = asyncio.Queue(maxsize=5); await q.put(x)`.

#include <algorithm>
#include <cstdio>

#include "spindle/aio.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

aio::Task<int> pipeline() {
  aio::Queue<int> q(5);
  std::size_t peak = 0;
  long sum = 0;
  auto producer = [&]() -> aio::Task<void> {
    for (int i = 1; i <= 50; ++i) {
      co_await q.put(i);  // suspends here while the consumer lags
      peak = std::max(peak, q.qsize());
    }
    q.shutdown();  // no more items; the consumer drains and stops
  };
  auto consumer = [&]() -> aio::Task<void> {
    try {
      for (;;) {
        sum += co_await q.get();
        q.task_done();
        co_await aio::sleep(2ms);  // slow work
      }
    } catch (const spindle::QueueShutDown&) {
    }
  };
  co_await aio::gather(producer(), consumer());
  std::printf("sum %ld, peak queue length %zu (maxsize %zu)\n", sum, peak, q.maxsize());
  co_return sum == 1275 && peak <= 5 ? 0 : 1;
}

int main() { return aio::run(pipeline()); }
