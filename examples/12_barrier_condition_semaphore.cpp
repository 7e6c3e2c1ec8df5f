// Three primitives, each in a small realistic job:
//  1. Semaphore: eight workers share a service that accepts at most three connections at a time.
//  2. Condition: a bounded job queue (capacity 4) between one producer and three consumers.
//  3. Barrier: four workers run a simulation in lock-step; the barrier's action combines each step's
//     partial results before anyone starts the next step.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "spindle/thread/barrier.hpp"
#include "spindle/thread/condition.hpp"
#include "spindle/thread/semaphore.hpp"
#include "spindle/thread/thread.hpp"

using namespace std::chrono_literals;

// 1. At most three connections: BoundedSemaphore also catches a release without an acquire.
bool connection_limit() {
  spindle::BoundedSemaphore connections(3);
  std::atomic<int> open{0};
  std::atomic<int> most_open{0};
  std::vector<spindle::Thread> workers;
  for (int w = 0; w < 8; ++w) {
    workers.emplace_back([&] {
      std::lock_guard slot(connections);  // Python: with connections:
      const int now = open.fetch_add(1) + 1;
      for (int seen = most_open.load(); now > seen && !most_open.compare_exchange_weak(seen, now);) {
      }
      std::this_thread::sleep_for(5ms);  // the request
      open.fetch_sub(1);
    });
  }
  for (auto& w : workers) w.start();
  for (auto& w : workers) w.join();
  std::printf("semaphore: 8 workers, at most %d connections open at once (limit 3)\n", most_open.load());
  return most_open.load() <= 3;
}

// 2. A bounded queue: the producer waits while it is full, consumers while it is empty; -1 means "stop".
bool job_queue() {
  spindle::Condition changed;  // owns its RLock, as Python's Condition()
  std::deque<int> jobs;
  constexpr std::size_t kCapacity = 4;
  long total = 0;
  std::vector<spindle::Thread> consumers;
  for (int c = 0; c < 3; ++c) {
    consumers.emplace_back([&] {
      for (;;) {
        std::lock_guard guard(changed);
        changed.wait_for([&] { return !jobs.empty(); });
        const int job = jobs.front();
        if (job < 0) return;  // leave the stop marker for the other consumers
        jobs.pop_front();
        total += job;
        changed.notify_all();
      }
    });
  }
  for (auto& c : consumers) c.start();
  for (int job = 1; job <= 100; ++job) {
    std::lock_guard guard(changed);
    changed.wait_for([&] { return jobs.size() < kCapacity; });
    jobs.push_back(job);
    changed.notify_all();
  }
  {
    std::lock_guard guard(changed);
    jobs.push_back(-1);
    changed.notify_all();
  }
  for (auto& c : consumers) c.join();
  std::printf("condition: 100 jobs through a queue of 4, total %ld (expected 5050)\n", total);
  return total == 5050;
}

// 3. Lock-step simulation: each step every worker adds its slice; the action sums the partials once per step.
bool lock_step() {
  constexpr int kWorkers = 4;
  constexpr int kSteps = 3;
  std::vector<long> partial(kWorkers, 0);
  std::vector<long> step_totals;
  spindle::Barrier step_done(kWorkers, [&] {
    long sum = 0;
    for (long p : partial) sum += p;
    step_totals.push_back(sum);  // runs on one thread while the others wait: no lock needed
  });
  std::vector<spindle::Thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      for (int step = 1; step <= kSteps; ++step) {
        partial[static_cast<std::size_t>(w)] = static_cast<long>(step) * (w + 1);
        step_done.wait();
      }
    });
  }
  for (auto& w : workers) w.start();
  for (auto& w : workers) w.join();
  bool ok = step_totals.size() == kSteps;
  for (std::size_t s = 0; s < step_totals.size(); ++s) {
    std::printf("barrier: step %zu total %ld\n", s + 1, step_totals[s]);
    ok = ok && step_totals[s] == static_cast<long>(s + 1) * 10;  // (1+2+3+4) * step
  }
  return ok;
}

int main() {
  const bool ok = connection_limit() && job_queue() && lock_step();
  return ok ? 0 : 1;
}
