#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "spindle/advisor/report.hpp"

namespace spindle::advisor {
namespace {

// snprintf into a string; every argument is passed as a double, so formats use %f/%g/%.0f only.
template <class... A>
std::string format(const char* fmt, A... args) {
  char buf[320];
  std::snprintf(buf, sizeof buf, fmt, static_cast<double>(args)...);
  return buf;
}

// A run this short, or sampled this few times, gives no verdict: a handful of samples is noise.
constexpr double kMinWallS = 0.05;
constexpr int kMinSamples = 4;

}  // namespace

const char* to_string(Classification c) noexcept {
  switch (c) {
    case Classification::cpu_bound:
      return "cpu-bound";
    case Classification::io_bound:
      return "io-bound";
    case Classification::mixed:
      return "mixed";
    case Classification::lock_capped:
      return "lock-capped";
    case Classification::not_enough_data:
      return "not-enough-data";
  }
  return "?";
}

const char* to_string(Model m) noexcept {
  switch (m) {
    case Model::processes:
      return "processes";
    case Model::threads:
      return "threads";
    case Model::async:
      return "async";
    case Model::pipeline:
      return "pipeline";
    case Model::none:
      return "none";
  }
  return "?";
}

namespace {

/// The run's phases: the timeline cut into windows, each labelled computing (at least half the busiest
/// window's cores) or waiting (at most a fifth of them), runs of one label merged. A run counts as phased when
/// it has both kinds, each at least 20% of the run, in a few long stretches (a fine-grained interleave of waits
/// and computation is "mixed", not phased).
std::vector<Phase> find_phases(const Report& r) {
  std::vector<Phase> out;
  // Wanting a core is computing, whether the machine gave it or not (demand_timeline); a report without it
  // (made by hand) is judged on the cores used.
  const auto& timeline = r.demand_timeline.empty() ? r.timeline : r.demand_timeline;
  if (timeline.size() < 8 || r.wall_s <= 0) return out;
  const double window = std::max(0.05, r.wall_s / 20);
  const auto n = static_cast<std::size_t>(std::ceil(r.wall_s / window));
  std::vector<double> sum(n, 0.0);
  std::vector<int> count(n, 0);
  for (const auto& [t, cores] : timeline) {
    const auto i = std::min(n - 1, static_cast<std::size_t>(std::max(0.0, t / window)));
    sum[i] += cores;
    ++count[i];
  }
  double peak = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (count[i] > 0) sum[i] /= count[i];
    peak = std::max(peak, sum[i]);
  }
  if (peak < 0.3) return out;  // it never computed much: one (waiting) character
  bool label = sum[0] >= 0.35 * peak;
  for (std::size_t i = 0; i < n; ++i) {
    if (count[i] == 0) continue;  // no sample fell in it (a late sampler): it changes nothing
    if (sum[i] >= 0.5 * peak) {
      label = true;
    } else if (sum[i] <= 0.2 * peak) {
      label = false;
    }  // else in between: the previous label goes on
    const double begin = static_cast<double>(i) * window;
    const double end = std::min(r.wall_s, begin + window);
    if (!out.empty() && out.back().computing == label) {
      Phase& p = out.back();
      const double span = p.end_s - p.start_s;
      p.cores = (p.cores * span + sum[i] * (end - begin)) / (span + end - begin);
      p.end_s = end;
    } else {
      if (!out.empty()) out.back().end_s = begin;
      out.push_back(Phase{out.empty() ? 0.0 : begin, end, label, sum[i]});
    }
  }
  double computing = 0, waiting = 0;
  for (const auto& p : out) (p.computing ? computing : waiting) += p.end_s - p.start_s;
  if (out.size() > 4 || computing < 0.2 * r.wall_s || waiting < 0.2 * r.wall_s) out.clear();
  return out;
}

/// A thread's time asleep on something outside the measured program: its life less its CPU, its run-queue
/// time, its lock waits and its waits for the program's own computation (a child's, a busy peer's).
double io_wait_of(const ThreadStats& t) {
  const double outside = std::max(0.0, 1.0 - t.lock_wait - t.child_wait - t.peer_wait);
  return std::max(0.0, t.alive_s * outside - t.cpu_s - t.runqueue_s);
}

}  // namespace

void classify(Report& r) {
  const double wall = std::max(r.wall_s, 1e-6);
  const int cores = std::max(r.cores, 1);
  r.parallelism = r.cpu_s / wall;
  // Demand from the threads' own counters, over the span they cover. Dividing by the whole wall time instead
  // undercounts: the counters of a thread stop at the last sample that saw it, and on a loaded machine the
  // sampler runs late, so the last tenths of a second of a busy thread could be missing from the numerator
  // while still in the denominator (measured: 2 spinning threads "wanting 1.27 cores" at load 8).
  double sampled = 0;
  for (const auto& t : r.threads) sampled += t.cpu_s + t.runqueue_s;
  const double span = r.observed_s > 0 ? std::min(wall, std::max(r.observed_s, 1e-6)) : wall;
  r.demand = std::max((r.cpu_s + r.runqueue_s) / wall, sampled / span);
  // Busy: other work filled every core, or the program got under half of the cores it wanted while there
  // were cores to give (work at a higher priority, a CPU quota): either way its waits describe the machine.
  r.starved = r.demand >= 1.0 && r.parallelism < 0.5 * std::min(r.demand, static_cast<double>(cores));
  r.machine_busy = r.other_load >= cores || r.starved;

  // Working threads: those that computed for a noticeable share of the run. Idle helpers (a joined main
  // thread, a sleeping pool) would otherwise dilute the busy fraction of the threads that matter.
  double cpu = 0, want = 0, alive = 0, top = 0, io_wait = 0;
  std::uint64_t voluntary = 0;
  double lock_wait = 0;
  int working = 0;
  // Relative to the busiest thread too, so that a loaded machine (which slows every thread alike) does not
  // push real workers under the bar.
  double busiest = 0;
  for (const auto& t : r.threads) busiest = std::max(busiest, t.cpu_s);
  const double threshold = std::max({0.005, 0.02 * wall, 0.1 * busiest});
  for (const auto& t : r.threads) {
    if (t.cpu_s < threshold) continue;
    ++working;
    cpu += t.cpu_s;
    want += t.cpu_s + t.runqueue_s;
    alive += t.alive_s;
    // Waiting on a futex is waiting for another thread (a lock, a queue, a GIL), and waiting while a child
    // process computes is waiting for the program's own work, not for the outside world: neither is a reason
    // to add threads, so only the rest counts as I/O wait.
    io_wait += io_wait_of(t);
    voluntary += t.voluntary;
    lock_wait += t.lock_wait;
    top = std::max(top, t.cpu_s);
  }
  r.working_threads = working;
  r.lock_wait_fraction = working ? lock_wait / working : 0.0;
  if (working == 0) {  // nobody computed: the run waited (or was too short to tell)
    // Run-queue time is left out here: hundreds of waking threads on a loaded machine queue for a core
    // briefly each, which says nothing about computing.
    for (const auto& t : r.threads) {
      cpu += t.cpu_s;
      alive += t.alive_s;
    }
    if (alive <= 0) alive = wall;
    want = cpu;
    io_wait = std::max(0.0, alive - cpu);
  }
  r.busy_fraction = want + io_wait > 0 ? std::min(1.0, want / (want + io_wait)) : 0.0;
  // A thread asleep on a futex for other threads is not computing, and its lock waits are left out of its busy
  // fraction: a main thread joining the futures of a pool whose threads sleep in I/O looks "busy" on its own,
  // while the program as a whole wanted a small part of one core. Under half a core wanted, judge by every
  // thread instead (the pool's sleepers included).
  if (r.demand < 0.5 && working > 0 && r.busy_fraction > 0.3) {
    double all_want = 0, all_wait = 0, all_cpu = 0;
    for (const auto& t : r.threads) {
      all_cpu += t.cpu_s;
      all_want += t.cpu_s + t.runqueue_s;
      all_wait += io_wait_of(t);
    }
    if (all_want + all_wait > 0 && all_want / (all_want + all_wait) < r.busy_fraction) {
      r.busy_fraction = all_want / (all_want + all_wait);
      io_wait = all_wait;
      cpu = all_cpu;
    }
  }
  const double waiting = io_wait;
  r.wait_to_compute = cpu > 1e-9 ? waiting / cpu : INFINITY;
  const double switch_rate = static_cast<double>(voluntary) / wall;

  if (r.wall_s < kMinWallS || r.samples < kMinSamples) {
    r.classification = Classification::not_enough_data;
    r.model = Model::none;
    r.pool_size = 0;
    r.reason = format(
        "the run lasted only %.0f ms with %.0f samples: at least %.0f ms and %.0f samples are needed "
        "to judge",
        1000 * r.wall_s, r.samples, 1000 * kMinWallS, kMinSamples);
    r.advice = "no recommendation: measure a longer run (more work, or the same work repeated)";
    return;
  }

  // Lock-capped: several threads took turns computing (CPU spread across them, none busy all the time) while
  // together they used about one core of several, and between turns they slept in futex waits (wchan), not
  // in I/O. Threads starved by a loaded machine wait in the run queue instead (state R, no voluntary
  // switches), and I/O waits sleep elsewhere (pipe_read, ep_poll, nanosleep), so neither looks like this.
  // On a starved machine a GIL's waiters spend their time queued for a core rather than asleep, so frequent
  // voluntary hand-offs per working thread (a pure computation has next to none) count as the same sign.
  const double handoffs_per_thread = working ? switch_rate / working : 0.0;
  const bool lock_capped = cores >= 2 && working >= 2 && r.parallelism < 1.3 && top < 0.85 * cpu &&
                           r.busy_fraction >= 0.5 && switch_rate > 20.0 &&
                           (r.lock_wait_fraction >= 0.2 || handoffs_per_thread >= 15.0);
  if (lock_capped) {
    r.classification = Classification::lock_capped;
    r.reason = format(
        "%.0f threads took turns computing: %.2f cores used of %.0f, each asleep on a lock "
        "%.0f%% of its life, switching %.0f times/s: a GIL or a hot lock serialises them",
        working, r.parallelism, cores, 100 * r.lock_wait_fraction, switch_rate);
  } else if (r.busy_fraction >= 0.7) {
    r.classification = Classification::cpu_bound;
    r.reason = format(
        "its %.0f working thread(s) wanted a core %.0f%% of the time (lock waits aside); "
        "%.2f cores used of %.0f",
        std::max(working, 1), 100 * r.busy_fraction, r.parallelism, cores);
  } else if (r.busy_fraction <= 0.3) {
    r.classification = Classification::io_bound;
    const char* what = r.disk_wait_fraction > 0.2 ? "mostly in disk waits (state D)" : "mostly asleep (waiting)";
    r.reason = format("its threads computed only %.0f%% of the time, ", 100 * r.busy_fraction) + what +
               format("; %.1f s of waiting per s of CPU", std::isfinite(r.wait_to_compute) ? r.wait_to_compute : 1e9);
    if (!std::isfinite(r.wait_to_compute) || r.wait_to_compute > 1e6) {
      r.reason = format("its threads computed only %.0f%% of the time, ", 100 * r.busy_fraction) + what +
                 ", with next to no CPU at all";
    }
  } else {
    r.classification = Classification::mixed;
    r.reason = format(
        "its working threads computed %.0f%% of the time and waited the rest (%.1f s of waiting "
        "per s of CPU)",
        100 * r.busy_fraction, std::min(r.wait_to_compute, 1e4));
  }

  // Question 2: how many waits at once, and does the program already wait in an event loop? A thread that spent
  // most of its life asleep in epoll_wait/poll/select is an event loop (asyncio, spindle::aio, libuv...).
  r.event_loop_threads = 0;
  for (const auto& t : r.threads) {
    if (t.loop_wait >= 0.5) ++r.event_loop_threads;
  }
  const bool runs_event_loop = r.event_loop_threads > 0 && r.event_loop_threads <= std::max(2, working);

  // Phases: a run that first waited, then computed (download, then parse) is mixed in time, not in each task:
  // a hybrid pipeline overlaps the phases. A program that already runs an event loop is judged by that instead
  // (an interpreter's start-up, before its loop runs, would otherwise look like a computing phase).
  // (Phases are not looked for in an I/O-bound run either, for the same reason.)
  // Phases refine a run that computed for a real share of its time: an I/O-bound one (a short start-up, then
  // waiting: seen on 40 blocked threads under TSan at load) stays I/O-bound.
  const bool can_be_phased = !runs_event_loop && r.classification != Classification::io_bound &&
                             r.classification != Classification::lock_capped;
  r.phases = can_be_phased ? find_phases(r) : std::vector<Phase>{};
  if (!r.phases.empty()) {
    r.classification = Classification::mixed;
    std::string seq;
    for (const auto& p : r.phases) {
      if (!seq.empty()) seq += ", then ";
      seq += format(p.computing ? "computed %.2f-%.2f s" : "waited %.2f-%.2f s", p.start_s, p.end_s);
    }
    r.reason = "it ran in phases: it " + seq;
  }

  // Question 3: do the threads already run in parallel? Two or more working threads of one process that
  // between them used (or wanted) more than one core, without taking turns on a lock: whatever the language,
  // this code releases its lock (Python's hashlib, numpy, I/O) or has none, so processes would add no cores.
  {
    std::map<int, int> per_process;
    for (const auto& t : r.threads) {
      if (t.cpu_s >= threshold) ++per_process[t.pid];
    }
    int most = 0;
    for (const auto& [pid, n] : per_process) most = std::max(most, n);
    r.threads_scale = r.classification == Classification::cpu_bound && most >= 2 && cores >= 2 &&
                      (r.parallelism >= 1.3 || r.demand >= 1.5) && per_process.size() == 1;
  }

  // What to use. For waiting work, Goetz's sizing: workers = cores * (1 + wait/compute) keeps the cores busy.
  const double ratio = std::isfinite(r.wait_to_compute) ? std::min(r.wait_to_compute, 1e4) : 1e4;
  // Capped at 1024: past that the answer is "async", and the bound is the program's own concurrency.
  const int io_pool = static_cast<int>(std::min(1024.0, std::ceil(cores * (1.0 + ratio))));
  switch (r.classification) {
    case Classification::cpu_bound:
      r.model = Model::processes;
      r.pool_size = cores;
      if (r.threads_scale) {
        r.model = Model::threads;
        r.advice = format(
            "threads already scale here (the lock is released in this code, or there is none): %.0f threads of "
            "one process wanted %.2f cores at once; keep threads (ThreadPoolExecutor, max_workers=%.0f), "
            "processes would only add copying",
            working, r.demand, cores);
      } else if (r.parallelism >= 0.8 * cores) {
        r.advice = format(
            "it already keeps all %.0f cores busy: more workers will not help; make the work "
            "smaller or get more cores",
            cores);
      } else {
        r.advice = format(
            "use processes (ProcessPoolExecutor, max_workers=%.0f) to use every core; in C++, "
            "native threads (no GIL) work as well",
            cores);
      }
      break;
    case Classification::lock_capped:
      r.model = Model::processes;
      r.pool_size = cores;
      r.advice = format(
          "use processes (ProcessPoolExecutor, max_workers=%.0f): each has its own interpreter "
          "and lock, so %.0f cores can compute at once",
          cores, cores);
      break;
    case Classification::io_bound:
      r.pool_size = io_pool;
      if (runs_event_loop) {
        r.model = Model::async;
        r.pool_size = std::max(r.waits_in_flight, 1);
        r.advice = format(
            "keep async: it already waits in an event loop (waits in flight that the kernel sees: %.0f; "
            "timers such as asyncio.sleep are not counted), and threads would only add memory",
            r.waits_in_flight);
      } else if (io_pool > 100 || r.waits_in_flight > 200) {
        r.pool_size = std::max(io_pool, r.waits_in_flight);
        r.model = Model::async;
        r.advice = format(
            "use async (one event loop; bound the concurrency at ~%.0f with a Semaphore): "
            "waits this long (or this many at once) dwarf their CPU, and hundreds of threads cost memory",
            r.pool_size);
      } else {
        r.model = Model::threads;
        r.advice = format("use threads (ThreadPoolExecutor, max_workers=%.0f = cores x (1 + wait/compute))", io_pool);
      }
      break;
    case Classification::mixed:
      if (!r.phases.empty()) {
        r.model = Model::pipeline;
        r.pool_size = cores;
        r.advice = format(
            "overlap the phases in a hybrid pipeline (spindle::pipeline): an aio stage for the waits feeding a "
            "process stage of %.0f workers for the computation, through a bounded channel; Python: asyncio "
            "tasks putting into a bounded asyncio.Queue drained into a ProcessPoolExecutor",
            cores);
        break;
      }
      if (runs_event_loop) {
        r.model = Model::async;
        r.pool_size = cores;
        r.advice = format(
            "keep async for the waits (it already runs an event loop); move the computation off the loop "
            "(asyncio.to_thread, or a ProcessPoolExecutor of %.0f through run_in_executor) so it stops "
            "delaying them",
            cores);
        break;
      }
      r.model = Model::threads;
      r.pool_size = std::max(io_pool, cores);
      r.advice = format(
          "use threads (ThreadPoolExecutor, max_workers=%.0f) to overlap the waits; move heavy "
          "computation to processes if it dominates",
          r.pool_size);
      break;
    case Classification::not_enough_data:  // decided above
      break;
  }
}

std::string to_text(const Report& r) {
  std::string out;
  if (r.attached_pid != 0) out += "attached:    pid " + std::to_string(r.attached_pid) + " (measured in place)\n";
  if (!r.command.empty()) {
    out += "command:     ";
    for (const auto& a : r.command) out += a + " ";
    out += "\n";
    out += "exit code:   " + std::to_string(r.exit_code) + "\n";
  }
  out += format("wall: %.3f s   cpu: %.3f s   run-queue wait: %.3f s   samples: ", r.wall_s, r.cpu_s, r.runqueue_s) +
         std::to_string(r.samples) + "\n";
  out += "threads:     " + std::to_string(r.threads_seen) + " seen in " + std::to_string(r.processes_seen) +
         " process(es), " + std::to_string(r.working_threads) + " working" +
         (r.event_loop_threads > 0 ? ", " + std::to_string(r.event_loop_threads) + " waiting in an event loop" : "") +
         "\n";
  if (!r.phases.empty()) {
    out += "phases:     ";
    for (const auto& p : r.phases) {
      out += std::string(p.computing ? " compute" : " wait") +
             format(" %.2f-%.2f s (%.2f cores);", p.start_s, p.end_s, p.cores);
    }
    out.back() = '\n';
  }
  out += "waits:       " + std::to_string(r.waits_in_flight) +
         " in flight at most (event-loop registrations + threads blocked in a call)\n";
  out +=
      "switches:    " + std::to_string(r.voluntary) + " voluntary, " + std::to_string(r.involuntary) + " involuntary\n";
  if (r.io_readable) {
    out += "I/O:         " + std::to_string(r.read_chars) + " B read, " + std::to_string(r.write_chars) +
           " B written (" + std::to_string(r.read_bytes) + " / " + std::to_string(r.write_bytes) +
           " B from/to storage)\n";
  } else {
    out += "I/O:         /proc/<pid>/io not readable\n";
  }
  out += format("parallelism: %.2f cores used of %.0f (wanted %.2f)\n", r.parallelism, r.cores, r.demand);
  out += std::string("verdict:     ") + to_string(r.classification) + " -- " + r.reason + "\n";
  out += std::string("use:         ") + to_string(r.model) + " -- " + r.advice + "\n";
  if (r.machine_busy && r.other_load >= r.cores) {
    out += format(
        "warning:     the machine was busy (%.1f other runnable tasks on average for %.0f cores): run-queue and "
        "wait times say as much about it as about the program; measure again on a quieter machine\n",
        r.other_load, r.cores);
  } else if (r.machine_busy) {
    out += format(
        "warning:     the machine was busy: the program got %.2f of the %.2f cores it wanted (other work at a "
        "higher priority, or a CPU quota), so its waits say as much about the machine as about the program; "
        "measure again on a quieter machine\n",
        r.parallelism, std::min(r.demand, static_cast<double>(r.cores)));
  }
  out += "\n     pid      tid name             cpu s  runq s   R%   S%   D% lock% child% peer%   vol  invol\n";
  std::size_t shown = 0;
  for (const auto& t : r.threads) {
    if (++shown > 16) {
      out += "  ... " + std::to_string(r.threads.size() - 16) + " more threads\n";
      break;
    }
    char line[200];
    std::snprintf(line, sizeof line, "%8d %8d %-15.15s %7.3f %7.3f %4.0f %4.0f %4.0f %5.0f %6.0f %5.0f %5llu %6llu\n",
                  t.pid, t.tid, t.name.c_str(), t.cpu_s, t.runqueue_s, 100 * t.running, 100 * t.sleeping,
                  100 * t.disk_wait, 100 * t.lock_wait, 100 * t.child_wait, 100 * t.peer_wait,
                  static_cast<unsigned long long>(t.voluntary), static_cast<unsigned long long>(t.involuntary));
    out += line;
  }
  return out;
}

std::string to_json(const Report& r) {
  // Keys in a fixed order (ordered_json), as other tools read them; non-finite figures become null, and a
  // thread name cut inside a UTF-8 sequence (comm holds 15 bytes) is repaired rather than refused.
  nlohmann::ordered_json o;
  o["command"] = r.command;
  o["exit_code"] = r.exit_code;
  o["classification"] = to_string(r.classification);
  o["model"] = to_string(r.model);
  o["pool_size"] = r.pool_size;
  o["reason"] = r.reason;
  o["advice"] = r.advice;
  o["wall_s"] = r.wall_s;
  o["observed_s"] = r.observed_s;
  o["other_load"] = r.other_load;
  o["machine_busy"] = r.machine_busy;
  o["starved"] = r.starved;
  o["cpu_s"] = r.cpu_s;
  o["runqueue_s"] = r.runqueue_s;
  o["cores"] = r.cores;
  o["parallelism"] = r.parallelism;
  o["demand"] = r.demand;
  o["busy_fraction"] = r.busy_fraction;
  o["wait_to_compute"] = r.wait_to_compute;
  o["disk_wait_fraction"] = r.disk_wait_fraction;
  o["lock_wait_fraction"] = r.lock_wait_fraction;
  o["waits_in_flight"] = r.waits_in_flight;
  o["event_loop_threads"] = r.event_loop_threads;
  o["threads_scale"] = r.threads_scale;
  if (r.attached_pid != 0) o["attached_pid"] = r.attached_pid;
  nlohmann::ordered_json phases = nlohmann::ordered_json::array();
  for (const auto& p : r.phases) {
    phases.push_back(
        {{"start_s", p.start_s}, {"end_s", p.end_s}, {"kind", p.computing ? "compute" : "wait"}, {"cores", p.cores}});
  }
  o["phases"] = phases;
  nlohmann::ordered_json timeline = nlohmann::ordered_json::array();
  for (const auto& [t, c] : r.timeline) timeline.push_back({t, c});
  o["timeline"] = timeline;
  nlohmann::ordered_json demand = nlohmann::ordered_json::array();
  for (const auto& [t, c] : r.demand_timeline) demand.push_back({t, c});
  o["demand_timeline"] = demand;
  o["samples"] = r.samples;
  o["threads_seen"] = r.threads_seen;
  o["working_threads"] = r.working_threads;
  o["processes_seen"] = r.processes_seen;
  o["voluntary_switches"] = r.voluntary;
  o["involuntary_switches"] = r.involuntary;
  o["io_readable"] = r.io_readable;
  o["read_bytes"] = r.read_bytes;
  o["write_bytes"] = r.write_bytes;
  o["read_chars"] = r.read_chars;
  o["write_chars"] = r.write_chars;
  auto& threads = o["threads"] = nlohmann::ordered_json::array();
  for (const auto& t : r.threads) {
    threads.push_back({{"pid", t.pid},
                       {"tid", t.tid},
                       {"name", t.name},
                       {"cpu_s", t.cpu_s},
                       {"runqueue_s", t.runqueue_s},
                       {"alive_s", t.alive_s},
                       {"voluntary", t.voluntary},
                       {"involuntary", t.involuntary},
                       {"running", t.running},
                       {"sleeping", t.sleeping},
                       {"disk_wait", t.disk_wait},
                       {"lock_wait", t.lock_wait},
                       {"child_wait", t.child_wait},
                       {"peer_wait", t.peer_wait}});
  }
  return o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace spindle::advisor
