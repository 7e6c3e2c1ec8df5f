#pragma once
/// @file
/// The advisor's verdict on a measured run: what the threads did (CPU, run-queue waits, states, context
/// switches, I/O bytes), how the run is classified, and which concurrency model and pool size to use.
/// Python equivalent: none (the notebook's "decision in three questions", answered by measurement).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "spindle/core/errors.hpp"

namespace spindle::advisor {

/// What a run spent its time on.
enum class Classification {
  cpu_bound,        ///< its working threads wanted a core nearly all the time
  io_bound,         ///< its threads mostly waited (sleep, disk, pipe, network)
  mixed,            ///< in between: real computation and real waiting
  lock_capped,      ///< several threads wanted to compute, yet about one core was used: a GIL or a hot lock
  not_enough_data,  ///< the run was too short (< 50 ms or < 4 samples) to judge: no verdict, no advice
};

/// The model the advisor recommends. `pipeline`: a run in phases (wait, then compute) wants a hybrid pipeline,
/// each phase's work on its own model (spindle::pipeline).
enum class Model { processes, threads, async, pipeline, none };

/// One phase of a run: a stretch of time that mostly waited or mostly computed.
struct Phase {
  double start_s = 0;      ///< from the start of the measurement
  double end_s = 0;        ///< end of the phase
  bool computing = false;  ///< true: it mostly computed; false: it mostly waited
  double cores = 0;        ///< cores wanted (used, or queued for) on average during the phase
};

/// "cpu-bound", "io-bound", "mixed", "lock-capped", "not-enough-data".
const char* to_string(Classification c) noexcept;
/// "processes", "threads", "async", "pipeline", "none".
const char* to_string(Model m) noexcept;

/// One thread of the measured process tree, as seen over the measurement window.
struct ThreadStats {
  int pid = 0;                    ///< its process
  int tid = 0;                    ///< its thread id
  std::string name;               ///< its comm (thread name)
  double cpu_s = 0;               ///< CPU time used in the window (user + system)
  double runqueue_s = 0;          ///< time it was runnable but waited for a core (schedstat)
  double alive_s = 0;             ///< how long it was seen alive in the window
  std::uint64_t voluntary = 0;    ///< voluntary context switches (it blocked)
  std::uint64_t involuntary = 0;  ///< involuntary ones (it was preempted)
  double running = 0;             ///< fraction of samples in state R
  double sleeping = 0;            ///< fraction in S (interruptible wait: sleep, pipe, socket, lock)
  double disk_wait = 0;           ///< fraction in D (uninterruptible wait, usually disk)
  double lock_wait = 0;           ///< fraction asleep in a futex (a lock, condition or GIL; wchan futex_*)
  double loop_wait = 0;           ///< fraction asleep in an event loop's wait (epoll_wait, poll, select, io_uring)
  /// fraction asleep outside a lock while a process it started was computing (waitpid, a pipe, an event loop
  /// waiting for a child): waiting for the measured program's own work, not for the outside world
  double child_wait = 0;
  /// fraction blocked reading a pipe or Unix socket whose other end is held by a process of the program that
  /// was computing (or waiting for its child's computation), and not counted in child_wait: an idle forkserver
  /// or pool worker waiting for work, not for the outside world
  double peer_wait = 0;
};

/// The advisor's answer. All times in seconds.
struct Report {
  std::vector<std::string> command;  ///< the measured command (empty for a callable or an attached process)
  int attached_pid = 0;              ///< the process measured in place (spindle advise --pid), else 0
  int exit_code = 0;                 ///< the child's exit status (128 + signal if it was killed)
  double wall_s = 0;                 ///< wall-clock duration
  /// Seconds from the start to the last sample that saw one of its threads alive: the span the per-thread
  /// counters cover (a thread's last moments before it exits fall between samples and are not counted).
  double observed_s = 0;
  double cpu_s = 0;               ///< CPU time of the whole tree
  double runqueue_s = 0;          ///< time its threads waited for a core
  int cores = 1;                  ///< cores it was allowed to use
  int samples = 0;                ///< sampling ticks taken
  int threads_seen = 0;           ///< threads seen in the tree
  int working_threads = 0;        ///< threads that used a noticeable share of the CPU
  int processes_seen = 0;         ///< processes seen in the tree
  std::uint64_t voluntary = 0;    ///< voluntary context switches of the tree
  std::uint64_t involuntary = 0;  ///< involuntary context switches
  std::uint64_t read_bytes = 0;   ///< bytes read from storage (/proc/<pid>/io read_bytes)
  std::uint64_t write_bytes = 0;  ///< bytes written to storage
  std::uint64_t read_chars = 0;   ///< bytes read by any read-like call (pipes and sockets too)
  std::uint64_t write_chars = 0;  ///< bytes written by any write-like call
  bool io_readable = false;       ///< whether /proc/<pid>/io could be read
  double parallelism = 0;         ///< cores used on average: cpu_s / wall_s
  double demand = 0;              ///< cores wanted on average over the observed span (see observed_s)
  /// Other work on the machine: runnable tasks outside the measured program, averaged over the samples. At
  /// or above the number of cores the program competed for every core, and its run-queue and wait times
  /// describe the machine as much as the program (the report then says so).
  double other_load = 0;
  /// The program got under half of the cores it wanted (min(demand, cores)), wanting one or more: starved by
  /// work at a higher priority or by a CPU quota, even with other_load under the cores.
  bool starved = false;
  /// True when other_load reached the number of cores, or when starved: measure again on a quieter machine.
  bool machine_busy = false;
  double busy_fraction = 0;    ///< working threads: CPU + run-queue time over that plus I/O wait (lock waits excluded)
  double wait_to_compute = 0;  ///< waiting time per unit of CPU time of the working threads
  double disk_wait_fraction = 0;  ///< share of thread samples in state D
  double lock_wait_fraction = 0;  ///< share of the working threads' samples asleep on a futex (locks)
  /// The most waits seen in flight at once: descriptors registered in the program's event loops (epoll) plus
  /// threads blocked in a call (not on a lock). Timers inside the program (asyncio.sleep) are invisible here.
  int waits_in_flight = 0;
  /// Threads that spent most of their life asleep in an event loop's wait: the program already runs one.
  int event_loop_threads = 0;
  /// Working threads of one process that computed at the same time (more than one core between them, no
  /// lock taking turns): its threads already run in parallel, so processes would not add cores.
  bool threads_scale = false;
  Classification classification = Classification::io_bound;  ///< the verdict
  Model model = Model::none;                                 ///< what to use
  int pool_size = 0;                                         ///< suggested workers (or concurrency bound for async)
  std::string reason;                                        ///< one line: why this classification
  std::string advice;                                        ///< one line: what to do
  std::vector<ThreadStats> threads;                          ///< per-thread detail, busiest first
  /// Cores used over time, one point per sampling tick (seconds from the start, cores): the run's timeline.
  std::vector<std::pair<double, double>> timeline;
  /// Cores wanted over time, at the same ticks: used, or runnable and waiting for one (a thread the machine
  /// or the hypervisor kept off its core still wanted it). Phases are found on this one; empty: on timeline.
  std::vector<std::pair<double, double>> demand_timeline;
  /// The run's phases when it had distinct waiting and computing stretches (each at least 20% of the run);
  /// empty for a run of one character.
  std::vector<Phase> phases;
};

/// The report as text for people (a few lines plus a per-thread table).
std::string to_text(const Report& report);
/// The report as one JSON object.
std::string to_json(const Report& report);
/// The report as a self-contained HTML page (no network needed): the verdict, the advice, and the timeline of
/// cores used with the phases shaded, as inline SVG. Python equivalent: none.
std::string to_html(const Report& report);
/// The timeline chart alone: an SVG element with one `polyline.cores-used` and a `rect.phase` per phase.
std::string timeline_svg(const Report& report);

/// Fills the derived fields of `report` (parallelism ... advice) from its measured ones and its threads.
/// Exposed so that callers (and tests) can classify observations they made themselves.
void classify(Report& report);

/// A running process could not be measured (no such process, or its /proc entries are not readable).
class AttachError : public spindle::Error {
 public:
  using spindle::Error::Error;
};
/// A command could not be started (not found, not executable).
/// **Python equivalent:** `FileNotFoundError` from `subprocess.run`.
class LaunchError : public spindle::Error {
 public:
  using spindle::Error::Error;
};

}  // namespace spindle::advisor
