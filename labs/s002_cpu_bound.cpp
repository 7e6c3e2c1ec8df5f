// Seed 002, demo 2: 8 CPU-bound tasks serially, on threads under the emulated GIL, on native threads and on
// processes (seed: threads 11.545 s vs processes 1.212 s on 32 cores).

#include <mutex>
#include <thread>
#include <vector>

#include "common.hpp"
#include "spindle/lab/gil.hpp"
#include "spindle/process.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

std::uint64_t gil_task(lab::Gil& gil, std::uint64_t n) {
  lab::Gil::Held held(gil);
  std::uint64_t total = 0;
  for (std::uint64_t j = 0; j < n; ++j) {
    total += j * j;
    asm volatile("" : "+r"(total));
    if ((j & 1023) == 0) gil.tick();
  }
  return total;
}

// Each thread's GIL states over time, for the report's state chart: one lane per thread, a segment per state.
class StateTrace {
 public:
  StateTrace() : start_(Clock::now()) {}
  void on(lab::GilState state) {
    const double t = since(start_);
    const std::lock_guard lock(mutex_);
    std::size_t i = 0;
    while (i < ids_.size() && ids_[i] != std::this_thread::get_id()) ++i;
    if (i == ids_.size()) {
      ids_.push_back(std::this_thread::get_id());
      lanes_.push_back({"thread " + std::to_string(i + 1), {}});
    }
    auto& segs = lanes_[i].segments;
    if (!segs.empty() && segs.back().end < 0) segs.back().end = t;  // close the open span
    if (state != lab::GilState::released) segs.push_back({t, -1, static_cast<int>(state)});
  }
  lab::Chart chart() {
    const std::lock_guard lock(mutex_);
    lab::Chart c;
    c.title = "each thread's state over time under the GIL: one runs, the others wait for it";
    c.x_label = "seconds";
    c.states = {"running (holds the GIL)", "waiting for the GIL", "waiting (GIL released)"};
    c.lanes = lanes_;
    return c;
  }

 private:
  Clock::time_point start_;
  std::mutex mutex_;
  std::vector<std::thread::id> ids_;
  std::vector<lab::Lane> lanes_;
};

lab::Result run_cpu_bound(const lab::Options& o) {
  const int tasks = 8;
  const std::uint64_t n = o.quick ? 40'000'000 : 300'000'000;
  lab::Result r;
  const double cpu0 = thread_cpu_s();
  const double serial = timed([&] {
    for (int i = 0; i < tasks; ++i) cpu_task(n);
  });
  const double serial_cpu = thread_cpu_s() - cpu0;  // the work itself, independent of the machine's load
  double gil_s = 0, native = 0;
  Usage gil_use, native_use;
  std::uint64_t switches = 0;
  StateTrace trace;
  {
    ThreadPoolExecutor pool(tasks);
    lab::Gil gil;
    gil.set_observer([&trace](lab::GilState state) { trace.on(state); });
    gil_use = usage_of([&] {
      std::vector<Future<std::uint64_t>> fs;
      for (int i = 0; i < tasks; ++i) fs.push_back(pool.submit([&gil, n] { return gil_task(gil, n); }));
      for (auto& f : fs) {
        if (f.result() != cpu_task_expected(n)) throw std::runtime_error("wrong sum under the GIL");
      }
    });
    switches = gil.switches();
    native_use = usage_of([&] {
      std::vector<Future<std::uint64_t>> fs;
      for (int i = 0; i < tasks; ++i) fs.push_back(pool.submit([n] { return cpu_task(n); }));
      for (auto& f : fs) {
        if (f.result() != cpu_task_expected(n)) throw std::runtime_error("wrong sum");
      }
    });
  }
  // Processes: the pool's start-up is inside the timing, as in the seed's `with ProcessPoolExecutor()`.
  const Usage proc_use = usage_of([&] {
    process::ProcessPoolExecutor pool(static_cast<std::size_t>(tasks));
    std::vector<Future<std::uint64_t>> fs;
    for (int i = 0; i < tasks; ++i) fs.push_back(pool.submit<&cpu_task_n>(n));
    for (auto& f : fs) {
      if (f.result() != cpu_task_expected(n)) throw std::runtime_error("wrong sum from a process");
    }
  });
  gil_s = gil_use.wall;
  native = native_use.wall;
  const int k = cores();
  r.rows.push_back({"serial", serial, lab::kNone, serial, "s", ""});
  r.rows.push_back({"threads (8) under the GIL", gil_s, o.quick ? lab::kNone : 11.545, serial, "s",
                    std::to_string(switches) + " GIL hand-offs"});
  r.rows.push_back({"native threads (8), free threading", native, lab::kNone, serial / std::min(tasks, k), "s", ""});
  r.rows.push_back({"threads under the GIL: cores used", gil_use.cores, lab::kNone, 1, "cores", ""});
  r.rows.push_back({"native threads: cores used", native_use.cores, lab::kNone, double(std::min(tasks, k)), "cores",
                    "less than ideal when other work shares the machine"});
  r.rows.push_back({"processes (8)", proc_use.wall, o.quick ? lab::kNone : 1.212, serial / std::min(tasks, k), "s",
                    "pool start-up included"});
  r.facts = {{"serial_s", serial},
             {"serial_cpu_s", serial_cpu},
             {"gil_threads_s", gil_s},
             {"gil_cores_used", gil_use.cores},
             {"processes_s", proc_use.wall},
             {"native_cores_used", native_use.cores},
             {"native_threads_s", native},
             {"gil_switches", static_cast<double>(switches)},
             {"cores", k}};
  r.more_charts.push_back(trace.chart());
  r.lesson =
      "under a GIL, threads take turns on one core (no faster than serial); without one, or with "
      "processes, CPU work scales with the cores";
  return r;
}

const lab::Register register_cpu_bound({"002-cpu-bound", "002",
                                        "Demo 2: CPU-bound work: GIL threads vs native threads vs processes",
                                        run_cpu_bound});

}  // namespace
}  // namespace spindle::labs
