// Seed 002, section 5: batch vs streaming ("most real systems are streaming systems pretending to be batch").
// Items arrive over time; batch collects them all, then processes them on a pool; streaming runs them through
// a spindle::pipeline as they arrive, a bounded channel between the source and the workers. Same total work;
// very different time to first result and memory held.

#include <algorithm>
#include <atomic>
#include <optional>
#include <vector>

#include "common.hpp"
#include "spindle/pipeline.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

lab::Result run_batch_streaming(const lab::Options& o) {
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
  // Streaming: a spindle::pipeline whose source yields each item as it arrives, a bounded channel of 16, a
  // stage of 8 threads doing the work, and a sink that sees each result as soon as it is ready.
  double stream_first = 0, stream_total = 0;
  std::size_t stream_peak = 0;
  std::uint64_t stream_done = 0;
  {
    const auto start = Clock::now();
    double first_at = -1;  // the sink runs on one thread
    int next = 0;
    pipeline::Pipeline p = pipeline::from(
                               [&]() -> std::optional<int> {
                                 if (next == items) return std::nullopt;
                                 std::this_thread::sleep_until(start + next * arrive_every);  // arrives
                                 return next++;
                               },
                               {.capacity = 16})
                               .thread(
                                   [&](int& item) {
                                     std::this_thread::sleep_for(work);
                                     return item;
                                   },
                                   {.concurrency = workers, .capacity = 16})
                               // Hand each item on at once: a source blocks of 64 would wait for 64 arrivals
                               // (64 ms here) before the first reached a worker. Blocks buy throughput on fast
                               // flows; a flow of slow arrivals wants latency.
                               .options({.block = 1})
                               .sink([&](int&) {
                                 if (first_at < 0) first_at = since(start);
                               });
    const pipeline::Report report = p.run();
    stream_total = since(start);
    stream_first = first_at;
    stream_peak = report.stages.front().peak_depth;  // the most items waiting between source and workers
    stream_done = report.items_done();
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
                    "channel bound 16"});
  // Built whole: assigning the short strings one by one trips g++ 12's false -Wrestrict (PR 105329) at -O3.
  r.chart = lab::Chart{
      "time to first result (s)", "s", {{"batch", batch_first}, {"streaming", stream_first}}, {}, {}, {}, {}, ""};
  r.facts = {{"batch_first_s", batch_first},
             {"stream_first_s", stream_first},
             {"batch_peak", static_cast<double>(batch_peak)},
             {"stream_peak", static_cast<double>(stream_peak)},
             {"batch_total_s", batch_total},
             {"stream_total_s", stream_total},
             {"items", static_cast<double>(items)},
             {"stream_done", static_cast<double>(stream_done)}};
  r.lesson =
      "batch optimises throughput but holds everything and answers last; streaming answers at once "
      "and holds only its bounded channel";
  return r;
}

const lab::Register register_batch_streaming({"002-batch-vs-streaming", "002",
                                              "Batch vs streaming: first result, total, memory", run_batch_streaming});

}  // namespace
}  // namespace spindle::labs
