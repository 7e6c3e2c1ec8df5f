// Seed 002, section 5: batch vs streaming. Items arrive over time; batch collects them all, then processes
// them on a pool; streaming processes each as it arrives through a bounded queue. Same total work; very
// different time to first result and memory held.

#include <algorithm>
#include <atomic>
#include <vector>

#include "common.hpp"
#include "spindle/thread/queue.hpp"
#include "spindle/thread/thread.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

lab::Result run(const lab::Options& o) {
  const int items = o.quick ? 100 : 400;
  const auto arrive_every = 1ms;
  const auto work = 4ms;  // waiting work per item (a call to a service)
  const std::size_t workers = 8;
  lab::Result r;

  // Batch: gather everything, then fan out.
  double batch_first = 0, batch_total = 0;
  std::size_t batch_peak = 0;
  {
    const auto start = Clock::now();
    std::vector<int> batch;
    for (int i = 0; i < items; ++i) {
      std::this_thread::sleep_until(start + i * arrive_every);
      batch.push_back(i);
    }
    batch_peak = batch.size();
    ThreadPoolExecutor pool(workers);
    std::atomic<bool> first{false};
    std::atomic<double> first_at{0};
    std::vector<Future<void>> fs;
    for (int i : batch) {
      (void)i;
      fs.push_back(pool.submit([&] {
        std::this_thread::sleep_for(work);
        if (!first.exchange(true)) first_at = since(start);
      }));
    }
    for (auto& f : fs) f.result();
    batch_total = since(start);
    batch_first = first_at;
  }
  // Streaming: a bounded queue between the source and the workers.
  double stream_first = 0, stream_total = 0;
  std::size_t stream_peak = 0;
  {
    const auto start = Clock::now();
    Queue<int> queue(static_cast<std::ptrdiff_t>(2 * workers));
    std::atomic<bool> first{false};
    std::atomic<double> first_at{0};
    std::vector<Thread> pool;
    for (std::size_t w = 0; w < workers; ++w) {
      pool.emplace_back([&] {
        for (;;) {
          const int item = queue.get();
          if (item < 0) return;
          std::this_thread::sleep_for(work);
          if (!first.exchange(true)) first_at = since(start);
        }
      });
      pool.back().start();
    }
    for (int i = 0; i < items; ++i) {
      std::this_thread::sleep_until(start + i * arrive_every);
      queue.put(i);
      stream_peak = std::max(stream_peak, queue.qsize());
    }
    for (std::size_t w = 0; w < workers; ++w) queue.put(-1);
    for (auto& t : pool) t.join();
    stream_total = since(start);
    stream_first = first_at;
  }
  const double arrive = items * std::chrono::duration<double>(arrive_every).count();
  const double w = std::chrono::duration<double>(work).count();
  r.rows.push_back({"batch: first result", batch_first, lab::kNone, arrive + w, "s", ""});
  r.rows.push_back({"batch: all results", batch_total, lab::kNone, arrive + std::ceil(items / 8.0) * w, "s", ""});
  r.rows.push_back(
      {"batch: items held at once", static_cast<double>(batch_peak), lab::kNone, double(items), "items", ""});
  r.rows.push_back({"streaming: first result", stream_first, lab::kNone, w, "s", ""});
  r.rows.push_back({"streaming: all results", stream_total, lab::kNone, arrive + w, "s", ""});
  r.rows.push_back({"streaming: items held at once", static_cast<double>(stream_peak), lab::kNone, lab::kNone, "items",
                    "queue bound 16"});
  r.chart.title = "time to first result (s)";
  r.chart.unit = "s";
  r.chart.bars = {{"batch", batch_first}, {"streaming", stream_first}};
  r.facts = {{"batch_first_s", batch_first},
             {"stream_first_s", stream_first},
             {"batch_peak", static_cast<double>(batch_peak)},
             {"stream_peak", static_cast<double>(stream_peak)},
             {"batch_total_s", batch_total},
             {"stream_total_s", stream_total}};
  r.lesson =
      "batch optimises throughput but holds everything and answers last; streaming answers at once "
      "and holds only its bounded queue";
  return r;
}

const lab::Register reg({"002-batch-vs-streaming", "002", "Batch vs streaming: first result, total, memory", run});

}  // namespace
}  // namespace spindle::labs
