// A streaming run: the pipeline reads a queue that other code keeps filling, runs in the background
// (start()), and stop() drains it gracefully -- the source takes no more, what is inside reaches the sink.
// Python (hand-written asyncio stages):
//
//   source_task.cancel()                        # stop taking input
//   await inner_queue.join()                    # let what is inside finish
//   # or with SPDL: pipeline.stop() inside `with pipeline.auto_stop():`

#include <chrono>
#include <cstdio>
#include <thread>

#include "spindle/pipeline.hpp"
#include "spindle/thread/queue.hpp"

namespace pl = spindle::pipeline;
using namespace std::chrono_literals;

int main() {
  spindle::Queue<int> requests(100);  // filled by the rest of the program (here: all at once, below)
  long handled = 0;                   // one sink thread
  pl::Pipeline p = pl::from(requests, {.capacity = 8})
                       .thread(
                           [](int& x) {
                             std::this_thread::sleep_for(1ms);  // a blocking call per request
                             return x * 10;
                           },
                           {.concurrency = 2, .capacity = 8})
                       .sink([&](int&) { ++handled; });
  p.start();  // returns at once: the run has its own threads
  for (int i = 0; i < 100; ++i) requests.put(i);

  // Live metrics while it runs; stop once 30 requests are done.
  while (p.metrics().items_done() < 30) p.wait_for(5ms);
  p.stop();                       // graceful: no new input, the inside drains
  const pl::Report r = p.wait();  // the final report

  const auto taken = r.stages.front().items_out;
  std::printf("state %s: the source took %llu requests, the sink handled %ld, %zu still queued\n",
              pl::to_string(r.state), static_cast<unsigned long long>(taken), handled, requests.qsize());
  std::printf("%s\n", r.progress_line().c_str());
  // Nothing taken was lost, nothing was left behind in the pipeline.
  return r.state == pl::State::completed && static_cast<long>(taken) == handled &&
                 handled + static_cast<long>(requests.qsize()) == 100
             ? 0
             : 1;
}
