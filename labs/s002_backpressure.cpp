// Seed 002, demo 4: a producer faster than its consumer, through an unbounded and a bounded queue: peak
// backlog, memory held by the backlog, p95/p99 latency (seed: unbounded backlog 3600 vs bounded 200).

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "common.hpp"
#include "spindle/thread/queue.hpp"
#include "spindle/thread/thread.hpp"

namespace spindle::labs {
namespace {

struct Item {
  Clock::time_point made;
  std::unique_ptr<char[]> payload;  // a 4 KiB message: what the backlog costs in memory
};
constexpr std::size_t kPayload = 4096;

struct Outcome {
  std::size_t peak = 0;
  double p95 = 0, p99 = 0, seconds = 0;
  std::vector<std::pair<double, double>> backlog;  // (seconds since start, items queued), after each put and get
};

Outcome pump(int items, std::ptrdiff_t maxsize, std::chrono::microseconds produce_every,
             std::chrono::microseconds consume_cost) {
  Queue<Item> queue(maxsize);
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(items));
  std::atomic<std::size_t> peak{0};
  // The backlog after each put (the producer's trace) and each get (the consumer's): merged by time, it
  // rises while the producer is ahead and drains after it stops.
  std::vector<std::pair<double, double>> backlog, drained;
  backlog.reserve(static_cast<std::size_t>(items));
  drained.reserve(static_cast<std::size_t>(items));
  // The messages are made before the clock starts: the producer's only work is the put, so it stays ahead
  // of the consumer even when a loaded machine gives it a fraction of a core. (Allocating and zeroing 4 KiB
  // per message inside the loop, under TSan at load 8, made the producer no faster than the consumer: an
  // "unbounded" backlog of 170 items.)
  std::vector<std::unique_ptr<char[]>> payloads;
  payloads.reserve(static_cast<std::size_t>(items));
  for (int i = 0; i < items; ++i) payloads.push_back(std::make_unique<char[]>(kPayload));
  const auto start = Clock::now();
  Thread consumer([&] {
    for (int i = 0; i < items; ++i) {
      Item item = queue.get();
      drained.emplace_back(since(start), static_cast<double>(queue.qsize()));
      std::this_thread::sleep_for(consume_cost);  // the work per message
      latencies.push_back(std::chrono::duration<double>(Clock::now() - item.made).count());
    }
  });
  consumer.start();
  for (int i = 0; i < items; ++i) {
    std::this_thread::sleep_until(start + i * produce_every);
    queue.put(Item{Clock::now(), std::move(payloads[static_cast<std::size_t>(i)])});  // blocks when full
    const std::size_t depth = queue.qsize();
    peak = std::max(peak.load(), depth);
    backlog.emplace_back(since(start), static_cast<double>(depth));
  }
  consumer.join();
  Outcome out;
  out.seconds = since(start);
  out.peak = peak;
  backlog.insert(backlog.end(), drained.begin(), drained.end());
  std::sort(backlog.begin(), backlog.end());
  out.backlog = std::move(backlog);
  std::sort(latencies.begin(), latencies.end());
  out.p95 = latencies[latencies.size() * 95 / 100];
  out.p99 = latencies[latencies.size() * 99 / 100];
  return out;
}

lab::Result run_backpressure(const lab::Options& o) {
  const int items = o.quick ? 1000 : 4000;
  const std::ptrdiff_t bound = 200;
  const auto every = 50us, cost = 200us;
  const Outcome unbounded = pump(items, 0, every, cost);
  const Outcome bounded = pump(items, bound, every, cost);
  lab::Result r;
  const double kib = kPayload / 1024.0;
  r.rows.push_back({"unbounded: peak backlog", static_cast<double>(unbounded.peak), o.quick ? lab::kNone : 3600,
                    lab::kNone, "items", ""});
  r.rows.push_back({"bounded (200): peak backlog", static_cast<double>(bounded.peak), 200, 200, "items", ""});
  r.rows.push_back({"unbounded: backlog memory", unbounded.peak * kib, lab::kNone, lab::kNone, "KiB", ""});
  r.rows.push_back({"bounded (200): backlog memory", bounded.peak * kib, lab::kNone, 200 * kib, "KiB", ""});
  r.rows.push_back({"unbounded: p95 latency", unbounded.p95 * 1e3, lab::kNone, lab::kNone, "ms", ""});
  r.rows.push_back({"unbounded: p99 latency", unbounded.p99 * 1e3, lab::kNone, lab::kNone, "ms", ""});
  r.rows.push_back({"bounded (200): p95 latency", bounded.p95 * 1e3, lab::kNone, lab::kNone, "ms", ""});
  r.rows.push_back({"bounded (200): p99 latency", bounded.p99 * 1e3, lab::kNone, lab::kNone, "ms", ""});
  r.chart.title =
      "the backlog over time: unbounded, it grows for as long as the producer is ahead; bounded, "
      "it stops at the bound and the producer waits";
  r.chart.unit = "items queued";
  r.chart.x_label = "seconds";
  r.chart.lines = {{"spindle: unbounded", unbounded.backlog, false},
                   {"spindle: bounded (200)", bounded.backlog, false}};
  lab::Chart peaks;
  peaks.title = "peak backlog (items)";
  peaks.unit = "items";
  peaks.bars = {{"unbounded", static_cast<double>(unbounded.peak)},
                {"bounded (200)", static_cast<double>(bounded.peak)}};
  r.more_charts.push_back(std::move(peaks));
  r.facts = {{"unbounded_peak", static_cast<double>(unbounded.peak)},
             {"bounded_peak", static_cast<double>(bounded.peak)},
             {"bound", static_cast<double>(bound)},
             {"unbounded_p99_ms", unbounded.p99 * 1e3},
             {"bounded_p99_ms", bounded.p99 * 1e3}};
  r.notes.push_back("producer: one 4 KiB message every 50 us; consumer: 200 us per message; " + std::to_string(items) +
                    " messages");
  r.lesson =
      "a bounded queue pushes back on the producer: the backlog, its memory and the latency stay "
      "bounded; unbounded, they grow with the run";
  return r;
}

const lab::Register register_backpressure({"002-backpressure", "002",
                                           "Demo 4: backpressure: unbounded vs bounded queue", run_backpressure});

}  // namespace
}  // namespace spindle::labs
