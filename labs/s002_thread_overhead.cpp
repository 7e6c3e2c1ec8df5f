// Seed 002, demo 5: diminishing returns. The same batch of mixed tasks (mostly waiting, a little computing)
// on pools of 1, 2, 4, ... 128 threads: the speed-up grows while the waits overlap, then flattens when the
// cores are busy with the computing parts and with the threads' own cost.

#include <vector>

#include "common.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

lab::Result run_thread_overhead(const lab::Options& o) {
  const int tasks = o.quick ? 128 : 512;
  const auto wait = o.quick ? 4ms : 10ms;
  const std::uint64_t work = 600'000;  // ~0.4 ms of computing per task
  const int max_threads = o.quick ? 64 : 128;
  lab::Result r;
  double base = 0;
  const double cpu_one = timed([&] { cpu_task(work); });
  const double wait_s = std::chrono::duration<double>(wait).count();
  int flat_at = 0;
  double previous = 0;
  lab::Series measured{"spindle: C++ threads", {}, false}, ideal_line{"ideal here", {}, true};
  for (int n = 1; n <= max_threads; n *= 2) {
    double t = 0;
    {
      ThreadPoolExecutor pool(static_cast<std::size_t>(n));
      t = timed([&] {
        std::vector<Future<std::uint64_t>> fs;
        fs.reserve(static_cast<std::size_t>(tasks));
        for (int i = 0; i < tasks; ++i) {
          fs.push_back(pool.submit([&] {
            std::this_thread::sleep_for(wait);
            return cpu_task(work);
          }));
        }
        for (auto& f : fs) f.result();
      });
    }
    if (n == 1) base = t;
    const double speedup = base / t;
    // Ideal: n overlapping waits, capped by the cores' throughput on the computing part.
    const double ideal = std::min<double>(n, (wait_s + cpu_one) / cpu_one * cores());
    r.rows.push_back({std::to_string(n) + " thread" + (n > 1 ? "s" : ""), speedup, lab::kNone, ideal, "x",
                      "batch in " + std::to_string(static_cast<int>(t * 1000)) + " ms"});
    measured.points.emplace_back(n, speedup);
    ideal_line.points.emplace_back(n, ideal);
    if (n > 1 && flat_at == 0 && speedup < previous * 1.25) flat_at = n;
    r.facts["speedup_" + std::to_string(n)] = speedup;
    previous = speedup;
  }
  r.chart.title = "speed-up against the number of threads";
  r.chart.unit = "speed-up (x)";
  r.chart.x_label = "threads (log scale)";
  r.chart.log_x = true;
  r.chart.lines = {std::move(measured), std::move(ideal_line)};
  r.facts["flattens_at"] = flat_at;
  r.notes.push_back(std::to_string(tasks) + " tasks, each " + std::to_string(wait.count()) + " ms waiting + ~" +
                    std::to_string(static_cast<int>(cpu_one * 1e6)) + " us computing");
  r.notes.push_back(flat_at ? "the speed-up flattens at " + std::to_string(flat_at) +
                                  " threads (less than 1.25x over half as many)"
                            : std::string("the speed-up kept growing up to the largest pool tried"));
  r.rows.front().seed = lab::kNone;
  r.lesson =
      "threads pay off while they overlap waiting; past the point where the cores are saturated, more "
      "threads only add overhead (the seed's 32 cores kept scaling to 64 threads)";
  return r;
}

const lab::Register register_thread_overhead({"002-thread-overhead", "002",
                                              "Demo 5: diminishing returns of more threads", run_thread_overhead});

}  // namespace
}  // namespace spindle::labs
