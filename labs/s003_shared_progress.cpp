// Seed 003, exercise 1: downloads on threads update a shared progress counter under a Lock. Beside it, the
// same counter without the lock loses updates: each thread does a non-atomic read-modify-write (a relaxed
// atomic load, then a store), which is what `progress += 1` is, without undefined behaviour in C++.

#include <atomic>
#include <mutex>
#include <random>
#include <vector>

#include "common.hpp"
#include "spindle/thread/lock.hpp"
#include "spindle/thread/thread.hpp"

namespace spindle::labs {
namespace {

// `threads` threads each add 1 to a counter `increments` times; returns the final count.
template <class Add>
void hammer(int threads, int increments, Add add) {
  std::vector<Thread> pool;
  std::atomic<int> ready{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      // Start together, so that the increments really interleave (thread start-up takes longer than a
      // million relaxed increments).
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      for (int i = 0; i < increments; ++i) add();
    });
  }
  for (auto& t : pool) t.start();
  for (auto& t : pool) t.join();
}

lab::Result run_shared_progress(const lab::Options& o) {
  lab::Result r;
  // The seed's exercise: 10 downloads of 0.1-0.5 s (scaled down with --quick).
  const int files = 10;
  Lock lock;
  int progress = 0;
  std::vector<int> seen;
  const double scale = o.quick ? 0.1 : 1.0;
  const double elapsed = timed([&] {
    std::vector<Thread> threads;
    for (int id = 0; id < files; ++id) {
      threads.emplace_back([&, id] {
        std::mt19937 rng(static_cast<unsigned>(id));
        std::uniform_real_distribution<double> delay(0.1 * scale, 0.5 * scale);
        std::this_thread::sleep_for(std::chrono::duration<double>(delay(rng)));
        std::lock_guard guard(lock);
        seen.push_back(++progress);
        std::fprintf(o.out, "  Downloaded %d progress: %d\n", id, progress);
      });
    }
    for (auto& t : threads) t.start();
    for (auto& t : threads) t.join();
  });
  bool in_order = true;
  for (std::size_t i = 0; i < seen.size(); ++i) in_order = in_order && seen[i] == static_cast<int>(i) + 1;

  // Lost updates: the same counter without a lock, hammered by 4 threads.
  const int threads = 4, increments = o.quick ? 200'000 : 1'000'000;
  std::atomic<long> racy{0};
  hammer(threads, increments, [&] {
    const long v = racy.load(std::memory_order_relaxed);  // read ...
    racy.store(v + 1, std::memory_order_relaxed);         // ... modify-write: another thread's update is lost
  });
  long locked_count = 0;
  Lock counter_lock;
  hammer(threads, increments, [&] {
    std::lock_guard guard(counter_lock);
    ++locked_count;
  });
  const double expected = static_cast<double>(threads) * increments;
  r.rows.push_back({"10 downloads on threads, progress under a Lock", static_cast<double>(progress), lab::kNone, files,
                    "files", "in " + std::to_string(static_cast<int>(elapsed * 1000)) + " ms"});
  r.rows.push_back({"counter += 1 without a lock (4 threads)", static_cast<double>(racy.load()), lab::kNone, expected,
                    "count", "lost " + std::to_string(static_cast<long>(expected) - racy.load()) + " updates"});
  r.rows.push_back(
      {"counter += 1 under a Lock (4 threads)", static_cast<double>(locked_count), lab::kNone, expected, "count", ""});
  r.facts = {{"progress", progress},
             {"progress_in_order", in_order ? 1 : 0},
             {"expected", expected},
             {"racy", static_cast<double>(racy.load())},
             {"locked", static_cast<double>(locked_count)},
             {"download_s", elapsed}};
  r.lesson =
      "threads overlap the downloads; shared memory needs the Lock: without it, read-modify-write "
      "updates are lost";
  return r;
}

const lab::Register register_shared_progress({"003-shared-progress", "003",
                                              "Exercise 1: shared progress under a Lock, lost updates without",
                                              run_shared_progress});

}  // namespace
}  // namespace spindle::labs
