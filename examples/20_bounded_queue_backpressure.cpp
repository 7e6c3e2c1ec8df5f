// Backpressure through a bounded queue: a fast producer and a slow consumer joined by Queue(maxsize=100).
// The producer is held back by put() whenever the consumer falls 100 items behind, so the backlog (and the
// memory it takes) never exceeds the bound, however much faster the producer is. When the producer is done it
// shuts the queue down (Python 3.13's Queue.shutdown): the consumer drains what is left and then sees
// QueueShutDown, which is its signal to stop. No sentinel values needed.
//
// Python equivalent:
//   q = queue.Queue(maxsize=100)
//   def consumer():
//       while True:
//           try: item = q.get()
//           except queue.ShutDown: return
//           time.sleep(0.0002); q.task_done()

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "spindle/core/errors.hpp"
#include "spindle/thread/queue.hpp"

int main() {
  using namespace std::chrono_literals;
  constexpr int kItems = 2500;
  constexpr std::size_t kMaxsize = 100;
  spindle::Queue<int> q(kMaxsize);

  long consumed = 0;
  long consumed_sum = 0;
  std::thread consumer([&] {
    for (;;) {
      int item = 0;
      try {
        item = q.get();
      } catch (const spindle::QueueShutDown&) {
        return;  // shut down and drained
      }
      std::this_thread::sleep_for(200us);  // the slow part: ~5,000 items/s
      ++consumed;
      consumed_sum += item;
      q.task_done();
    }
  });

  const auto t0 = std::chrono::steady_clock::now();
  std::size_t max_backlog = 0;
  std::chrono::nanoseconds blocked{0};
  for (int i = 0; i < kItems; ++i) {
    const auto before = std::chrono::steady_clock::now();
    q.put(i);  // blocks while 100 items are waiting: this is the backpressure
    blocked += std::chrono::steady_clock::now() - before;
    max_backlog = std::max(max_backlog, q.qsize());
  }
  q.join();      // every item processed (task_done for each) ...
  q.shutdown();  // ... then tell the consumer there will be no more
  consumer.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf("produced %d items through Queue(maxsize=%zu) in %.2f s\n", kItems, kMaxsize, seconds);
  std::printf("largest backlog seen by the producer: %zu (never above maxsize)\n", max_backlog);
  std::printf("producer spent %.0f%% of its time blocked in put(): the slow consumer sets the pace\n",
              100.0 * std::chrono::duration<double>(blocked).count() / seconds);
  std::printf("consumer took %ld items; after shutdown put() raises QueueShutDown: ", consumed);
  try {
    q.put(-1);
    std::printf("it did not!\n");
    return 1;
  } catch (const spindle::QueueShutDown&) {
    std::printf("yes\n");
  }
  const long expected_sum = long{kItems} * (kItems - 1) / 2;
  if (max_backlog > kMaxsize || consumed != kItems || consumed_sum != expected_sum) {
    std::fprintf(stderr, "unexpected: backlog %zu, consumed %ld, sum %ld (expected %ld)\n", max_backlog, consumed,
                 consumed_sum, expected_sum);
    return 1;
  }
  return 0;
}
