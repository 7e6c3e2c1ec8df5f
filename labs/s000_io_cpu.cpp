// Seed 000: one io_task (sleep 0.2 s) and one cpu_task (total += i*i for i < 2,000,000); then four of each
// sequentially, with threads, under the emulated GIL, with processes and with async.

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

#include "common.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/lab/gil.hpp"
#include "spindle/process.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

// When one wait ran: seconds on the monotonic clock, which every process of the machine shares.
using Span = std::tuple<double, double>;
double now_s() { return std::chrono::duration<double>(Clock::now().time_since_epoch()).count(); }

// The most waits in progress at once: the proof that waits overlapped, whatever the machine's speed. (The
// wall times are printed too, but a loaded machine stretches them: 4 threads of 50 ms waits took 104 ms
// under TSan at load 9, which a "less than half the sequential time" check called no overlap.)
double most_at_once(const std::vector<Span>& spans) {
  std::vector<std::pair<double, int>> events;
  for (const auto& [start, end] : spans) {
    events.emplace_back(start, +1);
    events.emplace_back(end, -1);
  }
  std::sort(events.begin(), events.end());  // at equal times an end (-1) sorts before a start
  int open = 0, most = 0;
  for (const auto& e : events) most = std::max(most, open += e.second);
  return most;
}

// Process-pool tasks are named functions (a worker finds them by address in the same binary).
void io_task_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
Span io_task_span_ms(int ms) {
  const double start = now_s();
  io_task_ms(ms);
  return {start, now_s()};
}

aio::Task<void> io_async(std::chrono::milliseconds d, Span& span) {
  std::get<0>(span) = now_s();
  co_await aio::sleep(d);
  std::get<1>(span) = now_s();
}

aio::Task<void> four_async(std::chrono::milliseconds d, std::vector<Span>& spans) {
  std::vector<aio::Task<void>> tasks;
  for (int i = 0; i < 4; ++i) tasks.push_back(io_async(d, spans[static_cast<std::size_t>(i)]));
  co_await aio::gather(std::move(tasks));  // asyncio.gather(*tasks)
}

lab::Result run_io_cpu(const lab::Options& o) {
  const auto io_wait = o.quick ? 50ms : 200ms;
  const std::uint64_t n = o.quick ? 30'000'000 : 200'000'000;  // C++ is ~100x faster than CPython: 100x the work
  const auto io_task = [&] { std::this_thread::sleep_for(io_wait); };
  std::uint64_t check = 0;
  const auto cpu = [&] { check = cpu_task(n); };
  const double d = std::chrono::duration<double>(io_wait).count();
  lab::Result r;
  const double one_io = timed(io_task);
  const double one_cpu = timed(cpu);
  if (check != cpu_task_expected(n)) throw std::runtime_error("cpu_task computed a wrong sum");
  const int k = cores();
  r.rows.push_back({"one io_task", one_io, 0.2, d, "s", ""});
  r.rows.push_back({"one cpu_task", one_cpu, lab::kNone, lab::kNone, "s",
                    o.quick ? "n = 3e7 (the seed: 2e6 in CPython)" : "n = 2e8 (the seed: 2e6 in CPython)"});
  r.rows.push_back({"4 io_tasks sequentially", timed([&] {
                      for (int i = 0; i < 4; ++i) io_task();
                    }),
                    0.8, 4 * d, "s", ""});
  double io_threads_overlap = 0, io_procs_overlap = 0, io_async_overlap = 0;
  double io_threads = 0, cpu_threads = 0, cpu_seq = 0, cpu_gil = 0, cpu_seq_cpu = 0, cpu_gil_cores = 0;
  {
    ThreadPoolExecutor pool(4);
    const int ms = static_cast<int>(io_wait.count());
    io_threads = timed([&] {
      std::vector<Future<Span>> fs;
      for (int i = 0; i < 4; ++i) fs.push_back(pool.submit(io_task_span_ms, ms));
      std::vector<Span> spans;
      for (auto& f : fs) spans.push_back(f.result());
      io_threads_overlap = most_at_once(spans);
    });
    const double cpu0 = thread_cpu_s();
    cpu_seq = timed([&] {
      for (int i = 0; i < 4; ++i) cpu_task(n);
    });
    cpu_seq_cpu = thread_cpu_s() - cpu0;
    cpu_threads = timed([&] {
      std::vector<Future<std::uint64_t>> fs;
      for (int i = 0; i < 4; ++i) fs.push_back(pool.submit([n] { return cpu_task(n); }));
      for (auto& f : fs) f.result();
    });
    lab::Gil gil;
    const Usage gil_use = usage_of([&] {
      std::vector<Future<void>> fs;
      for (int i = 0; i < 4; ++i) {
        fs.push_back(pool.submit([&gil, n] {
          lab::Gil::Held held(gil);
          std::uint64_t total = 0;
          for (std::uint64_t j = 0; j < n; ++j) {
            total += j * j;
            asm volatile("" : "+r"(total));
            if ((j & 1023) == 0) gil.tick();  // a "bytecode boundary" every 1024 steps
          }
        }));
      }
      for (auto& f : fs) f.result();
    });
    cpu_gil = gil_use.wall;
    cpu_gil_cores = gil_use.cores;
  }
  r.rows.push_back({"4 io_tasks, 4 threads", io_threads, lab::kNone, d, "s", ""});
  double io_procs = 0, cpu_procs = 0;
  {
    process::ProcessPoolExecutor pool(4);
    // Warm the pool up first (worker start-up is a one-time cost that the seed's figure excludes too).
    std::vector<Future<void>> warm;
    for (int i = 0; i < 4; ++i) warm.push_back(pool.submit<&io_task_ms>(0));
    for (auto& f : warm) f.result();
    const int ms = static_cast<int>(io_wait.count());
    io_procs = timed([&] {
      std::vector<Future<Span>> fs;
      for (int i = 0; i < 4; ++i) fs.push_back(pool.submit<&io_task_span_ms>(ms));
      std::vector<Span> spans;
      for (auto& f : fs) spans.push_back(f.result());
      io_procs_overlap = most_at_once(spans);
    });
    cpu_procs = timed([&] {
      std::vector<Future<std::uint64_t>> fs;
      for (int i = 0; i < 4; ++i) fs.push_back(pool.submit<&cpu_task_n>(n));
      for (auto& f : fs) {
        if (f.result() != cpu_task_expected(n)) throw std::runtime_error("wrong sum from a process");
      }
    });
  }
  r.rows.push_back({"4 io_tasks, 4 processes", io_procs, lab::kNone, d, "s", "warm pool"});
  std::vector<Span> async_spans(4);
  const double io_async_s = timed([&] { aio::run(four_async(io_wait, async_spans), aio::RunOptions{.debug = false}); });
  io_async_overlap = most_at_once(async_spans);
  r.rows.push_back({"4 io_tasks, async", io_async_s, lab::kNone, d, "s", ""});
  r.rows.push_back({"4 cpu_tasks sequentially", cpu_seq, lab::kNone, 4 * one_cpu, "s", ""});
  r.rows.push_back({"4 cpu_tasks, threads under a GIL", cpu_gil, lab::kNone, 4 * one_cpu, "s", "emulated GIL"});
  r.rows.push_back(
      {"4 cpu_tasks, native threads", cpu_threads, lab::kNone, 4 * one_cpu / std::min(4, k), "s", "free threading"});
  r.rows.push_back({"4 cpu_tasks, 4 processes", cpu_procs, lab::kNone, 4 * one_cpu / std::min(4, k), "s", "warm pool"});
  r.facts = {{"io_seq_s", r.rows[2].measured},
             {"io_threads_s", io_threads},
             {"io_async_s", io_async_s},
             {"io_threads_overlap", io_threads_overlap},
             {"io_procs_overlap", io_procs_overlap},
             {"io_async_overlap", io_async_overlap},
             {"cpu_seq_s", cpu_seq},
             {"cpu_seq_cpu_s", cpu_seq_cpu},
             {"cpu_gil_s", cpu_gil},
             {"cpu_gil_cores_used", cpu_gil_cores},
             {"cpu_threads_s", cpu_threads},
             {"io_procs_s", io_procs},
             {"cpu_procs_s", cpu_procs},
             {"cores", k}};
  r.lesson =
      "waiting overlaps for free (4 waits take as long as one), computing needs more cores: a GIL keeps "
      "4 CPU tasks at the sequential time, native threads divide it by the cores";
  return r;
}

const lab::Register register_io_cpu({"000-io-cpu", "000",
                                     "io_task vs cpu_task: sequential, threads, GIL, processes, async", run_io_cpu});

}  // namespace
}  // namespace spindle::labs
