// Seed 004: how the OS schedules. An I/O-bound thread gives the CPU up voluntarily at every wait; CPU-bound
// threads (more than the cores) are preempted: involuntary switches. Counted by getrusage(RUSAGE_THREAD).

#include <sys/resource.h>

#include <vector>

#include "common.hpp"
#include "spindle/thread/thread.hpp"

namespace spindle::labs {
namespace {

struct Switches {
  long voluntary = 0, involuntary = 0;
};

Switches self_switches() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return {u.ru_nvcsw, u.ru_nivcsw};
}

lab::Result run_context_switches(const lab::Options& o) {
  const auto span = o.quick ? 200ms : 1000ms;
  const int cpu_threads = cores() + 1;  // more runnable threads than cores: the scheduler must preempt
  Switches io, cpu_total;
  std::vector<Switches> cpu(static_cast<std::size_t>(cpu_threads));
  std::vector<Thread> threads;
  threads.emplace_back([&] {
    const Switches a = self_switches();
    const auto end = Clock::now() + span;
    while (Clock::now() < end) std::this_thread::sleep_for(1ms);  // an I/O-bound loop: wait, wake, wait
    const Switches b = self_switches();
    io = {b.voluntary - a.voluntary, b.involuntary - a.involuntary};
  });
  for (int t = 0; t < cpu_threads; ++t) {
    threads.emplace_back([&, t] {
      const Switches a = self_switches();
      const auto end = Clock::now() + span;
      std::uint64_t total = 0;
      while (Clock::now() < end) {
        for (int i = 0; i < 10000; ++i) {
          total += static_cast<std::uint64_t>(i) * i;
          asm volatile("" : "+r"(total));
        }
      }
      const Switches b = self_switches();
      cpu[static_cast<std::size_t>(t)] = {b.voluntary - a.voluntary, b.involuntary - a.involuntary};
    });
  }
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  for (const auto& c : cpu) {
    cpu_total.voluntary += c.voluntary;
    cpu_total.involuntary += c.involuntary;
  }
  const double per = 1.0 / cpu_threads;
  lab::Result r;
  r.rows.push_back({"I/O-bound thread: voluntary", double(io.voluntary), lab::kNone, lab::kNone, "switches", ""});
  r.rows.push_back({"I/O-bound thread: involuntary", double(io.involuntary), lab::kNone, lab::kNone, "switches", ""});
  r.rows.push_back({"CPU-bound thread: voluntary", cpu_total.voluntary * per, lab::kNone, 0, "switches",
                    "mean of " + std::to_string(cpu_threads)});
  r.rows.push_back({"CPU-bound thread: involuntary", cpu_total.involuntary * per, lab::kNone, lab::kNone, "switches",
                    std::to_string(cpu_threads) + " threads on " + std::to_string(cores()) + " cores"});
  r.facts = {{"io_voluntary", double(io.voluntary)},
             {"io_involuntary", double(io.involuntary)},
             {"cpu_voluntary", cpu_total.voluntary * per},
             {"cpu_involuntary", cpu_total.involuntary * per}};
  r.lesson =
      "waiting work yields the CPU itself (voluntary switches); computing work is taken off the CPU by "
      "the scheduler (involuntary switches)";
  return r;
}

const lab::Register register_context_switches({"004-context-switches", "004",
                                               "Voluntary vs involuntary context switches", run_context_switches});

}  // namespace
}  // namespace spindle::labs
