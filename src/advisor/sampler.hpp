#pragma once
// Samples a process tree's threads from /proc. Internal to the advisor.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "peers.hpp"
#include "spindle/advisor/report.hpp"

namespace spindle::advisor::detail {

/// Cumulative counters of one thread at one instant.
struct ThreadCounters {
  std::uint64_t cpu_ns = 0;
  std::uint64_t runqueue_ns = 0;
  std::uint64_t voluntary = 0;
  std::uint64_t involuntary = 0;
  char state = '?';
  bool futex = false;  // asleep in a futex wait (wchan futex_*): a lock, a condition variable, a GIL
  bool loop = false;   // asleep in an event loop's wait (epoll_wait, poll, select, io_uring): many waits at once
  std::string name;
};

/// Cumulative I/O counters of one process.
struct IoCounters {
  std::uint64_t rchar = 0, wchar = 0, read_bytes = 0, write_bytes = 0;
};

/// Reads one thread's counters; false if it is gone.
bool read_thread(pid_t pid, pid_t tid, ThreadCounters& out);
/// Reads one process's I/O counters; false if unreadable or gone.
bool read_io(pid_t pid, IoCounters& out);
/// The descriptors registered in the process's epoll instances (the waits an event loop has in flight that the
/// kernel can see; timers kept inside the program, such as asyncio.sleep, are not among them).
int count_epoll_registrations(pid_t pid);

/// Follows a process tree (root and its descendants, through /proc/<pid>/task/<tid>/children) and
/// accumulates per-thread deltas against a baseline.
class TreeSampler {
 public:
  /// `baseline_existing`: threads and processes seen in the first sample count from their state then (for
  /// measuring the calling process); otherwise from zero (a freshly started command). `exclude_tid` is
  /// skipped (the sampler's own thread).
  TreeSampler(pid_t root, bool baseline_existing, pid_t exclude_tid);

  /// One sampling tick; returns the number of threads seen.
  int sample();
  /// Fills the measured fields of `report` (threads, totals, I/O); wall_s must be set.
  void fill(Report& report) const;

 private:
  struct Track {
    pid_t pid = 0;
    ThreadCounters base, last;
    std::chrono::steady_clock::time_point first_seen, last_seen;
    int samples = 0, r = 0, s = 0, d = 0, l = 0, e = 0;
    int w = 0;  // samples asleep (not on a lock) while a process it started was computing
    int p = 0;  // samples blocked reading a pipe or Unix socket fed by a busy process of the tree (and not w)
    int last_seen_tick = -1;
    int blocked_fd = -1;                      // the descriptor it was last found blocked reading
    std::uint64_t blocked_at_switch = ~0ULL;  // its voluntary switches then: unchanged, still the same call
  };
  struct ProcTrack {
    IoCounters base, last;
    bool readable = false;
  };
  void collect(pid_t pid, std::map<pid_t, bool>& seen);

  pid_t root_;
  bool baseline_existing_;
  pid_t exclude_;
  bool first_ = true;
  int ticks_ = 0;
  int waits_in_flight_ = 0;
  std::uint64_t prev_cpu_ns_ = 0;                           // the tree's CPU at the previous tick
  std::chrono::steady_clock::time_point prev_tick_{};       // when that was
  std::vector<std::pair<double, double>> timeline_;         // (seconds from start, cores used since the last tick)
  std::vector<std::pair<double, double>> demand_timeline_;  // (the same, cores wanted: used or queued for)
  // This tick's threads, as collect() saw them: CPU and run-queue time since their previous sample, and
  // whether they were runnable (state R) when read.
  std::vector<std::pair<std::uint64_t, bool>> tick_wants_;
  // This tick's process tree (child -> parent), the processes with a thread computing (runnable, or it ran for
  // a quarter of the tick), and the threads asleep outside a lock: see sample().
  std::map<pid_t, pid_t> tick_parent_;
  std::vector<pid_t> tick_computing_;
  std::vector<std::pair<pid_t, pid_t>> tick_sleepers_;  // (pid, tid)
  int load_ticks_ = 0;                                  // ticks that could read /proc/loadavg
  double others_runnable_ = 0;                          // sum over those ticks of the other runnable tasks
  std::chrono::steady_clock::time_point start_;
  std::map<pid_t, Track> threads_;
  std::map<pid_t, ProcTrack> procs_;
  PeerIndex peer_index_;  // the tree's pipes and sockets, cleared every 8th tick
};

}  // namespace spindle::advisor::detail
